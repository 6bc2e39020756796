/**
 * Sessions opened by helper-service/native's addon (reatco_session.node) instead of onnxruntime-node,
 * for graphs that need the "reatco" custom-operator library in their session's options, which
 * onnxruntime-node cannot load: the RAD graph with its fused attention backward (unet_rad_cuda). The
 * same libonnxruntime.so.1 runs them. Built by `bash helper-service/native/build.sh`; absent, the
 * engine opens the plain graphs with onnxruntime-node.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { checkFeeds, openFailure, runFailure, type Feeds, type GraphRunner, type Outputs, type ProviderRequest } from './ort';

type Data = Float32Array | BigInt64Array;

interface Addon {
  open(path: string, provider: string, deviceId: number, threads: number, library: string, profilePrefix: string): unknown;
  inputNames(session: unknown): string[];
  run(session: unknown, names: string[], types: string[], dims: number[][], data: Data[]): [string[], string[], number[][], Data[]];
  release(session: unknown): void;
}

/** helper-service/native/build, from dist/src/engine/sessions. */
const BUILD = path.resolve(__dirname, '..', '..', '..', '..', 'native', 'build');

export interface NativeBuild {
  addon: string;
  library: string;
  /** Whether the library holds the CUDA kernels (build.sh leaves them out where nvcc is missing). */
  cudaKernels: boolean;
}

/** The addon and the custom-operator library, when both are built. */
export function nativeBuild(): NativeBuild | null {
  const addon = path.join(BUILD, 'reatco_session.node');
  const library = path.join(BUILD, process.platform === 'win32' ? 'reatco_ops.dll' : 'libreatco_ops.so');
  const manifest = path.join(BUILD, 'build.json');
  if (!existsSync(addon) || !existsSync(library) || !existsSync(manifest)) return null;
  const { cudaKernels } = JSON.parse(readFileSync(manifest, 'utf8')) as { cudaKernels?: unknown };
  return { addon, library, cudaKernels: cudaKernels === true };
}

export class NativeSession implements GraphRunner {
  private constructor(
    readonly name: string,
    private readonly addon: Addon,
    private readonly session: unknown,
    readonly inputNames: readonly string[],
  ) {}

  /** Opens `graphPath` with the custom-operator library in its options. */
  static async open(name: string, graphPath: string, request: ProviderRequest, build = nativeBuild()): Promise<NativeSession> {
    if (!build) throw openFailure(name, graphPath, request, new Error('helper-service/native is not built'));
    const addon = require(build.addon) as Addon; // eslint-disable-line @typescript-eslint/no-require-imports
    try {
      const session = addon.open(graphPath, request.provider, request.deviceId ?? 0, request.threads ?? 0, build.library, request.profilePrefix ?? '');
      return new NativeSession(name, addon, session, addon.inputNames(session));
    } catch (error) {
      throw openFailure(name, graphPath, request, error);
    }
  }

  async run(feeds: Feeds): Promise<Outputs> {
    checkFeeds(this.name, this.inputNames, feeds);
    const names = Object.keys(feeds);
    const tensors = names.map((n) => feeds[n]!);
    let result: ReturnType<Addon['run']>;
    try {
      result = this.addon.run(this.session, names, tensors.map((t) => t.type), tensors.map((t) => [...t.dims]), tensors.map((t) => t.data as Data));
    } catch (error) {
      throw runFailure(this.name, feeds, error);
    }
    const [outNames, types, dims, data] = result;
    return Object.fromEntries(outNames.map((n, i) => [n, new ort.Tensor(types[i] as 'float32' | 'int64', data[i]!, dims[i])]));
  }

  async release(): Promise<void> {
    this.addon.release(this.session);
  }
}
