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
import type { BertNormalization } from './normalize.js';
import { WordPieceTokenizer, type WordPieceConfig } from './wordpiece.js';

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

interface TokenizerJson {
  normalizer?: {
    type?: string;
    clean_text?: boolean;
    handle_chinese_chars?: boolean;
    strip_accents?: boolean | null;
    lowercase?: boolean;
  } | null;
  pre_tokenizer?: { type?: string } | null;
  model?: {
    type?: string;
    unk_token?: string;
    continuing_subword_prefix?: string;
    max_input_chars_per_word?: number;
    vocab?: Record<string, number>;
  };
  added_tokens?: { content: string; special?: boolean }[];
  post_processor?: { special_tokens?: Record<string, { tokens?: string[] }> } | null;
}

/** Reads a `tokenizer.json` with a BertNormalizer, BertPreTokenizer and WordPiece model. */
export function configFromTokenizerJson(path: string): WordPieceConfig {
  let raw: TokenizerJson;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8')) as TokenizerJson;
  } catch (err) {
    throw new Error(`${path}: not readable JSON (${(err as Error).message})`);
  }
  const expect = (ok: boolean, field: string, wanted: string, got: unknown): void => {
    if (!ok)
      throw new Error(
        `${path}: ${field} is ${JSON.stringify(got)}; expected ${wanted} (only BERT WordPiece tokenizers are supported)`,
      );
  };
  const model = raw.model;
  expect(model?.type === 'WordPiece', 'model.type', '"WordPiece"', model?.type);
  expect(
    model!.vocab !== undefined && typeof model!.vocab === 'object',
    'model.vocab',
    'an object',
    typeof model!.vocab,
  );
  const n = raw.normalizer;
  expect(n?.type === 'BertNormalizer', 'normalizer.type', '"BertNormalizer"', n?.type);
  expect(
    raw.pre_tokenizer?.type === 'BertPreTokenizer',
    'pre_tokenizer.type',
    '"BertPreTokenizer"',
    raw.pre_tokenizer?.type,
  );
  const lowercase = n!.lowercase ?? true;
  const normalization: BertNormalization = {
    cleanText: n!.clean_text ?? true,
    handleChineseChars: n!.handle_chinese_chars ?? true,
    stripAccents: n!.strip_accents ?? lowercase,
    lowercase,
  };
  const vocab = new Map<string, number>(Object.entries(model!.vocab!));
  const added = raw.added_tokens ?? [];
  for (const t of added)
    if (!vocab.has(t.content)) throw new Error(`${path}: added token '${t.content}' has no vocabulary id`);
  const pick = (name: string, fallback: string): string => (vocab.has(name) ? name : fallback);
  return {
    vocab,
    normalization,
    unkToken: model!.unk_token ?? '[UNK]',
    clsToken: pick('[CLS]', '[CLS]'),
    sepToken: pick('[SEP]', '[SEP]'),
    padToken: pick('[PAD]', '[PAD]'),
    continuingSubwordPrefix: model!.continuing_subword_prefix ?? '##',
    maxInputCharsPerWord: model!.max_input_chars_per_word ?? 100,
    specialTokens: added.map((t) => t.content),
    source: path,
  };
}

type TokenSetting = string | { content?: string } | undefined;

interface TokenizerConfigJson {
  do_lower_case?: boolean;
  strip_accents?: boolean | null;
  tokenize_chinese_chars?: boolean;
  unk_token?: TokenSetting;
  cls_token?: TokenSetting;
  sep_token?: TokenSetting;
  pad_token?: TokenSetting;
  mask_token?: TokenSetting;
  added_tokens_decoder?: Record<string, { content: string }>;
}

/**
 * Reads `vocab.txt` (one token per line, id = line number) and `tokenizer_config.json` with the defaults of
 * Python's BertTokenizer when a field (or the whole file) is missing: `do_lower_case` true, `strip_accents` as
 * lowercase, `tokenize_chinese_chars` true.
 */
export function configFromVocabTxt(dir: string): WordPieceConfig {
  const vocabPath = join(dir, 'vocab.txt');
  const lines = readFileSync(vocabPath, 'utf8').split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const vocab = new Map<string, number>();
  lines.forEach((line, i) => vocab.set(line.replace(/\r$/, '').trimEnd(), i)); // a repeated token keeps its last id, as in HF
  const cfgPath = join(dir, 'tokenizer_config.json');
  let cfg: TokenizerConfigJson = {};
  if (existsSync(cfgPath)) {
    try {
      cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as TokenizerConfigJson;
    } catch (err) {
      throw new Error(`${cfgPath}: not readable JSON (${(err as Error).message})`);
    }
  }
  const tok = (s: TokenSetting, fallback: string): string => (typeof s === 'string' ? s : (s?.content ?? fallback));
  const unk = tok(cfg.unk_token, '[UNK]');
  const cls = tok(cfg.cls_token, '[CLS]');
  const sep = tok(cfg.sep_token, '[SEP]');
  const pad = tok(cfg.pad_token, '[PAD]');
  const mask = tok(cfg.mask_token, '[MASK]');
  const declared = cfg.added_tokens_decoder
    ? Object.values(cfg.added_tokens_decoder).map((t) => t.content)
    : [pad, unk, cls, sep, mask];
  const lowercase = cfg.do_lower_case ?? true;
  return {
    vocab,
    normalization: {
      cleanText: true,
      handleChineseChars: cfg.tokenize_chinese_chars ?? true,
      stripAccents: cfg.strip_accents ?? lowercase,
      lowercase,
    },
    unkToken: unk,
    clsToken: cls,
    sepToken: sep,
    padToken: pad,
    continuingSubwordPrefix: '##',
    maxInputCharsPerWord: 100,
    specialTokens: declared.filter((t) => vocab.has(t)),
    source: vocabPath,
  };
}

/** A tokenizer from an in-memory vocabulary list (id = index); for tests and tiny models. */
export function tokenizerFromVocab(
  tokens: readonly string[],
  normalization: Partial<BertNormalization> = {},
): WordPieceTokenizer {
  const vocab = new Map<string, number>();
  tokens.forEach((t, i) => vocab.set(t, i));
  const specialTokens = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'].filter((t) => vocab.has(t));
  return new WordPieceTokenizer({
    vocab,
    normalization: {
      cleanText: true,
      handleChineseChars: true,
      stripAccents: false,
      lowercase: false,
      ...normalization,
    },
    unkToken: '[UNK]',
    clsToken: '[CLS]',
    sepToken: '[SEP]',
    padToken: '[PAD]',
    continuingSubwordPrefix: '##',
    maxInputCharsPerWord: 100,
    specialTokens,
    source: 'tokenizerFromVocab',
  });
}
