// Jest's global setup: builds helper-service/native (the custom-operator library and the session
// addon) where g++ is, so the tests of sessions/native.ts run; they are skipped where it is not.
const { execFileSync } = require('node:child_process');
const path = require('node:path');

module.exports = () => {
  try {
    execFileSync('g++', ['--version'], { stdio: 'ignore' });
  } catch {
    return;
  }
  execFileSync('bash', [path.join(__dirname, '..', 'helper-service', 'native', 'build.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
};
