#!/usr/bin/env node
/** reatco: the helper service and its command line. */
import { Command } from 'commander';
import { ReatcoError } from '../errors';
import { HELPER_VERSION } from '../version';
import { registerBench } from './bench';
import { registerDemo } from './demo';
import { registerDoctor } from './doctor';
import { registerEdit } from './edit';
import { registerServe } from './serve';
import { registerTokens } from './tokens';

const program = new Command('reatco')
  .description('ReAtCo Edit: text-guided, region-controlled video editing (helper service and tools)')
  .version(HELPER_VERSION);
registerServe(program);
registerEdit(program);
registerTokens(program);
registerDoctor(program);
registerBench(program);
registerDemo(program);

program.parseAsync().catch((error: unknown) => {
  if (error instanceof ReatcoError) {
    console.error(`reatco: ${error.message} [${error.code}]`);
    process.exitCode = 2;
  } else {
    console.error(`reatco: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
});
