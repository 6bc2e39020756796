/**
 * The portable counter-based Gaussian generator of models/reatco_models/noise.py: the same
 * (seed, stream, index) gives the same float32 here and in the PyTorch oracle, so one seed fixes every
 * random draw and the engine can be proved against the oracle draw for draw.
 */

/** C. Wellons' "lowbias32" integer hash. */
export function mix32(x: number): number {
  x = (x ^ (x >>> 16)) >>> 0;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x = (x ^ (x >>> 15)) >>> 0;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

function streamKeys(seed: number, stream: number): [number, number] {
  const k1 = mix32(seed >>> 0);
  const k2 = mix32(((Math.imul(stream, 0x9e3779b9) + 0x6a09e667) >>> 0) ^ k1);
  return [k1, k2];
}

/** `count` standard normal values of one stream (Box-Muller, cosine branch, in float64 then float32). */
export function normal(seed: number, stream: number, count: number, out = new Float32Array(count)): Float32Array {
  const [k1, k2] = streamKeys(seed, stream);
  const u32 = (counter: number) => mix32((mix32((counter ^ k1) >>> 0) ^ k2) >>> 0);
  for (let i = 0; i < count; i++) {
    const a = u32((2 * i) >>> 0);
    const b = u32((2 * i + 1) >>> 0);
    const u1 = (a + 1) / 4294967296; // (0, 1]: the log is finite
    const u2 = b / 4294967296;
    out[i] = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
  return out;
}

/** The stream of the IRJS noise drawn at denoising step `stepIndex` (one draw for the whole clip). */
export function irjsStream(stepIndex: number): number {
  return 1 + stepIndex;
}
