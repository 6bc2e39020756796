/** Run and Cancel, and the job's progress: stage, percent, ETA. */
import type { PanelController } from '../state/controller';
import { isJobActive, type JobState, type PanelState } from '../state/panel-state';
import { el, setAttr, setText, show, type View } from './dom';
import { formatDuration, STAGE_LABELS } from './format';

export function progressText(job: JobState): string {
  switch (job.status) {
    case 'submitting':
      return 'Sending the edit to the helper…';
    case 'queued':
      return job.queuePosition ? `Waiting: ${job.queuePosition} edit${job.queuePosition === 1 ? '' : 's'} ahead` : 'Waiting to start…';
    case 'running':
    case 'cancelling': {
      const stage = job.stage ? STAGE_LABELS[job.stage] : 'Starting';
      const eta = job.etaMs !== null && job.etaMs > 0 ? ` · about ${formatDuration(job.etaMs)} left` : '';
      const cancelling = job.status === 'cancelling' ? ' · cancelling…' : '';
      return `${stage} · ${Math.round(job.fraction * 100)}%${eta}${cancelling}`;
    }
    case 'done':
      return `Done in ${formatDuration(job.elapsedMs)}.`;
    case 'cancelled':
      return 'Cancelled. Nothing was written to the timeline.';
    case 'failed':
      return job.error ? `${job.error.title}: ${job.error.detail}` : 'The edit failed.';
  }
}

export function runProgressView(controller: PanelController): View<PanelState> {
  const run = el('sp-button', { attrs: { variant: 'accent', 'data-test': 'run' }, text: 'Run', on: { click: () => void controller.run() } });
  const cancel = el('sp-button', { attrs: { variant: 'secondary', 'data-test': 'cancel' }, text: 'Cancel', on: { click: () => void controller.cancel() } });
  const bar = el('sp-progressbar', { className: 'wide', attrs: { max: 100, value: 0, 'data-test': 'progress' } });
  const status = el('div', { className: 'detail', attrs: { 'data-test': 'progress-text' } });
  const element = el('div', { className: 'section' }, el('div', { className: 'row' }, run, cancel), bar, status);
  return {
    element,
    update(state) {
      const job = state.job;
      const active = isJobActive(job);
      setAttr(run, 'disabled', active || state.connection.status !== 'connected' || !state.clip || !!state.clip.problem);
      show(cancel, active);
      setAttr(cancel, 'disabled', job?.status === 'cancelling' || !job?.id);
      show(bar, !!job && job.status !== 'failed');
      setAttr(bar, 'value', job ? Math.round(job.fraction * 100) : 0);
      show(status, !!job);
      if (job) setText(status, progressText(job));
      status.className = job?.status === 'failed' ? 'warning' : 'detail';
    },
  };
}
