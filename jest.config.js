// Tests are TypeScript compiled by `tsc -b` (npm test runs it first); jest runs the emitted JS,
// so worker threads and child processes load the same files the tests do.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: '<rootDir>/test/jest-environment.js',
  globalSetup: '<rootDir>/test/native-build.js',
  moduleNameMapper: { '^onnxruntime-node$': '<rootDir>/test/shared-onnxruntime.js' },
  roots: ['<rootDir>/helper-service/dist', '<rootDir>/plugin/dist-test', '<rootDir>/test/dist'],
  testMatch: ['**/*.test.js'],
  testTimeout: 120000,
  maxWorkers: 2,
};
