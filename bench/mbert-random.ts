/**
 * mBERT's architecture with random weights (its exact config and vocabulary, seed 1), written once into
 * `<workDir>/mbert-random`: the "pretrained" model of the mBERT-size speed rows (no weights can be downloaded here).
 * Returns the directory. `mbert` is the directory holding mBERT's config.json and vocab.txt.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeTinyCheckpoint } from '../src/model/tiny.js';

export function mbertRandom(workDir: string, mbert: string): string {
  const dir = join(workDir, 'mbert-random');
  if (!existsSync(join(dir, 'model.safetensors'))) {
    const mb = JSON.parse(readFileSync(join(mbert, 'config.json'), 'utf8')) as Record<string, number>;
    writeTinyCheckpoint(dir, {
      seed: 1,
      vocab: join(mbert, 'vocab.txt'),
      hiddenSize: mb.hidden_size,
      numLayers: mb.num_hidden_layers,
      numHeads: mb.num_attention_heads,
      intermediateSize: mb.intermediate_size,
    });
  }
  return dir;
}
