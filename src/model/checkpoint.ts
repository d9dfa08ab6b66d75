/**
 * Hugging Face BERT checkpoints on disk: `model.safetensors` (or its shards) plus, in an export for transformers,
 * the per-layer heads' side file `msd_heads.safetensors`. The names and the building of the encoder and heads are
 * hf-tensors.ts (re-exported here).
 *
 * Loading reports missing tensors (an error unless `strict: false`), unexpected ones (names we do not know), and
 * unused ones (known parts of HF models the NER encoder does not need: pooler, MLM head `cls.*`, `position_ids`).
 * `pytorch_model.bin` is never read: unpickling executes code from the file.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { readBertConfig } from './config.js';
import {
  bertFromTensors,
  checkpointTensors,
  HEADS_FILE,
  type CheckpointTensors,
  type LoadBertOptions,
  type LoadedBert,
} from './hf-tensors.js';
import { readSafetensors, type SafetensorsFile } from './safetensors.js';

export * from './hf-tensors.js';

/** The safetensors weight files of a HF model directory (with the heads' side file when present), or a clear error. */
export function openCheckpointTensors(dir: string): CheckpointTensors {
  const single = join(dir, 'model.safetensors');
  const index = join(dir, 'model.safetensors.index.json');
  const parsed: SafetensorsFile[] = [];
  if (existsSync(single)) {
    parsed.push(readSafetensors(single));
  } else if (existsSync(index)) {
    let map: Record<string, unknown>;
    try {
      map = (JSON.parse(readFileSync(index, 'utf8')) as { weight_map?: Record<string, unknown> }).weight_map ?? {};
    } catch (err) {
      throw new Error(`${index}: not valid JSON: ${(err as Error).message}`);
    }
    if (typeof map !== 'object' || map === null) throw new Error(`${index}: "weight_map" must be an object`);
    const shards = new Map<string, SafetensorsFile>();
    for (const [name, file] of Object.entries(map)) {
      if (typeof file !== 'string' || basename(file) !== file || file === '..' || !file.endsWith('.safetensors')) {
        throw new Error(
          `${index}: tensor "${name}" maps to ${JSON.stringify(file)}; expected a .safetensors file name in the same directory`,
        );
      }
      let shard = shards.get(file);
      if (!shard) {
        shard = readSafetensors(join(dir, file));
        shards.set(file, shard);
        parsed.push(shard);
      }
      if (!shard.has(name))
        throw new Error(`${index}: tensor "${name}" is listed in ${file} but that shard does not contain it`);
    }
  } else {
    const bin = join(dir, 'pytorch_model.bin');
    if (existsSync(bin)) {
      throw new Error(
        `${dir} has only pytorch_model.bin. PyTorch pickles can execute arbitrary code when loaded, so this library ` +
          `does not read them. Convert it once to safetensors, e.g.\n  python3 -c "import torch; from safetensors.torch import save_file; ` +
          `sd = torch.load('${bin}', map_location='cpu', weights_only=True); ` +
          `save_file({k: v.contiguous().clone() for k, v in sd.items()}, '${single}')"\n` +
          `or fetch the model from the Hub with fromPretrained('<model id>'), which downloads model.safetensors.`,
      );
    }
    throw new Error(`${dir}: no model.safetensors or model.safetensors.index.json found`);
  }
  const heads = join(dir, HEADS_FILE);
  if (existsSync(heads)) parsed.push(readSafetensors(heads));
  try {
    return checkpointTensors(parsed);
  } catch (err) {
    throw new Error(`${dir}: ${(err as Error).message}`);
  }
}

/** Loads config, encoder weights and (if present) per-layer heads and a transformers classifier from a HF-style directory. */
export function loadBert(dir: string, opts: LoadBertOptions = {}): LoadedBert {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${dir}: not a directory`);
  const config = readBertConfig(join(dir, 'config.json'));
  const ckpt = openCheckpointTensors(dir);
  const built = bertFromTensors(config, ckpt, dir, opts);
  const file = (name: string) => (existsSync(join(dir, name)) ? join(dir, name) : undefined);
  return {
    dir,
    ...built,
    report: { ...built.report, files: ckpt.files },
    tokenizer: {
      vocab: file('vocab.txt'),
      tokenizerJson: file('tokenizer.json'),
      tokenizerConfig: file('tokenizer_config.json'),
      specialTokensMap: file('special_tokens_map.json'),
    },
  };
}
