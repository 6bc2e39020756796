import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { encodeVideo } from '../../src/media/encode';
import { maskBoundingBox } from '../../src/media/feather';
import { clipMasksOf, loadRegionTrack, regionGridsAt, regionMasksAt, unionMasks } from '../../src/media/masks';
import { countInside, downsampleMask, rasterizeBox, scaleBox, type BoxPx, type Size } from '../../src/regions';
import { ffmpeg, makeTempDir } from './fixtures';

const clip: Size = { width: 640, height: 360 };
const work: Size = { width: 512, height: 256 };

let dir: string;
beforeAll(async () => {
  dir = await makeTempDir('masks');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Fills `box` of a gray image with `value`; returns the image. */
function paint(gray: Uint8Array, size: Size, box: BoxPx, value = 255): Uint8Array {
  for (let y = box[1]; y < box[3]; y++) gray.fill(value, y * size.width + box[0], y * size.width + box[2]);
  return gray;
}

const grayWithBox = (size: Size, box: BoxPx) => paint(new Uint8Array(size.width * size.height), size, box);

async function writeGrayPng(file: string, size: Size, gray: Uint8Array): Promise<void> {
  const input = ['-f', 'rawvideo', '-pix_fmt', 'gray', '-s', `${size.width}x${size.height}`, '-i', 'pipe:0'];
  await ffmpeg([...input, '-frames:v', '1', file], [gray]);
}

describe('box tracks', () => {
  const box: BoxPx = [64, 36, 320, 180];
  const still = { kind: 'boxes' as const, keyframes: [{ frame: 0, box }] };

  it('a static box: working masks and grids use the reference rasteriser (hand-checked counts)', async () => {
    const track = await loadRegionTrack(still, clip, 4);
    const masks = regionMasksAt(track, clip, work);
    expect(masks).toHaveLength(4);
    // Scaled to 512x256: [51.2, 25.6, 256, 128] -> [51, 26, 256, 128]: 205 x 102 pixels.
    expect(countInside(masks[3]!)).toBe(205 * 102);
    expect(masks[0]).toEqual(rasterizeBox(scaleBox(box, clip, work), work, 1));
    // Latent grid (8 px, 64x32): [6.4, 3.2, 32, 16] -> [6, 3, 32, 16]: 26 x 13 cells.
    expect(countInside(regionGridsAt(track, clip, work, 8)[0]!)).toBe(26 * 13);
    // Attention grid (32 px, 16x8): [1.6, 0.8, 8, 4] -> [2, 1, 8, 4]: 6 x 3 cells.
    expect(countInside(regionGridsAt(track, clip, work, 32)[0]!)).toBe(6 * 3);
    // At clip size the box is exact.
    expect(maskBoundingBox(clipMasksOf(track, clip)[2]!, clip)).toEqual(box);
  });

  it('a moving box is interpolated per frame', async () => {
    const moving = {
      kind: 'boxes' as const,
      keyframes: [
        { frame: 0, box: [0, 0, 64, 64] as BoxPx },
        { frame: 10, box: [320, 180, 384, 244] as BoxPx },
      ],
    };
    const masks = clipMasksOf(await loadRegionTrack(moving, clip, 12), clip);
    expect(maskBoundingBox(masks[0]!, clip)).toEqual([0, 0, 64, 64]);
    expect(maskBoundingBox(masks[5]!, clip)).toEqual([160, 90, 224, 154]);
    expect(maskBoundingBox(masks[11]!, clip)).toEqual([320, 180, 384, 244]); // holds after the last keyframe
  });

  it('a box reaching outside the frame is REGION_OUT_OF_FRAME, naming the frame', async () => {
    const outside = { kind: 'boxes' as const, keyframes: [{ frame: 0, box: [600, 300, 700, 380] as BoxPx }] };
    await expect(loadRegionTrack(outside, clip, 2)).rejects.toMatchObject({
      code: 'REGION_OUT_OF_FRAME',
      message: expect.stringMatching(/frame 0/),
    });
    const leaving = {
      kind: 'boxes' as const,
      keyframes: [
        { frame: 0, box: [500, 100, 600, 200] as BoxPx },
        { frame: 4, box: [560, 100, 660, 200] as BoxPx },
      ],
    };
    await expect(loadRegionTrack(leaving, clip, 6)).rejects.toMatchObject({
      code: 'REGION_OUT_OF_FRAME',
      message: expect.stringMatching(/frame 3/),
    });
    const empty = { kind: 'boxes' as const, keyframes: [{ frame: 0, box: [10, 10, 10, 50] as BoxPx }] };
    await expect(loadRegionTrack(empty, clip, 1)).rejects.toMatchObject({ code: 'REGION_TOO_SMALL' });
  });
});

describe('imported mattes', () => {
  const half: Size = { width: 320, height: 180 };
  const halfBoxes: BoxPx[] = [
    [10, 10, 50, 40],
    [20, 10, 60, 40],
    [30, 10, 70, 40],
    [40, 10, 80, 40],
  ];
  const doubled = (b: BoxPx): BoxPx => [b[0] * 2, b[1] * 2, b[2] * 2, b[3] * 2];

  it('a PNG sequence in natural name order, made at half size: exact masks at clip size', async () => {
    const folder = path.join(dir, 'sequence');
    await mkdir(folder);
    const names = ['matte-1.png', 'matte-2.png', 'matte-3.png', 'matte-10.png'];
    await Promise.all(names.map((name, i) => writeGrayPng(path.join(folder, name), half, grayWithBox(half, halfBoxes[i]!))));
    await writeFile(path.join(folder, 'notes.txt'), 'ignored');
    const track = await loadRegionTrack({ kind: 'mask-sequence', dir: folder }, clip, 4);
    const masks = clipMasksOf(track, clip);
    expect(masks.map((m) => maskBoundingBox(m, clip))).toEqual(halfBoxes.map(doubled));
    expect(masks.map(countInside)).toEqual(halfBoxes.map(() => 80 * 60));
    // Working-size masks and grids of a mask track come from the clip-size mask.
    const working = regionMasksAt(track, clip, work);
    expect(regionGridsAt(track, clip, work, 8)[1]).toEqual(downsampleMask(working[1]!, work, 8));
  });

  it('one PNG serves every frame; the cut is at 50% gray', async () => {
    const folder = path.join(dir, 'single');
    await mkdir(folder);
    const gray = new Uint8Array(clip.width * clip.height);
    paint(gray, clip, [0, 0, 100, 100], 128);
    paint(gray, clip, [200, 0, 300, 100], 127);
    await writeGrayPng(path.join(folder, 'matte.png'), clip, gray);
    const masks = clipMasksOf(await loadRegionTrack({ kind: 'mask-sequence', dir: folder }, clip, 3), clip);
    expect(masks).toHaveLength(3);
    expect(masks.map((m) => maskBoundingBox(m, clip))).toEqual([0, 1, 2].map(() => [0, 0, 100, 100]));
  });

  it('refuses a matte count that does not match the frames, a matte of another shape, a missing folder', async () => {
    const folder = path.join(dir, 'three');
    await mkdir(folder);
    await Promise.all([1, 2, 3].map((i) => writeGrayPng(path.join(folder, `m${i}.png`), half, grayWithBox(half, halfBoxes[0]!))));
    await expect(loadRegionTrack({ kind: 'mask-sequence', dir: folder }, clip, 4)).rejects.toMatchObject({
      code: 'INVALID_SETTINGS',
      message: expect.stringMatching(/holds 3 PNG files; the segment has 4 frames/),
    });
    const square = path.join(dir, 'square');
    await mkdir(square);
    await writeGrayPng(path.join(square, 'm.png'), { width: 300, height: 300 }, new Uint8Array(300 * 300));
    await expect(loadRegionTrack({ kind: 'mask-sequence', dir: square }, clip, 1)).rejects.toMatchObject({
      code: 'FRAME_SIZE_INVALID',
    });
    await expect(loadRegionTrack({ kind: 'mask-sequence', dir: path.join(dir, 'none') }, clip, 1)).rejects.toMatchObject({
      code: 'FILE_NOT_FOUND',
    });
  });

  it('a matte video, lined up from a start frame', async () => {
    const boxes: BoxPx[] = Array.from({ length: 8 }, (_, i) => [40 * i, 20, 40 * i + 100, 120]);
    const frames = boxes.map((box) => {
      const gray = grayWithBox(clip, box);
      return Uint8Array.from({ length: gray.length * 3 }, (_, i) => gray[Math.floor(i / 3)]!);
    });
    const matte = path.join(dir, 'matte.mov');
    await encodeVideo({ frames, ...clip, frameRate: { num: 25, den: 1 }, outPath: matte, codec: 'png' });
    const track = await loadRegionTrack({ kind: 'matte-video', path: matte, startFrame: 2 }, clip, 4);
    expect(clipMasksOf(track, clip).map((m) => maskBoundingBox(m, clip))).toEqual(boxes.slice(2, 6));
    await expect(loadRegionTrack({ kind: 'matte-video', path: matte, startFrame: 6 }, clip, 4)).rejects.toMatchObject({
      code: 'INVALID_SETTINGS',
      message: expect.stringMatching(/has 8 frames; frames 6-9 are needed/),
    });
  });
});

describe('unionMasks', () => {
  it('ors the tracks frame by frame', () => {
    const a = [Uint8Array.of(1, 0, 0), Uint8Array.of(0, 0, 0)];
    const b = [Uint8Array.of(0, 1, 0), Uint8Array.of(0, 0, 1)];
    expect(unionMasks([a, b])).toEqual([Uint8Array.of(1, 1, 0), Uint8Array.of(0, 0, 1)]);
  });
});
