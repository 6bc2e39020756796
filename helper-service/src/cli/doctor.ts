import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import type { Command } from 'commander';
import { readModelPackage } from '../engine';
import { cudaProviderInstalled, listBackends } from '../engine/sessions/ort';
import { ffmpegInfo } from '../media';
import { defaultConfigDir } from '../server';
import { DEFAULT_PORT } from '../server/protocol';
import { HELPER_VERSION } from '../version';
import { MODELS_DIR, defaultModelDir } from './defaults';

const ok = (label: string, detail: string) => console.log(`  ok    ${label}: ${detail}`);
const warn = (label: string, detail: string) => console.log(`  warn  ${label}: ${detail}`);
const bad = (label: string, detail: string) => console.log(`  FAIL  ${label}: ${detail}`);

function gpus(): string[] {
  try {
    const out = execFileSync('nvidia-smi', ['--query-gpu=index,name,memory.total,driver_version', '--format=csv,noheader'], { encoding: 'utf8', timeout: 5000 });
    return out.trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check execution providers, GPU, ffmpeg, models and the port')
    .action(async () => {
      let failures = 0;
      console.log(`ReAtCo helper ${HELPER_VERSION}, Node ${process.version}, ${process.platform}-${process.arch}`);
      console.log('Execution providers');
      const backends = listBackends();
      const ortVersion = (JSON.parse(readFileSync(require.resolve('onnxruntime-node/package.json'), 'utf8')) as { version: string }).version;
      ok('onnxruntime-node', `${ortVersion}; backends ${backends.map((b) => b.name).join(', ')}`);
      const cuda = cudaProviderInstalled();
      if (cuda.installed) ok('CUDA provider', 'installed');
      else warn('CUDA provider', `${cuda.reason}; edits run on the CPU (see ../shared/gpu/README.md for the GPU kit)`);
      const found = gpus();
      if (found.length) found.forEach((g) => ok('GPU', g));
      else warn('GPU', 'nvidia-smi found no NVIDIA GPU');
      console.log('Video');
      try {
        const media = await ffmpegInfo();
        ok('ffmpeg', `${media.ffmpeg.version} (${media.ffmpeg.source}, ${media.ffmpeg.path})`);
        ok('ffprobe', `${media.ffprobe.version} (${media.ffprobe.source})`);
        const missing = Object.entries(media.encoders).filter(([, present]) => !present).map(([name]) => name);
        if (missing.length) warn('encoders', `missing ${missing.join(', ')}`);
        else ok('encoders', Object.keys(media.encoders).join(', '));
      } catch (error) {
        failures++;
        bad('ffmpeg', (error as Error).message);
      }
      console.log('Models');
      const candidates = existsSync(MODELS_DIR) ? readdirSync(MODELS_DIR).map((d) => path.join(MODELS_DIR, d)).filter((d) => existsSync(path.join(d, 'model.json'))) : [];
      for (const dir of new Set([defaultModelDir(), ...candidates])) {
        try {
          const pkg = readModelPackage(dir);
          ok(pkg.manifest.name, `${pkg.manifest.precision}, frames multiple of ${pkg.manifest.frame.multiple}${dir === defaultModelDir() ? ' (default)' : ''}`);
        } catch (error) {
          failures++;
          bad(path.basename(dir), (error as Error).message);
        }
      }
      console.log('Helper');
      ok('config folder', defaultConfigDir());
      if (await portFree(DEFAULT_PORT)) ok('port', `${DEFAULT_PORT} is free`);
      else warn('port', `${DEFAULT_PORT} is in use (a helper already running?)`);
      process.exitCode = failures ? 1 : 0;
    });
}
