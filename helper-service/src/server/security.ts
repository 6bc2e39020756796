/**
 * Who may talk to the helper and what it may touch. The helper listens on loopback and requires the
 * pairing token; web pages are refused outright (a page could otherwise drive it through the user's
 * browser); it reads only paths it is given and writes only its output folder and preview files.
 */
import { timingSafeEqual } from 'node:crypto';
import { realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { ValidationError } from '../errors';

/** Origins browsers send for web content. Node clients send none; what UXP sends is to be verified on a real host. */
const WEB_ORIGIN = /^(https?|file|blob|data|chrome-extension|moz-extension|safari-web-extension):/i;

/**
 * Whether a connection comes from web content. `null` is what browsers send for opaque origins
 * (local files, sandboxed frames); it is refused unless the helper was started to accept it, for a
 * host whose panel turns out to send it.
 */
export function isBrowserOrigin(origin: string | undefined, allowNullOrigin = false): boolean {
  if (origin === undefined || origin.trim() === '') return false;
  if (origin.trim().toLowerCase() === 'null') return !allowNullOrigin;
  return WEB_ORIGIN.test(origin.trim());
}

export function tokensMatch(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function resolved(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return path.resolve(file);
  }
}

function isDirectory(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

function inside(child: string, parent: string): boolean {
  const relative = path.relative(parent, child);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

export class PathPolicy {
  private readonly protectedDirs: string[];

  constructor(
    /** The helper's own configuration folder (token, journal): never readable through requests. */
    configDir: string,
    readonly outputDir: string,
  ) {
    this.protectedDirs = [resolved(configDir)];
  }

  /** A media file the client named: absolute, existing, a regular file, not the helper's own. */
  readableFile(file: string): string {
    if (!path.isAbsolute(file)) throw new ValidationError('PATH_NOT_ALLOWED', `"${file}" is not an absolute path.`);
    const real = resolved(file);
    if (this.protectedDirs.some((dir) => inside(real, dir) && !inside(real, resolved(this.outputDir)))) {
      throw new ValidationError('PATH_NOT_ALLOWED', `The helper does not read its own configuration files.`);
    }
    let stats;
    try {
      stats = statSync(real);
    } catch {
      throw new ValidationError('FILE_NOT_FOUND', `${file} does not exist.`);
    }
    if (!stats.isFile()) throw new ValidationError('FILE_NOT_FOUND', `${file} is not a file.`);
    return real;
  }

  /** A folder the client named for mask images: absolute, existing, not the helper's own. */
  readableDir(dir: string): string {
    if (!path.isAbsolute(dir)) throw new ValidationError('PATH_NOT_ALLOWED', `"${dir}" is not an absolute path.`);
    const real = resolved(dir);
    if (this.protectedDirs.some((protectedDir) => inside(real, protectedDir))) {
      throw new ValidationError('PATH_NOT_ALLOWED', `The helper does not read its own configuration folder.`);
    }
    if (!isDirectory(real)) throw new ValidationError('FILE_NOT_FOUND', `The folder ${dir} does not exist.`);
    return real;
  }

  /** A file the helper may write: only inside its output folder. */
  outputFile(name: string): string {
    const file = path.join(this.outputDir, name);
    if (!inside(path.resolve(file), path.resolve(this.outputDir)) || path.basename(file) !== name) {
      throw new ValidationError('PATH_NOT_ALLOWED', `"${name}" is not a plain file name.`);
    }
    return file;
  }

  /** A folder the client named for preview images: absolute and existing (files the helper writes there are its own, prefixed). */
  previewDir(dir: string): string {
    if (!path.isAbsolute(dir)) throw new ValidationError('PATH_NOT_ALLOWED', `"${dir}" is not an absolute path.`);
    const real = resolved(dir);
    if (!isDirectory(real)) throw new ValidationError('FILE_NOT_FOUND', `The preview folder ${dir} does not exist.`);
    if (this.protectedDirs.some((protectedDir) => inside(real, protectedDir))) {
      throw new ValidationError('PATH_NOT_ALLOWED', `Previews cannot go into the helper's configuration folder.`);
    }
    return real;
  }
}
