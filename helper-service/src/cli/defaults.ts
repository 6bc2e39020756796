import { existsSync } from 'node:fs';
import path from 'node:path';

/** The repository's models folder (this file runs from helper-service/dist/src/cli). */
export const MODELS_DIR = path.resolve(__dirname, '..', '..', '..', '..', 'models');

/** The trained model shipped with the repository (models/README.md). */
export const TRAINED_MODEL_DIR = path.join(MODELS_DIR, 'shapes-v4');

/** The embedded default model: REATCO_MODEL, else the trained demo model, else the tiny test model. */
export function defaultModelDir(): string {
  if (process.env.REATCO_MODEL) return path.resolve(process.env.REATCO_MODEL);
  return existsSync(path.join(TRAINED_MODEL_DIR, 'model.json')) ? TRAINED_MODEL_DIR : path.join(MODELS_DIR, 'tiny-random');
}
