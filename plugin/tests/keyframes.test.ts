import { boxAt, deleteKeyframe, hasKeyframeAt, setKeyframe } from '../src/regions/keyframes';

describe('a region box track as the panel edits it', () => {
  const first = [10, 20, 110, 120] as const;
  const second = [50, 20, 150, 100] as const;

  test('keyframes stay sorted and one per frame', () => {
    let keys = setKeyframe([], 12, second);
    keys = setKeyframe(keys, 0, first);
    expect(keys.map((k) => k.frame)).toEqual([0, 12]);
    keys = setKeyframe(keys, 12, first);
    expect(keys).toEqual([
      { frame: 0, box: first },
      { frame: 12, box: first },
    ]);
    expect(hasKeyframeAt(keys, 12)).toBe(true);
    expect(hasKeyframeAt(keys, 6)).toBe(false);
  });

  test('boxes between keyframes move in a straight line; before and after they hold', () => {
    const keys = setKeyframe(setKeyframe([], 0, first), 12, second);
    expect(boxAt(keys, 6)).toEqual([30, 20, 130, 110]);
    expect(boxAt(keys, 3)).toEqual([20, 20, 120, 115]);
    expect(boxAt(keys, 12)).toEqual(second);
    expect(boxAt(keys, 20)).toEqual(second);
    expect(boxAt(setKeyframe([], 5, second), 0)).toEqual(second);
  });

  test('deleting a keyframe re-joins its neighbours; no keyframes means no box', () => {
    const keys = setKeyframe(setKeyframe(setKeyframe([], 0, first), 6, [0, 0, 10, 10]), 12, second);
    const without = deleteKeyframe(keys, 6);
    expect(without.map((k) => k.frame)).toEqual([0, 12]);
    expect(boxAt(without, 6)).toEqual([30, 20, 130, 110]);
    expect(boxAt(deleteKeyframe(deleteKeyframe(without, 0), 12), 3)).toBeNull();
  });
});
