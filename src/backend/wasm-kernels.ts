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
 *
 * The kernel runs in JavaScript over views of the wasm heap: one pass over `x`, adding each row into the output
 * row named by its segment id. That is O(size of x) plus zeroing the output, the same work as the C++ kernels.
 */
import {
  getKernel,
  registerKernel,
  unregisterKernel,
  util,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
  type UnsortedSegmentSumAttrs,
  type UnsortedSegmentSumInputs,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

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
  outVals.fill(0);
  const xVals = wasm.typedArrayFromHeap(x) as Float32Array | Int32Array;
  const ids = wasm.typedArrayFromHeap(segmentIds) as Int32Array;
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

export const wasmIdentityConfig: KernelConfig = {
  kernelName: 'Identity',
  backendName: 'wasm',
  kernelFunc: identitySharedWasm,
};

/**
 * Registers our wasm kernels once: the missing ones, and the copy-free Identity in place of the stock one. Returns
 * the names registered by this call.
 */
export function registerWasmKernels(): string[] {
  const added: string[] = [];
  for (const config of [wasmUnsortedSegmentSumConfig, wasmIdentityConfig]) {
    const current = getKernel(config.kernelName, config.backendName);
    if (current === config) continue;
    // A kernel that a later tfjs release ships itself is left alone, except Identity, which we replace on purpose.
    if (current != null && config !== wasmIdentityConfig) continue;
    if (current != null) unregisterKernel(config.kernelName, config.backendName);
    registerKernel(config);
    added.push(config.kernelName);
  }
  return added;
}
