import type { Rational } from './types';

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return Math.abs(a);
}

function reduceRational(r: Rational): Rational {
  const g = gcd(r.num, r.den) || 1;
  return { num: r.num / g, den: r.den / g };
}

/** ffprobe writes rates as "24000/1001" (and "0/0" when unknown). */
export function parseRational(text: string | undefined): Rational | undefined {
  const match = /^(\d+)\/(\d+)$/.exec(text ?? '');
  if (!match) return undefined;
  const num = Number(match[1]);
  const den = Number(match[2]);
  return num > 0 && den > 0 ? reduceRational({ num, den }) : undefined;
}

export function rationalToNumber(r: Rational): number {
  return r.num / r.den;
}

/** The form ffmpeg options take: "24000/1001". */
export function formatRational(r: Rational): string {
  return `${r.num}/${r.den}`;
}

/** Start time of a frame, in seconds, on the constant-rate grid of `rate`. */
export function frameStartSec(frame: number, rate: Rational): number {
  return (frame * rate.den) / rate.num;
}

/** Rates editors actually shoot and edit at: the NTSC family (N * 1000/1001) and whole numbers. */
const NTSC_RATES: readonly Rational[] = [24, 30, 48, 60, 120].map((n) => ({ num: n * 1000, den: 1001 }));

/**
 * The constant rate a variable-frame-rate clip is treated as: ffmpeg's own guess of the base rate when
 * it agrees with the measured mean within 2%, else the nearest NTSC or whole-number rate within 2%,
 * else the measured mean itself (to 1/1000 fps).
 */
export function nominalFrameRate(measuredFps: number, ffmpegGuess: Rational | undefined): Rational {
  const within2Percent = (r: Rational) => Math.abs(rationalToNumber(r) / measuredFps - 1) <= 0.02;
  if (ffmpegGuess && within2Percent(ffmpegGuess)) return ffmpegGuess;
  const candidates = [...NTSC_RATES, { num: Math.max(1, Math.round(measuredFps)), den: 1 }].filter(within2Percent);
  const distance = (r: Rational) => Math.abs(rationalToNumber(r) - measuredFps);
  const nearest = candidates.sort((a, b) => distance(a) - distance(b))[0];
  return nearest ?? reduceRational({ num: Math.round(measuredFps * 1000), den: 1000 });
}
