/** Option parsing shared by the commands. */
import { InvalidArgumentError } from 'commander';

export function integer(name: string, min = 0) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}.`);
    return n;
  };
}

export function number(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number.`);
    return n;
  };
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function choice<T extends string>(name: string, values: readonly T[]) {
  return (value: string): T => {
    if (!values.includes(value as T)) throw new InvalidArgumentError(`${name} must be one of ${values.join(', ')}.`);
    return value as T;
  };
}

/**
 * "--region word:x1,y1,x2,y2[@frame]" options, grouped by word: several for one word are the keyframes
 * of a moving box (in clip pixels, frames relative to the segment start).
 */
export function parseRegions(specs: readonly string[]): Map<string, { frame: number; box: [number, number, number, number] }[]> {
  const regions = new Map<string, { frame: number; box: [number, number, number, number] }[]>();
  for (const spec of specs) {
    const match = /^(.+):\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*(?:@\s*(\d+))?$/u.exec(spec.trim());
    if (!match) throw new InvalidArgumentError(`"${spec}" is not word:x1,y1,x2,y2 or word:x1,y1,x2,y2@frame.`);
    const [, word, x1, y1, x2, y2, frame] = match;
    const keyframes = regions.get(word!.trim()) ?? [];
    keyframes.push({ frame: frame === undefined ? 0 : Number(frame), box: [Number(x1), Number(y1), Number(x2), Number(y2)] });
    regions.set(word!.trim(), keyframes);
  }
  return regions;
}

/** "--mask-dir word:/path/to/pngs" */
export function parseMaskDirs(specs: readonly string[]): Map<string, string> {
  return new Map(
    specs.map((spec) => {
      const at = spec.indexOf(':');
      if (at <= 0) throw new InvalidArgumentError(`"${spec}" is not word:/path/to/masks.`);
      return [spec.slice(0, at).trim(), spec.slice(at + 1).trim()];
    }),
  );
}
