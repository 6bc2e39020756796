/** A minimal protocol client for tests: a real `ws` connection to a real helper. */
import WebSocket from 'ws';
import { serverMessageSchema, type JobEvent, type ServerMessage } from '../../src/server/protocol';

export class TestClient {
  readonly events: JobEvent[] = [];
  readonly errors: ServerMessage[] = [];
  private nextId = 1;
  private readonly pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private readonly waiters: { match: (e: JobEvent) => boolean; resolve: (e: JobEvent) => void }[] = [];
  closed: { code: number; reason: string } | null = null;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const message = serverMessageSchema.parse(JSON.parse(String(data)));
      if (message.type === 'event') {
        this.events.push(message.event);
        for (const w of [...this.waiters]) {
          if (w.match(message.event)) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            w.resolve(message.event);
          }
        }
      } else if (message.id && this.pending.has(message.id)) {
        const p = this.pending.get(message.id)!;
        this.pending.delete(message.id);
        if (message.type === 'result') p.resolve(message.result);
        else p.reject(Object.assign(new Error(message.error.message), message.error));
      } else this.errors.push(message);
    });
    socket.on('close', (code, reason) => (this.closed = { code, reason: String(reason) }));
  }

  static connect(url: string, headers: Record<string, string> = {}): Promise<TestClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, { headers });
      socket.once('open', () => resolve(new TestClient(socket)));
      socket.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
      socket.once('error', reject);
    });
  }

  static async paired(url: string, token: string): Promise<TestClient> {
    const client = await TestClient.connect(url);
    await client.request('hello', { protocol: 1, token, client: { name: 'test', version: '0' } });
    return client;
  }

  request<T = unknown>(type: string, payload: Record<string, unknown> = {}): Promise<T> {
    const id = `r${this.nextId++}`;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.socket.send(JSON.stringify({ id, type, ...payload }));
    });
  }

  sendRaw(data: string | Buffer): void {
    this.socket.send(data);
  }

  /** Resolves with the first event (already received or coming) that matches. */
  waitFor(match: (e: JobEvent) => boolean): Promise<JobEvent> {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  nextError(): Promise<ServerMessage> {
    if (this.errors.length) return Promise.resolve(this.errors.shift()!);
    return new Promise((resolve) => {
      const poll = setInterval(() => {
        if (this.errors.length) {
          clearInterval(poll);
          resolve(this.errors.shift()!);
        }
      }, 10);
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.readyState === WebSocket.CLOSED) return resolve();
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }
}
