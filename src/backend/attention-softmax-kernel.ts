/**
 * The attention weights' forward pass in native code, where the library is built (native-kernels.c's
 * `msd_attention_softmax`), as the wasm kernel
 *
 *   MsdAttentionSoftmax {scores: [b * heads, tq, tk], maskBias: [b, 1, 1, tk]} (scale) -> softmax(scores scale + mask)
 *
 * over the last axis: one call for what were three tfjs kernels (Multiply, Add, and XNNPACK's Softmax on one core),
 * three passes over each row on every core. src/model/bert-ops.ts's `attentionSoftmax` calls it where it is
 * registered; its gradient is MsdAttentionSoftmaxGrad (simd-kernels.ts), from the weights alone.
 *
 * Registered by initBackend only with the native library and the SIMD kernels (without them the three tfjs kernels
 * run). Bits: z = s scale + mask as the tfjs ops round it, the maximum exact, then this library's exp (the
 * polynomial of its GELU) and its order of summation: the weights are within 4 float32 ulps of float64's
 * (test/backend/fused-kernels.test.ts) and differ from XNNPACK's in the last bits, so the native library changes a
 * run's numbers slightly, as its products do.
 */
import { util, type KernelConfig, type KernelFunc, type Tensor, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tf } from '../tf.js';
import { registerKernels } from './register-kernels.js';
import { activeNativeKernels } from './simd-kernels.js';

export const ATTENTION_SOFTMAX = 'MsdAttentionSoftmax';

const attentionSoftmax: KernelFunc = ({ inputs, backend, attrs }) => {
  const { scores, maskBias } = inputs as { scores: TensorInfo; maskBias: TensorInfo };
  const { scale } = attrs as unknown as { scale: number };
  const what = ATTENTION_SOFTMAX;
  const [bh, tq, tk] = scores.shape as [number, number, number];
  const b = maskBias.shape[0]!;
  if (scores.dtype !== 'float32' || scores.shape.length !== 3) {
    throw new Error(`${what}: scores must be float32 [b * heads, tq, tk], got ${scores.dtype} [${scores.shape}]`);
  }
  if (maskBias.dtype !== 'float32' || util.sizeFromShape(maskBias.shape) !== b * tk || bh % b !== 0) {
    throw new Error(
      `${what}: maskBias must be float32 [b, 1, 1, ${tk}] with b dividing ${bh}, got [${maskBias.shape}]`,
    );
  }
  const native = activeNativeKernels();
  if (!native) throw new Error(`${what}: the native library is not loaded (initBackend registers this kernel with it)`);
  const wasm = backend as BackendWasm;
  const out = wasm.makeOutput([bh, tq, tk], 'float32');
  const views = [scores, maskBias, out].map((t) => wasm.typedArrayFromHeap(t) as Float32Array);
  const [s, m, o] = views.map((v) => native.address(v)) as [number, number, number];
  if (bh * tq * tk > 0) native.attentionSoftmax(s, m, o, bh * tq, (bh / b) * tq, tk, scale);
  return out;
};

const configs: KernelConfig[] = [{ kernelName: ATTENTION_SOFTMAX, backendName: 'wasm', kernelFunc: attentionSoftmax }];

/** Registers the kernel for the wasm backend (once; initBackend, with the native library loaded). */
export function registerAttentionSoftmaxKernel(): void {
  registerKernels(configs);
}

/** softmax(scores scale + maskBias) over the last axis (see the file comment); no gradient of its own. */
export function attentionSoftmaxOp(scores: Tensor, maskBias: Tensor, scale: number): Tensor {
  return tf.engine().runKernel(ATTENTION_SOFTMAX, { scores, maskBias }, { scale }) as Tensor;
}
