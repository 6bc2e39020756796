/**
 * Wires one panel: store, controller, UI. Shared by the UXP entry and the browser dev page, which
 * differ only in the host, the socket route, token storage and where previews live.
 */
import { HelperClient, type SocketFactory } from './client/helper-client';
import type { TokenStore } from './client/token-store';
import type { HostAdapter } from './host/adapter';
import { PanelController, type PreviewFolder } from './state/controller';
import { initialState, type PanelState } from './state/panel-state';
import { Store } from './state/store';
import { mountPanel } from './ui/panel';

export interface PanelSetup {
  readonly host: HostAdapter;
  readonly helperUrl: string;
  readonly createSocket: SocketFactory;
  readonly tokens: TokenStore;
  readonly previews: PreviewFolder;
  pickFolder(): Promise<string | null>;
}

export interface RunningPanel {
  readonly store: Store<PanelState>;
  readonly controller: PanelController;
  readonly client: HelperClient;
}

export const CLIENT_INFO = { name: 'ReAtCo Edit panel', version: '0.1.0' } as const;

/** Builds the panel into `root` and starts it (the connection opens asynchronously). */
export function startPanel(root: HTMLElement, setup: PanelSetup): RunningPanel {
  const store = new Store<PanelState>(initialState());
  const client = new HelperClient({ url: setup.helperUrl, createSocket: setup.createSocket, tokens: setup.tokens, clientInfo: CLIENT_INFO });
  const controller = new PanelController(store, { host: setup.host, client, previews: setup.previews, pickFolder: () => setup.pickFolder() });
  mountPanel(root, store, controller);
  // Panel lifecycle callbacks must return within 300 ms: connect after returning.
  setTimeout(() => void controller.start(), 0);
  return { store, controller, client };
}
