import { ModelError } from '../errors';
import { readModelPackage, type ComponentName, type ModelManifest, type ModelPackage } from './model-package';
import { ReatcoPipeline, type Graphs } from './pipeline/edit-pipeline';
import { statSync } from 'node:fs';
import { NativeSession, nativeBuild, type NativeBuild } from './sessions/native';
import { GraphSession, cudaProviderInstalled, gpuFreeBytes, type Feeds, type GraphRunner, type ProviderName, type ProviderRequest } from './sessions/ort';
import { PerShapeSessions } from './sessions/per-shape';
import { ClipTokenizer } from './tokenizer';

const EPS_SESSIONS_ON_CUDA = 2;

/** What the ε UNet's convolutions see of a call: (batch x frames) images of height x width. */
export function convolutionKey(feeds: Feeds): string {
  const [batch, , frames, height, width] = feeds.sample!.dims;
  return `${batch! * frames!}x${height}x${width}`;
}

export interface LoadedModel {
  readonly pipeline: ReatcoPipeline;
  /** The provider actually in use (CUDA falls back to CPU when it cannot load). */
  readonly provider: ProviderName;
  readonly fallbackReason: string | null;
  release(): Promise<void>;
}

/**
 * The package component each graph is opened from: on CUDA the ε UNet with the fused GroupNorm when the
 * package has it (the CPU provider has no kernel for com.microsoft.GroupNorm).
 */
export function graphComponents(manifest: ModelManifest, provider: ProviderName): Record<keyof Graphs, ComponentName> {
  return {
    textEncoder: 'text_encoder',
    vaeEncoder: 'vae_encoder',
    vaeDecoder: 'vae_decoder',
    unet: provider === 'cuda' && manifest.components.unet_cuda ? 'unet_cuda' : 'unet',
    unetRad: 'unet_rad',
  };
}

/**
 * Whether to open the RAD graph with its fused backwards (unet_rad_cuda, through the native addon): on
 * CUDA, when the package has it and the addon is built with the CUDA kernels. On the H200 it takes a RAD
 * pass at 16 frames from 247.5 to 158.3 ms, same edit (helper-service/results/gpu.md).
 */
export function fusedRad(manifest: ModelManifest, provider: ProviderName, build: NativeBuild | null = nativeBuild()): boolean {
  return provider === 'cuda' && Boolean(manifest.components.unet_rad_cuda) && build?.cudaKernels === true;
}

/** The fused RAD graph, or the plain one (with a log line) where the addon cannot open it. */
async function openRadGraph(pkg: ModelPackage, name: string, request: ProviderRequest, log: (line: string) => void): Promise<GraphRunner> {
  const build = nativeBuild();
  if (fusedRad(pkg.manifest, request.provider, build)) {
    try {
      return await NativeSession.open(name, pkg.graphPath('unet_rad_cuda'), request, build);
    } catch (error) {
      if (!(error instanceof ModelError) || error.code === 'OUT_OF_MEMORY') throw error;
      log(`reatco: the fused RAD graph cannot be opened (${error.message.split('\n')[0]!.slice(0, 300)}); using the plain one.`);
    }
  }
  return GraphSession.open(name, pkg.graphPath('unet_rad'), request);
}

async function openGraphs(pkg: ModelPackage, request: ProviderRequest, log: (line: string) => void): Promise<Graphs> {
  const components = graphComponents(pkg.manifest, request.provider);
  const opened: GraphRunner[] = [];
  const open = async (name: string, graph: keyof Graphs) => {
    const session = graph === 'unetRad' ? await openRadGraph(pkg, name, request, log) : await GraphSession.open(name, pkg.graphPath(components[graph]), request);
    opened.push(session);
    return session;
  };
  try {
    return {
      textEncoder: await open('the text encoder', 'textEncoder'),
      vaeEncoder: await open('the VAE encoder', 'vaeEncoder'),
      vaeDecoder: await open('the VAE decoder', 'vaeDecoder'),
      // Inversion and guidance run the ε graph at two batch sizes: a session for each on CUDA, unless
      // their convolutions see the same images per call (guidance over windows of half the clip).
      unet: request.provider === 'cuda' ? new PerShapeSessions(await open('the UNet', 'unet'), () => open('the UNet', 'unet'), EPS_SESSIONS_ON_CUDA, convolutionKey) : await open('the UNet', 'unet'),
      unetRad: await open('the RAD gradient graph', 'unetRad'),
    };
  } catch (error) {
    await Promise.all(opened.map((s) => s.release()));
    throw error;
  }
}

/**
 * Opens a model package: sessions created once, on CUDA when asked and possible, otherwise on the CPU
 * with one log line saying why.
 */
export async function loadModel(packageDir: string, request: ProviderRequest, log: (line: string) => void = console.warn): Promise<LoadedModel> {
  const pkg = readModelPackage(packageDir);
  const tokenizer = ClipTokenizer.fromFiles(pkg.tokenizerDir);
  let graphs: Graphs | null = null;
  let provider = request.provider;
  let fallbackReason: string | null = null;
  if (provider === 'cuda') {
    fallbackReason = cudaProviderInstalled().reason;
    if (fallbackReason === null) {
      try {
        graphs = await openGraphs(pkg, request, log);
      } catch (error) {
        if (!(error instanceof ModelError && error.code === 'PROVIDER_UNAVAILABLE')) throw error;
        fallbackReason = String(error.details?.cause ?? error.message).split('\n')[0]!.slice(0, 300);
      }
    }
    if (fallbackReason !== null) {
      log(`reatco: CUDA is not available (${fallbackReason}); running on the CPU instead.`);
      provider = 'cpu';
    }
  }
  graphs ??= await openGraphs(pkg, { ...request, provider: 'cpu' }, log);
  // On the GPU the sessions hold the weights: the UNet's in the RAD graph and in each ε session.
  const components = graphComponents(pkg.manifest, provider);
  const weights =
    Object.values(components).reduce((sum, c) => sum + statSync(pkg.weightsPath(c)).size, 0) + (EPS_SESSIONS_ON_CUDA - 1) * statSync(pkg.weightsPath(components.unet)).size;
  const gpu = provider === 'cuda' ? { weightBytes: weights, freeBytes: () => gpuFreeBytes(request.deviceId ?? 0) } : null;
  const pipeline = new ReatcoPipeline(pkg, graphs, tokenizer, gpu);
  return {
    pipeline,
    provider,
    fallbackReason,
    release: async () => {
      await Promise.all(Object.values(graphs).map((g) => g.release()));
    },
  };
}
