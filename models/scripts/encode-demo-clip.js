#!/usr/bin/env node
// Encodes frames stored in a safetensors file (uint8, shape (F, H, W, 3)) as the H.264 demo clip of a
// model package, with the helper's own ffmpeg layer. Run after `npx tsc -b`:
//   node models/scripts/encode-demo-clip.js <file.safetensors> <tensor> <fps> <out.mp4>
const { readFileSync } = require('node:fs');
const path = require('node:path');
const { encodeVideo } = require('../../helper-service/dist/src/media');

const [file, name, fps, out] = process.argv.slice(2);
if (!out) {
  console.error('usage: encode-demo-clip.js <file.safetensors> <tensor> <fps> <out.mp4>');
  process.exit(2);
}
const bytes = readFileSync(file);
const headerLength = Number(bytes.readBigUInt64LE(0));
const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
const info = header[name];
if (!info || info.dtype !== 'U8' || info.shape.length !== 4) throw new Error(`${name} is not a uint8 (F, H, W, 3) tensor`);
const [frames, height, width] = info.shape;
const data = bytes.subarray(8 + headerLength + info.data_offsets[0], 8 + headerLength + info.data_offsets[1]);
const size = width * height * 3;
encodeVideo({
  frames: Array.from({ length: frames }, (_, i) => new Uint8Array(data.subarray(i * size, (i + 1) * size))),
  width,
  height,
  frameRate: { num: Number(fps), den: 1 },
  outPath: path.resolve(out),
  codec: 'h264',
}).then((written) => console.log(`wrote ${written}`));
