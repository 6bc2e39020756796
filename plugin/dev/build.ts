/** Runs the webpack builds from Node (the dev server, the browser test and the bundle test use them). */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

export const PLUGIN_DIR = path.resolve(__dirname, '../..');
export const DEV_PAGE_DIR = path.join(PLUGIN_DIR, 'build/dev');

async function webpack(args: readonly string[]): Promise<void> {
  const cli = require.resolve('webpack-cli/bin/cli.js');
  await promisify(execFile)(process.execPath, [cli, ...args], { cwd: PLUGIN_DIR, maxBuffer: 16 << 20 });
}

/** The development page (plugin/build/dev). */
export async function buildDevPage(): Promise<string> {
  await webpack(['--env', 'target=dev', '--mode', 'development']);
  return DEV_PAGE_DIR;
}

/** The UXP plugin folder, as `npm run build` makes it, into `outDir`. */
export async function buildPluginFolder(outDir: string): Promise<string> {
  await webpack(['--mode', 'production', '--env', `outDir=${outDir}`]);
  return outDir;
}

/** The installable .ccx of a built plugin folder. */
export async function packagePlugin(folder: string, target: string): Promise<string> {
  await promisify(execFile)(process.execPath, [path.join(PLUGIN_DIR, 'scripts/package-ccx.mjs'), folder, target], { cwd: PLUGIN_DIR });
  return target;
}
