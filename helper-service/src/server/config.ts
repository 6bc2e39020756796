/**
 * The helper's persistent configuration: where it keeps its pairing token, job journal and outputs.
 * Created on first start; the token is generated once and stored readable by the user only.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface HelperConfig {
  /** Shown to the user once and pasted into the panel. */
  token: string;
  port: number;
  outputDir: string;
}

/** The per-user configuration folder: ~/.config/reatco, ~/Library/Application Support/ReAtCo, %APPDATA%\ReAtCo. */
export function defaultConfigDir(): string {
  if (process.env.REATCO_CONFIG_DIR) return process.env.REATCO_CONFIG_DIR;
  if (process.platform === 'win32') return path.join(process.env.APPDATA ?? path.join(os.homedir(), 'AppData', 'Roaming'), 'ReAtCo');
  if (process.platform === 'darwin') return path.join(os.homedir(), 'Library', 'Application Support', 'ReAtCo');
  return path.join(process.env.XDG_CONFIG_HOME ?? path.join(os.homedir(), '.config'), 'reatco');
}

export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

/** Reads `<dir>/helper.json`, creating it (with a new token) on first start. */
export function loadConfig(dir: string, defaults: { port: number; outputDir?: string }): HelperConfig {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = path.join(dir, 'helper.json');
  if (existsSync(file)) {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as Partial<HelperConfig>;
    if (typeof stored.token === 'string' && stored.token.length >= 16) {
      return { token: stored.token, port: stored.port ?? defaults.port, outputDir: stored.outputDir ?? defaults.outputDir ?? path.join(dir, 'output') };
    }
  }
  const config: HelperConfig = { token: newToken(), port: defaults.port, outputDir: defaults.outputDir ?? path.join(dir, 'output') };
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
  renameSync(temporary, file);
  return config;
}
