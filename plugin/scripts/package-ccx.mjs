// Makes plugin/reatco-edit.ccx, the installable package: a zip of the built folder (plugin/dist)
// with manifest.json at its root. Run `npm run build` first. Optional arguments: folder, target.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { zipSync } from 'fflate';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.resolve(process.argv[2] ?? path.join(here, '../dist'));
const target = path.resolve(process.argv[3] ?? path.join(here, '../reatco-edit.ccx'));

function collect(dir, prefix = '') {
  const files = {};
  for (const name of readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    const entry = prefix ? `${prefix}/${name}` : name;
    if (statSync(full).isDirectory()) Object.assign(files, collect(full, entry));
    else if (!name.endsWith('.map')) files[entry] = readFileSync(full);
  }
  return files;
}

const files = collect(dist);
if (!files['manifest.json']) throw new Error(`${dist} has no manifest.json: run npm run build first.`);
writeFileSync(target, zipSync(files, { level: 9, mtime: new Date('2026-01-01T00:00:00Z') }));
console.log(`Wrote ${target} (${Object.keys(files).length} files)`);
