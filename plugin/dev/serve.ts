/**
 * `npm run dev -w @reatco/plugin`: the development page on the fake host with a real helper.
 * Starts a helper on a free port (REATCO_MODEL_DIR picks the model, REATCO_PROVIDER cpu|cuda), builds
 * and serves the page, and prints the address and the pairing token to paste into the panel.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startHelper } from '@reatco/helper-service/server';
import { buildDevPage, makeSampleClip, startDevServer } from './server';

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'reatco-dev-'));
  const modelDir = process.env.REATCO_MODEL_DIR ?? path.resolve(__dirname, '../../../models/tiny-random');
  const provider = process.env.REATCO_PROVIDER === 'cuda' ? 'cuda' : 'cpu';
  const [root, sample, helper] = await Promise.all([
    buildDevPage(),
    makeSampleClip(path.join(work, 'media')),
    startHelper({ port: 0, configDir: path.join(work, 'helper'), outputDir: path.join(work, 'output'), modelDir, provider }),
  ]);
  const previewDir = path.join(work, 'previews');
  await import('node:fs/promises').then((fs) => fs.mkdir(previewDir, { recursive: true }));
  const server = await startDevServer({ root, helperUrl: helper.url, config: { previewDir, sample }, port: Number(process.env.PORT ?? 5173) });
  console.log(`ReAtCo dev page: ${server.url}`);
  console.log(`Pairing token:   ${helper.token}`);
  console.log(`Work folder:     ${work}`);
  const stop = async () => {
    await server.close();
    await helper.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
