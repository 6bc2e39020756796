import {
  boxFromCorners,
  clipBoxToDisplay,
  clipBoxToPercent,
  displayBoxToClip,
  displayPointToClip,
  isUsableBox,
  moveBox,
  resizeBox,
} from '../src/regions/mapping';

const UHD = { width: 3840, height: 2160 };
const HD = { width: 1920, height: 1080 };
const display = { width: 356, height: 200.25 }; // a docked panel's preview of a 16:9 clip

describe('display pixels to clip pixels', () => {
  test('a box drawn on the preview lands on the same picture area in clip pixels, as whole pixels', () => {
    const drawn = boxFromCorners({ x: 178, y: 100.125 }, { x: 89, y: 50.0625 });
    expect(drawn).toEqual([89, 50.0625, 178, 100.125]);
    expect(displayBoxToClip(drawn, display, HD)).toEqual([480, 270, 960, 540]);
    expect(displayBoxToClip(drawn, display, UHD)).toEqual([960, 540, 1920, 1080]);
  });

  test('clip to display and back is the identity for whole clip pixels', () => {
    const box = [101, 57, 777, 433] as const;
    expect(displayBoxToClip(clipBoxToDisplay(box, HD, display), display, HD)).toEqual(box);
  });

  test('pointer positions outside the image are kept inside the frame', () => {
    expect(displayPointToClip({ x: -20, y: 250 }, display, HD)).toEqual({ x: 0, y: 1080 });
    expect(displayBoxToClip([-10, -10, 400, 300], display, HD)).toEqual([0, 0, 1920, 1080]);
  });

  test('CSS percentages place a clip box over a preview of any size', () => {
    expect(clipBoxToPercent([480, 270, 960, 540], HD)).toEqual({ left: '25.0000%', top: '25.0000%', width: '25.0000%', height: '25.0000%' });
  });
});

describe('moving and resizing in clip pixels', () => {
  test('a moved box keeps its size and stays inside the frame', () => {
    expect(moveBox([100, 100, 300, 200], 50, -20, HD)).toEqual([150, 80, 350, 180]);
    expect(moveBox([100, 100, 300, 200], 5000, 5000, HD)).toEqual([1720, 980, 1920, 1080]);
    expect(moveBox([100, 100, 300, 200], -500, -500, HD)).toEqual([0, 0, 200, 100]);
  });

  test('dragging a corner keeps the opposite corner and a minimum size', () => {
    expect(resizeBox([100, 100, 300, 200], 'se', { x: 400, y: 260 }, HD)).toEqual([100, 100, 400, 260]);
    expect(resizeBox([100, 100, 300, 200], 'nw', { x: 50, y: 20 }, HD)).toEqual([50, 20, 300, 200]);
    expect(resizeBox([100, 100, 300, 200], 'ne', { x: 50, y: 500 }, HD, 4)).toEqual([100, 196, 104, 200]);
    expect(resizeBox([100, 100, 300, 200], 'sw', { x: -40, y: 5000 }, HD)).toEqual([0, 100, 300, 1080]);
  });

  test('usable boxes have area and lie inside the frame', () => {
    expect(isUsableBox([0, 0, 1920, 1080], HD)).toBe(true);
    expect(isUsableBox([10, 10, 12, 40], HD, 4)).toBe(false);
    expect(isUsableBox([10, 10, 10, 40], HD)).toBe(false);
    expect(isUsableBox([1900, 10, 1930, 40], HD)).toBe(false);
  });
});
