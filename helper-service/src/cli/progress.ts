/** A terminal progress bar for job events (cli-progress), with stage and ETA. */
import { SingleBar } from 'cli-progress';
import type { JobProgress } from '../server/jobs/run-job';

const STAGE_NAMES: Record<string, string> = {
  prepare: 'preparing',
  encode: 'encoding frames',
  invert: 'inverting',
  edit: 'editing',
  decode: 'decoding',
  composite: 'compositing',
  write: 'writing',
};

function formatEta(ms: number | null): string {
  if (ms === null) return '--:--';
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export function progressBar(): { update: (p: JobProgress) => void; stop: () => void } {
  const interactive = process.stderr.isTTY;
  const bar = new SingleBar({
    format: ' {bar} {percentage}% | {stage} {step} | ETA {eta_text}',
    barCompleteChar: '█',
    barIncompleteChar: '░',
    hideCursor: true,
    stream: process.stderr,
    noTTYOutput: false,
  });
  let started = false;
  let lastStage = '';
  let lastLogged = 0;
  return {
    update(p) {
      const stage = STAGE_NAMES[p.stage] ?? p.stage;
      if (!interactive) {
        // Logs and CI: one line per stage and at most one a second.
        const now = Date.now();
        if (stage !== lastStage || now - lastLogged > 1000) {
          const percent = p.kind === 'progress' ? ` ${Math.round(p.fraction * 100)}%` : '';
          process.stderr.write(`  ${stage}${percent}\n`);
          lastStage = stage;
          lastLogged = now;
        }
        return;
      }
      if (!started) {
        bar.start(100, 0, { stage, step: '', eta_text: '--:--' });
        started = true;
      }
      if (p.kind === 'progress') {
        bar.update(Math.round(p.fraction * 100), { stage, step: `${p.step}/${p.totalSteps}`, eta_text: formatEta(p.etaMs) });
      } else bar.update({ stage, step: '' });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
