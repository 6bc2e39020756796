/** Runs one job in this process (no server): what `reatco edit` and `reatco demo` do. */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rename } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Engine, type ProviderName } from '../engine';
import { qualityPresets } from '../server/jobs/quality';
import { runJob } from '../server/jobs/run-job';
import { jobSpecSchema, type JobOutput, type JobSpecInput } from '../server/protocol/messages';
import { PathPolicy } from '../server/security';
import { progressBar } from './progress';

export interface LocalJobOptions {
  modelDir: string;
  provider: ProviderName;
  deviceId?: number;
  maxFrames: number;
  /** Where the finished file goes (renamed into place from the same folder). */
  outPath: string;
}

export async function withEngine<T>(options: Pick<LocalJobOptions, 'modelDir' | 'provider' | 'deviceId'>, run: (engine: Engine) => Promise<T>): Promise<T> {
  const engine = await Engine.start({
    modelDir: options.modelDir,
    provider: options.provider,
    ...(options.deviceId !== undefined ? { deviceId: options.deviceId } : {}),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  try {
    return await run(engine);
  } finally {
    await engine.close();
  }
}

export async function runLocalJob(engine: Engine, input: JobSpecInput, options: LocalJobOptions, signal: AbortSignal): Promise<JobOutput> {
  const spec = jobSpecSchema.parse(input);
  const outDir = path.dirname(path.resolve(options.outPath));
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'reatco-cli-'));
  const paths = new PathPolicy(scratch, outDir);
  const bar = progressBar();
  try {
    const output = await runJob(
      randomBytes(4).toString('hex'),
      spec,
      { engine, paths, maxFrames: options.maxFrames, qualities: qualityPresets(engine.manifest.defaults?.frame_size) },
      bar.update,
      signal,
    );
    bar.stop();
    await rename(output.path, path.resolve(options.outPath));
    return { ...output, path: path.resolve(options.outPath) };
  } finally {
    bar.stop();
  }
}
