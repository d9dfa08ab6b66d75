/** Shared helpers for the tokenizer tests: paths, the real mBERT tokenizer (loaded once), tiny sentences. */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Sentence, UnlabelledSentence } from '../../src/data/types.js';
import { unlabelled } from '../../src/data/index.js';
import { loadTokenizer, type TokenizerFile } from '../../src/tokenizer/load.js';
import { type WordPieceTokenizer } from '../../src/tokenizer/wordpiece.js';
import { REAL_DATA, REAL_TOKENIZER } from '../real-data.js';

export const DATA_ROOT = REAL_DATA ?? '';
export const MBERT_DIR = REAL_TOKENIZER ?? '';

const loaded = new Map<TokenizerFile, WordPieceTokenizer>();
/** The real mBERT tokenizer through one load path (cached per process). */
export function mbert(prefer: TokenizerFile = 'tokenizer.json'): WordPieceTokenizer {
  let t = loaded.get(prefer);
  if (!t) loaded.set(prefer, (t = loadTokenizer(MBERT_DIR, { prefer })));
  return t;
}

/** Hugging Face's Rust tokenizer (npm `tokenizers`, a dev dependency), or undefined where it is not installed. */
export function rustTokenizers(): typeof import('tokenizers') | undefined {
  try {
    return createRequire(import.meta.url)('tokenizers') as typeof import('tokenizers');
  } catch {
    return undefined;
  }
}

let n = 0;
export function sentence(tokens: string[], tags?: string[], id = `s${n++}`): Sentence {
  return { id, lang: 'xx', tokens, tags: tags ?? tokens.map(() => 'O'), source: { file: 'mem.conll', line: 1 + n } };
}

export function unlabelledOf(tokens: string[]): UnlabelledSentence {
  return unlabelled([sentence(tokens)])[0]!;
}
