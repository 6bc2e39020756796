/**
 * A model package as `python -m reatco_models` writes it: five ONNX graphs (and optional ones), their
 * weights, the tokenizer files and model.json. Reading one checks the manifest and that every file is there.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ModelError } from '../errors';

export const COMPONENTS = ['text_encoder', 'vae_encoder', 'vae_decoder', 'unet', 'unet_rad'] as const;
/** `unet_cuda`: the ε UNet with ONNX Runtime's fused com.microsoft.GroupNorm, which only its CUDA provider runs.
 *  `unet_rad_cuda`: the RAD graph with the fused operators of helper-service/native (reatco domain), which
 *  needs that library in the session's options: onnxruntime-node cannot load it, the native addon opens it. */
export const OPTIONAL_COMPONENTS = ['unet_cuda', 'unet_rad_cuda'] as const;
export type ComponentName = (typeof COMPONENTS)[number] | (typeof OPTIONAL_COMPONENTS)[number];

const tensorSpec = z.object({ dtype: z.string(), shape: z.array(z.union([z.string(), z.number()])) });
const componentSchema = z.object({
  file: z.string(),
  weights: z.string(),
  inputs: z.record(z.string(), tensorSpec),
  outputs: z.record(z.string(), tensorSpec),
});

export const modelManifestSchema = z.object({
  format: z.literal('reatco-model-package'),
  version: z.literal(1),
  name: z.string(),
  description: z.string().optional(),
  precision: z.enum(['fp32', 'fp16']),
  frame: z.object({ multiple: z.number().int().positive() }),
  latent: z.object({ channels: z.number().int().positive(), cell_px: z.number().int().positive(), scaling_factor: z.number() }),
  attention: z.object({ cell_px: z.number().int().positive(), heads: z.number().int(), rad_layers: z.array(z.string()) }),
  text: z.object({ max_length: z.number().int(), hidden_size: z.number().int() }),
  tokenizer: z.object({ vocab: z.string(), merges: z.string() }),
  scheduler: z.object({
    num_train_timesteps: z.number().int(),
    beta_start: z.number(),
    beta_end: z.number(),
    beta_schedule: z.string(),
    set_alpha_to_one: z.boolean(),
    steps_offset: z.number().int(),
    alphas_cumprod: z.array(z.number()).optional(),
  }),
  components: z.object({
    ...(Object.fromEntries(COMPONENTS.map((c) => [c, componentSchema])) as Record<(typeof COMPONENTS)[number], typeof componentSchema>),
    ...(Object.fromEntries(OPTIONAL_COMPONENTS.map((c) => [c, componentSchema.optional()])) as Record<
      (typeof OPTIONAL_COMPONENTS)[number],
      z.ZodOptional<typeof componentSchema>
    >),
  }),
  defaults: z.object({ frame_size: z.tuple([z.number(), z.number()]).optional(), guidance_scale: z.number().optional() }).optional(),
});

export type ModelManifest = z.infer<typeof modelManifestSchema>;

export interface ModelPackage {
  readonly dir: string;
  readonly manifest: ModelManifest;
  /** Absolute paths of a component's graph and weights (an optional one the package lacks throws). */
  graphPath(component: ComponentName): string;
  weightsPath(component: ComponentName): string;
  readonly tokenizerDir: string;
}

export function readModelPackage(dir: string): ModelPackage {
  const root = path.resolve(dir);
  const manifestPath = path.join(root, 'model.json');
  if (!existsSync(manifestPath)) {
    throw new ModelError('MODEL_NOT_FOUND', `No model package at ${root} (model.json is missing).`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(manifestPath, 'utf8'));
  } catch (error) {
    throw new ModelError('MODEL_INVALID', `${manifestPath} is not valid JSON.`, { cause: String(error) });
  }
  const parsed = modelManifestSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ModelError('MODEL_INVALID', `${manifestPath} does not describe a ReAtCo model package.`, {
      issues: parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.')}: ${i.message}`),
    });
  }
  const manifest = parsed.data;
  const specs = [...COMPONENTS, ...OPTIONAL_COMPONENTS].flatMap((c) => manifest.components[c] ?? []);
  const files = [manifest.tokenizer.vocab, manifest.tokenizer.merges, ...specs.flatMap((spec) => [spec.file, spec.weights])];
  const missing = files.filter((f) => !existsSync(path.join(root, f)));
  if (missing.length) throw new ModelError('MODEL_INVALID', `The model package at ${root} lacks ${missing.join(', ')}.`);
  const spec = (component: ComponentName) => {
    const found = manifest.components[component];
    if (!found) throw new ModelError('MODEL_INVALID', `The model package at ${root} has no ${component} graph.`);
    return found;
  };
  return {
    dir: root,
    manifest,
    graphPath: (component) => path.join(root, spec(component).file),
    weightsPath: (component) => path.join(root, spec(component).weights),
    tokenizerDir: path.dirname(path.join(root, manifest.tokenizer.vocab)),
  };
}
