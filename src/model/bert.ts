/**
 * The BERT encoder (Devlin et al. 2019) in TensorFlow.js, returning the hidden states of every layer so that
 * MSD's per-layer classifiers can read layer m and the [CLS] vector of any layer.
 *
 *   h0 = Dropout(LN(E_word[ids] + E_pos[0..t) + E_type[types]))
 *   for each layer:
 *     A   = softmax(Q K^T / sqrt(d_head) + maskBias) V          (per head; maskBias = -1e4 at padding keys)
 *     h'  = LN(h + Dropout(A W_o + b_o))
 *     h   = LN(h' + Dropout(GELU(h' W_i + b_i) W_o2 + b_o2))   GELU(x) = x/2 (1 + erf(x / sqrt 2)), exact
 *
 * Layout choices, for speed on the wasm backend where a 2-D matmul with a transposed operand is ~10x slower than
 * a plain one (bench: 475 vs 47 ms for [1024,768]@[768,768]): dense kernels are stored [in, out] so every
 * projection is a plain `[rows, in] @ [in, out]`. For the batched Q K^T the two ways measure the same (wasm's
 * batched matmul is slow either way: 96 ms with transposeB vs 114 ms for an explicit K^T + plain matmul at
 * 8x12 heads x 128 tokens), so forward() uses `matMul(q, k, false, true)`; bench/ compares the other way through
 * `withKeyTranspose('explicit', ...)`, which is not part of the public forward options.
 *
 * Training memory (tfjs keeps every op's inputs for the backward pass): GELU has a custom gradient that keeps
 * only its input, dropout keeps only its mask (src/model/dropout.ts), and with `frozen` the frozen prefix
 * (embeddings + layers 1..k) runs off the tape entirely. See bench/model.bench.ts for what fits in the wasm heap.
 *
 * The mask bias is -1e4 (as the original BERT): exp(-1e4) is exactly 0 in float32, so padded keys get zero
 * attention weight and padding does not change the outputs at real positions, while avoiding the -inf/NaN that
 * a dtype-min bias gives when added to a negative score. That is also what lets the layers skip padding: every op
 * but the attention products is row-wise, so they run on the real tokens' rows, [rows, H], and only Q, K, V and
 * the attention context change layout (src/model/packing.ts; 9% fewer dense FLOPs in the speed bench's teacher).
 */
import { tf } from '../tf.js';
import type { Tensor2D, Tensor3D, Variable } from '../tf.js';
import type { BertConfig } from './bert-config.js';
import { encoderParamSpecs, isFrozen, validateFreeze, type FreezeOptions, type ParamSpec, sizeOf } from './params.js';
import { truncatedNormal } from './random.js';
import { deriveSeed } from '../rng.js';
import { siteDropout } from './dropout.js';
import { attentionSoftmax, dense, gelu, layerNorm } from './bert-ops.js';
import { packingOf, type Packing } from './packing.js';

export { gelu, layerNorm } from './bert-ops.js';

/** Model input: int32 tensors of shape [batch, seqLen], as the tokenizer's batching produces them. */
export interface BertInput {
  inputIds: Tensor2D;
  /** 1 at real tokens, 0 at padding. */
  attentionMask: Tensor2D;
  /** Segment ids; zeros when absent. */
  tokenTypeIds?: Tensor2D;
}

export interface ForwardOptions {
  /** Dropout on (training) or off (evaluation). */
  training: boolean;
  /** Seed for the dropout masks: the same seed gives the same masks. Unseeded when absent. */
  dropoutSeed?: number;
  /**
   * The parts the caller does not train (the same options as `trainableVariables`). When the embeddings are
   * frozen, the embeddings and frozen layers 1..k run off the gradient tape: the outputs are identical, but none
   * of their activations are kept for a backward pass that would not use them (4 of mBERT's 13 blocks with the
   * paper's freezing). Gradients for those parts are then unavailable.
   */
  frozen?: FreezeOptions;
  /**
   * The frozen prefix's states (`hidden[0..k]`, the embeddings and frozen layers 1..k) from an earlier forward of the
   * same batch with the same `training`, `dropoutSeed` and `frozen`: the forward continues from them instead of
   * recomputing them. The values are the ones it would compute (that prefix runs off the tape, with the same
   * dropout masks); the student's micro-batches reuse them from the pass that computes the whole batch's [CLS] rows
   * (src/train/student-micro-batches.ts). The caller keeps ownership: `hidden` holds clones.
   */
  frozenPrefix?: Tensor3D[];
  /**
   * The positions (batch item, position) of the last layer's output that the caller reads, when that is not all of
   * them: a teacher step reads the labelled positions (its heads' cross-entropy), a student pass the target's first
   * sub-tokens (KD) and the [CLS] rows (MMD). The last layer then computes the other positions no further than its
   * keys and values: the queries, the attention output, the feed-forward block and the LayerNorms run on the read
   * rows alone (`Packing.narrow`), and `hidden[numLayers]` is zero at the other positions. Every read value is the one
   * the whole layer computes (float rounding of the products aside). Not applied where the hidden dropout is on in
   * training (its masks are drawn by position in the tensor, so a narrowed site would draw other masks), nor where
   * the layout is padded (webgl, webgpu).
   */
  lastLayerReads?: (item: number, position: number) => boolean;
}

export interface BertOutput {
  /**
   * hidden[0] = embedding output, hidden[m] = output of layer m (1..numLayers); each [batch, seqLen, hidden]. The
   * layers run on the real tokens only (src/model/packing.ts): their outputs are zeros at padded positions (on the
   * GPU backends, which keep the padded layout, values that no loss reads).
   */
  hidden: Tensor3D[];
}

export interface NamedVariable {
  name: string;
  variable: Variable;
}

/** The mask bias added to attention scores at padded keys (see the file comment). */
export const MASK_BIAS = -1e4;

let instances = 0;

/** How Q K^T is computed (see the file comment): 'fused' everywhere but in the bench's comparison. */
let keyTranspose: 'explicit' | 'fused' = 'fused';

/** Runs `fn` with Q K^T computed as `mode` (bench/ and the equality test only; not exported by the package). */
export function withKeyTranspose<T>(mode: 'explicit' | 'fused', fn: () => T): T {
  const before = keyTranspose;
  keyTranspose = mode;
  try {
    return fn();
  } finally {
    keyTranspose = before;
  }
}

/** Whether forward() honours `lastLayerReads` (see there): tests compare the two; `useLastLayerNarrowing`. */
let narrowing = true;

/**
 * Has forward() honour `ForwardOptions.lastLayerReads` or run every last layer whole, from now on; returns the setting
 * before (tests compare whole runs both ways; not exported by the package).
 */
export function useLastLayerNarrowing(on: boolean): boolean {
  const before = narrowing;
  narrowing = on;
  return before;
}

/** The building blocks forward() hands to each layer (they close over the weights, options and dropout seed). */
interface LayerOps {
  w(name: string): Variable;
  /** Dropout at the site `site` (its mask seed is derived from the name, see siteDropout). */
  dropout(x: tf.Tensor, rate: number, site: string): tf.Tensor;
  /** LayerNorm of x + residual (x alone without one). */
  layerNorm(x: tf.Tensor, prefix: string, residual?: tf.Tensor): tf.Tensor;
  dense(x: tf.Tensor, prefix: string): tf.Tensor2D;
}

export class BertEncoder {
  readonly config: BertConfig;
  private readonly vars = new Map<string, Variable>();
  private readonly specs: ParamSpec[];
  private disposed = false;

  /**
   * Builds an encoder from weights in our layout (see params.ts), or fresh BERT-style random weights from `seed`
   * for any parameter not given. Prefer `BertEncoder.random` and `loadBert` (checkpoint.ts).
   */
  constructor(config: BertConfig, weights: ReadonlyMap<string, Float32Array> = new Map(), seed = 0) {
    this.config = config;
    this.specs = encoderParamSpecs(config);
    // tfjs variable names are global: a per-instance prefix lets several encoders (teacher, student) coexist.
    const prefix = `bert${instances++}`;
    for (const spec of this.specs) {
      let data = weights.get(spec.name);
      if (data !== undefined && data.length !== sizeOf(spec.shape)) {
        throw new Error(
          `weight ${spec.name}: expected ${sizeOf(spec.shape)} values for shape [${spec.shape}], got ${data.length}`,
        );
      }
      data ??= initialValues(spec, config.initializerRange, seed);
      // tf.variable shares the initial tensor's data and takes its own reference: dispose the initial tensor, or
      // its reference would keep the weights alive after dispose().
      const initial = tf.tensor(data, spec.shape, 'float32');
      this.vars.set(spec.name, tf.variable(initial, true, `${prefix}/${spec.name}`));
      initial.dispose();
    }
  }

  /** A freshly initialised encoder (truncated normal 0.02, zero biases, unit LayerNorm), deterministic from `seed`. */
  static random(config: BertConfig, seed = 0): BertEncoder {
    return new BertEncoder(config, new Map(), seed);
  }

  /** All parameters in a fixed order (embeddings, layer 0, layer 1, ...), with our names. */
  variables(): NamedVariable[] {
    this.checkAlive();
    return this.specs.map((s) => ({ name: s.name, variable: this.vars.get(s.name)! }));
  }

  /**
   * The parameters to train: all except the frozen parts. Frozen parameters get no gradient and no optimizer
   * state because the optimizer only ever sees this list.
   */
  trainableVariables(freeze: FreezeOptions = {}): NamedVariable[] {
    validateFreeze(freeze, this.config.numLayers);
    return this.specs
      .filter((s) => !isFrozen(s.part, freeze))
      .map((s) => ({ name: s.name, variable: this.vars.get(s.name)! }));
  }

  variable(name: string): Variable {
    this.checkAlive();
    const v = this.vars.get(name);
    if (!v) throw new Error(`BertEncoder has no parameter "${name}"`);
    return v;
  }

  /** A copy of every weight in our layout (reads the values back from the backend). */
  getWeights(): Map<string, Float32Array> {
    return new Map(this.variables().map(({ name, variable }) => [name, variable.dataSync() as Float32Array]));
  }

  /** Number of parameters (without the pooler, which this encoder does not have). */
  numParameters(): number {
    return this.specs.reduce((n, s) => n + sizeOf(s.shape), 0);
  }

  forward(batch: BertInput, opts: ForwardOptions): BertOutput {
    this.checkAlive();
    const cfg = this.config;
    const { inputIds, attentionMask } = batch;
    if (inputIds.rank !== 2 || inputIds.dtype !== 'int32') {
      throw new Error(
        `forward: inputIds must be an int32 [batch, seqLen] tensor, got ${inputIds.dtype} [${inputIds.shape}]`,
      );
    }
    for (const [name, t] of [
      ['attentionMask', attentionMask],
      ['tokenTypeIds', batch.tokenTypeIds],
    ] as const) {
      if (t && (t.dtype !== 'int32' || t.shape.join() !== inputIds.shape.join())) {
        throw new Error(
          `forward: ${name} must be int32 [${inputIds.shape}] like inputIds, got ${t.dtype} [${t.shape}]`,
        );
      }
    }
    const [b, t] = inputIds.shape;
    if (t > cfg.maxPositions)
      throw new Error(`forward: sequence length ${t} exceeds max_position_embeddings ${cfg.maxPositions}`);
    const H = cfg.hiddenSize;
    // Leading blocks (embeddings = block 0, layer m = block m) that need no gradient: only a frozen prefix.
    if (opts.frozen) validateFreeze(opts.frozen, cfg.numLayers);
    const untapedBlocks = opts.frozen?.freezeEmbeddings ? 1 + (opts.frozen.freezeLayers ?? 0) : 0;
    const ops: LayerOps = {
      w: (name) => this.vars.get(name)!,
      // Each dropout site's mask seed comes from its name, not from the order the sites run in.
      dropout: siteDropout(opts.training, opts.dropoutSeed),
      layerNorm: (x, prefix, residual) =>
        layerNorm(x, ops.w(`${prefix}.gamma`), ops.w(`${prefix}.beta`), cfg.layerNormEps, residual),
      // [rows, in] @ [in, out] + bias: a plain matmul, no transposed operand; the bias fused into it (on the blas
      // backend the product is added to the bias rows, src/backend/blas-kernels.ts), and only the gradients
      // backprop needs computed (bert-ops.ts).
      dense: (x, prefix) =>
        dense(x as tf.Tensor2D, ops.w(`${prefix}.kernel`) as tf.Tensor2D, ops.w(`${prefix}.bias`) as tf.Tensor1D),
    };

    return tf.tidy(() => {
      const embed = () => {
        const word = tf.gather(ops.w('embeddings.word_embeddings'), inputIds);
        const pos = tf.slice(ops.w('embeddings.position_embeddings'), [0, 0], [t, H]);
        const types = batch.tokenTypeIds
          ? tf.gather(ops.w('embeddings.token_type_embeddings'), batch.tokenTypeIds)
          : tf.slice(ops.w('embeddings.token_type_embeddings'), [0, 0], [1, H]);
        const e = ops.layerNorm(tf.add(tf.add(word, pos), types), 'embeddings.layer_norm');
        return ops.dropout(e, cfg.hiddenDropout, 'embeddings');
      };
      const prefix = opts.frozenPrefix ? checkedPrefix(opts.frozenPrefix, untapedBlocks, [b, t, H]) : undefined;
      const hidden: Tensor3D[] = prefix ?? [(untapedBlocks > 0 ? offTape(embed, [inputIds]) : embed()) as Tensor3D];
      // The layers run on the real tokens' rows only (see `Packing`); `h` is [rows, H].
      const packing = packingOf(attentionMask, cfg.hiddenSize);
      let h = packing.fromHeads(hidden[hidden.length - 1]!, 1);
      // Per attention segment (packing.ts), [b_s, t_s] -> [b_s, 1, 1, t_s]: the same bias for every head and query.
      const maskBias = packing.segments.map((s) => {
        const mask =
          packing.segments.length === 1 ? attentionMask : tf.slice(attentionMask, [s.firstRow, 0], [s.batch, s.seqLen]);
        return tf.reshape(tf.mul(tf.sub(1, tf.cast(mask, 'float32')), MASK_BIAS), [s.batch, 1, 1, s.seqLen]);
      });
      for (let i = hidden.length - 1; i < cfg.numLayers; i++) {
        // One tidy per layer frees its intermediates as soon as the layer is done (in training the tape keeps
        // its own references to what the backward pass needs), so evaluation holds one layer's activations.
        const hIn = h;
        // Not where dropout is on in the layer's hidden sites: their masks are drawn by position in the tensor.
        const narrowable = narrowing && i === cfg.numLayers - 1 && (!opts.training || cfg.hiddenDropout === 0);
        const only = narrowable ? narrowedRows(packing, opts.lastLayerReads) : undefined;
        const run = () => this.layer(i, hIn, maskBias, packing, ops, only);
        h = (i + 1 < untapedBlocks ? offTape(run, [hIn, ...maskBias]) : tf.tidy(run)) as tf.Tensor2D;
        hidden.push((only?.packing ?? packing).toHeads(h, 1));
      }
      return { hidden };
    });
  }

  /**
   * Transformer layer i (0-based) on h [rows, H], the rows of `packing`; the attention runs per segment of rows
   * (packing.ts), `maskBias` holding each segment's. With `only` (`ForwardOptions.lastLayerReads`), the keys and values
   * come from every row and the rest of the layer runs on the kept rows, whose [rows', H] it returns.
   */
  private layer(
    i: number,
    h: tf.Tensor2D,
    maskBias: tf.Tensor[],
    packing: Packing,
    ops: LayerOps,
    only?: NarrowedRows,
  ): tf.Tensor2D {
    const cfg = this.config;
    const nh = cfg.numHeads;
    const dh = cfg.hiddenSize / nh;
    const p = `layer.${i}`;
    // The rows the queries and everything after the attention run on, and their layout.
    const hq = only ? (tf.gather(h, tf.tensor1d(only.rowIndex, 'int32')) as tf.Tensor2D) : h;
    const queries = only?.packing ?? packing;
    // [rows, H] -> [b_s*nh, t_s, dh] per segment, zeros at padding (packing.ts).
    const q = queries.toSegments(ops.dense(hq, `${p}.attention.query`), nh);
    const v = packing.toSegments(ops.dense(h, `${p}.attention.value`), nh);
    const k = packing.toSegments(ops.dense(h, `${p}.attention.key`), nh);
    const ctx = queries.fromSegments(
      q.map((qs, s) => {
        // K^T explicitly (a transpose, then a plain matmul) only in the bench's comparison.
        const scores =
          keyTranspose === 'explicit'
            ? tf.matMul(qs, tf.transpose(k[s]!, [0, 2, 1]))
            : tf.matMul(qs, k[s]!, false, true);
        const weights = attentionSoftmax(scores as tf.Tensor3D, maskBias[s]!, 1 / Math.sqrt(dh));
        // One dropout site per segment; the first keeps the name a batch of one segment has.
        const site = s === 0 ? `${p}.attention.probs` : `${p}.attention.probs.segment${s}`;
        const probs = ops.dropout(weights, cfg.attentionDropout, site) as tf.Tensor3D;
        return tf.matMul(probs, v[s]!) as tf.Tensor3D;
      }),
      nh,
    );
    const attn = ops.layerNorm(
      ops.dropout(ops.dense(ctx, `${p}.attention.output`), cfg.hiddenDropout, `${p}.attention.output`),
      `${p}.attention.layer_norm`,
      hq,
    );
    const inter = gelu(ops.dense(attn, `${p}.intermediate`));
    return ops.layerNorm(
      ops.dropout(ops.dense(inter, `${p}.output`), cfg.hiddenDropout, `${p}.output`),
      `${p}.output.layer_norm`,
      attn,
    ) as tf.Tensor2D;
  }

  /** Frees every variable; the encoder cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
    this.disposed = true;
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error('BertEncoder was disposed');
  }
}

/**
 * Runs `fn` off the gradient tape: tfjs does not record the ops inside a custom-gradient forward function, so
 * nothing is kept for backward. The declared gradient is zero for every input; it is never used, because the
 * inputs passed are never on a path from a trained variable (token ids or the frozen prefix's states), so
 * backprop prunes the node.
 */
/** Clones of a `frozenPrefix` after checking it has the frozen prefix's length and every state the batch's shape. */
function checkedPrefix(prefix: Tensor3D[], blocks: number, shape: number[]): Tensor3D[] {
  if (blocks === 0) throw new Error('forward: frozenPrefix needs frozen embeddings (frozen.freezeEmbeddings)');
  if (prefix.length !== blocks) {
    throw new Error(
      `forward: frozenPrefix has ${prefix.length} states; expected ${blocks} (the frozen prefix's blocks)`,
    );
  }
  prefix.forEach((x, m) => {
    if (x.shape.join() !== shape.join())
      throw new Error(`forward: frozenPrefix[${m}] is [${x.shape}]; expected [${shape}] like the batch`);
  });
  return prefix.map((x) => tf.clone(x));
}

/** The last layer's read rows (`ForwardOptions.lastLayerReads`, see there): undefined when it keeps every row. */
interface NarrowedRows {
  packing: Packing;
  rowIndex: number[];
}

function narrowedRows(packing: Packing, reads: ForwardOptions['lastLayerReads']): NarrowedRows | undefined {
  if (reads === undefined) return undefined;
  const narrowed = packing.narrow(reads);
  // A batch that reads no position (no labelled token) runs the whole layer: a layer of no rows is not worth a case.
  const n = narrowed?.rowIndex.length ?? 0;
  return n > 0 && n < packing.rows ? narrowed : undefined;
}

function offTape(fn: () => tf.Tensor, inputs: tf.Tensor[]): tf.Tensor {
  const f = tf.customGrad((...args: (tf.Tensor | ((saved: tf.Tensor[]) => void))[]) => ({
    value: fn(),
    gradFunc: () => args.slice(0, inputs.length).map((x) => tf.zerosLike(x as tf.Tensor)),
  }));
  return f(...inputs);
}

function initialValues(spec: ParamSpec, std: number, seed: number): Float32Array {
  const n = sizeOf(spec.shape);
  if (spec.init === 'zeros') return new Float32Array(n);
  if (spec.init === 'ones') return new Float32Array(n).fill(1);
  return truncatedNormal(n, std, deriveSeed(seed, spec.name));
}
