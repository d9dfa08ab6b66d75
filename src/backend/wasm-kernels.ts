/**
 * Kernels that the stock `@tensorflow/tfjs-backend-wasm` 4.22 lacks or gets wrong for training, registered through
 * tfjs-core's public kernel registry (`registerKernel`), so nothing in tfjs is patched.
 *
 * - `UnsortedSegmentSum`: the gradient of `gather` (the embedding lookup). Without it, training the word
 *   embeddings fails with "Kernel 'UnsortedSegmentSum' not registered for backend 'wasm'".
 * - `Identity` without a copy. While a gradient is recorded, tfjs-core's engine clones every tensor a kernel saves
 *   for the backward pass (`saveTensorsForBackwardMode` -> `clone` -> the `Identity` kernel). The stock wasm
 *   Identity copies the bytes, so every matmul of a training step duplicated its weight matrix and its input: an
 *   mBERT step held 2-3 copies of each trained layer's weights (73 MB per layer at 8x32 tokens) and overflowed the
 *   4 GiB wasm heap at 8x128. tfjs tensors are immutable (a variable's `assign` swaps its data id, it does not
 *   write in place), so the clone can share the data and count one more reference, exactly as the wasm `Reshape`
 *   kernel and the cpu backend's `Identity` already do.
 * - `GatherV2` of whole rows (axis 0, no batch dimensions: every embedding lookup) as one block copy per index;
 *   the stock kernel copies element by element (28 ms for 1024 rows of 768 here, against well under 1 ms). The copies
 *   run in native code where the library is built (a `copyWithin` per row from JavaScript costs about 80 ns: 0.3 ms
 *   for the tiny student's 3,648 rows of 64). Other gathers go to the stock kernel.
 * - `Slice` by copies of its contiguous runs over heap views: one copy for a contiguous block (the position
 *   embeddings' first t rows each forward), one per run otherwise (a student pass's target rows and positions of a
 *   [rows, length, H] hidden state: one run of length x H per row). The stock kernel first copies the whole input out
 *   of the heap (`readSync`): 5.5 ms for 128 of 512 rows of 768, 4.2 ms for a student pass's [8, 36, 768] of
 *   [16, 92, 768] here. String slices go to the stock kernel.
 * - `_FusedMatMul` of rank-2 operands, as the cpu and tensorflow backends and our BLAS kernel take them: the stock
 *   kernel reads rank-3 shapes only. The model's dense layers pass [rows, in] x [in, out] straight to the kernel
 *   (src/model/bert-ops.ts `dense`): reshapes around it would be nodes of the gradient tape, and a reshape keeps its
 *   input for the backward pass, so the product's output stayed in memory until the backward pass only for its shape
 *   (30% of an mBERT student's kept tapes). Here the stock kernel gets batch-of-one views of the same bytes.
 * - `Transpose` whose permutation moves only axes of size 1 (the values keep their order) as a new reference to
 *   the same bytes, as `Reshape` is: the stock kernel copies them (its `identity`). tfjs's gradient of `gather`
 *   transposes by the identity permutation twice, so every step that trains the word embeddings copied the whole
 *   embedding gradient once more (21,588 x 64 values in the tiny preset).
 *
 * The kernel runs in JavaScript over views of the wasm heap: one pass over `x`, adding each row into the output
 * row named by its segment id. That is O(size of x) plus zeroing the output, the same work as the C++ kernels. With
 * the native library (native-kernels.c's `msd_segment_sum`) float32 sums run there, on every core, with the same
 * bits: the rows land in random rows of a large output (the tiny preset's 21,588 x 64 word embeddings), and the loop
 * in JavaScript waited on each (1.1 ms for 4,608 rows here, 5 December; 0.2 ms natively).
 */
import {
  getKernel,
  registerKernel,
  unregisterKernel,
  util,
  type KernelConfig,
  type GatherV2Attrs,
  type SliceAttrs,
  type TransposeAttrs,
  slice_util,
  type KernelFunc,
  type TensorInfo,
  type UnsortedSegmentSumAttrs,
  type UnsortedSegmentSumInputs,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { activeNativeKernels } from './simd-kernels.js';

const unsortedSegmentSumWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, segmentIds } = inputs as { [K in keyof UnsortedSegmentSumInputs]-?: TensorInfo };
  const { numSegments } = attrs as unknown as UnsortedSegmentSumAttrs;
  const wasm = backend as BackendWasm;
  if (segmentIds.dtype !== 'int32') {
    throw new Error(`UnsortedSegmentSum (wasm): segmentIds must be int32, got ${segmentIds.dtype}`);
  }
  // Segment ids index the leading dimensions of x; every remaining dimension is copied as one row.
  const rowShape = x.shape.slice(segmentIds.shape.length);
  const rowSize = util.sizeFromShape(rowShape);
  const numRows = util.sizeFromShape(segmentIds.shape);
  const outShape = [numSegments, ...rowShape];
  // Allocate the output first: allocation may grow the wasm memory and detach earlier heap views.
  const out: TensorInfo = wasm.makeOutput(outShape, x.dtype);
  const outVals = wasm.typedArrayFromHeap(out) as Float32Array | Int32Array;
  const xVals = wasm.typedArrayFromHeap(x) as Float32Array | Int32Array;
  const ids = wasm.typedArrayFromHeap(segmentIds) as Int32Array;
  const native = activeNativeKernels();
  if (native && x.dtype === 'float32') {
    const [xAt, idsAt, outAt] = [xVals, ids, outVals].map((v) => native.address(v)) as [number, number, number];
    native.segmentSum(xAt, idsAt, outAt, numRows, rowSize, numSegments);
    return out;
  }
  outVals.fill(0);
  for (let r = 0; r < numRows; r++) {
    const seg = ids[r];
    // tf.unsortedSegmentSum drops ids outside [0, numSegments), as TensorFlow does.
    if (seg < 0 || seg >= numSegments) continue;
    const src = r * rowSize;
    const dst = seg * rowSize;
    for (let j = 0; j < rowSize; j++) outVals[dst + j] += xVals[src + j];
  }
  return out;
};

export const wasmUnsortedSegmentSumConfig: KernelConfig = {
  kernelName: 'UnsortedSegmentSum',
  backendName: 'wasm',
  kernelFunc: unsortedSegmentSumWasm,
};

/** Identity as a new reference to the same bytes (see the file comment). */
const identitySharedWasm: KernelFunc = ({ inputs, backend }) => {
  const { x } = inputs as { x: TensorInfo };
  if (x.dtype === 'string') throw new Error('Identity (wasm): string tensors are not supported');
  (backend as BackendWasm).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

export const wasmIdentityConfig = replacement('Identity', identitySharedWasm);

/** The stock kernels we replace, for the cases our versions hand back to them. */
const stockKernels = new Map<string, KernelConfig>();
const setUpFor = new WeakMap<object, Set<string>>();

/**
 * The stock kernel `name`, set up for `backend`: we register before the backend initialises, so the engine never runs
 * the stock kernel's `setupFunc` (which binds its wasm function) itself; it runs here once per backend instance.
 */
function stockKernel(name: string, backend: BackendWasm): KernelConfig {
  const config = stockKernels.get(name)!;
  const done = setUpFor.get(backend) ?? new Set<string>();
  if (!done.has(name)) {
    config.setupFunc?.(backend);
    done.add(name);
    setUpFor.set(backend, done);
  }
  return config;
}

/**
 * The config of a kernel of ours in place of the stock `name`. Its setup is the stock kernel's: stock kernels call
 * one another's functions directly, not through the registry (the stock `Sum` over leading axes calls the stock
 * transpose), and those need their wasm functions bound when the backend starts.
 */
function replacement(name: string, kernelFunc: KernelFunc): KernelConfig {
  const setupFunc = (backend: unknown) => void (stockKernels.has(name) && stockKernel(name, backend as BackendWasm));
  return { kernelName: name, backendName: 'wasm', kernelFunc, setupFunc };
}

const gatherRowsWasm: KernelFunc = (args) => {
  const { inputs, backend, attrs } = args;
  const { x, indices } = inputs as { x: TensorInfo; indices: TensorInfo };
  const { axis, batchDims } = attrs as unknown as GatherV2Attrs;
  const parsedAxis = util.parseAxisParam(axis, x.shape)[0];
  if (
    parsedAxis !== 0 ||
    (batchDims ?? 0) !== 0 ||
    indices.dtype !== 'int32' ||
    x.dtype === 'string' ||
    x.shape.length === 0
  ) {
    return stockKernel('GatherV2', backend as BackendWasm).kernelFunc(args);
  }
  const wasm = backend as BackendWasm;
  const rows = x.shape[0]!;
  const rowSize = util.sizeFromShape(x.shape.slice(1));
  const out: TensorInfo = wasm.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype);
  const ids = wasm.typedArrayFromHeap(indices) as Int32Array;
  const xVals = wasm.typedArrayFromHeap(x) as Float32Array | Int32Array;
  const outVals = wasm.typedArrayFromHeap(out) as Float32Array | Int32Array;
  // The stock kernel's check and message (no closure per index: util.assert's message function would be one).
  for (let i = 0; i < ids.length; i++) {
    const r = ids[i]!;
    if (!(r <= rows - 1 && r >= 0))
      util.assert(false, () => `GatherV2: the index value ${r} is not in [0, ${rows - 1}]`);
  }
  const native = activeNativeKernels();
  if (native) {
    // A memcpy per row in native code, the rows on every core (native-kernels.c's msd_gather_rows).
    native.gatherRows(native.address(xVals), native.address(ids), native.address(outVals), ids.length, rowSize);
    return out;
  }
  // Copies within one view of the whole heap (4-byte values, float32 or int32 alike): a `set` of a `subarray` per
  // index made a view object each time (0.4 ms for 3,600 rows of 64 here).
  const heap = new Int32Array(outVals.buffer);
  const [src, dst] = [xVals.byteOffset >>> 2, outVals.byteOffset >>> 2];
  for (let i = 0; i < ids.length; i++) {
    const r = ids[i]!;
    heap.copyWithin(dst + i * rowSize, src + r * rowSize, src + (r + 1) * rowSize);
  }
  return out;
};

export const wasmGatherRowsConfig = replacement('GatherV2', gatherRowsWasm);

/** `Slice` as copies of its contiguous runs (see the file comment); string and scalar slices go to the stock kernel. */
const sliceRunsWasm: KernelFunc = (args) => {
  const { inputs, backend, attrs } = args;
  const { x } = inputs as { x: TensorInfo };
  const { begin, size } = attrs as unknown as SliceAttrs;
  if (x.dtype === 'string' || x.shape.length === 0)
    return stockKernel('Slice', backend as BackendWasm).kernelFunc(args);
  const [b, s] = slice_util.parseSliceParams(x, begin, size) as [number[], number[]];
  const wasm = backend as BackendWasm;
  const out: TensorInfo = wasm.makeOutput(s, x.dtype);
  const n = util.sizeFromShape(s);
  if (n === 0) return out;
  const xVals = wasm.typedArrayFromHeap(x) as Float32Array | Int32Array | Uint8Array;
  const outVals = wasm.typedArrayFromHeap(out) as Float32Array | Int32Array | Uint8Array;
  const shape = x.shape;
  // The last axis the slice cuts: it and every axis after it make one contiguous run per index of the axes before.
  let cut = shape.length - 1;
  while (cut > 0 && s[cut] === shape[cut]) cut--;
  const inner = util.sizeFromShape(shape.slice(cut + 1));
  const run = s[cut]! * inner;
  const strides = [...util.computeStrides(shape), 1];
  // The outer axes' indices, counted like an odometer; `from` is the run's offset in x.
  const at = new Array<number>(cut).fill(0);
  let from = b.reduce((o, bi, axis) => o + bi * strides[axis]!, 0);
  for (let to = 0; to < n; to += run) {
    outVals.set(xVals.subarray(from, from + run), to);
    for (let axis = cut - 1; axis >= 0; axis--) {
      from += strides[axis]!;
      if (++at[axis]! < s[axis]!) break;
      from -= s[axis]! * strides[axis]!;
      at[axis] = 0;
    }
  }
  return out;
};

export const wasmSliceConfig = replacement('Slice', sliceRunsWasm);

/** `_FusedMatMul` of [m, k] x [k, n] (see the file comment) as the stock kernel's [1, m, k] x [1, k, n]. */
const fusedMatMulRank2Wasm: KernelFunc = (args) => {
  const stock = stockKernel('_FusedMatMul', args.backend as BackendWasm).kernelFunc;
  const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
  if (a.shape.length !== 2 || b.shape.length !== 2) return stock(args);
  const batchOfOne = (t: TensorInfo): TensorInfo => ({ dataId: t.dataId, shape: [1, ...t.shape], dtype: t.dtype });
  const out = stock({ ...args, inputs: { ...args.inputs, a: batchOfOne(a), b: batchOfOne(b) } }) as TensorInfo;
  return { dataId: out.dataId, shape: out.shape.slice(1), dtype: out.dtype };
};

export const wasmFusedMatMulConfig = replacement('_FusedMatMul', fusedMatMulRank2Wasm);

/**
 * `Transpose` that leaves the order of the values as it is (its permutation moves only axes of size 1) as a new
 * reference to the same bytes in the new shape, as `Reshape` is; any other goes to the stock kernel.
 */
const transposeNoOpWasm: KernelFunc = (args) => {
  const { x } = args.inputs as { x: TensorInfo };
  const { perm } = args.attrs as unknown as TransposeAttrs;
  const moved = perm.filter((axis) => x.shape[axis] !== 1);
  if (x.dtype === 'string' || moved.some((axis, i) => i > 0 && axis < moved[i - 1]!)) {
    return stockKernel('Transpose', args.backend as BackendWasm).kernelFunc(args);
  }
  (args.backend as BackendWasm).incRef(x.dataId);
  return { dataId: x.dataId, shape: perm.map((axis) => x.shape[axis]!), dtype: x.dtype };
};

export const wasmTransposeConfig = replacement('Transpose', transposeNoOpWasm);

/** Kernels we register in place of the stock ones (the others only fill gaps). */
const replacing = new Set<KernelConfig>([
  wasmIdentityConfig,
  wasmGatherRowsConfig,
  wasmSliceConfig,
  wasmFusedMatMulConfig,
  wasmTransposeConfig,
]);

/**
 * Registers our wasm kernels once: the missing ones, and ours in place of the stock Identity, GatherV2, Slice,
 * _FusedMatMul and Transpose (which hand other cases back to the stock kernels). Returns the names registered by this
 * call.
 */
export function registerWasmKernels(): string[] {
  const added: string[] = [];
  for (const config of [
    wasmUnsortedSegmentSumConfig,
    wasmIdentityConfig,
    wasmGatherRowsConfig,
    wasmSliceConfig,
    wasmFusedMatMulConfig,
    wasmTransposeConfig,
  ]) {
    const current = getKernel(config.kernelName, config.backendName);
    if (current === config) continue;
    // A kernel that a later tfjs release ships itself is left alone, except those we replace on purpose.
    if (current != null && !replacing.has(config)) continue;
    if (current != null) {
      stockKernels.set(config.kernelName, current);
      unregisterKernel(config.kernelName, config.backendName);
    }
    registerKernel(config);
    added.push(config.kernelName);
  }
  return added;
}
