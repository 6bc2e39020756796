/**
 * The browser development page: the real panel on the fake host, talking to a real helper through the
 * dev server's relay (the helper refuses browser origins), with stand-ins for UXP's built-in widgets.
 */
import type { SocketLike } from '../src/client/helper-client';
import { webStorageTokenStore } from '../src/client/token-store';
import { createHostAdapter } from '../src/host/editor';
import { FakePremiere } from '../src/host/fake';
import { framesToTicks, type FrameRate } from '../src/host/ticks';
import { startPanel, type RunningPanel } from '../src/start-panel';
import '../src/ui/components';
import { mountTimeline } from './timeline-view';
import { registerWidgetStandIns } from './widgets';

/** What the dev server tells the page (GET /dev-config.json). */
export interface DevConfig {
  readonly previewDir: string;
  readonly sample: { readonly path: string; readonly frameRate: FrameRate; readonly frameCount: number };
}

declare global {
  interface Window {
    reatcoDev?: { fake: FakePremiere; panel: RunningPanel };
  }
}

async function main(): Promise<void> {
  registerWidgetStandIns();
  const config = (await (await fetch('/dev-config.json')).json()) as DevConfig;
  const { sample } = config;
  const rate = sample.frameRate;
  let panel: RunningPanel | null = null;
  const fake = new FakePremiere({
    frameRate: rate,
    videoTrackCount: 3,
    // What Premiere learns on import, the fake learns from the helper's probe.
    resolveMedia: async (path) => {
      if (!panel) return null;
      const probe = await panel.client.request('probe', { path });
      return { durationTicks: framesToTicks(probe.frameCount, probe.frameRate), frameRate: probe.frameRate };
    },
  });
  // Source timecode starts at 01:00:00:00, as camera files often do (the in point is relative to it).
  const media = { durationTicks: framesToTicks(sample.frameCount, rate), frameRate: rate, mediaStart: framesToTicks(86400, rate) };
  const shot = fake.addMedia(sample.path, media, { name: 'ocean_shot.mp4' });
  const broll = fake.addMedia(sample.path, media, { name: 'b-roll.mp4' });
  fake.addClip({ projectItemId: broll, trackIndex: 0, start: 0n, inPoint: 0n, duration: framesToTicks(48, rate) });
  fake.addClip({ projectItemId: shot, trackIndex: 0, start: framesToTicks(48, rate), inPoint: framesToTicks(12, rate), duration: framesToTicks(24, rate) });
  fake.addClip({ projectItemId: broll, trackIndex: 0, start: framesToTicks(72, rate), inPoint: framesToTicks(24, rate), duration: framesToTicks(36, rate) });
  fake.addClip({ projectItemId: broll, trackIndex: 1, start: 0n, inPoint: 0n, duration: framesToTicks(30, rate), speed: 2 });

  const panelRoot = document.getElementById('panel')!;
  const theme = document.createElement('sp-theme');
  theme.setAttribute('color', 'dark');
  theme.setAttribute('scale', 'medium');
  panelRoot.appendChild(theme);
  panel = startPanel(theme, {
    host: createHostAdapter(fake),
    helperUrl: `ws://${location.host}/helper`,
    createSocket: (url) => new WebSocket(url) as SocketLike,
    tokens: webStorageTokenStore(localStorage),
    previews: { dir: config.previewDir, urlFor: (path) => `/previews/${encodeURIComponent(path.split(/[\\/]/).pop() ?? path)}` },
    pickFolder: async () => window.prompt('Folder of mask images (absolute path):')?.trim() || null,
  });
  mountTimeline(document.getElementById('timeline')!, fake);
  window.reatcoDev = { fake, panel };
}

void main();
