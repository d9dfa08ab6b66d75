/**
 * Hugging Face BERT tensor names <-> ours, and building our encoder and heads from a checkpoint's tensors. Pure (no
 * Node imports): checkpoint.ts opens the files on disk, the browser tagger (src/web) the bytes it fetched.
 *
 * Names: HF's `[bert.]embeddings.word_embeddings.weight`, `[bert.]encoder.layer.{i}.attention.self.query.weight`,
 * ... map to ours (params.ts); the `bert.` prefix (BertFor* models) is optional, and the legacy `LayerNorm.gamma` /
 * `LayerNorm.beta` spellings of TF-converted checkpoints are accepted. PyTorch Linear weights are [out, in] and are
 * transposed to our [in, out] kernels on load (and back on save). Per-layer heads are `classifier.layer_{m}.weight`
 * ([labels, hidden]) and `.bias`, in `model.safetensors` (saveModel) or in the side file `msd_heads.safetensors` (an
 * export for transformers, src/model/export-hf.ts). A `BertForTokenClassification`'s own head, `classifier.weight`
 * / `.bias`, is returned as `classifier`; when the config's `msd_heads.classifier_layer` names a head of the side
 * file, that head takes the classifier's values (what transformers trained last wins).
 */
import { BertEncoder } from './bert.js';
import { parseBertConfig, type BertConfig } from './bert-config.js';
import { LayerHeads } from './heads.js';
import { encoderParamSpecs, sizeOf } from './params.js';
import type { SafetensorsFile } from './safetensors-format.js';

/** The side file of an export for transformers that holds every per-layer head. */
export const HEADS_FILE = 'msd_heads.safetensors';

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

/** The tensors of a checkpoint, possibly spread over shards (and the heads' side file). */
export interface CheckpointTensors {
  files: string[];
  names: string[];
  shape(name: string): number[];
  getFloat32(name: string): Float32Array;
}

/** One view over several parsed safetensors files (shards); a name in two files is an error naming both. */
export function checkpointTensors(parsed: readonly SafetensorsFile[]): CheckpointTensors {
  const where = new Map<string, SafetensorsFile>();
  for (const f of parsed) {
    for (const n of f.names) {
      const other = where.get(n);
      if (other) throw new Error(`tensor "${n}" is in both ${other.source} and ${f.source}`);
      where.set(n, f);
    }
  }
  const get = (name: string): SafetensorsFile => {
    const f = where.get(name);
    if (!f) throw new Error(`checkpoint has no tensor "${name}"`);
    return f;
  };
  return {
    files: parsed.map((f) => f.source),
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

/** A token-classification head as transformers stores it (`classifier.weight` [labels, hidden], `.bias`), in our layout. */
export interface HfClassifier {
  numLabels: number;
  /** [hidden, labels], row-major. */
  kernel: Float32Array;
  bias: Float32Array;
  /** Label names by id from the config's `id2label`, when it has one entry per output. */
  labels?: string[];
}

export interface BertWeights {
  config: BertConfig;
  encoder: BertEncoder;
  /** Per-layer heads if the checkpoint has `classifier.layer_{m}.*` tensors (a model saved by saveModel, or an export). */
  heads?: LayerHeads;
  /** The `classifier.*` head of a BertForTokenClassification checkpoint. */
  classifier?: HfClassifier;
  report: Omit<LoadReport, 'files'>;
}

export interface LoadedBert {
  dir: string;
  config: BertConfig;
  encoder: BertEncoder;
  /** Per-layer heads if the checkpoint has `classifier.layer_{m}.*` tensors (a model saved by saveModel, or an export). */
  heads?: LayerHeads;
  /** The `classifier.*` head of a BertForTokenClassification checkpoint. */
  classifier?: HfClassifier;
  report: LoadReport;
  /** Tokenizer files present in the directory. */
  tokenizer: { vocab?: string; tokenizerJson?: string; tokenizerConfig?: string; specialTokensMap?: string };
}

/** The per-layer heads (`classifier.layer_{m}.weight` [labels, hidden] and its bias), if the checkpoint has any. */
function readLayerHeads(
  config: BertConfig,
  ckpt: CheckpointTensors,
  byHf: Map<string, string>,
  read: (ours: string, shape: number[]) => Float32Array | undefined,
  where: string,
  seed: number | undefined,
): LayerHeads | undefined {
  const headLayers = [...byHf.keys()]
    .map((n) => /^classifier\.layer_(\d+)\.weight$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
  if (!headLayers.length) return undefined;
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
          `${where}: head tensor ${toHfName(name).hf} is missing while classifier.layer_${m}.weight exists`,
        );
      hw.set(name, data);
    }
  }
  const headsCfg = (config.raw.msd_heads ?? {}) as { dropout?: number };
  return new LayerHeads(
    {
      hiddenSize: config.hiddenSize,
      numLabels,
      numLayers: config.numLayers,
      layers: headLayers,
      dropout: headsCfg.dropout ?? config.hiddenDropout,
      seed,
    },
    hw,
  );
}

/**
 * Our encoder (and heads, and a transformers classifier) from a checkpoint's tensors; `where` names the checkpoint
 * in errors. Throws on missing encoder tensors unless `strict: false`.
 */
export function bertFromTensors(
  config: BertConfig,
  ckpt: CheckpointTensors,
  where: string,
  opts: LoadBertOptions = {},
): BertWeights {
  // An export of head m < L for transformers declares m layers; the layers above are in the side file.
  const depth = (config.raw.msd_heads as { num_hidden_layers?: unknown } | undefined)?.num_hidden_layers;
  if (typeof depth === 'number' && depth !== config.numLayers)
    config = parseBertConfig({ ...config.raw, num_hidden_layers: depth }, `${where} (msd_heads.num_hidden_layers)`);
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
        `${where}: tensor "${actual}" has shape [${fileShape}], expected [${expected}] for ${ours} (from its config.json)`,
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
      `${where}: checkpoint lacks ${missing.length} encoder tensor(s): ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', ...' : ''} (pass strict: false to initialise them randomly)`,
    );
  }

  let heads = readLayerHeads(config, ckpt, byHf, read, where, opts.seed);

  const classifier = readClassifier(config, ckpt, byHf, consumed, where);
  const overrideLayer = (config.raw.msd_heads as { classifier_layer?: unknown } | undefined)?.classifier_layer;
  const encoder = new BertEncoder(config, weights, opts.seed ?? 0);
  if (heads && classifier && typeof overrideLayer === 'number' && heads.layers.includes(overrideLayer)) {
    if (classifier.numLabels !== heads.numLabels) {
      encoder.dispose();
      heads.dispose();
      throw new Error(
        `${where}: classifier.weight has ${classifier.numLabels} labels but the per-layer heads ${heads.numLabels}`,
      );
    }
    const w = heads.getWeights();
    w.set(`classifier.layer_${overrideLayer}.kernel`, classifier.kernel);
    w.set(`classifier.layer_${overrideLayer}.bias`, classifier.bias);
    const { layers, numLabels, dropout } = heads;
    heads.dispose();
    heads = new LayerHeads(
      { hiddenSize: config.hiddenSize, numLabels, numLayers: config.numLayers, layers, dropout, seed: opts.seed },
      w,
    );
  }
  const unexpected: string[] = [];
  const unused: string[] = [];
  for (const n of ckpt.names) {
    if (consumed.has(n)) continue;
    (UNUSED.some((re) => re.test(canonicalHfName(n))) ? unused : unexpected).push(n);
  }
  return { config, encoder, heads, classifier, report: { missing, unexpected, unused } };
}

/** `classifier.weight` [labels, hidden] and `classifier.bias` of a BertForTokenClassification, if present. */
function readClassifier(
  config: BertConfig,
  ckpt: CheckpointTensors,
  byHf: ReadonlyMap<string, string>,
  consumed: Set<string>,
  where: string,
): HfClassifier | undefined {
  const w = byHf.get('classifier.weight');
  const b = byHf.get('classifier.bias');
  if (w === undefined && b === undefined) return undefined;
  if (w === undefined || b === undefined)
    throw new Error(`${where}: the checkpoint has ${w ? 'classifier.weight' : 'classifier.bias'} but not the other`);
  const shape = ckpt.shape(w);
  if (shape.length !== 2 || shape[1] !== config.hiddenSize)
    throw new Error(`${where}: classifier.weight has shape [${shape}], expected [labels, ${config.hiddenSize}]`);
  const numLabels = shape[0];
  if (ckpt.shape(b).join() !== String(numLabels))
    throw new Error(`${where}: classifier.bias has shape [${ckpt.shape(b)}], expected [${numLabels}]`);
  consumed.add(w);
  consumed.add(b);
  const id2label = config.raw.id2label as Record<string, unknown> | undefined;
  let labels: string[] | undefined;
  if (id2label && typeof id2label === 'object') {
    const l = Array.from({ length: numLabels }, (_, i) => id2label[String(i)]);
    if (l.every((x): x is string => typeof x === 'string')) labels = l;
  }
  return {
    numLabels,
    kernel: transpose2d(ckpt.getFloat32(w), numLabels, config.hiddenSize),
    bias: ckpt.getFloat32(b),
    labels,
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
