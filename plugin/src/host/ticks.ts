/**
 * Premiere time: integer ticks, 254016000000 per second (divisible by every editing rate, NTSC ones
 * included). Ticks are bigint because ten hours of them pass 2^53; frame rates are exact rationals.
 */
export const TICKS_PER_SECOND = 254016000000n;

export interface FrameRate {
  readonly num: number;
  readonly den: number;
}

/** The NTSC family (N * 1000/1001): what "23.976" and "29.97" really are. */
const NTSC_RATES: readonly FrameRate[] = [24, 30, 48, 60, 120].map((n) => ({ num: n * 1000, den: 1001 }));

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a < 0n ? -a : a;
}

export function reduceRate(rate: FrameRate): FrameRate {
  const g = Number(gcd(BigInt(rate.num), BigInt(rate.den))) || 1;
  return { num: rate.num / g, den: rate.den / g };
}

export function sameRate(a: FrameRate, b: FrameRate): boolean {
  return BigInt(a.num) * BigInt(b.den) === BigInt(b.num) * BigInt(a.den);
}

export function rateToFps(rate: FrameRate): number {
  return rate.num / rate.den;
}

/** Ticks in one frame; exact for every rate Premiere edits at (throws for rates that do not divide). */
export function ticksPerFrame(rate: FrameRate): bigint {
  const numerator = TICKS_PER_SECOND * BigInt(rate.den);
  const perFrame = numerator / BigInt(rate.num);
  if (perFrame * BigInt(rate.num) !== numerator) {
    throw new RangeError(`${rate.num}/${rate.den} fps does not divide Premiere's tick clock.`);
  }
  return perFrame;
}

/** The rate whose frames last `perFrame` ticks (Premiere's sequence timebase is this string). */
export function rateFromTicksPerFrame(perFrame: bigint | string): FrameRate {
  const ticks = BigInt(perFrame);
  if (ticks <= 0n) throw new RangeError(`A frame cannot last ${ticks} ticks.`);
  const g = gcd(TICKS_PER_SECOND, ticks);
  return { num: Number(TICKS_PER_SECOND / g), den: Number(ticks / g) };
}

/** A floating-point fps as hosts report it (23.976, 29.97002997) snapped to the exact rate it stands for. */
export function rateFromFps(fps: number): FrameRate {
  if (!(fps > 0) || !Number.isFinite(fps)) throw new RangeError(`${fps} is not a frame rate.`);
  const ntsc = NTSC_RATES.find((rate) => Math.abs(rateToFps(rate) - fps) < 0.005);
  if (ntsc) return ntsc;
  return reduceRate({ num: Math.round(fps * 1000), den: 1000 });
}

/** Whole frames in `ticks`; throws when `ticks` is not on the frame grid (callers choose how to round). */
export function ticksToFrames(ticks: bigint, rate: FrameRate): number {
  const perFrame = ticksPerFrame(rate);
  if (ticks % perFrame !== 0n) throw new RangeError(`${ticks} ticks is not a whole number of frames at ${rate.num}/${rate.den}.`);
  return Number(ticks / perFrame);
}

/** The frame showing at `ticks` (the one that started at or before it). */
export function frameAtTicks(ticks: bigint, rate: FrameRate): number {
  const perFrame = ticksPerFrame(rate);
  const frame = ticks / perFrame;
  return Number(ticks % perFrame < 0n ? frame - 1n : frame);
}

/** Frames needed to cover `ticks` (a partial last frame counts). */
export function framesCovering(ticks: bigint, rate: FrameRate): number {
  const perFrame = ticksPerFrame(rate);
  return Number((ticks + perFrame - 1n) / perFrame);
}

export function framesToTicks(frames: number, rate: FrameRate): bigint {
  if (!Number.isInteger(frames)) throw new RangeError(`${frames} is not a whole frame count.`);
  return BigInt(frames) * ticksPerFrame(rate);
}

export function ticksToSeconds(ticks: bigint): number {
  const whole = ticks / TICKS_PER_SECOND;
  return Number(whole) + Number(ticks - whole * TICKS_PER_SECOND) / Number(TICKS_PER_SECOND);
}

/** Nearest tick to `seconds` (seconds are only for display and user input; edits use ticks). */
export function secondsToTicks(seconds: number): bigint {
  const whole = Math.trunc(seconds);
  return BigInt(whole) * TICKS_PER_SECOND + BigInt(Math.round((seconds - whole) * Number(TICKS_PER_SECOND)));
}

/** 29.97 and 59.94 use drop-frame timecode labels by convention. */
export function isDropFrameRate(rate: FrameRate): boolean {
  return rate.den === 1001 && (rate.num === 30000 || rate.num === 60000);
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/**
 * SMPTE timecode label of a frame count. Drop-frame (29.97, 59.94) skips labels :00 and :01 (:00-:03
 * at 59.94) of every minute except each tenth, so the label tracks wall-clock time; the frame count
 * itself is exact either way.
 */
export function formatTimecode(frame: number, rate: FrameRate, dropFrame = isDropFrameRate(rate)): string {
  const nominal = Math.round(rateToFps(rate));
  let label = frame;
  if (dropFrame) {
    const dropped = nominal === 60 ? 4 : 2;
    const perTenMinutes = nominal * 600 - dropped * 9;
    const perMinute = nominal * 60 - dropped;
    const tens = Math.floor(frame / perTenMinutes);
    const rest = frame % perTenMinutes;
    label = frame + dropped * 9 * tens + (rest > dropped ? dropped * Math.floor((rest - dropped) / perMinute) : 0);
  }
  const ff = label % nominal;
  const totalSeconds = Math.floor(label / nominal);
  const separator = dropFrame ? ';' : ':';
  return `${pad2(Math.floor(totalSeconds / 3600))}:${pad2(Math.floor(totalSeconds / 60) % 60)}:${pad2(totalSeconds % 60)}${separator}${pad2(ff)}`;
}
