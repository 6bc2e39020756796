/**
 * The optional `unet_cuda` component: read when present (its files checked), opened for the ε graph on
 * CUDA only; packages without it stay valid.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ModelError } from '../../src/errors';
import { readModelPackage } from '../../src/engine/model-package';
import { fusedRad, graphComponents, loadModel } from '../../src/engine/models';
import { TINY_RANDOM } from '../helpers/fixtures';

/** tiny-random's files linked into a new folder, with a `unet_cuda` entry in model.json. */
function withUnetCuda(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'reatco-unet-cuda-'));
  for (const name of readdirSync(TINY_RANDOM)) {
    if (name !== 'model.json') symlinkSync(path.join(TINY_RANDOM, name), path.join(dir, name));
  }
  const manifest = JSON.parse(readFileSync(path.join(TINY_RANDOM, 'model.json'), 'utf8'));
  manifest.components.unet_cuda = { ...manifest.components.unet, file: 'unet_cuda.onnx' };
  writeFileSync(path.join(dir, 'model.json'), JSON.stringify(manifest));
  // Not a graph: the CPU must never open it (ONNX Runtime's CPU provider has no fused GroupNorm).
  writeFileSync(path.join(dir, 'unet_cuda.onnx'), 'CUDA only');
  return dir;
}

describe('model package: optional unet_rad_cuda', () => {
  const build = (cudaKernels: boolean) => ({ addon: 'reatco_session.node', library: 'libreatco_ops.so', cudaKernels });

  it('is the RAD graph on CUDA only where the native library holds its CUDA kernels', () => {
    const { manifest } = readModelPackage(TINY_RANDOM);
    expect(manifest.components.unet_rad_cuda).toBeDefined();
    expect(fusedRad(manifest, 'cuda', build(true))).toBe(true);
    expect(fusedRad(manifest, 'cuda', build(false))).toBe(false); // its operators would run on the CPU
    expect(fusedRad(manifest, 'cuda', null)).toBe(false);
    expect(fusedRad(manifest, 'cpu', build(true))).toBe(false);
    const { unet_rad_cuda: _, ...plain } = manifest.components;
    expect(fusedRad({ ...manifest, components: plain }, 'cuda', build(true))).toBe(false);
  });
});

describe('model package: optional unet_cuda', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const packageWithUnetCuda = () => {
    const dir = withUnetCuda();
    dirs.push(dir);
    return dir;
  };

  it('reads a package without it, whose ε graph is the plain UNet everywhere', () => {
    const pkg = readModelPackage(TINY_RANDOM);
    expect(pkg.manifest.components.unet_cuda).toBeUndefined();
    expect(graphComponents(pkg.manifest, 'cuda').unet).toBe('unet');
    expect(graphComponents(pkg.manifest, 'cpu').unet).toBe('unet');
    expect(() => pkg.graphPath('unet_cuda')).toThrow(/has no unet_cuda graph/);
  });

  it('opens unet_cuda for the ε graph on CUDA only, sharing the UNet weights', () => {
    const dir = packageWithUnetCuda();
    const pkg = readModelPackage(dir);
    expect(pkg.graphPath('unet_cuda')).toBe(path.join(dir, 'unet_cuda.onnx'));
    expect(pkg.weightsPath('unet_cuda')).toBe(pkg.weightsPath('unet'));
    expect(graphComponents(pkg.manifest, 'cuda')).toEqual({
      textEncoder: 'text_encoder',
      vaeEncoder: 'vae_encoder',
      vaeDecoder: 'vae_decoder',
      unet: 'unet_cuda',
      unetRad: 'unet_rad',
    });
    expect(graphComponents(pkg.manifest, 'cpu').unet).toBe('unet');
  });

  it('refuses a package that lists unet_cuda without its file', () => {
    const dir = packageWithUnetCuda();
    rmSync(path.join(dir, 'unet_cuda.onnx'));
    let error: unknown;
    try {
      readModelPackage(dir);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ModelError);
    expect((error as ModelError).code).toBe('MODEL_INVALID');
    expect((error as ModelError).message).toMatch(/lacks unet_cuda\.onnx/);
  });

  it('runs on the CPU with the plain UNet when the package has unet_cuda', async () => {
    const model = await loadModel(packageWithUnetCuda(), { provider: 'cpu', threads: 2 });
    try {
      expect(model.provider).toBe('cpu');
    } finally {
      await model.release();
    }
  });
});
