/**
 * Kernels that the stock `@tensorflow/tfjs-backend-wasm` 4.22 lacks but BERT training needs, registered through
 * tfjs-core's public kernel registry (`registerKernel`), so nothing in tfjs is patched.
 *
 * - `UnsortedSegmentSum`: the gradient of `gather` (the embedding lookup). Without it, training the word
 *   embeddings fails with "Kernel 'UnsortedSegmentSum' not registered for backend 'wasm'".
 *
 * The kernel runs in JavaScript over views of the wasm heap: one pass over `x`, adding each row into the output
 * row named by its segment id. That is O(size of x) plus zeroing the output, the same work as the C++ kernels.
 */
import {
  getKernel,
  registerKernel,
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

/** Registers the missing wasm kernels once; kernels that a later tfjs release ships itself are left alone. */
export function registerWasmKernels(): string[] {
  const added: string[] = [];
  for (const config of [wasmUnsortedSegmentSumConfig]) {
    if (getKernel(config.kernelName, config.backendName) == null) {
      registerKernel(config);
      added.push(config.kernelName);
    }
  }
  return added;
}
