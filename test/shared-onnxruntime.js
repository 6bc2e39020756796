// Jest maps `onnxruntime-node` here: the one copy loaded per worker process by test/jest-environment.js.
module.exports = globalThis.__processOnnxruntime;
