/**
 * Everything the panel needs from UXP itself (not from Premiere): the pairing-token store, the data
 * folder the helper writes previews into, the folder picker, showing the panel. The only file that
 * requires `uxp`.
 */
import * as uxp from 'uxp';
import { secureTokenStore, type SecureStorageLike, type TokenStore } from '../client/token-store';
import type { PreviewFolder } from '../state/controller';
import { PANEL_ID, PLUGIN_ID } from './ids';

const { storage, pluginManager, entrypoints } = uxp;
// Documented as storage.localFileSystem; the typings declare the class but not the instance.
const localFileSystem = (storage as unknown as { localFileSystem: uxp.storage.FileSystemProvider }).localFileSystem;

export function uxpTokenStore(): TokenStore {
  // Documented as storage.secureStorage; the typings put it on the module. Either works.
  const secure = ((storage as unknown as { secureStorage?: SecureStorageLike }).secureStorage ?? uxp.secureStorage) as SecureStorageLike;
  return secureTokenStore(secure);
}

/** The plugin data folder: the helper writes previews there, the panel shows them as plugin-data:/name. */
export async function uxpPreviewFolder(): Promise<PreviewFolder> {
  const folder = (await localFileSystem.getDataFolder()) as { nativePath: string };
  return {
    dir: folder.nativePath,
    urlFor: (path) => `plugin-data:/${path.split(/[\\/]/).pop() ?? path}`,
  };
}

/** A folder chosen in the system picker (needs localFileSystem "request" in the manifest). */
export async function pickFolder(): Promise<string | null> {
  const folder = (await localFileSystem.getFolder({})) as { nativePath?: string } | null;
  return folder?.nativePath ?? null;
}

/** Opens or focuses the panel (needs ipc.enablePluginCommunication; the host may refuse). */
export async function showPanel(): Promise<void> {
  const plugins = Array.from((pluginManager.plugins ?? []) as Iterable<{ id: string; showPanel(id: string): unknown }>);
  await plugins.find((plugin) => plugin.id === PLUGIN_ID)?.showPanel(PANEL_ID);
}

export interface MenuItem {
  readonly id: string;
  readonly label: string;
  readonly checked?: boolean;
}

export interface EntryPoints {
  readonly panel: { create(node: HTMLElement): void; menuItems: readonly MenuItem[]; invokeMenu(id: string): void };
  readonly command: { run(): void | Promise<void> };
}

/** Registers the panel (with its flyout menu) and the command. */
export function setupEntryPoints(points: EntryPoints, panelId: string, commandId: string): void {
  const attach = (event: unknown) => {
    const node = (event as { node?: HTMLElement } | undefined)?.node ?? (event instanceof HTMLElement ? event : document.body);
    points.panel.create(node);
  };
  const setup = {
    panels: {
      [panelId]: {
        create: attach,
        show: attach,
        menuItems: points.panel.menuItems.map((item) => ({ id: item.id, label: item.label, checked: item.checked ?? false, enabled: true })),
        invokeMenu: (id: string) => points.panel.invokeMenu(id),
      },
    },
    commands: { [commandId]: { run: () => points.command.run() } },
  };
  // The typings model panels and commands as arrays; UXP takes objects keyed by entrypoint id.
  entrypoints.setup(setup as unknown as Parameters<typeof entrypoints.setup>[0]);
}

/** Ticks a flyout item on or off. */
export function setMenuChecked(panelId: string, itemId: string, checked: boolean): void {
  const item = entrypoints.getPanel(panelId)?.menuItems?.getItem(itemId);
  if (item) item.checked = checked;
}
