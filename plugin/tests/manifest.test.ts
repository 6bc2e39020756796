/**
 * manifest.json (repository root) and what the build makes of it: the folder the UXP Developer Tool
 * loads, and the installable .ccx.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { unzipSync } from 'fflate';
import { DEFAULT_PORT } from '@reatco/helper-service/protocol';
import { buildPluginFolder, packagePlugin } from '../dev/build';
import { COMMAND_ID, PANEL_ID, PLUGIN_ID } from '../src/uxp/ids';

interface Icon {
  path: string;
  width: number;
  height: number;
  scale?: number[];
}

const ROOT = path.resolve(__dirname, '../../..');
const manifest = JSON.parse(readFileSync(path.join(ROOT, 'manifest.json'), 'utf8'));

/** UXP looks for icons/name@1x.png, icons/name@2x.png when a scale list is given. */
function iconFiles(icon: Icon): string[] {
  const ext = path.extname(icon.path);
  const stem = icon.path.slice(0, -ext.length);
  return (icon.scale ?? [1]).map((s) => `${stem}@${s}x${ext}`);
}

const allIcons = (): Icon[] => [...manifest.icons, ...manifest.entrypoints.flatMap((e: { icons?: Icon[] }) => e.icons ?? [])];

describe('manifest.json', () => {
  test('is a Premiere MV5 manifest from 25.6.0', () => {
    expect(manifest).toMatchObject({
      manifestVersion: 5,
      id: PLUGIN_ID,
      name: expect.any(String),
      version: expect.stringMatching(/^\d+\.\d+\.\d+$/),
      main: 'index.html',
      host: { app: 'premierepro', minVersion: '25.6.0' },
      featureFlags: { enableSWCSupport: true },
    });
    expect(Array.isArray(manifest.host)).toBe(false); // an array of hosts is refused by the Marketplace
  });

  test('declares the panel and the "ReAtCo edit selected clip" command the code registers', () => {
    expect(manifest.entrypoints).toHaveLength(2);
    expect(manifest.entrypoints).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'panel', id: PANEL_ID, label: { default: expect.any(String) }, minimumSize: expect.any(Object) }),
        expect.objectContaining({ type: 'command', id: COMMAND_ID, label: { default: 'ReAtCo edit selected clip' } }),
      ]),
    );
  });

  test('asks for exactly the helper socket, the file picker and panel showing', () => {
    expect(manifest.requiredPermissions).toEqual({
      network: { domains: [`ws://127.0.0.1:${DEFAULT_PORT}`, `ws://localhost:${DEFAULT_PORT}`] },
      localFileSystem: 'request',
      ipc: { enablePluginCommunication: true },
    });
    expect(DEFAULT_PORT).toBe(47231);
  });

  test('has plugin-list and panel icons at 1x and 2x', () => {
    expect(manifest.icons).toEqual([expect.objectContaining({ width: 48, height: 48, species: ['pluginList'] })]);
    for (const icon of allIcons()) expect(icon.scale).toEqual([1, 2]);
  });
});

describe('the build', () => {
  let out: string;
  let folder: string;
  let ccx: string;

  beforeAll(async () => {
    out = mkdtempSync(path.join(os.tmpdir(), 'reatco-build-'));
    folder = await buildPluginFolder(path.join(out, 'plugin'));
    ccx = await packagePlugin(folder, path.join(out, 'reatco-edit.ccx'));
  }, 180_000);

  afterAll(() => rmSync(out, { recursive: true, force: true }));

  test('is a folder UDT loads as is: manifest, page, one bundle, styles, every icon', () => {
    expect(JSON.parse(readFileSync(path.join(folder, 'manifest.json'), 'utf8'))).toEqual(manifest);
    const html = readFileSync(path.join(folder, 'index.html'), 'utf8');
    expect(html).toMatch(/<script src="index\.js"><\/script>/);
    expect(html).toMatch(/href="panel\.css"/);
    expect(existsSync(path.join(folder, 'panel.css'))).toBe(true);
    for (const icon of allIcons()) for (const file of iconFiles(icon)) expect(existsSync(path.join(folder, file))).toBe(true);
  });

  test('the bundle leaves host modules to UXP, uses no eval, and carries no dev-page stand-ins', () => {
    const bundle = readFileSync(path.join(folder, 'index.js'), 'utf8');
    expect(bundle).toContain('require("premierepro")');
    expect(bundle).toContain('require("uxp")');
    expect(bundle).not.toMatch(/\beval\(/);
    expect(bundle).not.toContain('standin-');
    expect(bundle).not.toContain('Fake Premiere');
  });

  test('the .ccx is a zip of the folder with the manifest at its root (source maps left out)', () => {
    const entries = Object.keys(unzipSync(readFileSync(ccx)));
    expect(entries).toContain('manifest.json');
    expect(entries).toContain('index.js');
    expect(entries).toEqual(expect.arrayContaining(allIcons().flatMap(iconFiles)));
    expect(entries.some((name) => name.endsWith('.map'))).toBe(false);
  });
});
