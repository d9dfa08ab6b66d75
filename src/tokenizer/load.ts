/**
 * Loading a BERT WordPiece tokenizer from a Hugging Face model directory.
 *
 * `tokenizer.json` (what the Rust tokenizer runs) is read when present; otherwise `vocab.txt` plus
 * `tokenizer_config.json` (what Python's BertTokenizer reads). Both become the same `WordPieceConfig`, so for the
 * mBERT release the two paths give identical ids (test/tokenizer/parity.test.ts checks both against the same
 * fixtures). Anything that is not a BERT WordPiece tokenizer is refused with the file and the field that differs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WordPieceTokenizer, type WordPieceConfig } from './wordpiece.js';
import { wordPieceConfigFromTokenizerJson, wordPieceConfigFromVocab } from './wordpiece-config.js';

export { tokenizerFromVocab } from './wordpiece-config.js';

export type TokenizerFile = 'tokenizer.json' | 'vocab.txt';

export interface LoadTokenizerOptions {
  /** Which file to read (default: tokenizer.json when it exists, else vocab.txt). An explicit choice must exist. */
  prefer?: TokenizerFile;
}

/** Loads the tokenizer of a local Hugging Face model directory (e.g. the cache entry of `bert-base-multilingual-cased`, see `resolveTokenizerDir`). */
export function loadTokenizer(dir: string, opts: LoadTokenizerOptions = {}): WordPieceTokenizer {
  const jsonPath = join(dir, 'tokenizer.json');
  const vocabPath = join(dir, 'vocab.txt');
  const which = opts.prefer ?? (existsSync(jsonPath) ? 'tokenizer.json' : 'vocab.txt');
  const path = which === 'tokenizer.json' ? jsonPath : vocabPath;
  if (!existsSync(path)) {
    const what = opts.prefer ? `${which} was requested but` : 'neither tokenizer.json nor vocab.txt';
    throw new Error(`loadTokenizer: ${what} is not in ${dir}`);
  }
  const config = which === 'tokenizer.json' ? configFromTokenizerJson(jsonPath) : configFromVocabTxt(dir);
  return new WordPieceTokenizer(config);
}

/** Reads a `tokenizer.json` with a BertNormalizer, BertPreTokenizer and WordPiece model. */
export function configFromTokenizerJson(path: string): WordPieceConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: not readable JSON (${(err as Error).message})`);
  }
  return wordPieceConfigFromTokenizerJson(raw, path);
}

/**
 * Reads `vocab.txt` and `tokenizer_config.json` (optional) of a directory, with the defaults of Python's
 * BertTokenizer for what is missing (wordpiece-config.ts).
 */
export function configFromVocabTxt(dir: string): WordPieceConfig {
  const vocabPath = join(dir, 'vocab.txt');
  const cfgPath = join(dir, 'tokenizer_config.json');
  let cfg: unknown;
  if (existsSync(cfgPath)) {
    try {
      cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
    } catch (err) {
      throw new Error(`${cfgPath}: not readable JSON (${(err as Error).message})`);
    }
  }
  return wordPieceConfigFromVocab(readFileSync(vocabPath, 'utf8'), cfg, vocabPath, cfgPath);
}
