/**
 * The ffmpeg process boundary: which binaries run, how they are started (argument arrays, never a
 * shell), and how their failures become coded errors an editor can act on.
 *
 * Binary choice, per tool: $REATCO_FFMPEG / $REATCO_FFPROBE, else one on PATH, else the static build
 * that `npm ci` installed (@ffmpeg-installer/ffmpeg, @ffprobe-installer/ffprobe). The bundled ffmpeg is
 * a 4.1-era build, so every option used by this layer must exist there (e.g. -vsync, not -fps_mode).
 */
import { spawn } from 'node:child_process';
import { accessSync, chmodSync, constants, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { CancelledError, MediaError, ReatcoError } from '../errors';
import type { ErrorCode } from '../server/protocol/errors';

export type MediaTool = 'ffmpeg' | 'ffprobe';
export type BinarySource = 'env' | 'system' | 'bundled';

export interface LocatedBinary {
  readonly path: string;
  readonly source: BinarySource;
}

const ENV_OVERRIDE: Record<MediaTool, string> = { ffmpeg: 'REATCO_FFMPEG', ffprobe: 'REATCO_FFPROBE' };
const INSTALLER_PACKAGE: Record<MediaTool, string> = {
  ffmpeg: '@ffmpeg-installer/ffmpeg',
  ffprobe: '@ffprobe-installer/ffprobe',
};

function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function executableName(tool: MediaTool): string {
  return process.platform === 'win32' ? `${tool}.exe` : tool;
}

function findOnPath(tool: MediaTool): string | undefined {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  return dirs.map((dir) => path.join(dir, executableName(tool))).find(isExecutableFile);
}

/**
 * The binary inside the installer's per-platform package, resolved without running the installer's
 * index (it throws a bare string on unsupported platforms). npm may skip the package's chmod
 * postinstall (install scripts off), so the execute bit is restored here when missing.
 */
function findBundled(tool: MediaTool): string | undefined {
  try {
    const requireFromInstaller = createRequire(require.resolve(INSTALLER_PACKAGE[tool]));
    const scope = INSTALLER_PACKAGE[tool].split('/')[0]!;
    const manifest = requireFromInstaller.resolve(`${scope}/${process.platform}-${process.arch}/package.json`);
    const binary = path.join(path.dirname(manifest), executableName(tool));
    if (!isExecutableFile(binary) && process.platform !== 'win32') chmodSync(binary, 0o755);
    return isExecutableFile(binary) ? binary : undefined;
  } catch {
    return undefined;
  }
}

/** Where a tool comes from right now (not cached: the environment may change between calls). */
export function locateBinary(tool: MediaTool): LocatedBinary {
  const override = process.env[ENV_OVERRIDE[tool]];
  if (override) {
    if (!isExecutableFile(override)) {
      throw new ReatcoError('INTERNAL', `${ENV_OVERRIDE[tool]} is set to "${override}", which is not an executable file.`);
    }
    return { path: override, source: 'env' };
  }
  const system = findOnPath(tool);
  if (system) return { path: system, source: 'system' };
  const bundled = findBundled(tool);
  if (bundled) return { path: bundled, source: 'bundled' };
  throw new ReatcoError(
    'INTERNAL',
    `No ${tool} was found. Run "npm ci" (it installs one for Windows, macOS and Linux) or set ${ENV_OVERRIDE[tool]}.`,
  );
}

/** What a failed run means to the editor when ffmpeg's own output does not say anything more specific. */
export interface FailureMeaning {
  readonly code: ErrorCode;
  readonly message: string;
}

export interface RunOptions {
  readonly failure: FailureMeaning;
  readonly signal?: AbortSignal;
  /** Bytes written to the tool's stdin, in order, with backpressure; stdin is closed afterwards. */
  readonly stdin?: Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
  /** Receives stdout as it arrives; without it stdout is collected and returned. */
  readonly onStdout?: (chunk: Buffer) => void;
}

export interface RunResult {
  readonly stdout: Buffer;
  /** The last few kilobytes of stderr (run with -v error, it holds only problems). */
  readonly stderrTail: string;
}

const STDERR_TAIL_CHARS = 8192;

/** ffmpeg's wording for failures an editor can do something about, most specific first. */
const KNOWN_FAILURES: readonly { pattern: RegExp; code?: ErrorCode; reason: string }[] = [
  { pattern: /No space left on device/i, code: 'DISK_FULL', reason: 'The disk is full: free some space and try again.' },
  {
    pattern: /File too large/i,
    code: 'OUTPUT_WRITE_FAILED',
    reason: 'The file would be larger than this disk or account allows.',
  },
  {
    pattern: /moov atom not found/i,
    code: 'MEDIA_UNREADABLE',
    reason: 'The file is incomplete (its index is missing): it was probably cut off while being copied or recorded.',
  },
  { pattern: /Permission denied/i, reason: 'Permission was denied.' },
  { pattern: /No such file or directory/i, reason: 'A file or folder does not exist.' },
  {
    pattern: /Invalid data found when processing input|could not find codec parameters|partial file|Invalid NAL unit/i,
    code: 'MEDIA_UNREADABLE',
    reason: 'The file is damaged, truncated, or not a video.',
  },
];

/** The coded error for a failed run: the caller's meaning, sharpened by what stderr says. */
function failureError(meaning: FailureMeaning, stderrTail: string, details: Record<string, unknown>): MediaError {
  const known = KNOWN_FAILURES.find((f) => f.pattern.test(stderrTail));
  const message = known ? `${meaning.message} ${known.reason}` : meaning.message;
  return new MediaError(known?.code ?? meaning.code, message, { ...details, stderrTail });
}

/** Runs ffmpeg or ffprobe with an argument array; rejects with a coded error, or CancelledError on abort. */
export async function runTool(tool: MediaTool, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const { signal, stdin, onStdout, failure } = options;
  if (signal?.aborted) throw new CancelledError();
  const binary = locateBinary(tool).path;
  const child = spawn(binary, args, { stdio: 'pipe', windowsHide: true });

  const stdoutChunks: Buffer[] = [];
  let stderrTail = '';
  child.stdout.on('data', (chunk: Buffer) => (onStdout ? onStdout(chunk) : stdoutChunks.push(chunk)));
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    stderrTail = (stderrTail + text).slice(-STDERR_TAIL_CHARS);
  });

  const kill = () => child.kill('SIGKILL');
  signal?.addEventListener('abort', kill, { once: true });
  // A tool that exits early breaks the pipe (EPIPE); its exit code and stderr say why, so that error is not news.
  child.stdin.on('error', () => undefined);
  if (stdin) void pump(stdin, child.stdin);
  else child.stdin.end();

  return new Promise((resolve, reject) => {
    child.once('error', (error) => {
      signal?.removeEventListener('abort', kill);
      reject(new ReatcoError('INTERNAL', `${tool} could not be started (${binary}): ${error.message}`));
    });
    // 'close' comes after the process exited and its pipes drained, so callers may delete its files.
    child.once('close', (exitCode, killedBy) => {
      signal?.removeEventListener('abort', kill);
      if (signal?.aborted) return reject(new CancelledError());
      if (exitCode === 0) return resolve({ stdout: Buffer.concat(stdoutChunks), stderrTail });
      const details = { tool, binary, args: args.join(' '), exitCode, signal: killedBy };
      reject(failureError(failure, stderrTail, details));
    });
  });
}

/** Feeds stdin with backpressure; stops quietly when the tool exits early (its exit code tells why). */
async function pump(source: Iterable<Uint8Array> | AsyncIterable<Uint8Array>, sink: NodeJS.WritableStream): Promise<void> {
  let closed = false;
  sink.on('close', () => (closed = true));
  for await (const chunk of source) {
    if (closed) return;
    if (!sink.write(chunk)) {
      await new Promise<void>((resume) => {
        const resumeOnce = () => {
          sink.off('drain', resumeOnce);
          sink.off('close', resumeOnce);
          resume();
        };
        sink.on('drain', resumeOnce);
        sink.on('close', resumeOnce);
      });
    }
  }
  if (!closed) sink.end();
}

export interface BinaryInfo extends LocatedBinary {
  /** As the binary prints it on its first line, e.g. "6.0" or "N-47683-g0e8eb07980-static". */
  readonly version: string;
}

/** Encoders this layer writes with: ProRes 422 HQ, H.264, lossless PNG frames. */
export const REQUIRED_ENCODERS = ['prores_ks', 'libx264', 'png'] as const;
export type RequiredEncoder = (typeof REQUIRED_ENCODERS)[number];

export interface FfmpegInfo {
  readonly ffmpeg: BinaryInfo;
  readonly ffprobe: BinaryInfo;
  readonly encoders: Readonly<Record<RequiredEncoder, boolean>>;
}

const infoByBinaryPaths = new Map<string, Promise<FfmpegInfo>>();

async function versionOf(tool: MediaTool, located: LocatedBinary): Promise<BinaryInfo> {
  const failure = { code: 'INTERNAL' as const, message: `${tool} at ${located.path} does not run.` };
  const { stdout } = await runTool(tool, ['-hide_banner', '-version'], { failure });
  const firstLine = stdout.toString('utf8').split('\n')[0] ?? '';
  return { ...located, version: /version (\S+)/.exec(firstLine)?.[1] ?? 'unknown' };
}

async function readInfo(ffmpeg: LocatedBinary, ffprobe: LocatedBinary): Promise<FfmpegInfo> {
  const failure = { code: 'INTERNAL' as const, message: 'ffmpeg could not list its encoders.' };
  const [ffmpegVersion, ffprobeVersion, encoderList] = await Promise.all([
    versionOf('ffmpeg', ffmpeg),
    versionOf('ffprobe', ffprobe),
    runTool('ffmpeg', ['-hide_banner', '-encoders'], { failure }),
  ]);
  const names = new Set(encoderList.stdout.toString('utf8').split('\n').map((line) => line.trim().split(/\s+/)[1]));
  const encoders = Object.fromEntries(REQUIRED_ENCODERS.map((name) => [name, names.has(name)]));
  return { ffmpeg: ffmpegVersion, ffprobe: ffprobeVersion, encoders: encoders as Record<RequiredEncoder, boolean> };
}

/** Which ffmpeg and ffprobe run, their versions, and whether the needed encoders exist (cached per binary pair). */
export function ffmpegInfo(): Promise<FfmpegInfo> {
  const ffmpeg = locateBinary('ffmpeg');
  const ffprobe = locateBinary('ffprobe');
  const key = [ffmpeg.source, ffmpeg.path, ffprobe.source, ffprobe.path].join('\n');
  let info = infoByBinaryPaths.get(key);
  if (!info) {
    info = readInfo(ffmpeg, ffprobe);
    infoByBinaryPaths.set(key, info);
    info.catch(() => infoByBinaryPaths.delete(key));
  }
  return info;
}
