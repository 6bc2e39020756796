/**
 * A helper killed mid-job (SIGKILL: no chance to clean up) and started again on the same configuration
 * folder reports every job truthfully: finished ones keep their results, the cut-off one is
 * interrupted, and no job is reported done that is not.
 */
import { fork } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { startHelper } from '../../src/server';
import type { JobSpecInput } from '../../src/server/protocol';
import { TestClient } from '../helpers/client';
import { TINY_RANDOM } from '../helpers/fixtures';
import { haresClip, makeTempDir } from '../media/fixtures';

const spec = (steps: number): JobSpecInput => ({
  source: { path: haresClip, startFrame: 0, frameCount: 6 },
  prompt: 'a red star and a green ring on a blue gradient background',
  objects: [{ tokenIndex: 3, region: { kind: 'boxes', keyframes: [{ frame: 0, box: [67, 240, 271, 353] }] } }],
  quality: 'draft',
  settings: { steps, inversionSteps: 2, maxRefinementIterations: 1 },
  output: { codec: 'h264' },
});

function startChild(configDir: string, outputDir: string) {
  const child = fork(path.join(__dirname, '../helpers/run-helper.js'), [configDir, outputDir, TINY_RANDOM], { stdio: ['ignore', 'pipe', 'ignore', 'ipc'] });
  const ready = new Promise<{ port: number; token: string }>((resolve) => child.stdout!.once('data', (d) => resolve(JSON.parse(String(d)))));
  return { child, ready };
}

it('reports finished jobs with their results and the killed one as interrupted', async () => {
  const work = await makeTempDir('restart');
  const configDir = path.join(work, 'config');
  const outputDir = path.join(work, 'out');
  const { child, ready } = startChild(configDir, outputDir);
  const { port, token } = await ready;
  const client = await TestClient.paired(`ws://127.0.0.1:${port}`, token);
  const { jobId: finished } = await client.request<{ jobId: string }>('submit', { job: spec(2) });
  const done = await client.waitFor((e) => e.jobId === finished && (e.kind === 'done' || e.kind === 'failed'));
  expect(done.kind).toBe('done');
  const { jobId: cut } = await client.request<{ jobId: string }>('submit', { job: spec(40) });
  await client.waitFor((e) => e.jobId === cut && e.kind === 'progress' && e.stage === 'edit');
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;

  const restarted = await startHelper({ port: 0, configDir, outputDir, modelDir: TINY_RANDOM, provider: 'cpu', threads: 1, log: () => {} });
  try {
    const again = await TestClient.paired(restarted.url, restarted.token);
    const { jobs } = await again.request<{ jobs: { id: string; state: string; output?: { path: string }; error?: { code: string } }[] }>('listJobs');
    const first = jobs.find((j) => j.id === finished)!;
    expect(first.state).toBe('done');
    expect(existsSync(first.output!.path)).toBe(true);
    expect(jobs.find((j) => j.id === cut)).toMatchObject({ state: 'interrupted', error: { code: 'JOB_INTERRUPTED' } });
    // Only the finished job's file is in the output folder under a final name.
    expect(readdirSync(outputDir).filter((f) => !f.startsWith('.'))).toEqual([path.basename(first.output!.path)]);
    await again.close();
  } finally {
    await restarted.close();
  }
});
