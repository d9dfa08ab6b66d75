/**
 * A/B of kernels in one process, for a loaded machine: one BERT-base layer forward+backward at 8x128 (the speed
 * bench's layer row), with the kernels named in AB_KERNELS registered ("new") and not ("old", where the model falls
 * back to tfjs ops), interleaved, AB_REPS (5) each; prints the median and minimum of each side and their ratios.
 *
 *   AB_KERNELS=MsdLayerNorm,MsdLayerNormGrad,MsdAttentionSoftmaxGrad,_FusedMatMul node --import tsx bench/ab-kernels.ts
 *
 * `_FusedMatMul`: "old" runs the dense layers' bias as before, the product then the wasm Add kernel. AB_B and AB_T
 * change the batch shape.
 */
import {
  getKernel,
  registerKernel,
  unregisterKernel,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '../src/backend/init.js';
import { layerStep } from './layer-step.js';

const names = (process.env.AB_KERNELS ?? 'MsdLayerNorm,MsdLayerNormGrad,MsdAttentionSoftmaxGrad,_FusedMatMul')
  .split(',')
  .filter(Boolean);
await initBackend({ prefer: 'blas' });
const saved = new Map<string, KernelConfig>(names.map((n) => [n, getKernel(n, 'wasm')!]));
// '_FusedMatMul' in AB_KERNELS: "old" runs the bias as before, a product then the wasm Add kernel.
const fused = saved.get('_FusedMatMul');
saved.delete('_FusedMatMul');
const batchMatMul = getKernel('BatchMatMul', 'wasm')!;
const add = getKernel('Add', 'wasm')!;
const unfused: KernelConfig = {
  kernelName: '_FusedMatMul',
  backendName: 'wasm',
  kernelFunc: ((args: Parameters<KernelFunc>[0]) => {
    const { a, b, bias } = args.inputs as { a: TensorInfo; b: TensorInfo; bias?: TensorInfo };
    const prod = batchMatMul.kernelFunc({ ...args, inputs: { a, b } }) as TensorInfo;
    if (!bias) return prod;
    const out = add.kernelFunc({ inputs: { a: prod, b: bias }, backend: args.backend, attrs: {} }) as TensorInfo;
    (args.backend as BackendWasm).disposeData(prod.dataId);
    return out;
  }) as unknown as KernelFunc,
};
const setOn = (on: boolean) => {
  if (fused) {
    unregisterKernel('_FusedMatMul', 'wasm');
    registerKernel(on ? fused : unfused);
  }
  for (const [n, c] of saved) {
    const has = getKernel(n, 'wasm') !== undefined;
    if (on && !has) registerKernel(c);
    if (!on && has) unregisterKernel(n, 'wasm');
  }
};
const [b, t] = [Number(process.env.AB_B ?? 8), Number(process.env.AB_T ?? 128)];
const layer = layerStep(b, t);
const step = () => layer.step();
const reps = Number(process.env.AB_REPS ?? 5);
const times: Record<string, number[]> = { old: [], new: [] };
const losses: Record<string, number> = {};
for (const on of [false, true]) {
  setOn(on);
  losses[on ? 'new' : 'old'] = step();
}
for (let r = 0; r < reps; r++) {
  for (const on of r % 2 ? [true, false] : [false, true]) {
    setOn(on);
    const t0 = performance.now();
    step();
    times[on ? 'new' : 'old']!.push(performance.now() - t0);
  }
}
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const min = (xs: number[]) => Math.min(...xs);
console.log(
  JSON.stringify({
    minRatio: min(times.new!) / min(times.old!),
    kernels: names,
    b,
    t,
    reps,
    oldMs: med(times.old!),
    newMs: med(times.new!),
    ratio: med(times.new!) / med(times.old!),
    losses,
    all: times,
  }),
);
