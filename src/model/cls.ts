/**
 * The [CLS] vector: the first position of a hidden layer, the representation the MMD terms align (MMD_M, MMD_L on
 * H_cls) and the one Figure 2 projects. One slice and one reading of `clsLayer` for training, caching and diagnostics.
 */
import { tf } from '../tf.js';

/** [batch, H] [CLS] vectors of a [batch, length, H] hidden layer (differentiable; the caller disposes). */
export function clsSlice(hidden: tf.Tensor3D): tf.Tensor2D {
  const [b, , H] = hidden.shape;
  return tf.reshape(tf.slice(hidden, [0, 0, 0], [b, 1, H]), [b, H]);
}

/**
 * A hidden layer index as a config or a caller gives it: 0 = embeddings, m = transformer layer m, negative counts
 * from the last (-1 = the last layer, `student.clsLayer`'s default).
 */
export function resolveLayer(layer: number, numLayers: number): number {
  return layer < 0 ? numLayers + 1 + layer : layer;
}
