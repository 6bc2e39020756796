/**
 * The only module that imports onnxruntime-node. Sessions are created once per graph and reused;
 * CUDA is tried first and the whole package falls back to the CPU with one log line when the CUDA
 * provider cannot be loaded.
 *
 * `session.disable_cpu_ep_fallback` is not set: with dynamic shapes ONNX Runtime deliberately keeps
 * the shape arithmetic (Shape, Gather, Concat on int64) on the CPU, and that option refuses such
 * graphs outright. Where the compute runs is checked instead by the GPU check script, from ONNX
 * Runtime's node assignments (REATCO_ORT_VERBOSE=1 logs them).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { ModelError } from '../../errors';

export type ProviderName = 'cuda' | 'cpu';

export interface ProviderRequest {
  provider: ProviderName;
  deviceId?: number;
  /** CPU threads for one graph run (fixed, so CPU results are reproducible); default: all cores. */
  threads?: number;
  /** Writes ONNX Runtime's per-node profile (JSON) to a file starting with this path when released. */
  profilePrefix?: string;
}

export type Feeds = Record<string, ort.Tensor>;
export type Outputs = Record<string, ort.Tensor>;

export function float32(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

export function int64(values: readonly number[], dims: readonly number[] = [values.length]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), dims);
}

export function dataOf(tensor: ort.Tensor | undefined, name: string): Float32Array {
  if (!tensor || !(tensor.data instanceof Float32Array)) {
    throw new ModelError('INFERENCE_FAILED', `The model did not return ${name} as float32.`);
  }
  return tensor.data;
}

const PROVIDER_LOAD_FAILURE = /providers_shared|providers_cuda|Failed to load (shared )?library|CUDA.*(not available|unavailable)|cudaGetDeviceCount/i;
const OUT_OF_MEMORY = /out of memory|Failed to allocate memory|BFCArena|CUDNN_STATUS_ALLOC_FAILED|cudaErrorMemoryAllocation/i;

// Errors only unless verbose: ONNX Runtime warns at every run of each ScatterND node in the RAD
// graph ("only guarantees to be correct if indices are not duplicated"; the exporter's indices are
// unique). The CUDA kernels warn through the default logger, which the session's level does not cover.
ort.env.logLevel = process.env.REATCO_ORT_VERBOSE ? 'verbose' : 'error';

function sessionOptions(request: ProviderRequest): ort.InferenceSession.SessionOptions {
  const options: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', logSeverityLevel: process.env.REATCO_ORT_VERBOSE ? 0 : 3 };
  if (request.provider === 'cuda') {
    options.executionProviders = [{ name: 'cuda', deviceId: request.deviceId ?? 0 }];
  } else {
    options.executionProviders = ['cpu'];
    if (request.threads) options.intraOpNumThreads = request.threads;
  }
  if (request.profilePrefix) Object.assign(options, { enableProfiling: true, profileFilePrefix: request.profilePrefix });
  return options;
}

/** The error for a graph that could not be opened: the provider, memory, or the graph itself. */
export function openFailure(name: string, path: string, request: ProviderRequest, error: unknown): ModelError {
  const message = error instanceof Error ? error.message : String(error);
  if (request.provider === 'cuda' && PROVIDER_LOAD_FAILURE.test(message)) {
    return new ModelError('PROVIDER_UNAVAILABLE', 'The CUDA execution provider cannot be loaded here.', { cause: message });
  }
  if (OUT_OF_MEMORY.test(message)) return new ModelError('OUT_OF_MEMORY', `Not enough memory to load ${name}.`, { cause: message });
  return new ModelError('MODEL_INVALID', `The ${name} graph could not be loaded: ${message}`, { path });
}

/** Feeds must name exactly the graph's inputs. */
export function checkFeeds(name: string, inputNames: readonly string[], feeds: Feeds): void {
  const missing = inputNames.filter((n) => !(n in feeds));
  const extra = Object.keys(feeds).filter((n) => !inputNames.includes(n));
  if (missing.length || extra.length) {
    throw new ModelError('INFERENCE_FAILED', `Wrong inputs for ${name}: missing [${missing}], unexpected [${extra}].`);
  }
}

/** The error for a run that failed: out of memory (which a smaller window may cure) or anything else. */
export function runFailure(name: string, feeds: Feeds, error: unknown): ModelError {
  const message = error instanceof Error ? error.message : String(error);
  const shapes = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, `${t.type}[${t.dims.join(',')}]`]));
  if (OUT_OF_MEMORY.test(message)) {
    return new ModelError('OUT_OF_MEMORY', `The GPU ran out of memory running ${name}.`, { cause: message, shapes });
  }
  return new ModelError('INFERENCE_FAILED', `Running ${name} failed: ${message}`, { shapes });
}

/** What the pipeline needs of a graph. */
export interface GraphRunner {
  readonly name: string;
  run(feeds: Feeds): Promise<Outputs>;
  release(): Promise<void>;
}

/** A graph session with checked runs: feeds are compared with the graph's inputs before running. */
export class GraphSession implements GraphRunner {
  private constructor(
    readonly name: string,
    private readonly session: ort.InferenceSession,
    private readonly profiling: boolean,
  ) {}

  static async open(name: string, path: string, request: ProviderRequest): Promise<GraphSession> {
    try {
      return new GraphSession(name, await ort.InferenceSession.create(path, sessionOptions(request)), Boolean(request.profilePrefix));
    } catch (error) {
      throw openFailure(name, path, request, error);
    }
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  async run(feeds: Feeds): Promise<Outputs> {
    checkFeeds(this.name, this.session.inputNames, feeds);
    try {
      return await this.session.run(feeds);
    } catch (error) {
      throw runFailure(this.name, feeds, error);
    }
  }

  async release(): Promise<void> {
    if (this.profiling) this.session.endProfiling();
    await this.session.release();
  }
}

/**
 * Whether the CUDA execution provider's library sits next to onnxruntime-node's native binding (npm
 * does not ship it; ../shared/gpu installs it on the GPU machine). Checked before trying CUDA, so a
 * CPU-only machine falls back without onnxruntime printing a load failure.
 */
export function cudaProviderInstalled(): { installed: boolean; reason: string | null } {
  const library = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
  const bin = path.join(path.dirname(require.resolve('onnxruntime-node/package.json')), 'bin');
  const dirs = existsSync(bin)
    ? readdirSync(bin).map((napi) => path.join(bin, napi, process.platform, process.arch))
    : [];
  if (dirs.some((dir) => existsSync(path.join(dir, library)))) return { installed: true, reason: null };
  return { installed: false, reason: `${library} is not installed next to onnxruntime-node` };
}

/** Free memory of a CUDA device in bytes (nvidia-smi), or null when it cannot be read. */
export function gpuFreeBytes(deviceId = 0): number | null {
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=memory.free', '--format=csv,noheader,nounits', '-i', String(deviceId)], { encoding: 'utf8', timeout: 5000 });
    const mib = Number(out.trim());
    return Number.isFinite(mib) ? mib * 2 ** 20 : null;
  } catch {
    return null;
  }
}

/** Execution providers this onnxruntime-node build knows about (the CUDA one may still fail to load). */
export function listBackends(): { name: string; bundled: boolean }[] {
  const binding = (ort as unknown as { listSupportedBackends?: () => { name: string; bundled: boolean }[] }).listSupportedBackends;
  return binding ? binding() : [{ name: 'cpu', bundled: true }];
}
