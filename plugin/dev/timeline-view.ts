/**
 * The development page's stand-in for Premiere's timeline and project panel: the fake host's video
 * tracks (V1 at the bottom), clips to click (selection events), Undo/Redo, and the bins.
 */
import type { FakePremiere } from '../src/host/fake';
import { formatTimecode, frameAtTicks, ticksToSeconds } from '../src/host/ticks';
import { el, replaceChildren } from '../src/ui/dom';

const PX_PER_SECOND = 70;

export function mountTimeline(root: HTMLElement, fake: FakePremiere): void {
  const tracks = el('div', { className: 'tl-tracks', attrs: { 'data-test': 'timeline' } });
  const undo = el('button', { text: 'Undo', attrs: { 'data-test': 'undo' }, on: { click: () => fake.undo() } });
  const redo = el('button', { text: 'Redo', attrs: { 'data-test': 'redo' }, on: { click: () => fake.redo() } });
  const history = el('div', { className: 'tl-history' });
  const bins = el('div', { className: 'tl-bins', attrs: { 'data-test': 'bins' } });
  root.appendChild(
    el(
      'div',
      { className: 'tl' },
      el('div', { className: 'tl-title', text: `Fake Premiere · ${fake.sequenceName}` }),
      el('div', { className: 'tl-toolbar' }, undo, redo, history),
      tracks,
      el('div', { className: 'tl-title', text: 'Project' }),
      bins,
    ),
  );

  function render(): void {
    const timeline = fake.timeline();
    const end = timeline.flat().reduce((max, item) => (item.end > max ? item.end : max), 0n);
    const width = Math.max(600, (ticksToSeconds(end) + 1) * PX_PER_SECOND);
    const rows = timeline
      .map((track, index) => {
        const lane = el('div', { className: 'tl-lane' });
        lane.style.width = `${width}px`;
        for (const item of track) {
          const clip = el('div', {
            className: `tl-clip${item.disabled ? ' disabled' : ''}${fake.selectedIds.includes(item.id) ? ' selected' : ''}`,
            text: item.name,
            attrs: {
              'data-test': `clip-${item.id}`,
              title: `${formatTimecode(frameAtTicks(item.start, fake.frameRate), fake.frameRate)} – ${formatTimecode(frameAtTicks(item.end, fake.frameRate), fake.frameRate)}`,
            },
            on: { click: () => fake.select([item.id]) },
          });
          clip.style.left = `${ticksToSeconds(item.start) * PX_PER_SECOND}px`;
          clip.style.width = `${ticksToSeconds(item.end - item.start) * PX_PER_SECOND}px`;
          lane.appendChild(clip);
        }
        return el('div', { className: 'tl-track' }, el('div', { className: 'tl-name', text: `V${index + 1}` }), lane);
      })
      .reverse();
    replaceChildren(tracks, rows);
    replaceChildren(history, [document.createTextNode(fake.undoLabels.length ? `Undo: ${fake.undoLabels[fake.undoLabels.length - 1]}` : 'Nothing to undo')]);
    replaceChildren(
      bins,
      fake.bins().map(({ bin, items }) =>
        el('div', { className: 'tl-bin' }, el('b', { text: bin.name }), ...items.map((item) => el('div', { className: 'tl-bin-item', text: item.name }))),
      ),
    );
  }
  fake.onChange(render);
  render();
}
