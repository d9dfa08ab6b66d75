/**
 * Token cross-entropy (src/losses/ce.ts) as one kernel each way on the wasm backend:
 *
 *   MsdCrossEntropy     {logits: [..., C], labels: [...] int32} (ignoreIndex) -> L = -(1/|P|) sum_{i in P} log p_i[y_i]
 *   MsdCrossEntropyGrad {logits, labels, dy: []} (ignoreIndex)                -> dlogits_i = dy (p_i - onehot(y_i)) / |P|
 *
 * with p_i = softmax(logits_i), P the positions whose label is not the ignore index, |P| floored at 1 (L = 0 and a
 * zero gradient when nothing is labelled, as ce.ts). As tfjs ops the loss is about twenty kernels forward and as many
 * backward (reshapes, the mask, where, oneHot, logSoftmax's five, the sums and the mean): 0.6-0.9 ms for a [1024, 9]
 * head here (5 December), most of it the engine's bookkeeping per op, and the tiny teacher step has two heads; here
 * one pass over the logits each way in JavaScript over heap views, 0.03 ms.
 *
 * Arithmetic: each row's log-sum-exp, softmax and the sum over rows in float64, the results rounded to float32 once,
 * so they are the float64 formula's within float32 rounding (the composition's float32 passes are not): a run's
 * numbers differ from the composition's in the last bits. A label outside [0, C) that is not the ignore index (ce.ts
 * refuses those unless `validateLabels: false`) counts in |P| and contributes 0, as the composition's oneHot makes it.
 * Other backends run the composition.
 */
import {
  util,
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

export const CROSS_ENTROPY = 'MsdCrossEntropy';
export const CROSS_ENTROPY_GRAD = 'MsdCrossEntropyGrad';

interface Rows {
  x: Float32Array;
  y: Int32Array;
  rows: number;
  classes: number;
  /** |P| floored at 1. */
  count: number;
}

/** The operands, checked, as heap views (taken after any allocation). */
function rowsOf(wasm: BackendWasm, logits: TensorInfo, labels: TensorInfo, ignoreIndex: number, what: string): Rows {
  const classes = logits.shape[logits.shape.length - 1] ?? 0;
  const rows = util.sizeFromShape(labels.shape);
  if (logits.dtype !== 'float32' || labels.dtype !== 'int32' || rows * classes !== util.sizeFromShape(logits.shape)) {
    throw new Error(
      `${what}: expected float32 logits [..., C] and int32 labels of their leading shape, got ${logits.dtype} [${logits.shape}] and ${labels.dtype} [${labels.shape}]`,
    );
  }
  const x = wasm.typedArrayFromHeap(logits) as Float32Array;
  const y = wasm.typedArrayFromHeap(labels) as Int32Array;
  let count = 0;
  for (let i = 0; i < rows; i++) if (y[i] !== ignoreIndex) count++;
  return { x, y, rows, classes, count: Math.max(count, 1) };
}

/** log sum_c exp(x[at + c]) and the row's maximum, in float64. */
function logSumExp(x: Float32Array, at: number, classes: number): { lse: number; max: number } {
  let max = -Infinity;
  for (let c = 0; c < classes; c++) max = Math.max(max, x[at + c]!);
  let s = 0;
  for (let c = 0; c < classes; c++) s += Math.exp(x[at + c]! - max);
  return { lse: max + Math.log(s), max };
}

const crossEntropy: KernelFunc = ({ inputs, backend, attrs }) => {
  const { logits, labels } = inputs as { logits: TensorInfo; labels: TensorInfo };
  const { ignoreIndex } = attrs as unknown as { ignoreIndex: number };
  const wasm = backend as BackendWasm;
  const out = wasm.makeOutput([], 'float32');
  const r = rowsOf(wasm, logits, labels, ignoreIndex, CROSS_ENTROPY);
  let total = 0;
  for (let i = 0; i < r.rows; i++) {
    const label = r.y[i]!;
    if (label === ignoreIndex || label < 0 || label >= r.classes) continue;
    total += logSumExp(r.x, i * r.classes, r.classes).lse - r.x[i * r.classes + label]!;
  }
  // +0 when nothing is labelled (ce.ts).
  (wasm.typedArrayFromHeap(out) as Float32Array)[0] = total / r.count;
  return out;
};

const crossEntropyGrad: KernelFunc = ({ inputs, backend, attrs }) => {
  const { logits, labels, dy } = inputs as { logits: TensorInfo; labels: TensorInfo; dy: TensorInfo };
  const { ignoreIndex } = attrs as unknown as { ignoreIndex: number };
  const wasm = backend as BackendWasm;
  const out = wasm.makeOutput(logits.shape, 'float32');
  const r = rowsOf(wasm, logits, labels, ignoreIndex, CROSS_ENTROPY_GRAD);
  const g = wasm.typedArrayFromHeap(out) as Float32Array;
  const scale = (wasm.typedArrayFromHeap(dy) as Float32Array)[0]! / r.count;
  g.fill(0);
  const e = new Float64Array(r.classes);
  for (let i = 0; i < r.rows; i++) {
    const label = r.y[i]!;
    if (label === ignoreIndex || label < 0 || label >= r.classes) continue;
    // p_c = e_c / sum e, e_c = exp(x_c - max): one exponential per class (exp(x_c - lse) took two and a log).
    const at = i * r.classes;
    let max = -Infinity;
    for (let c = 0; c < r.classes; c++) max = Math.max(max, r.x[at + c]!);
    let sum = 0;
    for (let c = 0; c < r.classes; c++) sum += e[c] = Math.exp(r.x[at + c]! - max);
    for (let c = 0; c < r.classes; c++) g[at + c] = scale * (e[c]! / sum - (c === label ? 1 : 0));
  }
  return out;
};

const kernels: KernelConfig[] = [
  { kernelName: CROSS_ENTROPY, backendName: 'wasm', kernelFunc: crossEntropy },
  { kernelName: CROSS_ENTROPY_GRAD, backendName: 'wasm', kernelFunc: crossEntropyGrad },
];

const gradient: GradConfig = {
  kernelName: CROSS_ENTROPY,
  inputsToSave: ['logits', 'labels'],
  gradFunc: (dy, saved, attrs) => ({
    logits: () =>
      tf
        .engine()
        .runKernel(
          CROSS_ENTROPY_GRAD,
          { logits: saved[0]!, labels: saved[1]!, dy: dy as Tensor },
          attrs as NamedAttrMap,
        ) as Tensor,
    labels: () => tf.zerosLike(saved[1]!),
  }),
};

/** Registers the two kernels for the wasm backend and the forward's gradient (once). */
export function registerCrossEntropyKernels(): void {
  registerKernels(kernels, [gradient]);
}
