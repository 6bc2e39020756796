/**
 * The helper's WebSocket protocol: JSON text messages, validated with zod on both sides. The panel
 * bundles this module (host-free: zod only).
 *
 * Client -> helper: requests `{ id, type, ... }`. The first one on a connection must be `hello` with
 * the pairing token. Helper -> client: `{ type: 'result', id, result }` or `{ type: 'error', id, error }`
 * answering a request, and `{ type: 'event', event }` pushed for jobs the client submitted or watches.
 */
import { z } from 'zod';
import { ERROR_CODES, type ErrorCode } from './errors';
import { editSettingsSchema } from './settings';

export const PROTOCOL_VERSION = 1;
/** The helper answers larger messages with MESSAGE_TOO_LARGE (regions reference files, never pixels). */
export const MAX_MESSAGE_BYTES = 1 << 20;
/** The helper's fixed default loopback port; the panel's manifest lists it. */
export const DEFAULT_PORT = 47231;

const requestId = z.string().min(1).max(64);
const absolutePath = z.string().min(1).max(4096);
const box = z.tuple([z.number(), z.number(), z.number(), z.number()]);

/** Where an object must appear, in the clip's own pixels; frame 0 = the segment's first frame. */
export const regionTrackSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('boxes'),
    keyframes: z.array(z.object({ frame: z.number().int().min(0), box })).min(1).max(10000),
  }),
  z.object({ kind: z.literal('mask-sequence'), dir: absolutePath }),
  z.object({ kind: z.literal('matte-video'), path: absolutePath, startFrame: z.number().int().min(0).optional() }),
]);
export type RegionTrack = z.infer<typeof regionTrackSchema>;

export const editObjectSchema = z.object({
  /** The object word as typed (for display and messages). */
  word: z.string().max(200).optional(),
  /** Position of the word's token in the edited prompt (0 = start token), from `tokenize`. */
  tokenIndex: z.number().int().min(1).max(76),
  region: regionTrackSchema,
});

export const qualitySchema = z.enum(['draft', 'standard', 'high']);
export type Quality = z.infer<typeof qualitySchema>;

export const jobSpecSchema = z.object({
  source: z.object({
    path: absolutePath,
    /** First frame of the segment, in the clip's own frames (media start already accounted for). */
    startFrame: z.number().int().min(0),
    frameCount: z.number().int().min(1).max(100000),
  }),
  /** What the shot should show instead. */
  prompt: z.string().min(1).max(2000),
  /** What it shows now (kept with the job; the method inverts with the empty prompt). */
  sourcePrompt: z.string().max(2000).optional(),
  objects: z.array(editObjectSchema).max(8),
  /** replace: new objects in their regions, everything else kept (IRJS); global: the whole frame may change. */
  mode: z.enum(['replace', 'global']).default('replace'),
  quality: qualitySchema.default('standard'),
  settings: editSettingsSchema.partial().optional(),
  output: z
    .object({
      codec: z.enum(['prores', 'h264', 'png']).default('prores'),
      /** File name stem inside the helper's output folder; a safe name is made when omitted. */
      name: z
        .string()
        .regex(/^[\w\- .]{1,100}$/u)
        .optional(),
    })
    .default({ codec: 'prores' }),
  /** Where preview JPEGs of the result go (the panel's data folder). */
  previewDir: absolutePath.optional(),
});
export type JobSpec = z.infer<typeof jobSpecSchema>;
export type JobSpecInput = z.input<typeof jobSpecSchema>;

export const requestSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('hello'),
    id: requestId,
    protocol: z.number().int(),
    token: z.string().min(1).max(256),
    client: z.object({ name: z.string().max(100), version: z.string().max(50) }).optional(),
  }),
  z.object({ type: z.literal('capabilities'), id: requestId }),
  z.object({ type: z.literal('probe'), id: requestId, path: absolutePath }),
  z.object({
    type: z.literal('previewFrames'),
    id: requestId,
    path: absolutePath,
    /** Clip frames to extract (the clip's own frame numbers). */
    frames: z.array(z.number().int().min(0)).min(1).max(64),
    outDir: absolutePath,
    maxWidth: z.number().int().min(16).max(4096).default(640),
  }),
  z.object({ type: z.literal('tokenize'), id: requestId, prompt: z.string().max(2000) }),
  z.object({ type: z.literal('submit'), id: requestId, job: jobSpecSchema }),
  z.object({ type: z.literal('cancel'), id: requestId, jobId: z.string().min(1).max(64) }),
  z.object({ type: z.literal('listJobs'), id: requestId }),
  /** Follow a job's events (after a reconnect); the current state comes back at once. */
  z.object({ type: z.literal('watch'), id: requestId, jobId: z.string().min(1).max(64) }),
]);
export type Request = z.infer<typeof requestSchema>;
export type RequestType = Request['type'];

export const stageSchema = z.enum(['prepare', 'encode', 'invert', 'edit', 'decode', 'composite', 'write']);
export type JobStage = z.infer<typeof stageSchema>;

export const errorPayloadSchema = z.object({
  code: z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]),
  message: z.string(),
  retryable: z.boolean(),
});
export type ErrorPayload = z.infer<typeof errorPayloadSchema>;

export const jobOutputSchema = z.object({
  path: z.string(),
  codec: z.enum(['prores', 'h264', 'png']),
  width: z.number().int(),
  height: z.number().int(),
  frames: z.number().int(),
  frameRate: z.object({ num: z.number().int(), den: z.number().int() }),
  hasAudio: z.boolean(),
  /** Preview JPEGs (one per chosen frame) of the source and the result. */
  previews: z.object({ before: z.array(z.string()), after: z.array(z.string()) }).optional(),
});
export type JobOutput = z.infer<typeof jobOutputSchema>;

/** The closed set of job events. */
export const jobEventSchema = z.discriminatedUnion('kind', [
  z.object({ jobId: z.string(), kind: z.literal('queued'), position: z.number().int().min(0) }),
  z.object({ jobId: z.string(), kind: z.literal('stage'), stage: stageSchema }),
  z.object({
    jobId: z.string(),
    kind: z.literal('progress'),
    stage: stageSchema,
    step: z.number().int(),
    totalSteps: z.number().int(),
    fraction: z.number().min(0).max(1),
    etaMs: z.number().nullable(),
    elapsedMs: z.number(),
  }),
  z.object({ jobId: z.string(), kind: z.literal('heartbeat'), elapsedMs: z.number() }),
  z.object({ jobId: z.string(), kind: z.literal('done'), output: jobOutputSchema }),
  z.object({ jobId: z.string(), kind: z.literal('failed'), error: errorPayloadSchema }),
  z.object({ jobId: z.string(), kind: z.literal('cancelled') }),
]);
export type JobEvent = z.infer<typeof jobEventSchema>;

export const jobStateSchema = z.enum(['queued', 'running', 'done', 'failed', 'cancelled', 'interrupted']);
export type JobState = z.infer<typeof jobStateSchema>;

export const jobSummarySchema = z.object({
  id: z.string(),
  state: jobStateSchema,
  createdAt: z.string(),
  updatedAt: z.string(),
  sourcePath: z.string(),
  prompt: z.string(),
  output: jobOutputSchema.optional(),
  error: errorPayloadSchema.optional(),
});
export type JobSummary = z.infer<typeof jobSummarySchema>;

export const clipInfoSchema = z.object({
  path: z.string(),
  durationSec: z.number(),
  frameRate: z.object({ num: z.number().int(), den: z.number().int() }),
  fps: z.number(),
  frameCount: z.number().int(),
  width: z.number().int(),
  height: z.number().int(),
  videoCodec: z.string(),
  hasAudio: z.boolean(),
  variableFrameRate: z.boolean(),
});
export type ClipInfo = z.infer<typeof clipInfoSchema>;

/** Results per request type. */
export const resultSchemas = {
  hello: z.object({ protocol: z.number().int(), helperVersion: z.string() }),
  capabilities: z.object({
    provider: z.enum(['cuda', 'cpu']),
    device: z.string(),
    fallbackReason: z.string().nullable(),
    model: z.object({ name: z.string(), precision: z.string(), frameMultiple: z.number().int(), attentionCellPx: z.number().int() }),
    limits: z.object({ maxFrames: z.number().int(), maxMessageBytes: z.number().int(), maxQueuedJobs: z.number().int() }),
    qualities: z.record(qualitySchema, z.object({ maxPixels: z.number().int(), steps: z.number().int() })),
    codecs: z.array(z.enum(['prores', 'h264', 'png'])),
  }),
  probe: clipInfoSchema,
  previewFrames: z.object({ files: z.array(z.object({ frame: z.number().int(), path: z.string(), width: z.number().int(), height: z.number().int() })) }),
  tokenize: z.object({
    tokens: z.array(z.object({ position: z.number().int(), text: z.string(), wordStart: z.boolean() })),
    truncated: z.boolean(),
  }),
  submit: z.object({ jobId: z.string() }),
  cancel: z.object({ cancelled: z.boolean() }),
  listJobs: z.object({ jobs: z.array(jobSummarySchema) }),
  watch: z.object({ job: jobSummarySchema }),
} satisfies Record<RequestType, z.ZodType>;
export type ResultOf<T extends RequestType> = z.infer<(typeof resultSchemas)[T]>;

export const serverMessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('result'), id: z.string(), result: z.unknown() }),
  z.object({ type: z.literal('error'), id: z.string().nullable(), error: errorPayloadSchema }),
  z.object({ type: z.literal('event'), event: jobEventSchema }),
]);
export type ServerMessage = z.infer<typeof serverMessageSchema>;
