/**
 * The gradients of `Sum` and `Mean` with their ones made by the backend, not by a JavaScript loop.
 *
 *   d sum_A(x) / dx = broadcast(dy)          d mean_A(x) / dx = broadcast(dy / n),  n = the size of the axes A
 *
 * tfjs's own (tfjs-core `gradients/Sum_grad.ts`, `Mean_grad.ts`) broadcast dy by multiplying it with `tf.ones(x.shape)`:
 * an x-sized array filled by a JavaScript loop and uploaded to the backend at every backward pass. In the tiny
 * preset's student step (64 + 64 sentences, the KD and MMD terms' sums over label and token axes) that fill alone
 * took about 3 ms of a 20 ms step (a V8 CPU profile of `bench/speed-msd.ts student tiny`). Here the ones come from
 * `tf.onesLike(x)`, filled by the backend's own `OnesLike` kernel where the tensor lives: the gradient of a sum over
 * [128, 40, 9, 9] took 1.3 against 3.1 ms on blas (`tf.broadcastTo`, the `Tile` kernel, was slower than either:
 * about 70 ns per value on wasm).
 *
 * Same bits as tfjs's: dy * 1 is dy exactly, and for the mean (dy / n) * 1 is (dy * 1) / n, dy / n computed on the
 * small dy before the broadcast (test/backend/reduce-gradients.test.ts compares both on every backend).
 *
 * `useReduceGradients()` registers them in tfjs's global gradient registry (replacing tfjs's two entries for the
 * whole process: the same values for any caller); `initBackend` calls it.
 */
import { tf } from '../tf.js';

/** dy reshaped to x's rank with the reduced axes kept as 1 (what both gradients broadcast). */
function expanded(dy: tf.Tensor, x: tf.Tensor, axis: number | number[]): tf.Tensor {
  const shape = x.shape.slice();
  for (const a of tf.util.parseAxisParam(axis, x.shape)) shape[a] = 1;
  return tf.reshape(dy, shape);
}

/** The `Sum` gradient: dy broadcast to x's shape. */
export const sumGradient: tf.GradConfig = {
  kernelName: tf.Sum,
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved as [tf.Tensor];
    const { axis } = attrs as unknown as tf.SumAttrs;
    return { x: () => tf.mul(expanded(dy as tf.Tensor, x, axis), tf.onesLike(x)) };
  },
};

/** The `Mean` gradient: dy / n broadcast to x's shape. */
export const meanGradient: tf.GradConfig = {
  kernelName: tf.Mean,
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved as [tf.Tensor];
    const { axis } = attrs as unknown as tf.MeanAttrs;
    const axes = tf.util.parseAxisParam(axis, x.shape);
    const n = axes.reduce((size, a) => size * x.shape[a]!, 1);
    return { x: () => tf.mul(tf.div(expanded(dy as tf.Tensor, x, axis), n), tf.onesLike(x)) };
  },
};

/** Registers both gradients (idempotent). */
export function useReduceGradients(): void {
  tf.registerGradient(sumGradient);
  tf.registerGradient(meanGradient);
}
