/**
 * Jobs run one at a time on the engine (one GPU), first come first served. Every state change is
 * written to the journal before it is announced; a cancelled job is not a failure.
 */
import { randomBytes } from 'node:crypto';
import { CancelledError, ValidationError, toErrorPayload } from '../../errors';
import type { JobEvent, JobSpec } from '../protocol/messages';
import type { Journal, JobRecord } from './journal';
import { runJob, type JobEnvironment, type JobProgress } from './run-job';

const HEARTBEAT_MS = 2000;

export class JobQueue {
  private readonly waiting: string[] = [];
  private running: { id: string; controller: AbortController; startedAt: number; stopping?: 'cancel' | 'shutdown' } | null = null;
  private idle: Promise<void> = Promise.resolve();
  private heartbeat: NodeJS.Timeout | null = null;

  constructor(
    private readonly journal: Journal,
    private readonly env: JobEnvironment,
    private readonly emit: (event: JobEvent) => void,
    private readonly maxQueued: number,
  ) {}

  /** Queues a job; `subscribe` runs before its first event goes out (so the submitter hears `queued`). */
  submit(spec: JobSpec, subscribe: (jobId: string) => void = () => {}): JobRecord {
    if (this.waiting.length >= this.maxQueued) {
      throw new ValidationError('QUEUE_FULL', `${this.waiting.length} edits are already waiting; try again when one has finished.`);
    }
    const now = new Date().toISOString();
    const record = this.journal.save({ id: `j${randomBytes(6).toString('hex')}`, state: 'queued', createdAt: now, updatedAt: now, spec });
    this.waiting.push(record.id);
    subscribe(record.id);
    this.emit({ jobId: record.id, kind: 'queued', position: this.waiting.length - 1 + (this.running ? 1 : 0) });
    this.pump();
    return record;
  }

  /** Cancels a waiting or running job; false when it already ended. */
  cancel(id: string): boolean {
    const index = this.waiting.indexOf(id);
    if (index >= 0) {
      this.waiting.splice(index, 1);
      this.finish(id, 'cancelled');
      return true;
    }
    if (this.running?.id === id) {
      this.running.stopping = 'cancel';
      this.running.controller.abort();
      return true;
    }
    return false;
  }

  /** Stops taking jobs and aborts the running one, which is journalled as interrupted. */
  async close(): Promise<void> {
    this.waiting.length = 0;
    if (this.running) {
      this.running.stopping = 'shutdown';
      this.running.controller.abort();
    }
    await this.idle;
  }

  private pump(): void {
    if (this.running || this.waiting.length === 0) return;
    const id = this.waiting.shift()!;
    this.waiting.forEach((waitingId, position) => this.emit({ jobId: waitingId, kind: 'queued', position }));
    this.idle = this.execute(id);
  }

  private async execute(id: string): Promise<void> {
    const record = this.journal.get(id)!;
    const controller = new AbortController();
    const job = { id, controller, startedAt: Date.now() } as NonNullable<JobQueue['running']>;
    this.running = job;
    this.journal.save({ ...record, state: 'running' });
    this.heartbeat = setInterval(() => this.emit({ jobId: id, kind: 'heartbeat', elapsedMs: Date.now() - job.startedAt }), HEARTBEAT_MS);
    try {
      const output = await runJob(id, record.spec, this.env, (p: JobProgress) => this.emit({ jobId: id, ...p }), controller.signal);
      this.journal.save({ ...this.journal.get(id)!, state: 'done', output });
      this.emit({ jobId: id, kind: 'done', output });
    } catch (error) {
      if (job.stopping === 'shutdown') {
        this.journal.save({
          ...this.journal.get(id)!,
          state: 'interrupted',
          error: { code: 'JOB_INTERRUPTED', message: 'The helper was stopped while this edit ran. Run it again.', retryable: true },
        });
      } else if (job.stopping === 'cancel' || error instanceof CancelledError) {
        this.finish(id, 'cancelled');
      } else {
        const payload = toErrorPayload(error);
        this.journal.save({ ...this.journal.get(id)!, state: 'failed', error: payload });
        this.emit({ jobId: id, kind: 'failed', error: payload });
      }
    } finally {
      clearInterval(this.heartbeat!);
      this.running = null;
      if (job.stopping !== 'shutdown') this.pump();
    }
  }

  private finish(id: string, state: 'cancelled'): void {
    this.journal.save({ ...this.journal.get(id)!, state });
    this.emit({ jobId: id, kind: 'cancelled' });
  }
}
