// Jest runs each test file in its own realm. onnxruntime-node's native binding creates output arrays
// in Node's main realm, and onnxruntime-common (loaded inside the test realm) checks them with
// `instanceof Float32Array`, which then fails. Sharing the main realm's binary-data constructors
// with the test realm makes both sides agree.
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'ArrayBuffer', 'SharedArrayBuffer', 'DataView', 'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array',
  'Uint16Array', 'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
];

class SharedBinaryEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = SharedBinaryEnvironment;
