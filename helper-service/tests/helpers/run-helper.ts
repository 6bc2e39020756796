/** Starts a helper in this process and prints {port, token} as one JSON line (a child process for crash tests). */
import { startHelper } from '../../src/server';

const [configDir, outputDir, modelDir] = process.argv.slice(2) as [string, string, string];
void startHelper({ port: 0, configDir, outputDir, modelDir, provider: 'cpu', threads: 1, maxFrames: 16, log: () => {} }).then((h) =>
  process.stdout.write(JSON.stringify({ port: h.port, token: h.token }) + '\n'),
);
