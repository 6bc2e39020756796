/** The built `reatco` command, run as a user runs it (a child process). */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { probeClip } from '../../src/media';
import { TINY_RANDOM } from '../helpers/fixtures';
import { haresClip, makeTempDir } from '../media/fixtures';

const run = promisify(execFile);
const MAIN = path.join(__dirname, '../../src/cli/main.js');
const env = { ...process.env, REATCO_MODEL: TINY_RANDOM, REATCO_CONFIG_DIR: '' };

function reatco(args: string[], extraEnv: Record<string, string> = {}) {
  return run(process.execPath, [MAIN, ...args], { env: { ...env, ...extraEnv }, timeout: 120_000 });
}

it('tokens: shows positions the way RAD counts them', async () => {
  const { stdout } = await reatco(['tokens', 'A cat and a swan are grazing in the grass.']);
  expect(stdout).toMatch(/^\s+2\s+cat$/m);
  expect(stdout).toMatch(/^\s+5\s+swan$/m);
});

it('edit: a moving box on real footage, written where --out says', async () => {
  const dir = await makeTempDir('cli');
  const out = path.join(dir, 'hares-edit.mp4');
  const { stdout } = await reatco(
    [
      'edit', haresClip,
      '--prompt', 'a red star and a green ring on a blue gradient background',
      '--region', 'star:67,240,271,353@0',
      '--region', 'star:120,240,324,353@7',
      '--frames', '8', '--quality', 'draft', '--steps', '2', '--provider', 'cpu', '--out', out,
    ],
    { REATCO_CONFIG_DIR: path.join(dir, 'config') },
  );
  expect(stdout).toContain(`Wrote ${out}`);
  expect(await probeClip(out)).toMatchObject({ frameCount: 8, width: 768, height: 448 });
});

it('edit: a word that is not in the prompt is a clear error and exit code 2', async () => {
  const dir = await makeTempDir('cli-bad');
  await expect(
    reatco(['edit', haresClip, '--prompt', 'a red star', '--region', 'dolphin:0,0,100,100', '--out', path.join(dir, 'x.mov'), '--provider', 'cpu']),
  ).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/"dolphin" is not a word of the prompt.*\[WORD_NOT_IN_PROMPT\]/s) });
  expect(existsSync(path.join(dir, 'x.mov'))).toBe(false);
});

it('doctor: reports ffmpeg, the model and the port, and succeeds', async () => {
  const { stdout } = await reatco(['doctor']);
  expect(stdout).toMatch(/ok\s+ffmpeg/);
  expect(stdout).toMatch(/ok\s+tiny-random/);
  expect(stdout).toMatch(/port/);
});
