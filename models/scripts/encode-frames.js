#!/usr/bin/env node
// Encodes the frames a model package's Python side wrote (uint8 (F, H, W, 3) tensors in safetensors)
// into video files with the helper's own ffmpeg layer, then deletes the raw tensors. Run after
// `npx tsc -b` and `python -m reatco_models shapes|shapes-benchmark`:
//   node models/scripts/encode-frames.js <package folder>
//     demo/frames.safetensors      -> demo/clip.mp4 (H.264)
//     cases.safetensors            -> case-NN.mov (lossless PNG codec: scored pixel for pixel)
const { existsSync, readFileSync, rmSync } = require('node:fs');
const path = require('node:path');
const { encodeVideo } = require('../../helper-service/dist/src/media');

const FPS = 10;

function readTensors(file) {
  const bytes = readFileSync(file);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
  const tensors = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (info.dtype !== 'U8' || info.shape.length !== 4) throw new Error(`${name} is not a uint8 (F, H, W, 3) tensor`);
    const [frames, height, width] = info.shape;
    const data = bytes.subarray(8 + headerLength + info.data_offsets[0], 8 + headerLength + info.data_offsets[1]);
    const size = width * height * 3;
    tensors[name] = { width, height, frames: Array.from({ length: frames }, (_, i) => new Uint8Array(data.subarray(i * size, (i + 1) * size))) };
  }
  return tensors;
}

async function encodeAll(file, target) {
  if (!existsSync(file)) return;
  for (const [name, clip] of Object.entries(readTensors(file))) {
    const [outPath, codec] = target(name);
    await encodeVideo({ ...clip, frameRate: { num: FPS, den: 1 }, outPath, codec });
    console.log(`wrote ${outPath}`);
  }
  rmSync(file);
}

if (!process.argv[2]) {
  console.error('usage: encode-frames.js <package folder>');
  process.exit(2);
}
const dir = path.resolve(process.argv[2]);
(async () => {
  await encodeAll(path.join(dir, 'demo', 'frames.safetensors'), () => [path.join(dir, 'demo', 'clip.mp4'), 'h264']);
  await encodeAll(path.join(dir, 'cases.safetensors'), (name) => [path.join(dir, `${name.replace('_', '-')}.mov`), 'png']);
})();
