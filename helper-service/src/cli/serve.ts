import type { Command } from 'commander';
import { defaultConfigDir, loadConfig, startHelper } from '../server';
import { DEFAULT_PORT } from '../server/protocol';
import { defaultModelDir } from './defaults';
import { choice, integer } from './options';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the helper the Premiere panel connects to')
    .option('--port <n>', 'port to listen on', integer('port', 1), DEFAULT_PORT)
    .option('--host <address>', 'interface to listen on (anything but loopback is reachable from the network)', '127.0.0.1')
    .option('--model <dir>', 'model package', defaultModelDir())
    .option('--provider <name>', 'cuda or cpu (cuda falls back to cpu when unavailable)', choice('provider', ['cuda', 'cpu'] as const), 'cuda')
    .option('--device <n>', 'CUDA device index', integer('device'), 0)
    .option('--output <dir>', 'where finished edits are written (default: in the config folder)')
    .option('--max-frames <n>', 'longest segment one job may edit', integer('max-frames', 1), 64)
    .option('--allow-null-origin', 'accept connections that send "Origin: null" (refused by default, as web content)')
    .action(async (o) => {
      const configDir = defaultConfigDir();
      const helper = await startHelper({
        host: o.host,
        port: o.port,
        configDir,
        ...(o.output ? { outputDir: o.output } : {}),
        modelDir: o.model,
        provider: o.provider,
        deviceId: o.device,
        maxFrames: o.maxFrames,
        allowNullOrigin: Boolean(o.allowNullOrigin),
      });
      console.log(`ReAtCo helper ${helper.url} (model ${helper.engine.manifest.name}, ${helper.engine.provider})`);
      console.log(`Pairing token: ${helper.token}`);
      console.log('Paste the token into the ReAtCo panel in Premiere. Ctrl+C stops the helper.');
      const stop = async () => {
        await helper.close();
        process.exit(0);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });

  program
    .command('pair')
    .description('print the pairing token the panel needs')
    .action(() => {
      const config = loadConfig(defaultConfigDir(), { port: DEFAULT_PORT });
      console.log(`ws://127.0.0.1:${config.port}`);
      console.log(`Pairing token: ${config.token}`);
    });
}
