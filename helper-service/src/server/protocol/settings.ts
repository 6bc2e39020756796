/**
 * Edit settings, shared by the panel, the wire protocol and the engine. Defaults are the reference's
 * (ReAtCo's released code at 50 steps); every one can be overridden. Host-free.
 */
import { z } from 'zod';

export const refinementPointSchema = z.object({
  /** Fraction of the denoising steps (0 = first step). */
  at: z.number().min(0).max(1),
  /** Refinement runs until every object's fg score reaches this. */
  threshold: z.number().min(0).max(1),
});

export const editSettingsSchema = z
  .object({
    steps: z.number().int().min(1).max(1000).default(50),
    inversionSteps: z.number().int().min(1).max(1000).default(50),
    guidanceScale: z.number().min(0).max(50).default(12.5),
    /** RAD: move the latent so each object's attention falls inside its region. */
    rad: z.boolean().default(true),
    /** IRJS: keep everything outside the regions from the source (off for global edits). */
    irjs: z.boolean().default(true),
    /** The main RAD update runs on steps i < radSteps; null = half the steps (25 of 50). */
    radSteps: z.number().int().min(0).max(1000).nullable().default(null),
    stepScale: z.number().min(0).max(1000).default(20),
    stepRange: z.tuple([z.number().positive(), z.number().positive()]).default([1, 0.5]),
    refinement: z
      .array(refinementPointSchema)
      .max(16)
      .default([
        { at: 0, threshold: 0.05 },
        { at: 0.2, threshold: 0.5 },
        { at: 0.4, threshold: 0.8 },
      ]),
    maxRefinementIterations: z.number().int().min(0).max(100).default(20),
    /** k = this fraction of a region's cells (at least 1) in the top-k means. */
    topFraction: z.number().gt(0).max(1).default(0.2),
    /** Frames denoised together; null = the whole clip (full-clip mode). */
    window: z.number().int().min(1).max(1024).nullable().default(null),
    stride: z.number().int().min(1).max(1024).default(1),
    seed: z.number().int().min(0).max(0xffffffff).default(0),
  })
  .strict();

export type EditSettings = z.output<typeof editSettingsSchema>;
export type EditSettingsInput = z.input<typeof editSettingsSchema>;
