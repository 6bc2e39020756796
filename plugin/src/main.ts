/** The UXP entry: registers the panel, its flyout menu and the command, on the Premiere host. */
import { DEFAULT_PORT } from '@reatco/helper-service/protocol';
import { config as configureZod } from 'zod';
import type { SocketLike } from './client/helper-client';
import { createHostAdapter } from './host/editor';
import { createPremiereHost } from './host/premiere';
import { startPanel, type RunningPanel } from './start-panel';
import './ui/components';
import { pickFolder, setMenuChecked, setupEntryPoints, showPanel, uxpPreviewFolder, uxpTokenStore } from './uxp/environment';
import { COMMAND_ID, PANEL_ID } from './uxp/ids';

// UXP forbids code generation from strings (the manifest does not ask for it): validate without zod's JIT.
configureZod({ jitless: true });

const MENU = { follow: 'follow-selection', load: 'load-selection', reconnect: 'reconnect', forget: 'forget-token' } as const;

let panel: RunningPanel | null = null;
const theme = document.createElement('sp-theme');

async function createPanel(): Promise<RunningPanel> {
  theme.setAttribute('color', 'dark');
  theme.setAttribute('scale', 'medium');
  const previews = await uxpPreviewFolder();
  const running = startPanel(theme, {
    host: createHostAdapter(createPremiereHost()),
    helperUrl: `ws://127.0.0.1:${DEFAULT_PORT}`,
    createSocket: (url) => new WebSocket(url) as SocketLike,
    tokens: uxpTokenStore(),
    previews,
    pickFolder,
  });
  running.store.subscribe((state, previous) => {
    if (state.followSelection !== previous.followSelection) setMenuChecked(PANEL_ID, MENU.follow, state.followSelection);
  });
  return running;
}

setupEntryPoints(
  {
    panel: {
      create(node) {
        if (theme.parentNode !== node) node.appendChild(theme);
        if (!panel) void createPanel().then((running) => (panel = running));
      },
      menuItems: [
        { id: MENU.follow, label: 'Follow timeline selection', checked: true },
        { id: MENU.load, label: 'Edit selected clip' },
        { id: MENU.reconnect, label: 'Reconnect to helper' },
        { id: MENU.forget, label: 'Forget pairing token' },
      ],
      invokeMenu(id) {
        if (!panel) return;
        const { controller, store } = panel;
        if (id === MENU.follow) controller.setFollowSelection(!store.state.followSelection);
        else if (id === MENU.load) void controller.loadSelection();
        else if (id === MENU.reconnect) controller.reconnect();
        else if (id === MENU.forget) void controller.forgetToken();
      },
    },
    command: {
      async run() {
        await showPanel();
        await panel?.controller.loadSelection();
      },
    },
  },
  PANEL_ID,
  COMMAND_ID,
);
