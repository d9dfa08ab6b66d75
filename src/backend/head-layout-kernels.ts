/**
 * The two layout changes of a BERT layer's attention, each one pass over the wasm heap, for the packed rows of
 * src/model/packing.ts (the real tokens of a [batch, seqLen] batch, listed by `rowIndex`, their flat position
 * bi * seqLen + ti):
 *
 *   MsdRowsToHeads {x: [rows, heads*dh], rowIndex} (batch, seqLen, heads) -> [batch*heads, seqLen, dh]
 *                  row r of x goes, head by head, to (bi, h, ti); positions no row names are zeros
 *   MsdHeadsToRows {x: [batch*heads, seqLen, dh], rowIndex} (batch, seqLen, heads) -> [rows, heads*dh]
 *                  the inverse gather: positions no row names are dropped
 *
 * Each is the other's gradient (registered here), and for `heads` = 1 they are the unpacking ([rows, H] to the padded
 * [batch*seqLen, H]) and the packing of hidden states. As tfjs ops each was a gather, a concat (for the zero row)
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
  const native = rows * width <= NATIVE_LAYOUT_MAX_VALUES ? activeNativeKernels() : undefined;
  if (native) {
    const base = native.address(v.heap);
    native.rowsToHeads(base + 4 * v.x, base + 4 * v.out, base + v.ids.byteOffset, rows, heads, dh, seqLen, zeros);
    return out;
  }
  const simd = heapKernels();
  if (simd) {
    simd.rows_to_heads(4 * v.x, 4 * v.out, v.ids.byteOffset, rows, heads, dh, seqLen, 4 * zeros);
    return out;
  }
  // Without the SIMD module (MSD_SIMD=off): the same copies from JavaScript.
  v.heap.fill(0, v.out, v.out + zeros);
  for (let r = 0; r < rows; r++) {
    const p = v.ids[r]!;
    const bi = (p / seqLen) | 0;
    const ti = p - bi * seqLen;
    const src = v.x + r * width;
    let dst = v.out + (bi * heads * seqLen + ti) * dh;
    for (let h = 0; h < heads; h++, dst += seqLen * dh) v.heap.copyWithin(dst, src + h * dh, src + (h + 1) * dh);
  }
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
  const width = heads * dh;
  const wasm = backend as BackendWasm;
  const out = wasm.makeOutput([rows, width], 'float32');
  const v = views(wasm, x, rowIndex, out, batch * seqLen, what);
  const native = rows * width <= NATIVE_LAYOUT_MAX_VALUES ? activeNativeKernels() : undefined;
  if (native) {
    const base = native.address(v.heap);
    native.headsToRows(base + 4 * v.x, base + 4 * v.out, base + v.ids.byteOffset, rows, heads, dh, seqLen);
    return out;
  }
  const simd = heapKernels();
  if (simd) {
    simd.heads_to_rows(4 * v.x, 4 * v.out, v.ids.byteOffset, rows, heads, dh, seqLen);
    return out;
  }
  for (let r = 0; r < rows; r++) {
    const p = v.ids[r]!;
    const bi = (p / seqLen) | 0;
    const ti = p - bi * seqLen;
    const dst = v.out + r * width;
    let src = v.x + (bi * heads * seqLen + ti) * dh;
    for (let h = 0; h < heads; h++, src += seqLen * dh) v.heap.copyWithin(dst + h * dh, src, src + dh);
  }
  return out;
};

const kernels: KernelConfig[] = [
  { kernelName: ROWS_TO_HEADS, backendName: 'wasm', kernelFunc: rowsToHeads },
  { kernelName: HEADS_TO_ROWS, backendName: 'wasm', kernelFunc: headsToRows },
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

/** Registers the two kernels for the wasm backend and their gradients (once). */
export function registerHeadLayoutKernels(): void {
  registerKernels(kernels, [
    inverseGradient(ROWS_TO_HEADS, HEADS_TO_ROWS),
    inverseGradient(HEADS_TO_ROWS, ROWS_TO_HEADS),
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
