/**
 * The encoder's parameters by name and shape, derived from the config alone: used to create variables, to count
 * parameters without allocating them, to check checkpoint shapes, and to decide which parts are frozen.
 *
 * Our names mirror Hugging Face's, shortened, with dense weights stored as `kernel` in [in, out] layout (PyTorch
 * Linear stores `weight` as [out, in]); checkpoint.ts maps between the two. Layers are 0-based in names (as in HF:
 * `layer.0` is the first transformer layer) and 1-based everywhere else (hidden[m] is the output of layer m).
 */
import type { BertConfig } from './bert-config.js';

export interface ParamSpec {
  /** Our name, e.g. `layer.3.attention.query.kernel`. */
  name: string;
  shape: number[];
  /** How a fresh parameter is initialised (BERT: truncated normal for matrices, zeros for biases, ones for LN scale). */
  init: 'normal' | 'zeros' | 'ones';
  /** `embeddings`, a 1-based layer number, or `pooler`. */
  part: 'embeddings' | 'pooler' | number;
}

/** The parameters of one transformer layer (0-based index `i`, as in the names). */
function layerSpecs(cfg: BertConfig, i: number): ParamSpec[] {
  const H = cfg.hiddenSize;
  const I = cfg.intermediateSize;
  const p = `layer.${i}`;
  const part = i + 1;
  const dense = (name: string, inDim: number, outDim: number): ParamSpec[] => [
    { name: `${p}.${name}.kernel`, shape: [inDim, outDim], init: 'normal', part },
    { name: `${p}.${name}.bias`, shape: [outDim], init: 'zeros', part },
  ];
  const ln = (name: string): ParamSpec[] => [
    { name: `${p}.${name}.gamma`, shape: [H], init: 'ones', part },
    { name: `${p}.${name}.beta`, shape: [H], init: 'zeros', part },
  ];
  return [
    ...dense('attention.query', H, H),
    ...dense('attention.key', H, H),
    ...dense('attention.value', H, H),
    ...dense('attention.output', H, H),
    ...ln('attention.layer_norm'),
    ...dense('intermediate', H, I),
    ...dense('output', I, H),
    ...ln('output.layer_norm'),
  ];
}

/** Every encoder parameter in a fixed order: embeddings, then layers 0..L-1, then (optionally) the pooler. */
export function encoderParamSpecs(cfg: BertConfig, opts: { pooler?: boolean } = {}): ParamSpec[] {
  const H = cfg.hiddenSize;
  const specs: ParamSpec[] = [
    { name: 'embeddings.word_embeddings', shape: [cfg.vocabSize, H], init: 'normal', part: 'embeddings' },
    { name: 'embeddings.position_embeddings', shape: [cfg.maxPositions, H], init: 'normal', part: 'embeddings' },
    { name: 'embeddings.token_type_embeddings', shape: [cfg.typeVocabSize, H], init: 'normal', part: 'embeddings' },
    { name: 'embeddings.layer_norm.gamma', shape: [H], init: 'ones', part: 'embeddings' },
    { name: 'embeddings.layer_norm.beta', shape: [H], init: 'zeros', part: 'embeddings' },
  ];
  for (let i = 0; i < cfg.numLayers; i++) specs.push(...layerSpecs(cfg, i));
  if (opts.pooler) {
    specs.push({ name: 'pooler.kernel', shape: [H, H], init: 'normal', part: 'pooler' });
    specs.push({ name: 'pooler.bias', shape: [H], init: 'zeros', part: 'pooler' });
  }
  return specs;
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Number of parameters of the encoder for this config, from shapes only (nothing is allocated). */
export function countParameters(cfg: BertConfig, opts: { pooler?: boolean } = {}): number {
  return encoderParamSpecs(cfg, opts).reduce((n, s) => n + sizeOf(s.shape), 0);
}

export interface FreezeOptions {
  /** Freeze word, position and token-type embeddings and the embedding LayerNorm. */
  freezeEmbeddings?: boolean;
  /** Freeze transformer layers 1..k (k = 0: none). */
  freezeLayers?: number;
}

/** Whether a parameter part is frozen under `opts`. */
export function isFrozen(part: ParamSpec['part'], opts: FreezeOptions): boolean {
  if (part === 'embeddings') return opts.freezeEmbeddings === true;
  if (part === 'pooler') return true; // never used by the NER forward pass
  return part <= (opts.freezeLayers ?? 0);
}

/** Checks freeze options against the number of layers, with a clear error. */
export function validateFreeze(opts: FreezeOptions, numLayers: number): void {
  const k = opts.freezeLayers ?? 0;
  if (!Number.isInteger(k) || k < 0 || k > numLayers) {
    throw new Error(`freezeLayers must be an integer in [0, ${numLayers}], got ${k}`);
  }
}
