/**
 * Oracle fixtures written by `python -m reatco_models tiny-random`: fixtures.safetensors (tensors) and
 * fixtures.json (prompts, settings, traces). The safetensors layout is an 8-byte little-endian header
 * length, a JSON header, then raw little-endian data: a few lines, so no dependency for it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { EditObject } from '../../src/engine/pipeline/edit-pipeline';
import { resolveSettings } from '../../src/engine/pipeline/validate';
import type { BoxKeyframe } from '../../src/regions';
import type { EditSettings } from '../../src/server/protocol/settings';

export const REPO_ROOT = path.resolve(__dirname, '../../../..');
export const TINY_RANDOM = path.join(REPO_ROOT, 'models/tiny-random');
export const SHARED = path.resolve(REPO_ROOT, '../shared');

export interface StoredTensor {
  dtype: 'F32' | 'I64' | 'U8';
  shape: number[];
  data: Float32Array | BigInt64Array | Uint8Array;
}

export function readSafetensors(file: string): Map<string, StoredTensor> {
  const bytes = readFileSync(file);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<
    string,
    { dtype: StoredTensor['dtype']; shape: number[]; data_offsets: [number, number] }
  >;
  const base = 8 + headerLength;
  const tensors = new Map<string, StoredTensor>();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [begin, end] = info.data_offsets;
    const raw = bytes.subarray(base + begin, base + end);
    const copy = new Uint8Array(raw).buffer; // aligned copy
    const data =
      info.dtype === 'F32' ? new Float32Array(copy) : info.dtype === 'I64' ? new BigInt64Array(copy) : new Uint8Array(copy);
    tensors.set(name, { dtype: info.dtype, shape: info.shape, data });
  }
  return tensors;
}

export class OracleFixtures {
  readonly tensors: Map<string, StoredTensor>;
  readonly meta: Record<string, unknown> & {
    prompts: Record<'empty' | 'source' | 'edit', string>;
    token_indices: number[];
    frames: number;
    height: number;
    width: number;
    eps_timestep: number;
    edit_timesteps: number[];
    inversion_timesteps: number[];
    rad_step_size_0: number;
    runs: Record<string, { settings: Record<string, unknown>; trace: { rad_passes: number; refinement_iterations: number }[] }>;
  };

  constructor(dir = path.join(TINY_RANDOM, 'fixtures')) {
    this.tensors = readSafetensors(path.join(dir, 'fixtures.safetensors'));
    this.meta = JSON.parse(readFileSync(path.join(dir, 'fixtures.json'), 'utf8'));
  }

  f32(name: string): Float32Array {
    const t = this.get(name);
    if (!(t.data instanceof Float32Array)) throw new TypeError(`${name} is ${t.dtype}`);
    return t.data;
  }

  u8(name: string): Uint8Array {
    const t = this.get(name);
    if (!(t.data instanceof Uint8Array)) throw new TypeError(`${name} is ${t.dtype}`);
    return t.data;
  }

  ints(name: string): number[] {
    const t = this.get(name);
    if (!(t.data instanceof BigInt64Array)) throw new TypeError(`${name} is ${t.dtype}`);
    return Array.from(t.data, Number);
  }

  shape(name: string): number[] {
    return this.get(name).shape;
  }

  /** Frames of a (F, H, W, 3) uint8 tensor. */
  frames(name: string): Uint8Array[] {
    const [f, h, w] = this.shape(name) as [number, number, number];
    const data = this.u8(name);
    return Array.from({ length: f }, (_, i) => data.slice(i * h * w * 3, (i + 1) * h * w * 3));
  }

  /** The oracle's objects: its keyframed box tracks, at its token positions. */
  objects(): EditObject[] {
    const tracks = this.meta.box_keyframes as unknown as [number, number[]][][];
    return tracks.map((track, k) => ({
      tokenIndex: this.meta.token_indices[k]!,
      region: { kind: 'boxes' as const, keyframes: track.map(([frame, box]) => ({ frame, box: box as unknown as BoxKeyframe['box'] })) },
    }));
  }

  /** The settings of a recorded edit, as the engine takes them. */
  settings(run: string): EditSettings {
    const s = this.meta.runs[run]!.settings;
    return resolveSettings({
      steps: s.steps as number,
      inversionSteps: s.inversion_steps as number,
      guidanceScale: s.guidance_scale as number,
      maxRefinementIterations: s.max_refinement_iterations as number,
      window: s.window as number | null,
      stride: s.stride as number,
      seed: s.seed as number,
    });
  }

  private get(name: string): StoredTensor {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`no fixture tensor ${name}`);
    return t;
  }
}

/** max |a − b| / max |b|: the error relative to the reference's scale. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new RangeError(`length ${actual.length} vs ${expected.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return diff / (scale || 1);
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}

/** Largest absolute difference between two byte images. */
export function maxByteDifference(a: Uint8Array, b: Uint8Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}
