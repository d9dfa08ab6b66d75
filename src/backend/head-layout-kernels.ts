/**
 * The layout changes of a BERT layer's attention, each one pass over the wasm heap, for the packed rows of
 * src/model/packing.ts (the real tokens of a [batch, seqLen] batch, listed by `rowIndex`, their flat position
 * bi * seqLen + ti):
 *
 *   MsdRowsToHeads {x: [rows, heads*dh], rowIndex} (batch, seqLen, heads) -> [batch*heads, seqLen, dh]
 *                  row r of x goes, head by head, to (bi, h, ti); positions no row names are zeros
 *   MsdHeadsToRows {x: [batch*heads, seqLen, dh], rowIndex} (batch, seqLen, heads) -> [rows, heads*dh]
 *                  the inverse gather: positions no row names are dropped
 *
 * and the same for a batch cut into segments of consecutive rows, each at its own padded length (packing.ts,
 * "Segments"): one output (input) per segment, `rowIndex` holding each row's position in its segment's layout:
 *
 *   MsdRowsToSegments {x: [rows, heads*dh], rowIndex} (heads, batches, seqLens, rowCounts)
 *                     -> [batches[s]*heads, seqLens[s], dh] for each segment s
 *   MsdSegmentsToRows {x0, x1, ..., rowIndex} (the same attributes) -> [rows, heads*dh]
 *
 * Each is the other's gradient (registered here), and for `heads` = 1 the first two are the unpacking ([rows, H] to
 * the padded [batch*seqLen, H]) and the packing of hidden states. As tfjs ops each was a gather, a concat (for the zero row)
 * and a transpose, three passes; here one: `dh` floats move per (row, head) with one memcpy in native code on every
 * core where the library is built (native-kernels.c; up to NATIVE_LAYOUT_MAX_VALUES), else one `memory.copy` in the
 * SIMD module (`rows_to_heads` / `heads_to_rows` in simd-kernels.wat: about 80 ns each, 0.1 ms for the tiny student's
 * [1554, 64]), or one `copyWithin` on the heap where that module is off (`MSD_SIMD=off`). The output is allocated
 * before the views are taken, so they stay valid.
 *
 * Other backends have no such kernels: packing.ts composes the same result from tfjs ops there (gather, concat,
 * transpose), and the tests compare the two.
 */
import {
  type GradConfig,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  type Tensor,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';
import { registerKernels } from './register-kernels.js';
import { activeNativeKernels, heapKernels } from './simd-kernels.js';

export const ROWS_TO_HEADS = 'MsdRowsToHeads';

/**
 * Layout changes of at most this many values (2^18) copy in native code where it is built: the tiny preset's ([1554,
 * 64]: 95 -> 52 us, 5 December). mBERT's are larger and stay in the SIMD module: there the native copies measured
 * slower right after a product (0.20 -> 0.27 ms for [512, 768], README "Element-wise kernels on every core").
 */
export const NATIVE_LAYOUT_MAX_VALUES = 1 << 18;
export const HEADS_TO_ROWS = 'MsdHeadsToRows';

export interface HeadLayoutAttrs {
  batch: number;
  seqLen: number;
  heads: number;
}

export const ROWS_TO_SEGMENTS = 'MsdRowsToSegments';
export const SEGMENTS_TO_ROWS = 'MsdSegmentsToRows';

/**
 * The segments of MsdRowsToSegments / MsdSegmentsToRows: segment s holds the next `rowCounts[s]` packed rows, laid
 * out as [batches[s] * heads, seqLens[s], dh]; `rowIndex` lists each row's position in its own segment's layout.
 */
export interface SegmentLayoutAttrs {
  heads: number;
  batches: number[];
  seqLens: number[];
  rowCounts: number[];
}

interface Views {
  heap: Float32Array;
  ids: Int32Array;
  /** Float offsets of x and out in `heap`. */
  x: number;
  out: number;
}

/**
 * Heap views after the output's allocation (which may grow the heap), with every position of `rowIndex` checked
 * to lie in [0, slots).
 */
function views(
  wasm: BackendWasm,
  x: TensorInfo,
  rowIndex: TensorInfo,
  out: TensorInfo,
  slots: number,
  what: string,
): Views {
  if (x.dtype !== 'float32') throw new Error(`${what}: x must be float32, got ${x.dtype}`);
  if (rowIndex.dtype !== 'int32' || rowIndex.shape.length !== 1)
    throw new Error(`${what}: rowIndex must be an int32 vector, got ${rowIndex.dtype} [${rowIndex.shape}]`);
  const xs = wasm.typedArrayFromHeap(x) as Float32Array;
  const os = wasm.typedArrayFromHeap(out) as Float32Array;
  const ids = wasm.typedArrayFromHeap(rowIndex) as Int32Array;
  for (const p of ids)
    if (!(p >= 0 && p < slots)) throw new Error(`${what}: rowIndex holds ${p}, outside [0, ${slots})`);
  // >>> 2, not >> 2: a heap above 2 GiB (an mBERT student's) has offsets past the int32 range.
  return { heap: new Float32Array(xs.buffer), ids, x: xs.byteOffset >>> 2, out: os.byteOffset >>> 2 };
}

/**
 * Copies `rows` packed rows at float offset `x` (width heads*dh) into the [batch*heads, seqLen, dh] layout at float
 * offset `out`, row r to the position `ids[idsAt + r]`; the first `zeros` floats of `out` zeroed first.
 */
function copyRowsToHeads(
  heap: Float32Array,
  ids: Int32Array,
  idsAt: number,
  x: number,
  out: number,
  rows: number,
  heads: number,
  dh: number,
  seqLen: number,
  zeros: number,
): void {
  const width = heads * dh;
  const idsByte = ids.byteOffset + 4 * idsAt;
  const native = rows * width <= NATIVE_LAYOUT_MAX_VALUES ? activeNativeKernels() : undefined;
  if (native) {
    const base = native.address(heap);
    native.rowsToHeads(base + 4 * x, base + 4 * out, base + idsByte, rows, heads, dh, seqLen, zeros);
    return;
  }
  const simd = heapKernels();
  if (simd) {
    simd.rows_to_heads(4 * x, 4 * out, idsByte, rows, heads, dh, seqLen, 4 * zeros);
    return;
  }
  // Without the SIMD module (MSD_SIMD=off): the same copies from JavaScript.
  heap.fill(0, out, out + zeros);
  for (let r = 0; r < rows; r++) {
    const p = ids[idsAt + r]!;
    const bi = (p / seqLen) | 0;
    const ti = p - bi * seqLen;
    const src = x + r * width;
    let dst = out + (bi * heads * seqLen + ti) * dh;
    for (let h = 0; h < heads; h++, dst += seqLen * dh) heap.copyWithin(dst, src + h * dh, src + (h + 1) * dh);
  }
}

/** The inverse of `copyRowsToHeads`: row r of `out` from the position `ids[idsAt + r]` of the layout at `x`. */
function copyHeadsToRows(
  heap: Float32Array,
  ids: Int32Array,
  idsAt: number,
  x: number,
  out: number,
  rows: number,
  heads: number,
  dh: number,
  seqLen: number,
): void {
  const width = heads * dh;
  const idsByte = ids.byteOffset + 4 * idsAt;
  const native = rows * width <= NATIVE_LAYOUT_MAX_VALUES ? activeNativeKernels() : undefined;
  if (native) {
    const base = native.address(heap);
    native.headsToRows(base + 4 * x, base + 4 * out, base + idsByte, rows, heads, dh, seqLen);
    return;
  }
  const simd = heapKernels();
  if (simd) {
    simd.heads_to_rows(4 * x, 4 * out, idsByte, rows, heads, dh, seqLen);
    return;
  }
  for (let r = 0; r < rows; r++) {
    const p = ids[idsAt + r]!;
    const bi = (p / seqLen) | 0;
    const ti = p - bi * seqLen;
    const dst = out + r * width;
    let src = x + (bi * heads * seqLen + ti) * dh;
    for (let h = 0; h < heads; h++, src += seqLen * dh) heap.copyWithin(dst + h * dh, src, src + dh);
  }
}

/** The float offset of a tensor's values in the heap (>>> 2: a heap above 2 GiB has offsets past the int32 range). */
function offsetOf(wasm: BackendWasm, t: TensorInfo): number {
  return (wasm.typedArrayFromHeap(t) as Float32Array).byteOffset >>> 2;
}

const rowsToHeads: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, rowIndex } = inputs as { x: TensorInfo; rowIndex: TensorInfo };
  const { batch, seqLen, heads } = attrs as unknown as HeadLayoutAttrs;
  const what = ROWS_TO_HEADS;
  const rows = rowIndex.shape[0]!;
  const width = x.shape[1]!;
  if (x.shape.length !== 2 || x.shape[0] !== rows || width % heads !== 0)
    throw new Error(`${what}: x must be [${rows}, heads*dh] with ${heads} heads, got [${x.shape}]`);
  const dh = width / heads;
  const wasm = backend as BackendWasm;
  const out = wasm.makeOutput([batch * heads, seqLen, dh], 'float32');
  const slots = batch * seqLen;
  const v = views(wasm, x, rowIndex, out, slots, what);
  const zeros = rows < slots ? slots * width : 0;
  copyRowsToHeads(v.heap, v.ids, 0, v.x, v.out, rows, heads, dh, seqLen, zeros);
  return out;
};

const headsToRows: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, rowIndex } = inputs as { x: TensorInfo; rowIndex: TensorInfo };
  const { batch, seqLen, heads } = attrs as unknown as HeadLayoutAttrs;
  const what = HEADS_TO_ROWS;
  const rows = rowIndex.shape[0]!;
  if (x.shape.length !== 3 || x.shape[0] !== batch * heads || x.shape[1] !== seqLen)
    throw new Error(`${what}: x must be [${batch * heads}, ${seqLen}, dh], got [${x.shape}]`);
  const dh = x.shape[2]!;
  const wasm = backend as BackendWasm;
  const out = wasm.makeOutput([rows, heads * dh], 'float32');
  const v = views(wasm, x, rowIndex, out, batch * seqLen, what);
  copyHeadsToRows(v.heap, v.ids, 0, v.x, v.out, rows, heads, dh, seqLen);
  return out;
};

/** The segments' attributes checked against `rowIndex`: every segment's first packed row, and the total. */
function segmentStarts(rowIndex: TensorInfo, a: SegmentLayoutAttrs, what: string): number[] {
  const n = a.batches.length;
  if (n === 0 || a.seqLens.length !== n || a.rowCounts.length !== n)
    throw new Error(`${what}: batches, seqLens and rowCounts must list the same segments (one or more)`);
  if (rowIndex.dtype !== 'int32' || rowIndex.shape.length !== 1)
    throw new Error(`${what}: rowIndex must be an int32 vector, got ${rowIndex.dtype} [${rowIndex.shape}]`);
  const starts: number[] = [];
  let at = 0;
  for (const c of a.rowCounts) {
    starts.push(at);
    at += c;
  }
  if (at !== rowIndex.shape[0])
    throw new Error(`${what}: rowCounts add up to ${at} rows, rowIndex lists ${rowIndex.shape[0]}`);
  return starts;
}

/** Every position of segment s's part of `ids` lies in its own layout, [0, batch_s * seqLen_s). */
function checkSegmentIds(ids: Int32Array, starts: number[], a: SegmentLayoutAttrs, what: string): void {
  a.rowCounts.forEach((c, s) => {
    const slots = a.batches[s]! * a.seqLens[s]!;
    for (let r = starts[s]!; r < starts[s]! + c; r++) {
      const p = ids[r]!;
      if (!(p >= 0 && p < slots)) throw new Error(`${what}: segment ${s}'s rowIndex holds ${p}, outside [0, ${slots})`);
    }
  });
}

const rowsToSegments: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, rowIndex } = inputs as { x: TensorInfo; rowIndex: TensorInfo };
  const a = attrs as unknown as SegmentLayoutAttrs;
  const what = ROWS_TO_SEGMENTS;
  const starts = segmentStarts(rowIndex, a, what);
  const rows = rowIndex.shape[0]!;
  const width = x.shape[1]!;
  if (x.dtype !== 'float32' || x.shape.length !== 2 || x.shape[0] !== rows || width % a.heads !== 0)
    throw new Error(`${what}: x must be float32 [${rows}, heads*dh] with ${a.heads} heads, got [${x.shape}]`);
  const dh = width / a.heads;
  const wasm = backend as BackendWasm;
  // Every output first (an allocation may grow the heap), then the views.
  const outs = a.batches.map((b, s) => wasm.makeOutput([b * a.heads, a.seqLens[s]!, dh], 'float32'));
  const ids = wasm.typedArrayFromHeap(rowIndex) as Int32Array;
  checkSegmentIds(ids, starts, a, what);
  const heap = new Float32Array(ids.buffer);
  const xAt = offsetOf(wasm, x);
  outs.forEach((out, s) => {
    const slots = a.batches[s]! * a.seqLens[s]!;
    const count = a.rowCounts[s]!;
    const zeros = count < slots ? slots * width : 0;
    const at = xAt + starts[s]! * width;
    copyRowsToHeads(heap, ids, starts[s]!, at, offsetOf(wasm, out), count, a.heads, dh, a.seqLens[s]!, zeros);
  });
  return outs;
};

const segmentsToRows: KernelFunc = ({ inputs, backend, attrs }) => {
  const a = attrs as unknown as SegmentLayoutAttrs;
  const what = SEGMENTS_TO_ROWS;
  const { rowIndex } = inputs as { rowIndex: TensorInfo };
  const starts = segmentStarts(rowIndex, a, what);
  const xs = a.batches.map((b, s) => {
    const x = (inputs as Record<string, TensorInfo | undefined>)[`x${s}`];
    if (
      !x ||
      x.dtype !== 'float32' ||
      x.shape.length !== 3 ||
      x.shape[0] !== b * a.heads ||
      x.shape[1] !== a.seqLens[s]
    )
      throw new Error(`${what}: x${s} must be float32 [${b * a.heads}, ${a.seqLens[s]}, dh], got [${x?.shape}]`);
    return x;
  });
  const dh = xs[0]!.shape[2]!;
  if (xs.some((x) => x.shape[2] !== dh)) throw new Error(`${what}: the segments' dh differ`);
  const width = a.heads * dh;
  const wasm = backend as BackendWasm;
  const out = wasm.makeOutput([rowIndex.shape[0]!, width], 'float32');
  const ids = wasm.typedArrayFromHeap(rowIndex) as Int32Array;
  checkSegmentIds(ids, starts, a, what);
  const heap = new Float32Array(ids.buffer);
  const outAt = offsetOf(wasm, out);
  xs.forEach((x, s) => {
    const at = outAt + starts[s]! * width;
    copyHeadsToRows(heap, ids, starts[s]!, offsetOf(wasm, x), at, a.rowCounts[s]!, a.heads, dh, a.seqLens[s]!);
  });
  return out;
};

const kernels: KernelConfig[] = [
  { kernelName: ROWS_TO_HEADS, backendName: 'wasm', kernelFunc: rowsToHeads },
  { kernelName: HEADS_TO_ROWS, backendName: 'wasm', kernelFunc: headsToRows },
  { kernelName: ROWS_TO_SEGMENTS, backendName: 'wasm', kernelFunc: rowsToSegments },
  { kernelName: SEGMENTS_TO_ROWS, backendName: 'wasm', kernelFunc: segmentsToRows },
];

/** The gradient of one layout change is the other, with the same rows and attributes. */
function inverseGradient(kernelName: string, inverse: string): GradConfig {
  return {
    kernelName,
    inputsToSave: ['rowIndex'],
    gradFunc: (dy, saved, attrs) => ({
      x: () =>
        tf.engine().runKernel(inverse, { x: dy as Tensor, rowIndex: saved[0]! }, attrs as NamedAttrMap) as Tensor,
    }),
  };
}

/** The segments' layouts' gradient: their dys (zeros where a segment had none) back to the rows. */
const rowsToSegmentsGradient: GradConfig = {
  kernelName: ROWS_TO_SEGMENTS,
  inputsToSave: ['rowIndex'],
  gradFunc: (dy, saved, attrs) => ({
    x: () => segmentsToRowsOp(Array.isArray(dy) ? dy : [dy], saved[0]!, attrs as unknown as SegmentLayoutAttrs),
  }),
};

/**
 * The rows' gradient, split into the segments' layouts by one MsdRowsToSegments call (as tfjs's Concat gradient
 * splits its dy once, outside the per-input functions).
 */
const segmentsToRowsGradient: GradConfig = {
  kernelName: SEGMENTS_TO_ROWS,
  inputsToSave: ['rowIndex'],
  gradFunc: (dy, saved, attrs) => {
    const parts = rowsToSegmentsOp(dy as Tensor, saved[0]!, attrs as unknown as SegmentLayoutAttrs);
    return Object.fromEntries(parts.map((part, s) => [`x${s}`, () => part]));
  },
};

/** Registers the four kernels for the wasm backend and their gradients (once). */
export function registerHeadLayoutKernels(): void {
  registerKernels(kernels, [
    inverseGradient(ROWS_TO_HEADS, HEADS_TO_ROWS),
    inverseGradient(HEADS_TO_ROWS, ROWS_TO_HEADS),
    rowsToSegmentsGradient,
    segmentsToRowsGradient,
  ]);
}

/** `MsdRowsToHeads` (see the file comment). */
export function rowsToHeadsOp(x: Tensor, rowIndex: Tensor, attrs: HeadLayoutAttrs): Tensor {
  return tf.engine().runKernel(ROWS_TO_HEADS, { x, rowIndex }, attrs as unknown as NamedAttrMap) as Tensor;
}

/** `MsdHeadsToRows` (see the file comment). */
export function headsToRowsOp(x: Tensor, rowIndex: Tensor, attrs: HeadLayoutAttrs): Tensor {
  return tf.engine().runKernel(HEADS_TO_ROWS, { x, rowIndex }, attrs as unknown as NamedAttrMap) as Tensor;
}

/** `MsdRowsToSegments` (see the file comment): one output per segment, even for one. */
export function rowsToSegmentsOp(x: Tensor, rowIndex: Tensor, attrs: SegmentLayoutAttrs): Tensor[] {
  return tf.engine().runKernel(ROWS_TO_SEGMENTS, { x, rowIndex }, attrs as unknown as NamedAttrMap) as Tensor[];
}

/** `MsdSegmentsToRows` (see the file comment). */
export function segmentsToRowsOp(xs: Tensor[], rowIndex: Tensor, attrs: SegmentLayoutAttrs): Tensor {
  const inputs: Record<string, Tensor> = { rowIndex };
  xs.forEach((x, s) => (inputs[`x${s}`] = x));
  return tf.engine().runKernel(SEGMENTS_TO_ROWS, inputs, attrs as unknown as NamedAttrMap) as Tensor;
}
