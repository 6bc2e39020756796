export {
  ClipTokenizer,
  cleanText,
  preTokenize,
  END_TOKEN,
  MAX_LENGTH,
  START_TOKEN,
  type EncodedPrompt,
  type PromptToken,
  type WordTokens,
} from './clip-bpe';
