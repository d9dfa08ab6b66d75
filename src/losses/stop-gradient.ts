/**
 * `stopGradient(x)`: the value of `x`, seen by the gradient tape as a constant (PyTorch `x.detach()`, TensorFlow
 * `tf.stop_gradient`). tfjs 4.22 has no such op, so it is built with `tf.customGrad` whose gradient is zero.
 *
 * Why not read the value with `dataSync()` and make a fresh tensor? That also cuts the tape, but it forces a
 * device-to-host download in the middle of every training step, which stalls the GPU and WebGL backends. The
 * custom-gradient version stays on the device; its only cost is a zeros tensor during backprop.
 */
import { tf } from '../tf.js';
import type { Tensor } from '../tf.js';

const detach = tf.customGrad((...inputs) => {
  const x = inputs[0] as Tensor;
  return { value: tf.clone(x), gradFunc: (dy: Tensor) => tf.zerosLike(dy) };
});

export function stopGradient<T extends Tensor>(x: T): T {
  return detach(x) as T;
}
