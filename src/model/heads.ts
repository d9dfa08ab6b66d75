/**
 * MSD's per-layer classifiers (Ma et al. 2022, section 3.1): a linear softmax classifier with dropout on the
 * hidden states of each layer m in a range, with separate weights per layer,
 *
 *   p_m = softmax(Dropout(h_m) W_m + b_m),
 *
 * by default layers 4..12 (layer 12 is the main head used for prediction, 4..11 are the auxiliary "short
 * channels"); `layers: 'all'` puts one on every layer 1..L. This module returns logits; the softmax belongs to the
 * losses and the decoder.
 */
import { tf } from '../tf.js';
import type { Tensor3D, Variable } from '../tf.js';
import type { NamedVariable } from './bert.js';
import { PAPER } from '../config.js';
import { truncatedNormal } from './random.js';
import { deriveSeed } from '../rng.js';
import { dropout } from './dropout.js';

export interface LayerHeadsOptions {
  hiddenSize: number;
  numLabels: number;
  /** Number of encoder layers L (the main head sits on layer L). */
  numLayers: number;
  /** Which layers get a head: 'default' = 4..L (MSD's setting), 'all' = 1..L, or an explicit list of 1-based layers. */
  layers?: 'default' | 'all' | number[];
  /** Dropout before each classifier (BERT's hidden_dropout_prob, 0.1). */
  dropout?: number;
  /** Seed for the initial weights (normal 0.02, zero bias, as HF's token classification head). */
  seed?: number;
  initializerRange?: number;
}

export interface HeadLogitsOptions {
  training: boolean;
  dropoutSeed?: number;
}

/** The first layer with a head by default: MSD attaches heads to layers 4..12 of mBERT (its home: src/config.ts). */
export const DEFAULT_FIRST_HEAD_LAYER = PAPER.model.headLayers[0];

let instances = 0;

export function resolveHeadLayers(layers: LayerHeadsOptions['layers'], numLayers: number): number[] {
  if (layers === undefined || layers === 'default') {
    const first = Math.min(DEFAULT_FIRST_HEAD_LAYER, numLayers);
    return Array.from({ length: numLayers - first + 1 }, (_, i) => first + i);
  }
  if (layers === 'all') return Array.from({ length: numLayers }, (_, i) => i + 1);
  const sorted = [...new Set(layers)].sort((a, b) => a - b);
  if (sorted.length === 0) throw new Error('LayerHeads: layers must not be empty');
  for (const m of sorted) {
    if (!Number.isInteger(m) || m < 1 || m > numLayers) {
      throw new Error(`LayerHeads: layer ${m} is out of range; heads sit on layers 1..${numLayers}`);
    }
  }
  return sorted;
}

export class LayerHeads {
  readonly layers: number[];
  readonly numLabels: number;
  readonly hiddenSize: number;
  readonly dropout: number;
  private readonly kernels = new Map<number, Variable>();
  private readonly biases = new Map<number, Variable>();
  private disposed = false;

  /**
   * `weights` (optional) holds `classifier.layer_{m}.kernel` ([hidden, labels]) and `.bias` in our layout for
   * heads loaded from a checkpoint; the rest are initialised from `seed`.
   */
  constructor(opts: LayerHeadsOptions, weights: ReadonlyMap<string, Float32Array> = new Map()) {
    const { hiddenSize: H, numLabels: C } = opts;
    if (!Number.isInteger(C) || C < 1) throw new Error(`LayerHeads: numLabels must be a positive integer, got ${C}`);
    this.layers = resolveHeadLayers(opts.layers, opts.numLayers);
    this.numLabels = C;
    this.hiddenSize = H;
    this.dropout = opts.dropout ?? 0.1;
    const prefix = `heads${instances++}`;
    for (const m of this.layers) {
      const kName = headParamName(m, 'kernel');
      const bName = headParamName(m, 'bias');
      const k =
        weights.get(kName) ?? truncatedNormal(H * C, opts.initializerRange ?? 0.02, deriveSeed(opts.seed ?? 0, kName));
      const b = weights.get(bName) ?? new Float32Array(C);
      if (k.length !== H * C || b.length !== C) {
        throw new Error(
          `LayerHeads: ${kName} must have ${H}x${C} values and ${bName} ${C}, got ${k.length} and ${b.length}`,
        );
      }
      const [k0, b0] = [tf.tensor2d(k, [H, C]), tf.tensor1d(b)];
      this.kernels.set(m, tf.variable(k0, true, `${prefix}/${kName}`));
      this.biases.set(m, tf.variable(b0, true, `${prefix}/${bName}`));
      tf.dispose([k0, b0]); // the variables hold their own references
    }
  }

  /** The main head's layer (the last one), used for prediction. */
  get mainLayer(): number {
    return this.layers[this.layers.length - 1];
  }

  /**
   * Logits [batch, seqLen, numLabels] of every head, keyed by layer m, from the encoder's `hidden` (hidden[m] is
   * layer m's output). Dropout only when training.
   */
  logits(hidden: readonly Tensor3D[], opts: HeadLogitsOptions): Map<number, Tensor3D> {
    if (this.disposed) throw new Error('LayerHeads was disposed');
    const out = new Map<number, Tensor3D>();
    for (const m of this.layers) {
      const h = hidden[m];
      if (!h) throw new Error(`LayerHeads: no hidden state for layer ${m} (got ${hidden.length - 1} layers)`);
      const [b, t, H] = h.shape;
      if (H !== this.hiddenSize)
        throw new Error(`LayerHeads: hidden size ${H} does not match the heads' ${this.hiddenSize}`);
      out.set(
        m,
        tf.tidy(() => {
          // Dropout before the reshape: a reshape on the tape keeps its input for the backward pass, and the
          // dropout's output, which the product keeps anyway, costs nothing more; h would be a [b, t, H] copy.
          const dropped =
            opts.training && this.dropout > 0
              ? dropout(
                  h,
                  this.dropout,
                  opts.dropoutSeed === undefined ? undefined : deriveSeed(opts.dropoutSeed, `head${m}`),
                )
              : h;
          const x = tf.reshape(dropped, [b * t, H]) as tf.Tensor2D;
          const y = tf.add(tf.matMul(x, this.kernels.get(m)! as tf.Tensor2D), this.biases.get(m)!);
          return tf.reshape(y, [b, t, this.numLabels]) as Tensor3D;
        }),
      );
    }
    return out;
  }

  /** All head parameters, `classifier.layer_{m}.kernel` / `.bias`, in layer order. */
  variables(): NamedVariable[] {
    return this.layers.flatMap((m) => [
      { name: headParamName(m, 'kernel'), variable: this.kernels.get(m)! },
      { name: headParamName(m, 'bias'), variable: this.biases.get(m)! },
    ]);
  }

  getWeights(): Map<string, Float32Array> {
    return new Map(this.variables().map(({ name, variable }) => [name, variable.dataSync() as Float32Array]));
  }

  dispose(): void {
    if (this.disposed) return;
    for (const v of [...this.kernels.values(), ...this.biases.values()]) v.dispose();
    this.disposed = true;
  }
}

/** Our name for a head parameter; checkpoints store `classifier.layer_{m}.weight` ([labels, hidden]) and `.bias`. */
export function headParamName(layer: number, kind: 'kernel' | 'bias'): string {
  return `classifier.layer_${layer}.${kind}`;
}
