/**
 * The panel's connection to the local helper: pairing-token hello, request/response correlation with
 * timeouts, reconnection with backoff (re-attaching to watched jobs), and validation of every
 * incoming message with the shared protocol. Knows nothing about the UI: state listeners get plain
 * connection states, job listeners get protocol job events.
 */
import type { input } from 'zod';
import {
  PROTOCOL_VERSION,
  requestSchema,
  resultSchemas,
  serverMessageSchema,
  type ErrorCode,
  type JobEvent,
  type JobSummary,
  type RequestType,
  type ResultOf,
} from '@reatco/helper-service/protocol';
import type { TokenStore } from './token-store';

/** Failures that happen on the panel's side of the socket. */
export type ClientErrorCode = 'NOT_CONNECTED' | 'TIMEOUT' | 'CONNECTION_LOST' | 'BAD_RESPONSE';

export class HelperError extends Error {
  constructor(
    readonly code: ErrorCode | ClientErrorCode,
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'HelperError';
  }
}

// Handlers are compared bivariantly (method syntax) so both the DOM WebSocket and `ws` fit.
type Handler<E> = { bivarianceHack(event: E): void }['bivarianceHack'] | null;

/** The part of WebSocket the client uses: the browser's and UXP's global, or `ws` in Node. */
export interface SocketLike {
  readonly readyState: number;
  onopen: Handler<unknown>;
  onmessage: Handler<{ data: unknown }>;
  onclose: Handler<{ code: number; reason: string }>;
  onerror: Handler<unknown>;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type SocketFactory = (url: string) => SocketLike;

export type ConnectionState =
  | { readonly status: 'no-token' }
  | { readonly status: 'connecting' }
  | { readonly status: 'connected'; readonly helperVersion: string }
  /** `everConnected` false: nothing answered (the helper is not running); true: the connection dropped. */
  | { readonly status: 'unreachable'; readonly retryInMs: number; readonly everConnected: boolean; readonly detail: string }
  | { readonly status: 'pairing-failed'; readonly message: string }
  | { readonly status: 'incompatible'; readonly message: string }
  | { readonly status: 'stopped' };

export interface HelperClientOptions {
  readonly url: string;
  readonly createSocket: SocketFactory;
  readonly tokens: TokenStore;
  readonly clientInfo: { readonly name: string; readonly version: string };
  readonly requestTimeoutMs?: number;
  readonly helloTimeoutMs?: number;
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
}

/** What a request carries besides id and type, as sent (schema defaults may be left out). */
type RequestPayload<T extends RequestType> = Omit<Extract<input<typeof requestSchema>, { type: T }>, 'id' | 'type'>;

interface Pending {
  readonly type: RequestType;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: HelperError) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

const OPEN = 1;
const TERMINAL_KINDS = new Set<JobEvent['kind']>(['done', 'failed', 'cancelled']);

/** The event a watched job's summary stands for, when it already ended. */
export function terminalEventOf(job: JobSummary): JobEvent | null {
  switch (job.state) {
    case 'done':
      return job.output ? { jobId: job.id, kind: 'done', output: job.output } : null;
    case 'failed':
      return { jobId: job.id, kind: 'failed', error: job.error ?? { code: 'INTERNAL', message: 'The edit failed.', retryable: false } };
    case 'cancelled':
      return { jobId: job.id, kind: 'cancelled' };
    case 'interrupted':
      return { jobId: job.id, kind: 'failed', error: { code: 'JOB_INTERRUPTED', message: 'The helper stopped while the edit was running.', retryable: true } };
    default:
      return null;
  }
}

export class HelperClient {
  private readonly options: Required<HelperClientOptions>;
  private socket: SocketLike | null = null;
  private token: string | null = null;
  private state: ConnectionState = { status: 'stopped' };
  private readonly pending = new Map<string, Pending>();
  private readonly watched = new Set<string>();
  private readonly stateListeners = new Set<(state: ConnectionState) => void>();
  private readonly eventListeners = new Set<(event: JobEvent) => void>();
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private attempt = 0;
  private nextId = 1;
  private running = false;

  constructor(options: HelperClientOptions) {
    this.options = {
      requestTimeoutMs: 20000,
      helloTimeoutMs: 5000,
      backoff: { initialMs: 500, maxMs: 10000 },
      ...options,
    };
  }

  get connection(): ConnectionState {
    return this.state;
  }

  onState(listener: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  onJobEvent(listener: (event: JobEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** Loads the saved token and connects; without one the state is 'no-token' until `pair`. */
  async start(): Promise<void> {
    this.running = true;
    this.token = await this.options.tokens.load();
    if (this.token) this.connect();
    else this.setState({ status: 'no-token' });
  }

  async pair(token: string): Promise<void> {
    const trimmed = token.trim();
    if (!trimmed) return;
    await this.options.tokens.save(trimmed);
    this.token = trimmed;
    this.running = true;
    this.reconnectNow();
  }

  async forgetToken(): Promise<void> {
    await this.options.tokens.clear();
    this.token = null;
    this.dropSocket();
    this.setState({ status: 'no-token' });
  }

  /** Skips the backoff wait (the panel's "Reconnect" and flyout item). */
  reconnectNow(): void {
    if (!this.token) return;
    this.attempt = 0;
    this.dropSocket();
    this.connect();
  }

  stop(): void {
    this.running = false;
    this.dropSocket();
    this.setState({ status: 'stopped' });
  }

  /** Sends a request once connected; resolves with the validated result. */
  request<T extends RequestType>(type: T, payload: RequestPayload<T>, timeoutMs = this.options.requestTimeoutMs): Promise<ResultOf<T>> {
    if (this.state.status !== 'connected') {
      return Promise.reject(new HelperError('NOT_CONNECTED', 'The helper is not connected.', true));
    }
    return this.send(type, payload, timeoutMs);
  }

  /** Follows a job's events, now and after every reconnect, until it ends. */
  async watch(jobId: string): Promise<void> {
    this.watched.add(jobId);
    if (this.state.status === 'connected') await this.rewatch(jobId);
  }

  unwatch(jobId: string): void {
    this.watched.delete(jobId);
  }

  // ---- internals ----

  private setState(state: ConnectionState): void {
    this.state = state;
    for (const listener of this.stateListeners) listener(state);
  }

  private connect(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.setState({ status: 'connecting' });
    let socket: SocketLike;
    try {
      socket = this.options.createSocket(this.options.url);
    } catch (error) {
      // UXP throws here when the manifest does not list the address.
      this.scheduleReconnect(false, error instanceof Error ? error.message : String(error));
      return;
    }
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      void this.handshake(socket);
    };
    socket.onmessage = (event) => {
      if (socket === this.socket) this.receive(event.data);
    };
    socket.onerror = () => undefined; // a close event always follows
    socket.onclose = (event) => {
      if (socket !== this.socket) return;
      this.socket = null;
      this.failPending(new HelperError('CONNECTION_LOST', 'The connection to the helper was lost.', true));
      const settled = ['pairing-failed', 'incompatible', 'stopped', 'no-token'].includes(this.state.status);
      if (this.running && !settled) this.scheduleReconnect(opened, event.reason || `closed (${event.code})`);
    };
  }

  private async handshake(socket: SocketLike): Promise<void> {
    try {
      const hello = await this.send('hello', { protocol: PROTOCOL_VERSION, token: this.token ?? '', client: this.options.clientInfo }, this.options.helloTimeoutMs);
      if (socket !== this.socket) return;
      this.attempt = 0;
      this.setState({ status: 'connected', helperVersion: hello.helperVersion });
      await Promise.all([...this.watched].map((jobId) => this.rewatch(jobId)));
    } catch (error) {
      if (socket !== this.socket || !(error instanceof HelperError)) return;
      if (error.code === 'AUTH_FAILED' || error.code === 'AUTH_REQUIRED') {
        this.setState({ status: 'pairing-failed', message: error.message });
      } else if (error.code === 'UNSUPPORTED_VERSION' || error.code === 'ORIGIN_REFUSED') {
        this.setState({ status: 'incompatible', message: error.message });
      }
      socket.close(1000, 'handshake failed');
    }
  }

  private async rewatch(jobId: string): Promise<void> {
    try {
      const { job } = await this.send('watch', { jobId }, this.options.requestTimeoutMs);
      const terminal = terminalEventOf(job);
      if (terminal) this.emit(terminal);
    } catch (error) {
      if (error instanceof HelperError && error.code === 'JOB_NOT_FOUND') {
        this.emit({ jobId, kind: 'failed', error: { code: 'JOB_NOT_FOUND', message: error.message, retryable: false } });
      }
    }
  }

  private send<T extends RequestType>(type: T, payload: RequestPayload<T>, timeoutMs: number): Promise<ResultOf<T>> {
    const socket = this.socket;
    if (!socket || socket.readyState !== OPEN) {
      return Promise.reject(new HelperError('NOT_CONNECTED', 'The helper is not connected.', true));
    }
    const id = `r${this.nextId++}`;
    return new Promise<ResultOf<T>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new HelperError('TIMEOUT', `The helper did not answer "${type}" within ${Math.round(timeoutMs / 1000)} s.`, true));
      }, timeoutMs);
      this.pending.set(id, { type, resolve: resolve as (value: unknown) => void, reject, timer });
      try {
        socket.send(JSON.stringify({ ...payload, id, type }));
      } catch (error) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new HelperError('CONNECTION_LOST', error instanceof Error ? error.message : String(error), true));
      }
    });
  }

  private receive(data: unknown): void {
    if (typeof data !== 'string') return; // the protocol is JSON text only
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      return;
    }
    const parsed = serverMessageSchema.safeParse(json);
    if (!parsed.success) {
      const id = (json as { id?: unknown } | null)?.id;
      if (typeof id === 'string') this.settle(id, new HelperError('BAD_RESPONSE', 'The helper sent a message this panel does not understand.', false));
      return;
    }
    const message = parsed.data;
    if (message.type === 'event') {
      this.emit(message.event);
    } else if (message.type === 'error') {
      const error = new HelperError(message.error.code, message.error.message, message.error.retryable);
      if (message.id !== null) this.settle(message.id, error);
      else if (this.state.status === 'connecting') this.failPending(error); // a refused hello may come without its id
    } else {
      const pending = this.pending.get(message.id);
      if (!pending) return;
      const result = resultSchemas[pending.type].safeParse(message.result);
      this.settle(message.id, result.success ? result.data : new HelperError('BAD_RESPONSE', `The helper's answer to "${pending.type}" is malformed.`, false));
    }
  }

  private settle(id: string, outcome: unknown): void {
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    clearTimeout(pending.timer);
    if (outcome instanceof HelperError) pending.reject(outcome);
    else pending.resolve(outcome);
  }

  private failPending(error: HelperError): void {
    for (const id of [...this.pending.keys()]) this.settle(id, error);
  }

  private emit(event: JobEvent): void {
    if (TERMINAL_KINDS.has(event.kind)) this.watched.delete(event.jobId);
    for (const listener of this.eventListeners) listener(event);
  }

  private scheduleReconnect(everConnected: boolean, detail: string): void {
    const { initialMs, maxMs } = this.options.backoff;
    const retryInMs = Math.min(maxMs, initialMs * 2 ** this.attempt);
    this.attempt++;
    this.setState({ status: 'unreachable', retryInMs, everConnected, detail });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.running && this.token) this.connect();
    }, retryInMs);
  }

  private dropSocket(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const socket = this.socket;
    this.socket = null;
    this.failPending(new HelperError('CONNECTION_LOST', 'The connection to the helper was closed.', true));
    if (socket && socket.readyState <= OPEN) socket.close(1000, 'panel closed the connection');
  }
}
