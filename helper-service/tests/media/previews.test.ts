import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { decodeSegment } from '../../src/media/decode';
import { drawBoxOutline, sideBySide, writePreviewFrames } from '../../src/media/previews';
import type { BoxPx } from '../../src/regions';
import { ffmpeg, ffprobeJson, haresClip, makeTempDir } from './fixtures';

let dir: string;
beforeAll(async () => {
  dir = await makeTempDir('previews');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const hares = () => decodeSegment(haresClip, { startFrame: 0, frameCount: 3, frameRate: { num: 10, den: 1 } });

describe('writePreviewFrames', () => {
  it('writes numbered JPEGs of the frame size into a new folder, in order', async () => {
    const { width, height, frames } = await hares();
    const folder = path.join(dir, 'job 1%', 'previews');
    const paths = await writePreviewFrames(frames, { width, height }, folder, 'edited');
    expect(paths).toEqual(['0000', '0001', '0002'].map((n) => path.join(folder, `edited-${n}.jpg`)));
    for (const file of paths) {
      const bytes = await readFile(file);
      expect([...bytes.subarray(0, 2)]).toEqual([0xff, 0xd8]); // JPEG start-of-image
      expect((await ffprobeJson(file, 'stream=width,height')).streams[0]).toEqual({ width, height });
    }
  });

  it('refuses a prefix that is a path', async () => {
    const { width, height, frames } = await hares();
    const escaping = writePreviewFrames(frames, { width, height }, dir, '../escape');
    await expect(escaping).rejects.toMatchObject({ code: 'INVALID_SETTINGS' });
  });
});

describe('region outlines and the before/after image', () => {
  it('drawBoxOutline draws a band of the given thickness inside the box, clamped to the image', () => {
    const size = { width: 10, height: 8 };
    const rgb = new Uint8Array(10 * 8 * 3);
    drawBoxOutline(rgb, size, [2, 2, 8, 7], [255, 0, 0], 2);
    const red = (x: number, y: number) => rgb[(y * 10 + x) * 3] === 255;
    expect([red(2, 2), red(3, 3), red(7, 6), red(4, 4), red(1, 1), red(8, 2)]).toEqual([true, true, true, false, false, false]);
    expect(() => drawBoxOutline(rgb, size, [-5, -5, 50, 50], [0, 255, 0], 1)).not.toThrow();
  });

  it('sideBySide writes before | after with each region outlined in its own colour on both halves', async () => {
    const { width, height, frames } = await hares();
    const regions: BoxPx[] = [
      [67, 240, 271, 353],
      [410, 150, 590, 343],
    ];
    const outPath = path.join(dir, 'demo', 'before-after.png');
    await sideBySide({ before: frames[0]!, after: frames[2]!, size: { width, height }, regions, outPath });
    const canvasWidth = width * 2 + 8;
    const rgb = await ffmpeg(['-i', outPath, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1']);
    expect(rgb.length).toBe(canvasWidth * height * 3);
    const pixel = (x: number, y: number) => [...rgb.subarray((y * canvasWidth + x) * 3, (y * canvasWidth + x) * 3 + 3)];
    for (const left of [0, width + 8]) {
      expect(pixel(left + 67, 240)).toEqual([255, 59, 48]); // first region: red
      expect(pixel(left + 410, 150)).toEqual([10, 132, 255]); // second region: blue
    }
    const inside = (240 + 100) * width + 150;
    expect(pixel(150, 340)).toEqual([...frames[0]!.subarray(inside * 3, inside * 3 + 3)]); // untouched inside the outline
  });
});
