/**
 * The helper as the panel meets it: a real server on a loopback port, a real WebSocket client, the
 * tiny model on the CPU, real footage through ffmpeg.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdir, truncate, copyFile } from 'node:fs/promises';
import path from 'node:path';
import { decodeSegment, probeClip } from '../../src/media';
import { startHelper, type RunningHelper } from '../../src/server';
import type { JobEvent, JobSpecInput } from '../../src/server/protocol';
import { TestClient } from '../helpers/client';
import { TINY_RANDOM } from '../helpers/fixtures';
import { ffmpeg, haresClip, makeTempDir } from '../media/fixtures';

let helper: RunningHelper;
let work: string;
let clip: string; // hares at 29.97 fps with an AAC track: an editor-like variant of the sample
const FAST = { steps: 2, inversionSteps: 2, maxRefinementIterations: 1 };
const BOX = [67, 240, 271, 353] as [number, number, number, number]; // the reference's first hare

function job(overrides: Partial<JobSpecInput> = {}): JobSpecInput {
  return {
    source: { path: clip, startFrame: 2, frameCount: 8 },
    prompt: 'a red star and a green ring on a blue gradient background',
    sourcePrompt: 'two hares are grazing in the grass',
    objects: [{ word: 'star', tokenIndex: 3, region: { kind: 'boxes', keyframes: [{ frame: 0, box: BOX }] } }],
    mode: 'replace',
    quality: 'draft',
    settings: FAST,
    output: { codec: 'png' },
    ...overrides,
  };
}

async function runToEnd(client: TestClient, spec: JobSpecInput): Promise<{ jobId: string; events: JobEvent[] }> {
  const { jobId } = await client.request<{ jobId: string }>('submit', { job: spec });
  await client.waitFor((e) => e.jobId === jobId && ['done', 'failed', 'cancelled'].includes(e.kind));
  return { jobId, events: client.events.filter((e) => e.jobId === jobId && e.kind !== 'heartbeat') };
}

beforeAll(async () => {
  work = await makeTempDir('helper');
  clip = path.join(work, 'hares-2997-audio.mov');
  // The same 16 frames played at 29.97 fps (input rate), with a sine as the sound track.
  await ffmpeg(['-r', '30000/1001', '-i', haresClip, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-map', '0:v', '-map', '1:a', '-c:v', 'libx264', '-c:a', 'aac', '-vsync', 'passthrough', '-shortest', clip]);
  helper = await startHelper({ port: 0, configDir: path.join(work, 'config'), outputDir: path.join(work, 'out'), modelDir: TINY_RANDOM, provider: 'cpu', threads: 2, maxFrames: 12, log: () => {} });
});
afterAll(() => helper?.close());

describe('connections', () => {
  it('listens on loopback only', () => {
    expect(helper.host).toBe('127.0.0.1');
    expect(helper.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
  });

  it('refuses web pages (browser origins) at the handshake', async () => {
    for (const origin of ['https://evil.example', 'http://localhost:3000', 'null', 'file://']) {
      await expect(TestClient.connect(helper.url, { Origin: origin })).rejects.toMatchObject({ status: 403 });
    }
  });

  it('accepts clients that send no origin or a non-web scheme', async () => {
    for (const headers of [{}, { Origin: 'uxp://com.reatco.edit' }] as Record<string, string>[]) {
      const client = await TestClient.connect(helper.url, headers);
      await client.close();
    }
  });

  it('requires hello with the pairing token first', async () => {
    const anonymous = await TestClient.connect(helper.url);
    await expect(anonymous.request('capabilities')).rejects.toMatchObject({ code: 'AUTH_REQUIRED' });
    await new Promise((r) => anonymous.socket.once('close', r));
    expect(anonymous.closed?.code).toBe(4001);

    const wrong = await TestClient.connect(helper.url);
    await expect(wrong.request('hello', { protocol: 1, token: 'not-the-token-at-all' })).rejects.toMatchObject({ code: 'AUTH_FAILED' });
    await new Promise((r) => wrong.socket.once('close', r));
    expect(wrong.closed?.code).toBe(4003);

    const old = await TestClient.connect(helper.url);
    await expect(old.request('hello', { protocol: 99, token: helper.token })).rejects.toMatchObject({ code: 'UNSUPPORTED_VERSION' });
  });

  it('answers malformed and oversized messages with errors and keeps serving', async () => {
    const client = await TestClient.paired(helper.url, helper.token);
    client.sendRaw('{this is not json');
    expect((await client.nextError()) as object).toMatchObject({ type: 'error', error: { code: 'BAD_MESSAGE' } });
    await expect(client.request('launchMissiles')).rejects.toMatchObject({ code: 'BAD_MESSAGE' });
    await expect(client.request('probe', { path: 42 })).rejects.toMatchObject({ code: 'BAD_MESSAGE' });
    client.sendRaw(JSON.stringify({ id: 'big', type: 'tokenize', prompt: 'x'.repeat(2 << 20) }));
    expect((await client.nextError()) as object).toMatchObject({ error: { code: 'MESSAGE_TOO_LARGE' } });
    client.sendRaw(Buffer.from([1, 2, 3]));
    expect((await client.nextError()) as object).toMatchObject({ error: { code: 'BAD_MESSAGE' } });
    const caps = await client.request<{ provider: string; model: { name: string } }>('capabilities');
    expect(caps).toMatchObject({ provider: 'cpu', model: { name: 'tiny-random' } });
    await client.close();
  });
});

describe('requests', () => {
  let client: TestClient;
  beforeAll(async () => (client = await TestClient.paired(helper.url, helper.token)));
  afterAll(() => client.close());

  it('probes a clip, writes preview frames and tokenizes prompts', async () => {
    const info = await client.request<{ frameCount: number; frameRate: { num: number; den: number }; hasAudio: boolean }>('probe', { path: clip });
    expect(info).toMatchObject({ frameCount: 16, frameRate: { num: 30000, den: 1001 }, hasAudio: true });
    const previews = path.join(work, 'previews');
    await mkdir(previews);
    const { files } = await client.request<{ files: { frame: number; path: string; width: number }[] }>('previewFrames', {
      path: clip,
      frames: [0, 15],
      outDir: previews,
      maxWidth: 320,
    });
    expect(files.map((f) => f.frame)).toEqual([0, 15]);
    files.forEach((f) => expect(existsSync(f.path) && path.dirname(f.path) === previews && f.width === 320).toBe(true));
    const { tokens } = await client.request<{ tokens: { position: number; text: string }[] }>('tokenize', { prompt: job().prompt as string });
    expect(tokens.find((t) => t.text === 'star')?.position).toBe(3);
  });

  it('runs a job: events in order, a valid file at the source rate, size and length, with audio, and source pixels outside the regions', async () => {
    const previews = path.join(work, 'job-previews');
    await mkdir(previews);
    const { events } = await runToEnd(client, job({ previewDir: previews }));
    const kinds = events.map((e) => e.kind);
    expect(kinds[0]).toBe('queued');
    expect(kinds.at(-1)).toBe('done');
    const stages = events.flatMap((e) => (e.kind === 'stage' || e.kind === 'progress' ? [e.stage] : []));
    const order = ['prepare', 'encode', 'invert', 'edit', 'decode', 'composite', 'write'];
    expect([...new Set(stages)]).toEqual(order);
    const fractions = events.flatMap((e) => (e.kind === 'progress' ? [e.fraction] : []));
    fractions.slice(1).forEach((f, i) => expect(f).toBeGreaterThanOrEqual(fractions[i]! - 1e-9));

    const done = events.at(-1) as Extract<JobEvent, { kind: 'done' }>;
    const out = await probeClip(done.output.path);
    expect(out).toMatchObject({ frameCount: 8, frameRate: { num: 30000, den: 1001 }, width: 768, height: 448, hasAudio: true });
    expect(path.dirname(done.output.path)).toBe(path.join(work, 'out'));
    expect(done.output.previews?.before).toHaveLength(3);
    done.output.previews!.after.forEach((f) => expect(existsSync(f)).toBe(true));

    const source = await decodeSegment(clip, { startFrame: 2, frameCount: 8, frameRate: { num: 30000, den: 1001 } });
    const result = await decodeSegment(done.output.path, { startFrame: 0, frameCount: 8, frameRate: out.frameRate });
    const feather = Math.round(768 / 100) + 1;
    let inside = 0;
    let changedInside = 0;
    result.frames.forEach((frame, f) => {
      const src = source.frames[f]!;
      for (let y = 0; y < 448; y++) {
        for (let x = 0; x < 768; x++) {
          const o = (y * 768 + x) * 3;
          const near = x >= BOX[0] - feather && x < BOX[2] + feather && y >= BOX[1] - feather && y < BOX[3] + feather;
          if (!near) {
            if (frame[o] !== src[o] || frame[o + 1] !== src[o + 1] || frame[o + 2] !== src[o + 2]) throw new Error(`pixel ${x},${y} of frame ${f} changed`);
          } else if (x >= BOX[0] && x < BOX[2] && y >= BOX[1] && y < BOX[3]) {
            inside++;
            if (frame[o] !== src[o]) changedInside++;
          }
        }
      }
    });
    expect(changedInside / inside).toBeGreaterThan(0.5); // the region was actually edited
  });

  it('cancels a running job: a cancelled event, the journal says so, no output file', async () => {
    const before = readdirSync(path.join(work, 'out')).length;
    const { jobId } = await client.request<{ jobId: string }>('submit', { job: job({ settings: { ...FAST, steps: 30 } }) });
    await client.waitFor((e) => e.jobId === jobId && e.kind === 'progress' && e.stage === 'edit');
    await expect(client.request('cancel', { jobId })).resolves.toEqual({ cancelled: true });
    await client.waitFor((e) => e.jobId === jobId && e.kind === 'cancelled');
    const { jobs } = await client.request<{ jobs: { id: string; state: string }[] }>('listJobs');
    expect(jobs.find((j) => j.id === jobId)?.state).toBe('cancelled');
    expect(readdirSync(path.join(work, 'out'))).toHaveLength(before);
  });

  it('keeps a job running when its client disconnects; another client re-attaches with watch', async () => {
    const first = await TestClient.paired(helper.url, helper.token);
    const { jobId } = await first.request<{ jobId: string }>('submit', { job: job({ settings: { ...FAST, steps: 6 } }) });
    await first.waitFor((e) => e.jobId === jobId && e.kind === 'stage' && e.stage === 'invert');
    await first.close();
    const second = await TestClient.paired(helper.url, helper.token);
    const { job: summary } = await second.request<{ job: { state: string } }>('watch', { jobId });
    expect(['queued', 'running', 'done']).toContain(summary.state);
    if (summary.state !== 'done') await second.waitFor((e) => e.jobId === jobId && e.kind === 'done');
    await second.close();
  });

  describe('bad input is answered clearly at submit, and nothing is written', () => {
    const cases: [string, () => Promise<JobSpecInput>, string][] = [
      ['a missing file', async () => job({ source: { path: path.join(work, 'nope.mov'), startFrame: 0, frameCount: 4 } }), 'FILE_NOT_FOUND'],
      ['a relative path', async () => job({ source: { path: 'hares.mov', startFrame: 0, frameCount: 4 } }), 'PATH_NOT_ALLOWED'],
      ['a file that is not a video', async () => {
        const text = path.join(work, 'notes.mp4');
        writeFileSync(text, 'this is not a video');
        return job({ source: { path: text, startFrame: 0, frameCount: 4 } });
      }, 'MEDIA_UNREADABLE'],
      ['a truncated video', async () => {
        const cut = path.join(work, 'cut.mp4');
        await copyFile(haresClip, cut);
        await truncate(cut, 20000);
        return job({ source: { path: cut, startFrame: 0, frameCount: 4 } });
      }, 'MEDIA_UNREADABLE'],
      ["the helper's own configuration", async () => job({ source: { path: path.join(work, 'config', 'helper.json'), startFrame: 0, frameCount: 4 } }), 'PATH_NOT_ALLOWED'],
      ['a region outside the frame', async () => job({ objects: [{ tokenIndex: 3, region: { kind: 'boxes', keyframes: [{ frame: 0, box: [700, 400, 900, 500] }] } }] }), 'REGION_OUT_OF_FRAME'],
      ['an object word not in the prompt', async () => job({ objects: [{ word: 'dolphin', tokenIndex: 3, region: { kind: 'boxes', keyframes: [{ frame: 0, box: BOX }] } }] }), 'WORD_NOT_IN_PROMPT'],
      ['a segment longer than the limit', async () => job({ source: { path: clip, startFrame: 0, frameCount: 16 } }), 'CLIP_TOO_LONG'],
      ['a segment past the end', async () => job({ source: { path: clip, startFrame: 10, frameCount: 8 } }), 'INVALID_SETTINGS'],
      ['a missing mask folder', async () => job({ objects: [{ tokenIndex: 3, region: { kind: 'mask-sequence', dir: path.join(work, 'no-masks') } }] }), 'FILE_NOT_FOUND'],
    ];
    it.each(cases)('%s', async (_label, make, code) => {
      const before = readdirSync(path.join(work, 'out')).length;
      await expect(client.request('submit', { job: await make() })).rejects.toMatchObject({ code });
      expect(readdirSync(path.join(work, 'out'))).toHaveLength(before);
    });
  });
});

describe('the output folder is full', () => {
  it('fails the job with DISK_FULL and leaves no partial file', async () => {
    const small = path.join(work, 'small-disk');
    await mkdir(small);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=96k', 'tmpfs', small], { stdio: 'ignore' });
    } catch {
      console.warn('skipped: this machine does not let the test mount a small tmpfs');
      return;
    }
    const full = await startHelper({ port: 0, configDir: path.join(work, 'config-full'), outputDir: small, modelDir: TINY_RANDOM, provider: 'cpu', threads: 2, maxFrames: 12, log: () => {} });
    try {
      const client = await TestClient.paired(full.url, full.token);
      const { events } = await runToEnd(client, job());
      expect(events.at(-1)).toMatchObject({ kind: 'failed', error: { code: 'DISK_FULL', retryable: true } });
      expect(readdirSync(small)).toEqual([]);
      await client.close();
    } finally {
      await full.close();
      execFileSync('umount', [small]);
    }
  });
});
