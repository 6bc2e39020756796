/**
 * The helper client over real sockets on 127.0.0.1: a small protocol server written here (to script
 * failures the real helper does not produce on demand), then the real helper with the tiny model.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { requestSchema, type JobEvent, type Request, type ServerMessage } from '@reatco/helper-service/protocol';
import { startHelper } from '@reatco/helper-service/server';
import { WebSocket, WebSocketServer } from 'ws';
import { HelperClient, type ConnectionState } from '../src/client/helper-client';
import { webStorageTokenStore, type TokenStore } from '../src/client/token-store';

const TOKEN = 'correct-horse-battery-staple';

type Handler = (request: Request, send: (message: ServerMessage) => void) => void;

interface TestServer {
  readonly url: string;
  readonly port: number;
  readonly received: Request[];
  handle: Handler;
  push(event: JobEvent): void;
  dropConnections(): void;
  close(): Promise<void>;
}

/** A protocol-speaking server: checks hello and the token, validates requests, answers via `handle`. */
async function startServer(port = 0): Promise<TestServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port });
  await new Promise((resolve) => wss.once('listening', resolve));
  const received: Request[] = [];
  const server: TestServer = {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    port: (wss.address() as AddressInfo).port,
    received,
    handle: () => undefined,
    push: (event) => wss.clients.forEach((c) => c.send(JSON.stringify({ type: 'event', event }))),
    dropConnections: () => wss.clients.forEach((c) => c.terminate()),
    close: async () => {
      wss.clients.forEach((c) => c.terminate());
      await new Promise((resolve) => wss.close(resolve));
    },
  };
  wss.on('connection', (socket) => {
    let authenticated = false;
    const send = (message: ServerMessage) => socket.send(JSON.stringify(message));
    socket.on('message', (data) => {
      const request = requestSchema.parse(JSON.parse(data.toString()));
      received.push(request);
      if (!authenticated) {
        if (request.type === 'hello' && request.token === TOKEN) {
          authenticated = true;
          return send({ type: 'result', id: request.id, result: { protocol: 1, helperVersion: '9.9.9' } });
        }
        send({ type: 'error', id: request.id, error: { code: 'AUTH_FAILED', message: 'The pairing token is wrong.', retryable: false } });
        return socket.close(4003, 'auth failed');
      }
      server.handle(request, send);
    });
  });
  return server;
}

function memoryTokens(initial: string | null): TokenStore & { readonly saved: () => string | null } {
  const map = new Map<string, string>();
  const store = webStorageTokenStore({
    getItem: (k) => map.get(k) ?? null,
    setItem: (k, v) => void map.set(k, v),
    removeItem: (k) => void map.delete(k),
  });
  if (initial) void store.save(initial);
  return { ...store, saved: () => [...map.values()][0] ?? null };
}

function clientFor(url: string, tokens: TokenStore, requestTimeoutMs = 2000): HelperClient {
  return new HelperClient({
    url,
    createSocket: (u) => new WebSocket(u),
    tokens,
    clientInfo: { name: 'test', version: '0' },
    requestTimeoutMs,
    backoff: { initialMs: 50, maxMs: 200 },
  });
}

async function until(what: string, predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const status = (client: HelperClient) => client.connection.status;

describe('helper client against a scripted protocol server', () => {
  let server: TestServer;
  let client: HelperClient | null = null;

  beforeEach(async () => {
    server = await startServer();
  });

  afterEach(async () => {
    client?.stop();
    client = null;
    await server.close();
  });

  test('without a saved token it waits for pairing; pairing saves the token and says hello', async () => {
    const tokens = memoryTokens(null);
    client = clientFor(server.url, tokens);
    const states: ConnectionState['status'][] = [];
    client.onState((s) => states.push(s.status));
    await client.start();
    expect(status(client)).toBe('no-token');
    await client.pair(`  ${TOKEN}\n`);
    await until('connected', () => status(client!) === 'connected');
    expect(client.connection).toEqual({ status: 'connected', helperVersion: '9.9.9' });
    expect(tokens.saved()).toBe(TOKEN);
    expect(server.received[0]).toMatchObject({ type: 'hello', protocol: 1, token: TOKEN, client: { name: 'test', version: '0' } });
    expect(states).toEqual(['no-token', 'connecting', 'connected']);
  });

  test('a wrong token ends in pairing-failed, without retrying', async () => {
    client = clientFor(server.url, memoryTokens('wrong-token-0000'));
    await client.start();
    await until('pairing-failed', () => status(client!) === 'pairing-failed');
    expect(client.connection).toEqual({ status: 'pairing-failed', message: 'The pairing token is wrong.' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(server.received.filter((r) => r.type === 'hello')).toHaveLength(1);
  });

  test('answers reach the right request even out of order, and every result is validated', async () => {
    const held: Request[] = [];
    server.handle = (request, send) => {
      if (request.type === 'tokenize') held.push(request);
      if (request.type === 'cancel') {
        for (const r of held.reverse()) {
          const prompt = r.type === 'tokenize' ? r.prompt : '';
          send({ type: 'result', id: r.id, result: { tokens: [{ position: 1, text: prompt, wordStart: true }], truncated: false } });
        }
        send({ type: 'result', id: request.id, result: { cancelled: 'yes' } });
      }
    };
    client = clientFor(server.url, memoryTokens(TOKEN));
    await client.start();
    await until('connected', () => status(client!) === 'connected');
    const a = client.request('tokenize', { prompt: 'a cat' });
    const b = client.request('tokenize', { prompt: 'a dog' });
    await until('both held', () => held.length === 2);
    const malformed = client.request('cancel', { jobId: 'j1' });
    expect((await a).tokens[0]!.text).toBe('a cat');
    expect((await b).tokens[0]!.text).toBe('a dog');
    await expect(malformed).rejects.toMatchObject({ code: 'BAD_RESPONSE' });
  });

  test('helper errors keep their code; unanswered requests time out', async () => {
    server.handle = (request, send) => {
      if (request.type === 'probe') send({ type: 'error', id: request.id, error: { code: 'FILE_NOT_FOUND', message: '/x.mov does not exist.', retryable: false } });
    };
    client = clientFor(server.url, memoryTokens(TOKEN), 200);
    await client.start();
    await until('connected', () => status(client!) === 'connected');
    await expect(client.request('probe', { path: '/x.mov' })).rejects.toMatchObject({ code: 'FILE_NOT_FOUND', message: '/x.mov does not exist.', retryable: false });
    await expect(client.request('listJobs', {})).rejects.toMatchObject({ code: 'TIMEOUT', retryable: true });
  });

  test('job events are validated before they reach listeners', async () => {
    client = clientFor(server.url, memoryTokens(TOKEN));
    const events: JobEvent[] = [];
    client.onJobEvent((e) => events.push(e));
    await client.start();
    await until('connected', () => status(client!) === 'connected');
    server.push({ jobId: 'j1', kind: 'progress', stage: 'edit', step: 1, totalSteps: 3, fraction: 0.5, etaMs: 1000, elapsedMs: 10 });
    server.push({ jobId: 'j1', kind: 'progress', fraction: 7 } as unknown as JobEvent);
    server.push({ jobId: 'j1', kind: 'cancelled' });
    await until('two events', () => events.length === 2);
    expect(events.map((e) => e.kind)).toEqual(['progress', 'cancelled']);
  });

  test('when the helper is not running it says so, then connects once the helper starts', async () => {
    const port = server.port;
    await server.close();
    client = clientFor(`ws://127.0.0.1:${port}`, memoryTokens(TOKEN));
    await client.start();
    await until('unreachable', () => status(client!) === 'unreachable');
    expect(client.connection).toMatchObject({ status: 'unreachable', everConnected: false });
    await expect(client.request('capabilities', {})).rejects.toMatchObject({ code: 'NOT_CONNECTED' });
    server = await startServer(port);
    await until('connected', () => status(client!) === 'connected', 5000);
  });

  test('a dropped connection reconnects with backoff and re-attaches to the watched job', async () => {
    let finished = false;
    server.handle = (request, send) => {
      if (request.type !== 'watch') return;
      const summary = { id: request.jobId, createdAt: 'now', updatedAt: 'now', sourcePath: '/x.mov', prompt: 'p' };
      const output = { path: '/out/x.mov', codec: 'prores', width: 64, height: 64, frames: 8, frameRate: { num: 24, den: 1 }, hasAudio: false } as const;
      send({ type: 'result', id: request.id, result: { job: finished ? { ...summary, state: 'done', output } : { ...summary, state: 'running' } } });
    };
    client = clientFor(server.url, memoryTokens(TOKEN));
    const events: JobEvent[] = [];
    const states: ConnectionState[] = [];
    client.onJobEvent((e) => events.push(e));
    client.onState((s) => states.push(s));
    await client.start();
    await until('connected', () => status(client!) === 'connected');
    await client.watch('job-7');
    expect(events).toEqual([]);

    finished = true; // the job ends while the panel is away
    server.dropConnections();
    await until('re-watched', () => server.received.filter((r) => r.type === 'watch').length === 2);
    await until('done event', () => events.length === 1);
    expect(events[0]).toMatchObject({ jobId: 'job-7', kind: 'done', output: { path: '/out/x.mov' } });
    expect(states.some((s) => s.status === 'unreachable' && s.everConnected)).toBe(true);
    expect(status(client)).toBe('connected');
  });
});

describe('helper client against the real helper (tiny model)', () => {
  let work: string;
  let helper: Awaited<ReturnType<typeof startHelper>>;

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'reatco-client-'));
    helper = await startHelper({
      port: 0,
      configDir: path.join(work, 'config'),
      outputDir: path.join(work, 'output'),
      modelDir: path.resolve(__dirname, '../../../models/tiny-random'),
      provider: 'cpu',
      log: () => undefined,
    });
  }, 60_000);

  afterAll(async () => {
    await helper?.close();
    rmSync(work, { recursive: true, force: true });
  });

  test('pairs with the printed token and reads capabilities and tokens', async () => {
    const client = clientFor(helper.url, memoryTokens(null), 10_000);
    await client.start();
    await client.pair(helper.token);
    await until('connected', () => status(client) === 'connected', 10_000);
    const capabilities = await client.request('capabilities', {});
    expect(capabilities.model.name).toBe('tiny-random');
    expect(capabilities.provider).toBe('cpu');
    const { tokens } = await client.request('tokenize', { prompt: 'a cat' });
    expect(tokens[0]).toMatchObject({ position: 1, wordStart: true });
    client.stop();
  });

  test('a wrong token is refused with the helper’s message', async () => {
    const client = clientFor(helper.url, memoryTokens('not-the-token-1234'));
    await client.start();
    await until('pairing-failed', () => status(client) === 'pairing-failed', 10_000);
    expect(client.connection).toMatchObject({ status: 'pairing-failed', message: expect.stringMatching(/token is wrong/) });
    client.stop();
  });
});
