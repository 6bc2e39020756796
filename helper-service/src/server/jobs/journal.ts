/**
 * The job journal: one JSON file per job, replaced atomically (write a temporary file, then rename),
 * so a crash leaves either the old or the new record, never half of one. A job is recorded `done`
 * only after its output file is complete and in place; at start-up every job that was queued or
 * running is recorded `interrupted`: a restart never reports a job as done that is not.
 */
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ErrorPayload, JobOutput, JobSpec, JobState, JobSummary } from '../protocol/messages';

export interface JobRecord {
  id: string;
  state: JobState;
  createdAt: string;
  updatedAt: string;
  spec: JobSpec;
  output?: JobOutput;
  error?: ErrorPayload;
}

const KEEP_FINISHED = 500;

export function summarize(record: JobRecord): JobSummary {
  return {
    id: record.id,
    state: record.state,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    sourcePath: record.spec.source.path,
    prompt: record.spec.prompt,
    ...(record.output ? { output: record.output } : {}),
    ...(record.error ? { error: record.error } : {}),
  };
}

export class Journal {
  private readonly records = new Map<string, JobRecord>();

  private constructor(private readonly dir: string) {}

  /** Opens (or creates) the journal in `dir`; jobs cut off by a crash or restart become `interrupted`. */
  static open(dir: string): Journal {
    mkdirSync(dir, { recursive: true });
    const journal = new Journal(dir);
    for (const name of readdirSync(dir)) {
      if (!name.endsWith('.json')) continue;
      try {
        const record = JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as JobRecord;
        journal.records.set(record.id, record);
      } catch {
        // A record that cannot be read is not a job we can report on: set it aside.
        renameSync(path.join(dir, name), path.join(dir, `${name}.unreadable`));
      }
    }
    for (const record of journal.records.values()) {
      if (record.state === 'queued' || record.state === 'running') {
        journal.save({
          ...record,
          state: 'interrupted',
          error: { code: 'JOB_INTERRUPTED', message: 'The helper stopped before this edit finished. Run it again.', retryable: true },
        });
      }
    }
    journal.prune();
    return journal;
  }

  save(record: JobRecord): JobRecord {
    const stamped = { ...record, updatedAt: new Date().toISOString() };
    const file = path.join(this.dir, `${record.id}.json`);
    const temporary = `${file}.tmp`;
    writeFileSync(temporary, JSON.stringify(stamped, null, 1));
    renameSync(temporary, file);
    this.records.set(record.id, stamped);
    return stamped;
  }

  get(id: string): JobRecord | undefined {
    return this.records.get(id);
  }

  /** Newest first. */
  list(): JobRecord[] {
    return [...this.records.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }

  private prune(): void {
    const finished = this.list().filter((r) => r.state !== 'queued' && r.state !== 'running');
    for (const record of finished.slice(KEEP_FINISHED)) {
      rmSync(path.join(this.dir, `${record.id}.json`), { force: true });
      this.records.delete(record.id);
    }
  }
}
