import { existsSync } from 'node:fs';
import { rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { CancelledError, MediaError } from '../../src/errors';
import { ffmpegInfo, locateBinary, runTool } from '../../src/media/ffmpeg';
import { makeTempDir } from './fixtures';

const failure = { code: 'OUTPUT_WRITE_FAILED' as const, message: 'The test output could not be written.' };

describe('ffmpeg binaries', () => {
  const saved = { ffmpeg: process.env.REATCO_FFMPEG, ffprobe: process.env.REATCO_FFPROBE };
  afterEach(() => {
    for (const [tool, value] of Object.entries(saved)) {
      const name = `REATCO_${tool.toUpperCase()}`;
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('reports paths, versions, source and the encoders this layer needs', async () => {
    const info = await ffmpegInfo();
    // Logged so a CI run records which ffmpeg it exercised.
    console.log(`ffmpeg ${info.ffmpeg.version} (${info.ffmpeg.source}) ${info.ffmpeg.path}`);
    console.log(`ffprobe ${info.ffprobe.version} (${info.ffprobe.source}) ${info.ffprobe.path}`);
    for (const binary of [info.ffmpeg, info.ffprobe]) {
      expect(['env', 'system', 'bundled']).toContain(binary.source);
      expect(existsSync(binary.path)).toBe(true);
      expect(binary.version).not.toBe('unknown');
    }
    expect(info.encoders).toEqual({ prores_ks: true, libx264: true, png: true });
  });

  it('prefers an ffmpeg on PATH to the bundled one', async () => {
    const bundled = locateBinary('ffmpeg').path;
    const bin = await makeTempDir('path');
    const savedPath = process.env.PATH;
    await symlink(bundled, path.join(bin, 'ffmpeg'));
    process.env.PATH = [bin, savedPath].join(path.delimiter);
    try {
      expect(locateBinary('ffmpeg')).toEqual({ path: path.join(bin, 'ffmpeg'), source: 'system' });
    } finally {
      process.env.PATH = savedPath;
      await rm(bin, { recursive: true, force: true });
    }
  });

  it('prefers $REATCO_FFMPEG, and refuses one that is not an executable', async () => {
    const current = locateBinary('ffmpeg').path;
    process.env.REATCO_FFMPEG = current;
    expect(locateBinary('ffmpeg')).toEqual({ path: current, source: 'env' });
    expect((await ffmpegInfo()).ffmpeg.source).toBe('env');
    process.env.REATCO_FFMPEG = '/nonexistent/ffmpeg';
    expect(() => locateBinary('ffmpeg')).toThrow(/REATCO_FFMPEG .*not an executable/);
  });
});

describe('runTool', () => {
  it('streams stdout and returns it whole when no handler is given', async () => {
    const args = ['-v', 'error', '-f', 'lavfi', '-i', 'color=c=red:size=4x2', '-frames:v', '3'];
    args.push('-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
    const { stdout } = await runTool('ffmpeg', args, { failure });
    expect(stdout.length).toBe(4 * 2 * 3 * 3);
    let streamed = 0;
    await runTool('ffmpeg', args, { failure, onStdout: (chunk) => (streamed += chunk.length) });
    expect(streamed).toBe(stdout.length);
  });

  it('turns a failure into the caller’s coded error with the stderr tail in details, not in the message', async () => {
    const error = await runTool('ffmpeg', ['-v', 'error', '-i', 'file:/nonexistent/clip.mp4', '-f', 'null', '-'], {
      failure: { code: 'MEDIA_UNREADABLE', message: 'The clip could not be read.' },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MediaError);
    expect(error).toMatchObject({
      code: 'MEDIA_UNREADABLE',
      message: 'The clip could not be read. A file or folder does not exist.',
    });
    expect(String((error as MediaError).details?.stderrTail)).toMatch(/No such file or directory/);
  });

  // /dev/full fails every write with ENOSPC: a real full disk as ffmpeg sees it, on any Linux.
  const onLinux = existsSync('/dev/full') ? it : it.skip;
  onLinux('maps ffmpeg’s "No space left on device" to DISK_FULL', async () => {
    const args = ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240', '-frames:v', '10'];
    args.push('-c:v', 'prores_ks', '-f', 'mov', '/dev/full');
    await expect(runTool('ffmpeg', args, { failure })).rejects.toMatchObject({ code: 'DISK_FULL' });
  });

  it('kills the process on abort and rejects with CancelledError', async () => {
    const controller = new AbortController();
    const endless = ['-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=64x64', '-f', 'null', '-'];
    const started = Date.now();
    const run = runTool('ffmpeg', endless, { failure, signal: controller.signal });
    setTimeout(() => controller.abort(), 300);
    await expect(run).rejects.toBeInstanceOf(CancelledError);
    expect(Date.now() - started).toBeLessThan(5000);
    await expect(runTool('ffmpeg', endless, { failure, signal: controller.signal })).rejects.toBeInstanceOf(CancelledError);
  });
});
