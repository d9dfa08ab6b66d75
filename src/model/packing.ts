/**
 * Padding removal for the encoder ("packing"): every op of a BERT layer but the attention products is row-wise (the
 * dense projections, GELU, LayerNorm, dropout), so the layers run them on the real tokens' rows only, [rows, H], and
 * only the attention sees the padded [batch, seqLen] layout:
 *
 *   toHeads:   [rows, heads*dh] -> [batch*heads, seqLen, dh]   Q, K, V (zeros at padded positions)
 *   fromHeads: [batch*heads, seqLen, dh] -> [rows, heads*dh]   the attention's context (padded positions dropped)
 *
 * With one head these are the unpacking of a layer's output to the [batch, seqLen, H] hidden state the heads read
 * (zeros at padding) and the packing of the frozen prefix's last state. The speed bench's teacher batches are 9%
 * padding, which the dense layers no longer compute.
 *
 * The real tokens' values are the padded computation's: padded keys get exactly zero attention weight (the -1e4 mask
 * bias, see bert.ts), padded queries only feed rows that `fromHeads` drops, and everything else is row-wise. Only the
 * float rounding of sums over rows (the weight gradients) may differ, as for any change of batch shape; the padded
 * positions of the hidden states are zeros instead of values no loss reads. The gradients are exact too: each
 * layout change's gradient is the other one, and the gradient that reaches padded positions is exactly zero.
 *
 * Where: on wasm the two are one-pass kernels (src/backend/head-layout-kernels.ts), which also replace the head
 * transposes of batches without padding. The cpu backend and tfjs-node compose them from gather, concat and
 * transpose. The GPU backends (webgl, webgpu) keep the padded layout: packing reads the mask back to the host, which
 * would stall the device. `withPacking(false, fn)` keeps it too, to compare.
 */
import { tf } from '../tf.js';
import type { Tensor2D, Tensor3D } from '../tf.js';
import { HEADS_TO_ROWS, headsToRowsOp, rowsToHeadsOp } from '../backend/head-layout-kernels.js';
import { hasKernel } from '../backend/simd-kernels.js';

export interface Packing {
  /** The rows the layers run on: the real tokens, or batch*seqLen when nothing is packed. */
  readonly rows: number;
  /** [rows, heads*dh] -> [batch*heads, seqLen, dh], zeros at padded positions. */
  toHeads(x: Tensor2D, heads: number): Tensor3D;
  /** [batch*heads, seqLen, dh] -> [rows, heads*dh]. */
  fromHeads(x: Tensor3D, heads: number): Tensor2D;
}

/** Backends that keep the padded layout: reading the mask back would stall the device. */
const PADDED_BACKENDS = new Set(['webgl', 'webgpu']);

let enabled = true;

/**
 * Runs `fn` with packing on or off (tests and bench/ compare the two layouts; not exported by the package). Off, the
 * layers run on the padded [batch*seqLen, H] layout with the head transposes as tfjs ops, as before packing existed.
 */
export function withPacking<T>(on: boolean, fn: () => T): T {
  const before = enabled;
  enabled = on;
  try {
    return fn();
  } finally {
    enabled = before;
  }
}

/** The packing of a batch, from its [batch, seqLen] attention mask (1 at real tokens). */
export function packingOf(attentionMask: Tensor2D): Packing {
  const [batch, seqLen] = attentionMask.shape;
  if (!enabled || PADDED_BACKENDS.has(tf.getBackend())) return padded(batch, seqLen);
  const mask = attentionMask.dataSync();
  const real: number[] = [];
  for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) real.push(i);
  if (hasKernel(HEADS_TO_ROWS)) return kernelPacking(batch, seqLen, real);
  if (real.length === batch * seqLen) return padded(batch, seqLen);
  return composedPacking(batch, seqLen, real);
}

/** The padded layout: rows = batch*seqLen, the head split as reshape + transpose. */
function padded(batch: number, seqLen: number): Packing {
  return {
    rows: batch * seqLen,
    toHeads: (x, heads) => {
      const dh = x.shape[1] / heads;
      const split = tf.reshape(x, [batch, seqLen, heads, dh]);
      const perm = heads === 1 ? split : tf.transpose(split, [0, 2, 1, 3]);
      return tf.reshape(perm, [batch * heads, seqLen, dh]) as Tensor3D;
    },
    fromHeads: (x, heads) => {
      const dh = x.shape[2];
      const split = tf.reshape(x, [batch, heads, seqLen, dh]);
      const perm = heads === 1 ? split : tf.transpose(split, [0, 2, 1, 3]);
      return tf.reshape(perm, [batch * seqLen, heads * dh]) as Tensor2D;
    },
  };
}

/** The wasm kernels, whose `rowIndex` lists the real positions (all of them for a batch without padding). */
function kernelPacking(batch: number, seqLen: number, real: number[]): Packing {
  const rowIndex = tf.tensor1d(real, 'int32');
  const attrs = (heads: number) => ({ batch, seqLen, heads });
  return {
    rows: real.length,
    toHeads: (x, heads) =>
      checkRows(x, real.length, 'toHeads') && (rowsToHeadsOp(x, rowIndex, attrs(heads)) as Tensor3D),
    fromHeads: (x, heads) => headsToRowsOp(x, rowIndex, attrs(heads)) as Tensor2D,
  };
}

/** Gathers around the padded layout's transposes (cpu, tfjs-node); each gather's gradient is the other. */
function composedPacking(batch: number, seqLen: number, real: number[]): Packing {
  const rows = real.length;
  const slots = batch * seqLen;
  // unpack gathers row `rows`, a zero row appended, at every padded position.
  const toPadded = new Int32Array(slots).fill(rows);
  real.forEach((r, i) => (toPadded[r] = i));
  const realIdx = tf.tensor1d(real, 'int32');
  const paddedIdx = tf.tensor1d(toPadded, 'int32');
  const gatherRows = (x: tf.Tensor, idx: tf.Tensor) => tf.gather(x, idx) as Tensor2D;
  const gatherPadded = (x: tf.Tensor, idx: tf.Tensor) =>
    tf.tidy(() => tf.gather(tf.concat([x, tf.zeros([1, x.shape[1]!])]), idx)) as Tensor2D;
  type Arg = tf.Tensor | ((s: tf.Tensor[]) => void);
  // Each saves the index tensor its gradient needs (the tape keeps it until the backward pass has used it).
  const pack = tf.customGrad((x: Arg, save: Arg) => {
    (save as (s: tf.Tensor[]) => void)([paddedIdx]);
    return {
      value: gatherRows(x as tf.Tensor, realIdx),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => gatherPadded(dy as tf.Tensor, saved[0]!),
    };
  });
  const unpack = tf.customGrad((x: Arg, save: Arg) => {
    (save as (s: tf.Tensor[]) => void)([realIdx]);
    return {
      value: gatherPadded(x as tf.Tensor, paddedIdx),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => gatherRows(dy as tf.Tensor, saved[0]!),
    };
  });
  const layout = padded(batch, seqLen);
  return {
    rows,
    toHeads: (x, heads) => checkRows(x, rows, 'toHeads') && layout.toHeads(unpack(x) as Tensor2D, heads),
    fromHeads: (x, heads) => pack(layout.fromHeads(x, heads)) as Tensor2D,
  };
}

function checkRows(x: Tensor2D, rows: number, what: string): true {
  if (x.shape[0] !== rows) throw new Error(`packing: ${what} expects [${rows}, heads*dh], got [${x.shape}]`);
  return true;
}
