import { readFileSync } from 'node:fs';
import path from 'node:path';

/** The helper's version, from its package.json (this file runs from dist/src). */
export const HELPER_VERSION: string = (JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
