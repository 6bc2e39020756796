import type { Command } from 'commander';
import { ClipTokenizer, readModelPackage } from '../engine';
import { defaultModelDir } from './defaults';

export function registerTokens(program: Command): void {
  program
    .command('tokens <prompt>')
    .description("show the prompt's tokens and their positions (RAD steers one token per object)")
    .option('--model <dir>', 'model package (its tokenizer)', defaultModelDir())
    .action((prompt: string, o) => {
      const tokenizer = ClipTokenizer.fromFiles(readModelPackage(o.model).tokenizerDir);
      const encoded = tokenizer.encode(prompt);
      for (const token of tokenizer.promptTokens(prompt)) {
        console.log(`${String(token.position).padStart(3)}  ${token.wordStart ? '' : '  ↳ '}${token.text}`);
      }
      if (encoded.truncated) console.log('(the prompt is longer than 75 tokens: the rest is ignored)');
    });
}
