/**
 * `stopGradient(x)`: the value of `x`, seen by the gradient tape as a constant (PyTorch `x.detach()`, TensorFlow
 * `tf.stop_gradient`). tfjs 4.22 has no such op.
 *
 * Here the copy is made with the tape paused (tfjs's own switch: the engine records no op while `kernelDepth` > 0,
 * which is how it keeps a kernel's inner ops off the tape), so the result has no path back to any variable and
 * backpropagation never walks what is computed from it. The earlier form, a `tf.customGrad` whose gradient is zero,
 * gave the same gradients but left everything after it on the path: in MMD (mmd.ts) the five bandwidths' gradients,
 * each a few passes over the [N, N] distances, were computed and then multiplied by that zero, about 60 kernels a
 * student step. The copy stays on the device: no download, which would stall the GPU and WebGL backends.
 */
import { tf } from '../tf.js';
import type { Tensor } from '../tf.js';

/** The parts of tfjs's engine state used here (tfjs-core `engine.ts`; not public API). */
interface TapeState {
  kernelDepth: number;
}

export function stopGradient<T extends Tensor>(x: T): T {
  const state = (tf.engine() as unknown as { state: TapeState }).state;
  state.kernelDepth++;
  try {
    return tf.clone(x);
  } finally {
    state.kernelDepth--;
  }
}
