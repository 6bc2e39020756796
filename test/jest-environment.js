// Jest runs each test file in its own realm with its own module registry. Two consequences for
// onnxruntime-node, both handled here:
// - its native binding creates output arrays in Node's main realm, and onnxruntime-common (loaded
//   inside the test realm) checks them with `instanceof Float32Array`; sharing the main realm's
//   binary-data constructors with the test realm makes both sides agree;
// - loading it a second time in one process re-runs the binding's initOrt, which registers the same
//   environment cleanup hook twice and aborts Node. The module is therefore loaded once per worker
//   process, outside jest's registry, and handed to each test file (see test/shared-onnxruntime.js).
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'ArrayBuffer', 'SharedArrayBuffer', 'DataView', 'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array',
  'Uint16Array', 'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
];

class SharedBinaryEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
    // Lazy, so test files that never touch onnxruntime do not pay for loading it.
    Object.defineProperty(this.global, '__processOnnxruntime', { get: () => require('onnxruntime-node') });
  }
}

module.exports = SharedBinaryEnvironment;
