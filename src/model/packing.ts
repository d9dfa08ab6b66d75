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
 * Segments: the attention's work grows with seqLen^2 for every row, so rows much shorter than the batch's longest
 * pay for padding there (a student pass that runs a few short target rows with long source rows as one batch,
 * src/train/student-pass.ts, did 1.66-1.99 times the attention work of the two sides apart). The attention therefore
 * runs on segments, consecutive rows at their own padded length:
 *
 *   toSegments:   [rows, heads*dh] -> [batch_s*heads, seqLen_s, dh] per segment s
 *   fromSegments: the inverse
 *
 * `attentionSegments` cuts the rows where that saves at least SEGMENT_MIN_SAVING of the work (sum of batch_s *
 * seqLen_s^2) and at least SEGMENT_MIN_MACS multiply-adds of one attention product (the saved work times the
 * attention's width, heads * dh), recursively; a batch of similar lengths (the bucketed batches) stays one segment,
 * the batch's own layout, so nothing changes for it. The second bound is for small models: a segment adds about a
 * dozen ops per layer (products, softmax, their gradients), whose fixed cost outweighs the work they save at the
 * tiny preset's width of 64 (its teacher step ran 17% slower with every 25% cut made: README, "Segments"). The
 * values are those of the padded attention (a row attends to its own keys only, padded keys weigh exactly zero);
 * only the attention dropout's sites are per segment (bert.ts).
 *
 * Where: on wasm the layout changes are one-pass kernels (src/backend/head-layout-kernels.ts), which also replace
 * the head transposes of batches without padding. The cpu backend and tfjs-node compose them from slice, gather,
 * concat and transpose. The GPU backends (webgl, webgpu) keep the padded layout and one segment: packing reads the
 * mask back to the host, which would stall the device. `withPacking(false, fn)` keeps it too, to compare, and
 * `withSegments(false, fn)` keeps one segment (`withSegments({ minMacs: 0 }, fn)` drops the second bound, for tests).
 */
import { tf } from '../tf.js';
import type { Tensor2D, Tensor3D } from '../tf.js';
import {
  HEADS_TO_ROWS,
  headsToRowsOp,
  rowsToHeadsOp,
  rowsToSegmentsOp,
  segmentsToRowsOp,
  type SegmentLayoutAttrs,
} from '../backend/head-layout-kernels.js';
import { hasKernel } from '../backend/simd-kernels.js';

/** Consecutive rows of a batch whose attention runs at its own padded length (see "Segments"). */
export interface Segment {
  /** The batch row it starts at, and how many rows it holds. */
  firstRow: number;
  batch: number;
  /** Its padded length: the batch's for a batch of one segment, else its rows' longest. */
  seqLen: number;
}

export interface Packing {
  /** The rows the layers run on: the real tokens, or batch*seqLen when nothing is packed. */
  readonly rows: number;
  /** [rows, heads*dh] -> [batch*heads, seqLen, dh], zeros at padded positions. */
  toHeads(x: Tensor2D, heads: number): Tensor3D;
  /** [batch*heads, seqLen, dh] -> [rows, heads*dh]. */
  fromHeads(x: Tensor3D, heads: number): Tensor2D;
  /** The attention's segments, in row order (one: the whole batch). */
  readonly segments: readonly Segment[];
  /** [rows, heads*dh] -> [segment.batch*heads, segment.seqLen, dh] per segment, zeros at padded positions. */
  toSegments(x: Tensor2D, heads: number): Tensor3D[];
  /** The inverse of toSegments. */
  fromSegments(xs: Tensor3D[], heads: number): Tensor2D;
  /**
   * The same batch and segments with only the real positions `keep` accepts (item, position), or undefined where the
   * layout is padded (nothing can be left out there). `rowIndex` lists the kept rows among this packing's rows, in
   * order. For a layer whose outputs are read at a few positions only (bert.ts, `ForwardOptions.lastLayerReads`).
   */
  narrow(keep: (item: number, position: number) => boolean): { packing: Packing; rowIndex: number[] } | undefined;
}

/** A cut into segments must save at least this share of the attention's work (see "Segments"). */
export const SEGMENT_MIN_SAVING = 0.25;

/**
 * ... and at least this many multiply-adds of one attention product (2^24; a training step runs six such products,
 * which save about 2.5 ms per cut and layer at the per-head products' ~80 GFLOP/s, against a segment's dozen more
 * ops per layer). A cut thus needs 21,846 saved rows x length^2 at mBERT's width of 768 (the student's passes of a
 * few short target rows with long source rows) and 262,144 at the tiny preset's 64, which its batches seldom reach.
 */
export const SEGMENT_MIN_MACS = 1 << 24;

/**
 * The segments of a batch whose rows hold `lengths` positions up to their last real token, for an attention `width`
 * wide (heads * dh; see "Segments"): the rows [from, to) are cut at the row that makes sum(batch_s * seqLen_s^2)
 * least, if that saves at least SEGMENT_MIN_SAVING of their work and SEGMENT_MIN_MACS multiply-adds (the saved work
 * times `width`), and each part is cut again the same way. One segment keeps `seqLen`.
 */
export function attentionSegments(lengths: readonly number[], seqLen: number, width: number): Segment[] {
  const minMacs = segmentMinMacs;
  const longest = (from: number, to: number) => {
    let m = 1;
    for (let r = from; r < to; r++) m = Math.max(m, lengths[r]!);
    return m;
  };
  const cost = (from: number, to: number) => (to - from) * longest(from, to) ** 2;
  const cut = (from: number, to: number): Segment[] => {
    let best = -1;
    const whole = cost(from, to);
    let bestCost = Math.min((1 - SEGMENT_MIN_SAVING) * whole, whole - minMacs! / width);
    for (let k = from + 1; k < to; k++) {
      const c = cost(from, k) + cost(k, to);
      if (c <= bestCost) [best, bestCost] = [k, c];
    }
    if (best < 0) return [{ firstRow: from, batch: to - from, seqLen: longest(from, to) }];
    return [...cut(from, best), ...cut(best, to)];
  };
  const segments = minMacs !== undefined && lengths.length > 1 ? cut(0, lengths.length) : [];
  return segments.length > 1 ? segments : [{ firstRow: 0, batch: lengths.length, seqLen }];
}

/** Backends that keep the padded layout: reading the mask back would stall the device. */
const PADDED_BACKENDS = new Set(['webgl', 'webgpu']);

let enabled = true;
/** The saved multiply-adds a cut needs (SEGMENT_MIN_MACS; `withSegments`), or undefined: no segments. */
let segmentMinMacs: number | undefined = SEGMENT_MIN_MACS;

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

/**
 * Runs `fn` with the attention cut into segments or not, or with cuts worth `minMacs` saved multiply-adds (tests and
 * bench/ compare them; `{ minMacs: 0 }` makes every cut of SEGMENT_MIN_SAVING, as small test models need; not
 * exported by the package).
 */
export function withSegments<T>(on: boolean | { minMacs: number }, fn: () => T): T {
  const before = segmentMinMacs;
  segmentMinMacs = on === false ? undefined : on === true ? SEGMENT_MIN_MACS : on.minMacs;
  try {
    return fn();
  } finally {
    segmentMinMacs = before;
  }
}

/**
 * The packing of a batch, from its [batch, seqLen] attention mask (1 at real tokens); `attentionWidth` (heads * dh)
 * sizes the attention's segments (see "Segments"; without it, one segment).
 */
export function packingOf(attentionMask: Tensor2D, attentionWidth?: number): Packing {
  const [batch, seqLen] = attentionMask.shape;
  if (!enabled || PADDED_BACKENDS.has(tf.getBackend())) return padded(batch, seqLen);
  const mask = attentionMask.dataSync();
  const real: number[] = [];
  const lengths = new Array<number>(batch).fill(0);
  for (let i = 0; i < mask.length; i++)
    if (mask[i] !== 0) {
      real.push(i);
      const r = (i / seqLen) | 0;
      lengths[r] = i - r * seqLen + 1;
    }
  const segments =
    attentionWidth === undefined
      ? [{ firstRow: 0, batch, seqLen }]
      : attentionSegments(lengths, seqLen, attentionWidth);
  if (hasKernel(HEADS_TO_ROWS)) return kernelPacking(batch, seqLen, real, segments);
  if (real.length === batch * seqLen)
    return {
      ...padded(batch, seqLen),
      narrow: narrowed(seqLen, real, (k) => composedPacking(batch, seqLen, k, segments)),
    };
  return composedPacking(batch, seqLen, real, segments);
}

/** The rows of each segment and each real position in its segment's own layout (positions from `real`). */
function segmentRows(seqLen: number, real: readonly number[], segments: readonly Segment[]) {
  return segments.map((s) => {
    const local: number[] = [];
    for (const p of real) {
      const r = (p / seqLen) | 0;
      if (r >= s.firstRow && r < s.firstRow + s.batch) local.push((r - s.firstRow) * s.seqLen + (p - r * seqLen));
    }
    return local;
  });
}

/** The padded layout: rows = batch*seqLen, the head split as reshape + transpose. */
function padded(batch: number, seqLen: number): Packing {
  const toHeads = (x: Tensor2D, heads: number) => {
    const dh = x.shape[1] / heads;
    const split = tf.reshape(x, [batch, seqLen, heads, dh]);
    const perm = heads === 1 ? split : tf.transpose(split, [0, 2, 1, 3]);
    return tf.reshape(perm, [batch * heads, seqLen, dh]) as Tensor3D;
  };
  const fromHeads = (x: Tensor3D, heads: number) => {
    const dh = x.shape[2];
    const split = tf.reshape(x, [batch, heads, seqLen, dh]);
    const perm = heads === 1 ? split : tf.transpose(split, [0, 2, 1, 3]);
    return tf.reshape(perm, [batch * seqLen, heads * dh]) as Tensor2D;
  };
  return {
    rows: batch * seqLen,
    toHeads,
    fromHeads,
    segments: [{ firstRow: 0, batch, seqLen }],
    toSegments: (x, heads) => [toHeads(x, heads)],
    fromSegments: (xs, heads) => fromHeads(one(xs), heads),
    narrow: () => undefined,
  };
}

/** `Packing.narrow` for a packing of `real` positions (batch*seqLen numbering) made by `make`. */
function narrowed(seqLen: number, real: readonly number[], make: (kept: number[]) => Packing): Packing['narrow'] {
  return (keep) => {
    const kept: number[] = [];
    const rowIndex: number[] = [];
    real.forEach((p, row) => {
      const item = (p / seqLen) | 0;
      if (keep(item, p - item * seqLen)) {
        kept.push(p);
        rowIndex.push(row);
      }
    });
    return { packing: make(kept), rowIndex };
  };
}

/** The one tensor of a list for a packing of one segment. */
function one(xs: Tensor3D[]): Tensor3D {
  if (xs.length !== 1) throw new Error(`packing: fromSegments expects 1 tensor (one segment), got ${xs.length}`);
  return xs[0]!;
}

/** The wasm kernels, whose `rowIndex` lists the real positions (all of them for a batch without padding). */
function kernelPacking(batch: number, seqLen: number, real: number[], segments: readonly Segment[]): Packing {
  const rowIndex = tf.tensor1d(real, 'int32');
  const attrs = (heads: number) => ({ batch, seqLen, heads });
  const toHeads = (x: Tensor2D, heads: number) =>
    checkRows(x, real.length, 'toHeads') && (rowsToHeadsOp(x, rowIndex, attrs(heads)) as Tensor3D);
  const fromHeads = (x: Tensor3D, heads: number) => headsToRowsOp(x, rowIndex, attrs(heads)) as Tensor2D;
  const narrow = narrowed(seqLen, real, (kept) => kernelPacking(batch, seqLen, kept, segments));
  const base = { rows: real.length, toHeads, fromHeads, segments, narrow };
  if (segments.length === 1)
    return {
      ...base,
      toSegments: (x, heads) => [toHeads(x, heads)],
      fromSegments: (xs, heads) => fromHeads(one(xs), heads),
    };
  const local = segmentRows(seqLen, real, segments);
  const segmentIndex = tf.tensor1d(local.flat(), 'int32');
  const segmentAttrs = (heads: number): SegmentLayoutAttrs => ({
    heads,
    batches: segments.map((s) => s.batch),
    seqLens: segments.map((s) => s.seqLen),
    rowCounts: local.map((l) => l.length),
  });
  return {
    ...base,
    toSegments: (x, heads) =>
      checkRows(x, real.length, 'toSegments') && (rowsToSegmentsOp(x, segmentIndex, segmentAttrs(heads)) as Tensor3D[]),
    fromSegments: (xs, heads) => segmentsToRowsOp(xs, segmentIndex, segmentAttrs(heads)) as Tensor2D,
  };
}

/**
 * Gathers around the padded layout's transposes (cpu, tfjs-node); each gather's gradient is the other. Segments:
 * each segment's rows (a slice of the packed rows) through a packing of its own, the parts concatenated back.
 */
function composedPacking(batch: number, seqLen: number, real: number[], segments: readonly Segment[]): Packing {
  const whole = composedLayout(batch, seqLen, real);
  const narrow = narrowed(seqLen, real, (kept) => composedPacking(batch, seqLen, kept, segments));
  if (segments.length === 1)
    return {
      ...whole,
      segments,
      narrow,
      toSegments: (x, heads) => [whole.toHeads(x, heads)],
      fromSegments: (xs, heads) => whole.fromHeads(one(xs), heads),
    };
  const local = segmentRows(seqLen, real, segments);
  const parts = segments.map((s, i) =>
    local[i]!.length === s.batch * s.seqLen ? padded(s.batch, s.seqLen) : composedLayout(s.batch, s.seqLen, local[i]!),
  );
  const starts = local.map((_, i) => local.slice(0, i).reduce((n, l) => n + l.length, 0));
  return {
    ...whole,
    segments,
    narrow,
    toSegments: (x, heads) =>
      checkRows(x, real.length, 'toSegments') &&
      parts.map((part, i) => part.toHeads(tf.slice(x, [starts[i]!, 0], [local[i]!.length, x.shape[1]]), heads)),
    fromSegments: (xs, heads) =>
      tf.concat(
        parts.map((part, i) => part.fromHeads(xs[i]!, heads)),
        0,
      ) as Tensor2D,
  };
}

/** The composed layout changes of one batch (`composedPacking` without segments). */
function composedLayout(
  batch: number,
  seqLen: number,
  real: number[],
): Pick<Packing, 'rows' | 'toHeads' | 'fromHeads'> {
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
