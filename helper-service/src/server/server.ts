/**
 * The helper's WebSocket server. Loopback by default; browser origins refused at the upgrade; the first
 * message must be `hello` with the pairing token. Every message is size-checked and validated; a bad
 * one gets an error reply, never a crash. Job events go to the connections that submitted or watch
 * the job; a client that disconnects does not stop its job.
 */
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { Engine, type ProviderName } from '../engine';
import { ValidationError, toErrorPayload } from '../errors';
import { HELPER_VERSION } from '../version';
import { decodeSegment, ffmpegInfo, probeClip, writePreviewFrames } from '../media';
import { loadConfig } from './config';
import { Journal, summarize } from './jobs/journal';
import { JobQueue } from './jobs/queue';
import { qualityPresets } from './jobs/quality';
import { precheckJob } from './jobs/run-job';
import {
  DEFAULT_PORT,
  MAX_MESSAGE_BYTES,
  PROTOCOL_VERSION,
  requestSchema,
  type JobEvent,
  type Request,
  type RequestType,
  type ResultOf,
  type ServerMessage,
} from './protocol/messages';
import { PathPolicy, isBrowserOrigin, tokensMatch } from './security';

export interface HelperOptions {
  /** 127.0.0.1 unless said otherwise; another interface is an explicit choice that logs a warning. */
  host?: string;
  /** 0 picks a free port (tests). */
  port?: number;
  configDir: string;
  outputDir?: string;
  modelDir: string;
  provider?: ProviderName;
  deviceId?: number;
  threads?: number;
  maxFrames?: number;
  maxQueuedJobs?: number;
  /** Accept `Origin: null` (refused by default as a browser's opaque origin). */
  allowNullOrigin?: boolean;
  log?: (line: string) => void;
}

export interface RunningHelper {
  readonly host: string;
  readonly port: number;
  readonly url: string;
  readonly token: string;
  readonly engine: Engine;
  close(): Promise<void>;
}

const AUTH_TIMEOUT_MS = 10_000;
const WS_HARD_LIMIT = 8 * MAX_MESSAGE_BYTES;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

interface Connection {
  socket: WebSocket;
  authenticated: boolean;
  watching: Set<string>;
}

export async function startHelper(options: HelperOptions): Promise<RunningHelper> {
  const log = options.log ?? ((line: string) => console.error(line));
  const host = options.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host)) log(`reatco: WARNING: listening on ${host}, not only this computer. Anyone who can reach it and knows the token can run edits.`);
  const config = loadConfig(options.configDir, { port: options.port ?? DEFAULT_PORT, ...(options.outputDir ? { outputDir: options.outputDir } : {}) });
  const outputDir = options.outputDir ?? config.outputDir;
  await mkdir(outputDir, { recursive: true });
  const paths = new PathPolicy(options.configDir, outputDir);
  const engine = await Engine.start({
    modelDir: options.modelDir,
    provider: options.provider ?? 'cuda',
    ...(options.deviceId !== undefined ? { deviceId: options.deviceId } : {}),
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
    log,
  });
  const media = await ffmpegInfo();
  const qualities = qualityPresets(engine.manifest.defaults?.frame_size);
  const maxFrames = options.maxFrames ?? 64;
  const maxQueued = options.maxQueuedJobs ?? 16;
  const journal = Journal.open(path.join(options.configDir, 'jobs'));
  const connections = new Set<Connection>();

  const broadcast = (event: JobEvent) => {
    const text = JSON.stringify({ type: 'event', event } satisfies ServerMessage);
    for (const c of connections) if (c.watching.has(event.jobId)) c.socket.send(text);
  };
  const queue = new JobQueue(journal, { engine, paths, maxFrames, qualities }, broadcast, maxQueued);

  const handlers: { [T in Exclude<RequestType, 'hello'>]: (request: Extract<Request, { type: T }>, c: Connection) => Promise<ResultOf<T>> | ResultOf<T> } = {
    capabilities: () => ({
      provider: engine.provider,
      device: engine.provider === 'cuda' ? `CUDA device ${options.deviceId ?? 0}` : `CPU (${os.cpus().length} cores)`,
      fallbackReason: engine.fallbackReason,
      model: {
        name: engine.manifest.name,
        precision: engine.manifest.precision,
        frameMultiple: engine.manifest.frame.multiple,
        attentionCellPx: engine.manifest.attention.cell_px,
      },
      limits: { maxFrames, maxMessageBytes: MAX_MESSAGE_BYTES, maxQueuedJobs: maxQueued },
      qualities,
      codecs: (['prores', 'h264', 'png'] as const).filter((c) => media.encoders[{ prores: 'prores_ks', h264: 'libx264', png: 'png' }[c] as keyof typeof media.encoders]),
    }),
    probe: async (r) => {
      const clip = await probeClip(paths.readableFile(r.path));
      return {
        path: clip.path,
        durationSec: clip.durationSec,
        frameRate: clip.frameRate,
        fps: clip.fps,
        frameCount: clip.frameCount,
        width: clip.width,
        height: clip.height,
        videoCodec: clip.videoCodec,
        hasAudio: clip.hasAudio,
        variableFrameRate: clip.variableFrameRate,
      };
    },
    previewFrames: async (r) => {
      const file = paths.readableFile(r.path);
      const dir = paths.previewDir(r.outDir);
      const clip = await probeClip(file);
      const bad = r.frames.find((f) => f >= clip.frameCount);
      if (bad !== undefined) throw new ValidationError('INVALID_SETTINGS', `Frame ${bad} is past the end of the clip (${clip.frameCount} frames).`);
      const width = Math.min(r.maxWidth, clip.width) & ~1;
      const size = { width, height: Math.max(2, Math.round((clip.height * width) / clip.width / 2) * 2) };
      const tag = createHash('sha1').update(file).digest('hex').slice(0, 10);
      const files = [];
      for (const frame of r.frames) {
        const decoded = await decodeSegment(file, { startFrame: frame, frameCount: 1, frameRate: clip.frameRate, size });
        const [written] = await writePreviewFrames(decoded.frames, size, dir, `reatco-preview-${tag}-f${frame}`);
        files.push({ frame, path: written!, width: size.width, height: size.height });
      }
      return { files };
    },
    tokenize: (r) => ({ tokens: engine.tokenizer.promptTokens(r.prompt), truncated: engine.tokenizer.encode(r.prompt).truncated }),
    submit: async (r, c) => {
      await precheckJob(r.job, { engine, paths, maxFrames, qualities });
      const record = queue.submit(r.job, (jobId) => c.watching.add(jobId));
      return { jobId: record.id };
    },
    cancel: (r) => {
      if (!journal.get(r.jobId)) throw new ValidationError('JOB_NOT_FOUND', `No job ${r.jobId}.`);
      return { cancelled: queue.cancel(r.jobId) };
    },
    listJobs: () => ({ jobs: journal.list().map(summarize) }),
    watch: (r, c) => {
      const record = journal.get(r.jobId);
      if (!record) throw new ValidationError('JOB_NOT_FOUND', `No job ${r.jobId}.`);
      c.watching.add(r.jobId);
      return { job: summarize(record) };
    },
  };

  const send = (c: Connection, message: ServerMessage) => c.socket.send(JSON.stringify(message));
  const fail = (c: Connection, id: string | null, error: unknown) => send(c, { type: 'error', id, error: toErrorPayload(error) });

  const onMessage = async (c: Connection, data: Buffer, isBinary: boolean) => {
    if (isBinary) return fail(c, null, new ValidationError('BAD_MESSAGE', 'Messages are JSON text.'));
    if (data.length > MAX_MESSAGE_BYTES) return fail(c, null, new ValidationError('MESSAGE_TOO_LARGE', `Messages are limited to ${MAX_MESSAGE_BYTES} bytes.`));
    let raw: unknown;
    try {
      raw = JSON.parse(data.toString('utf8'));
    } catch {
      return fail(c, null, new ValidationError('BAD_MESSAGE', 'The message is not valid JSON.'));
    }
    const id = typeof (raw as { id?: unknown })?.id === 'string' ? ((raw as { id: string }).id) : null;
    const parsed = requestSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return fail(c, id, new ValidationError('BAD_MESSAGE', `Bad request at "${issue.path.join('.')}": ${issue.message}.`));
    }
    const request = parsed.data;
    if (!c.authenticated) {
      if (request.type !== 'hello') {
        fail(c, id, new ValidationError('AUTH_REQUIRED', 'Send hello with the pairing token first.'));
        return c.socket.close(4001, 'auth required');
      }
      if (request.protocol !== PROTOCOL_VERSION) {
        fail(c, id, new ValidationError('UNSUPPORTED_VERSION', `The helper speaks protocol ${PROTOCOL_VERSION}, the panel ${request.protocol}: update the older one.`));
        return c.socket.close(4002, 'protocol version');
      }
      if (!tokensMatch(request.token, config.token)) {
        fail(c, id, new ValidationError('AUTH_FAILED', 'The pairing token is wrong. Copy it again from the helper (reatco pair).'));
        return c.socket.close(4003, 'auth failed');
      }
      c.authenticated = true;
      return send(c, { type: 'result', id: request.id, result: { protocol: PROTOCOL_VERSION, helperVersion: HELPER_VERSION } });
    }
    if (request.type === 'hello') return send(c, { type: 'result', id: request.id, result: { protocol: PROTOCOL_VERSION, helperVersion: HELPER_VERSION } });
    try {
      const handler = handlers[request.type] as (r: Request, c: Connection) => unknown;
      send(c, { type: 'result', id: request.id, result: await handler(request, c) });
    } catch (error) {
      fail(c, request.id, error);
    }
  };

  const wss = new WebSocketServer({
    host,
    port: options.port ?? config.port,
    maxPayload: WS_HARD_LIMIT,
    verifyClient: (info: { origin: string }, done: (ok: boolean, code?: number, reason?: string) => void) =>
      isBrowserOrigin(info.origin, options.allowNullOrigin) ? done(false, 403, 'Web pages may not connect to the ReAtCo helper') : done(true),
  });
  wss.on('connection', (socket) => {
    const c: Connection = { socket, authenticated: false, watching: new Set() };
    connections.add(c);
    const timer = setTimeout(() => !c.authenticated && socket.close(4001, 'auth timeout'), AUTH_TIMEOUT_MS);
    socket.on('message', (data: Buffer, isBinary) => void onMessage(c, data, isBinary).catch((error) => log(`reatco: ${String(error)}`)));
    socket.on('error', (error) => log(`reatco: connection error: ${error.message}`));
    socket.on('close', () => {
      clearTimeout(timer);
      connections.delete(c);
    });
  });
  await new Promise<void>((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  const port = (wss.address() as AddressInfo).port;
  return {
    host,
    port,
    url: `ws://${host}:${port}`,
    token: config.token,
    engine,
    close: async () => {
      await queue.close();
      for (const c of connections) c.socket.terminate();
      await new Promise((resolve) => wss.close(resolve));
      await engine.close();
    },
  };
}
