/**
 * Saving a trained model (encoder + per-layer heads) as a Hugging Face-style directory that `loadBert` and
 * `fromPretrained` read back bit-exactly:
 *
 *   model.safetensors     `bert.`-prefixed HF names in HF layout, plus `classifier.layer_{m}.weight/bias`
 *   config.json           the HF config, plus `msd_heads` { layers, num_labels, dropout } and id2label/label2id
 *   training_config.json  the resolved training config (when given)
 *   tokenizer files       copied from `tokenizerFrom` (when given), so the directory is self-contained
 *
 * Every file is written atomically (temp file + rename); the weights go last but one, config.json last, so a
 * directory with a config.json has complete weights.
 */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic, writeFileAtomic } from '../run/io.js';
import type { BertEncoder } from './bert.js';
import { toHfConfig } from './config.js';
import { toHfTensors } from './checkpoint.js';
import type { LayerHeads } from './heads.js';
import { serializeSafetensors } from './safetensors.js';

export const TOKENIZER_FILES = [
  'vocab.txt',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
] as const;

export interface SaveModelOptions {
  /** The resolved training configuration, written as training_config.json. */
  trainingConfig?: unknown;
  /** Tag names by label id (written as id2label / label2id). */
  labels?: readonly string[];
  /** A directory whose tokenizer files (vocab.txt, tokenizer.json, ...) are copied alongside. */
  tokenizerFrom?: string;
}

export function saveModel(dir: string, encoder: BertEncoder, heads?: LayerHeads, opts: SaveModelOptions = {}): void {
  mkdirSync(dir, { recursive: true });
  const shapes = new Map<string, number[]>();
  const weights = new Map<string, Float32Array>();
  for (const { name, variable } of [...encoder.variables(), ...(heads?.variables() ?? [])]) {
    shapes.set(name, variable.shape);
    weights.set(name, variable.dataSync() as Float32Array);
  }
  if (opts.labels && heads && opts.labels.length !== heads.numLabels) {
    throw new Error(`saveModel: ${opts.labels.length} labels given for heads with ${heads.numLabels} outputs`);
  }
  if (opts.tokenizerFrom) {
    for (const f of TOKENIZER_FILES) {
      const src = join(opts.tokenizerFrom, f);
      if (existsSync(src) && src !== join(dir, f)) copyFileSync(src, join(dir, f));
    }
  }
  if (opts.trainingConfig !== undefined) writeJsonAtomic(join(dir, 'training_config.json'), opts.trainingConfig);
  writeFileAtomic(join(dir, 'model.safetensors'), serializeSafetensors(toHfTensors(weights, shapes), { format: 'pt' }));
  const config: Record<string, unknown> = { ...toHfConfig(encoder.config) };
  if (heads) {
    config.msd_heads = { layers: heads.layers, num_labels: heads.numLabels, dropout: heads.dropout };
    if (opts.labels) {
      config.id2label = Object.fromEntries(opts.labels.map((l, i) => [String(i), l]));
      config.label2id = Object.fromEntries(opts.labels.map((l, i) => [l, i]));
    }
  }
  writeJsonAtomic(join(dir, 'config.json'), config);
}
