/**
 * Hugging Face BERT checkpoints <-> our encoder and heads.
 *
 * Names: HF's `[bert.]embeddings.word_embeddings.weight`, `[bert.]encoder.layer.{i}.attention.self.query.weight`,
 * ... map to ours (params.ts); the `bert.` prefix (BertFor* models) is optional, and the legacy `LayerNorm.gamma` /
 * `LayerNorm.beta` spellings of TF-converted checkpoints are accepted. PyTorch Linear weights are [out, in] and are
 * transposed to our [in, out] kernels on load (and back on save). Per-layer heads are `classifier.layer_{m}.weight`
 * ([labels, hidden]) and `.bias`.
 *
 * Loading reports missing tensors (an error unless `strict: false`), unexpected ones (names we do not know), and
 * unused ones (known parts of HF models the NER encoder does not need: pooler, MLM head `cls.*`, `position_ids`).
 * `pytorch_model.bin` is never read: unpickling executes code from the file.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { BertEncoder } from './bert.js';
import { readBertConfig, type BertConfig } from './config.js';
import { LayerHeads } from './heads.js';
import { encoderParamSpecs, sizeOf } from './params.js';
import { readSafetensors, type SafetensorsFile } from './safetensors.js';

const DENSE_HF: Record<string, string> = {
  'attention.query': 'attention.self.query',
  'attention.key': 'attention.self.key',
  'attention.value': 'attention.self.value',
  'attention.output': 'attention.output.dense',
  intermediate: 'intermediate.dense',
  output: 'output.dense',
};
const LN_HF: Record<string, string> = {
  'attention.layer_norm': 'attention.output.LayerNorm',
  'output.layer_norm': 'output.LayerNorm',
};

/** The HF name (without `bert.` prefix) of one of our parameters, and whether its data is transposed between the two. */
export function toHfName(ours: string): { hf: string; transpose: boolean } {
  let m = /^embeddings\.(word|position|token_type)_embeddings$/.exec(ours);
  if (m) return { hf: `${ours}.weight`, transpose: false };
  m = /^embeddings\.layer_norm\.(gamma|beta)$/.exec(ours);
  if (m) return { hf: `embeddings.LayerNorm.${m[1] === 'gamma' ? 'weight' : 'bias'}`, transpose: false };
  m = /^layer\.(\d+)\.(.+)\.(kernel|bias)$/.exec(ours);
  if (m && DENSE_HF[m[2]])
    return {
      hf: `encoder.layer.${m[1]}.${DENSE_HF[m[2]]}.${m[3] === 'kernel' ? 'weight' : 'bias'}`,
      transpose: m[3] === 'kernel',
    };
  m = /^layer\.(\d+)\.(.+)\.(gamma|beta)$/.exec(ours);
  if (m && LN_HF[m[2]])
    return { hf: `encoder.layer.${m[1]}.${LN_HF[m[2]]}.${m[3] === 'gamma' ? 'weight' : 'bias'}`, transpose: false };
  m = /^pooler\.(kernel|bias)$/.exec(ours);
  if (m) return { hf: `pooler.dense.${m[1] === 'kernel' ? 'weight' : 'bias'}`, transpose: m[1] === 'kernel' };
  m = /^classifier\.layer_(\d+)\.(kernel|bias)$/.exec(ours);
  if (m)
    return { hf: `classifier.layer_${m[1]}.${m[2] === 'kernel' ? 'weight' : 'bias'}`, transpose: m[2] === 'kernel' };
  throw new Error(`no Hugging Face name for parameter "${ours}"`);
}

/** A checkpoint name in canonical form: no `bert.` prefix, `LayerNorm.gamma/beta` -> `.weight/.bias`. */
export function canonicalHfName(name: string): string {
  return name
    .replace(/^bert\./, '')
    .replace(/LayerNorm\.gamma$/, 'LayerNorm.weight')
    .replace(/LayerNorm\.beta$/, 'LayerNorm.bias');
}

/** Parts of HF BERT models that exist in checkpoints but that the NER encoder does not use. */
const UNUSED = [/^pooler\./, /^cls\./, /^embeddings\.position_ids$/];

/** [rows, cols] row-major -> [cols, rows]. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[base + c];
  }
  return out;
}

/** The tensors of a checkpoint directory, possibly spread over shards. */
export interface CheckpointTensors {
  files: string[];
  names: string[];
  shape(name: string): number[];
  getFloat32(name: string): Float32Array;
}

/** The safetensors weight files of a HF model directory, or a clear error. */
export function openCheckpointTensors(dir: string): CheckpointTensors {
  const single = join(dir, 'model.safetensors');
  const index = join(dir, 'model.safetensors.index.json');
  const where = new Map<string, SafetensorsFile>();
  const files: string[] = [];
  if (existsSync(single)) {
    const f = readSafetensors(single);
    files.push(single);
    for (const n of f.names) where.set(n, f);
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
        files.push(join(dir, file));
      }
      if (!shard.has(name))
        throw new Error(`${index}: tensor "${name}" is listed in ${file} but that shard does not contain it`);
      where.set(name, shard);
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
  const get = (name: string): SafetensorsFile => {
    const f = where.get(name);
    if (!f) throw new Error(`${dir}: checkpoint has no tensor "${name}"`);
    return f;
  };
  return {
    files,
    names: [...where.keys()],
    shape: (name) => get(name).info(name).shape,
    getFloat32: (name) => get(name).getFloat32(name),
  };
}

export interface LoadReport {
  /** Our parameters that the checkpoint lacks (freshly initialised when `strict: false`). */
  missing: string[];
  /** Checkpoint tensors we do not recognise. */
  unexpected: string[];
  /** Known HF tensors the NER encoder does not use (pooler, MLM head, position_ids). */
  unused: string[];
  /** Weight files read. */
  files: string[];
}

export interface LoadBertOptions {
  /** Throw when encoder parameters are missing (default true). */
  strict?: boolean;
  /** Seed for parameters that are missing (strict: false) or heads that are not in the checkpoint. */
  seed?: number;
}

export interface LoadedBert {
  dir: string;
  config: BertConfig;
  encoder: BertEncoder;
  /** Per-layer heads if the checkpoint has `classifier.layer_{m}.*` tensors (a model saved by saveModel). */
  heads?: LayerHeads;
  report: LoadReport;
  /** Tokenizer files present in the directory. */
  tokenizer: { vocab?: string; tokenizerJson?: string; tokenizerConfig?: string; specialTokensMap?: string };
}

/** Loads config, encoder weights and (if present) per-layer heads from a HF-style directory. */
export function loadBert(dir: string, opts: LoadBertOptions = {}): LoadedBert {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new Error(`${dir}: not a directory`);
  const config = readBertConfig(join(dir, 'config.json'));
  const ckpt = openCheckpointTensors(dir);
  const byHf = new Map<string, string>(); // canonical checkpoint name -> actual name
  for (const n of ckpt.names) byHf.set(canonicalHfName(n), n);
  const consumed = new Set<string>();

  const read = (ours: string, shape: number[]): Float32Array | undefined => {
    const { hf, transpose } = toHfName(ours);
    const actual = byHf.get(hf);
    if (actual === undefined) return undefined;
    consumed.add(actual);
    const fileShape = ckpt.shape(actual);
    const expected = transpose ? [shape[1], shape[0]] : shape;
    if (fileShape.join() !== expected.join()) {
      throw new Error(
        `${dir}: tensor "${actual}" has shape [${fileShape}], expected [${expected}] for ${ours} (config.json: ${join(dir, 'config.json')})`,
      );
    }
    const data = ckpt.getFloat32(actual);
    return transpose ? transpose2d(data, expected[0], expected[1]) : data;
  };

  const weights = new Map<string, Float32Array>();
  const missing: string[] = [];
  for (const spec of encoderParamSpecs(config)) {
    const data = read(spec.name, spec.shape);
    if (data) weights.set(spec.name, data);
    else missing.push(toHfName(spec.name).hf);
  }
  if (missing.length && opts.strict !== false) {
    throw new Error(
      `${dir}: checkpoint lacks ${missing.length} encoder tensor(s): ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', ...' : ''} (pass strict: false to initialise them randomly)`,
    );
  }

  // Per-layer heads: classifier.layer_{m}.weight [labels, hidden].
  const headLayers = [...byHf.keys()]
    .map((n) => /^classifier\.layer_(\d+)\.weight$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  let heads: LayerHeads | undefined;
  if (headLayers.length) {
    const numLabels = ckpt.shape(byHf.get(`classifier.layer_${headLayers[0]}.weight`)!)[0];
    const hw = new Map<string, Float32Array>();
    for (const m of headLayers) {
      for (const [kind, shape] of [
        ['kernel', [config.hiddenSize, numLabels]],
        ['bias', [numLabels]],
      ] as const) {
        const name = `classifier.layer_${m}.${kind}`;
        const data = read(name, [...shape]);
        if (!data)
          throw new Error(
            `${dir}: head tensor ${toHfName(name).hf} is missing while classifier.layer_${m}.weight exists`,
          );
        hw.set(name, data);
      }
    }
    const headsCfg = (config.raw.msd_heads ?? {}) as { dropout?: number };
    heads = new LayerHeads(
      {
        hiddenSize: config.hiddenSize,
        numLabels,
        numLayers: config.numLayers,
        layers: headLayers,
        dropout: headsCfg.dropout ?? config.hiddenDropout,
        seed: opts.seed,
      },
      hw,
    );
  }

  const unexpected: string[] = [];
  const unused: string[] = [];
  for (const n of ckpt.names) {
    if (consumed.has(n)) continue;
    (UNUSED.some((re) => re.test(canonicalHfName(n))) ? unused : unexpected).push(n);
  }
  const encoder = new BertEncoder(config, weights, opts.seed ?? 0);
  const file = (name: string) => (existsSync(join(dir, name)) ? join(dir, name) : undefined);
  return {
    dir,
    config,
    encoder,
    heads,
    report: { missing, unexpected, unused, files: ckpt.files },
    tokenizer: {
      vocab: file('vocab.txt'),
      tokenizerJson: file('tokenizer.json'),
      tokenizerConfig: file('tokenizer_config.json'),
      specialTokensMap: file('special_tokens_map.json'),
    },
  };
}

/** Our weights -> HF-named tensors in HF layout (kernels transposed back to [out, in]), with the `bert.` prefix on encoder tensors. */
export function toHfTensors(
  weights: ReadonlyMap<string, Float32Array>,
  shapes: ReadonlyMap<string, number[]>,
  opts: { prefix?: string } = {},
): [string, { shape: number[]; data: Float32Array }][] {
  const prefix = opts.prefix ?? 'bert.';
  const out: [string, { shape: number[]; data: Float32Array }][] = [];
  for (const [name, data] of weights) {
    const shape = shapes.get(name);
    if (!shape || sizeOf(shape) !== data.length)
      throw new Error(`toHfTensors: no shape (or a wrong one) for "${name}"`);
    const { hf, transpose } = toHfName(name);
    const full = name.startsWith('classifier.') ? hf : `${prefix}${hf}`;
    out.push(
      transpose
        ? [full, { shape: [shape[1], shape[0]], data: transpose2d(data, shape[0], shape[1]) }]
        : [full, { shape, data }],
    );
  }
  return out;
}
