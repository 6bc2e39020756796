/** When and how far RAD moves the latent: the reference's step sizes and refinement schedule. */

/** α_i = scale · √(linspace(start, end, numSteps)[i]); 20·√(linspace(1, 0.5, 50)) in the reference. */
export function radStepSize(index: number, numSteps: number, scale: number, range: readonly [number, number]): number {
  const [start, end] = range;
  const fraction = numSteps === 1 ? start : start + ((end - start) * index) / (numSteps - 1);
  return scale * Math.sqrt(fraction);
}

/** Refinement thresholds by step index: fractions of the step count, {0: .05, 10: .5, 20: .8} for 50 steps. */
export function refinementThresholds(
  schedule: readonly { readonly at: number; readonly threshold: number }[],
  numSteps: number,
): Map<number, number> {
  return new Map(schedule.map(({ at, threshold }) => [Math.round(at * numSteps), threshold]));
}
