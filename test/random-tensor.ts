/** Seeded random tensors for tests that compare two computations of the same function. */
import { tf } from '../src/tf.js';
import { createRng } from '../src/rng.js';

/** A float32 tensor of `shape` with values uniform in [-0.5, 0.5), the same for the same seed. */
export function randomTensor(shape: number[], seed: number): tf.Tensor {
  const rng = createRng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: n }, () => rng.next() - 0.5),
    shape,
  );
}
