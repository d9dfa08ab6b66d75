/**
 * A tiny random BERT checkpoint for tests and demos, written exactly as a Hugging Face directory (config.json,
 * model.safetensors with `bert.`-prefixed names in PyTorch layout plus a pooler, vocab.txt, tokenizer_config.json),
 * so loading it exercises the real checkpoint path. Deterministic from the seed: the weights equal
 * `BertEncoder.random(config, seed)`.
 *
 * With `vocab` the path of a real vocab.txt (e.g. mBERT's), the tiny model tokenises real text; tokenizer.json,
 * tokenizer_config.json and special_tokens_map.json next to it are copied too.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../run/io.js';
import { toHfTensors } from './checkpoint.js';
import { bertConfig, toHfConfig, type BertConfig } from './config.js';
import { encoderParamSpecs, sizeOf } from './params.js';
import { truncatedNormal } from './random.js';
import { deriveSeed } from '../rng.js';
import { serializeSafetensors } from './safetensors.js';

export interface TinyCheckpointOptions {
  seed?: number;
  hiddenSize?: number;
  numLayers?: number;
  numHeads?: number;
  intermediateSize?: number;
  maxPositions?: number;
  /** hidden_dropout_prob and attention_probs_dropout_prob written to config.json (default 0.1, as BERT). */
  dropout?: number;
  /** Token list, or the path of a vocab.txt (one token a line). Default: a small character-level vocabulary. */
  vocab?: readonly string[] | string;
}

/** Specials first (as BERT), then characters and their `##` continuations, enough for WordPiece on Latin text. */
export function defaultTinyVocab(): string[] {
  const chars = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:!?\'"()-áéíóúñüàèçöäß'];
  return ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...chars, ...chars.map((c) => `##${c}`)];
}

/** Writes the checkpoint into `dir` (created if needed) and returns its config. */
export function writeTinyCheckpoint(dir: string, opts: TinyCheckpointOptions = {}): BertConfig {
  const seed = opts.seed ?? 0;
  mkdirSync(dir, { recursive: true });
  let vocabSize: number;
  if (typeof opts.vocab === 'string') {
    const text = readFileSync(opts.vocab, 'utf8');
    vocabSize = text.split('\n').filter((l, i, all) => l.length > 0 || i < all.length - 1).length;
    copyFileSync(opts.vocab, join(dir, 'vocab.txt'));
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) {
      const src = join(dirname(opts.vocab), f);
      if (existsSync(src)) copyFileSync(src, join(dir, f));
    }
  } else {
    const vocab = opts.vocab ?? defaultTinyVocab();
    vocabSize = vocab.length;
    writeFileAtomic(join(dir, 'vocab.txt'), `${vocab.join('\n')}\n`);
  }
  const config = bertConfig({
    vocabSize,
    hiddenSize: opts.hiddenSize ?? 32,
    numLayers: opts.numLayers ?? 4,
    numHeads: opts.numHeads ?? 4,
    intermediateSize: opts.intermediateSize ?? 64,
    maxPositions: opts.maxPositions ?? 512,
    hiddenDropout: opts.dropout ?? 0.1,
    attentionDropout: opts.dropout ?? 0.1,
  });
  if (!existsSync(join(dir, 'tokenizer_config.json'))) {
    writeJsonAtomic(join(dir, 'tokenizer_config.json'), {
      tokenizer_class: 'BertTokenizer',
      do_lower_case: false,
      model_max_length: config.maxPositions,
    });
  }
  const weights = new Map<string, Float32Array>();
  const shapes = new Map<string, number[]>();
  for (const spec of encoderParamSpecs(config, { pooler: true })) {
    const n = sizeOf(spec.shape);
    const data =
      spec.init === 'zeros'
        ? new Float32Array(n)
        : spec.init === 'ones'
          ? new Float32Array(n).fill(1)
          : truncatedNormal(n, config.initializerRange, deriveSeed(seed, spec.name));
    weights.set(spec.name, data);
    shapes.set(spec.name, spec.shape);
  }
  writeFileAtomic(join(dir, 'model.safetensors'), serializeSafetensors(toHfTensors(weights, shapes), { format: 'pt' }));
  writeJsonAtomic(join(dir, 'config.json'), { ...toHfConfig(config), architectures: ['BertModel'] });
  return config;
}
