/** The ReAtCo engine: model packages, the edit pipeline in a worker, the tokenizer. */
export { Engine, type EditCallbacks, type EditRequest, type EditResult, type EngineOptions } from './engine';
export { readModelPackage, type ModelManifest, type ModelPackage } from './model-package';
export type { EditObject, EditStats, Progress, Stage } from './pipeline/edit-pipeline';
export type { ObjectRegion } from './rad/masks';
export { resolveSettings } from './pipeline/validate';
export { ClipTokenizer } from './tokenizer';
export type { ProviderName } from './sessions/ort';
