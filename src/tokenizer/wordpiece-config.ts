/**
 * A WordPiece tokenizer's settings from the contents of Hugging Face's tokenizer files (already read and parsed):
 * `tokenizer.json`, or `vocab.txt` with `tokenizer_config.json`. Pure (no Node imports), so the browser tagger
 * (src/web) builds the same tokenizer as load.ts, which reads the files.
 */
import type { BertNormalization } from './normalize.js';
import { WordPieceTokenizer, type WordPieceConfig } from './wordpiece.js';

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

/**
 * The config of a parsed `tokenizer.json` with a BertNormalizer, BertPreTokenizer and WordPiece model; `path` names
 * the file in errors.
 */
export function wordPieceConfigFromTokenizerJson(json: unknown, path: string): WordPieceConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new Error(`${path}: expected a JSON object`);
  const raw = json as TokenizerJson;
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
 * The config from the text of `vocab.txt` (one token per line, id = line number) and the parsed
 * `tokenizer_config.json` (undefined when there is none), with the defaults of
 * Python's BertTokenizer when a field (or the whole file) is missing: `do_lower_case` true, `strip_accents` as
 * lowercase, `tokenize_chinese_chars` true.
 */
export function wordPieceConfigFromVocab(
  vocabText: string,
  tokenizerConfig: unknown,
  vocabPath: string,
  cfgPath: string,
): WordPieceConfig {
  const lines = vocabText.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const vocab = new Map<string, number>();
  lines.forEach((line, i) => vocab.set(line.replace(/\r$/, '').trimEnd(), i)); // a repeated token keeps its last id, as in HF
  if (tokenizerConfig !== undefined && (typeof tokenizerConfig !== 'object' || tokenizerConfig === null))
    throw new Error(`${cfgPath}: expected a JSON object`);
  const cfg = (tokenizerConfig ?? {}) as TokenizerConfigJson;
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
