/**
 * Token-level cross-entropy over labelled positions.
 *
 *   L_CE = - (1 / |P|) * sum_{i in P} log softmax(z_i)[y_i],   P = { i : y_i != -100 }
 *
 * z_i are the logits of one classifier head at position i, y_i the gold tag id. Positions whose label is the
 * ignore index (-100: padding, [CLS]/[SEP], non-first sub-tokens) contribute nothing, and the mean is over the
 * remaining positions only, as PyTorch's `CrossEntropyLoss(ignore_index=-100)` used by the reference code.
 *
 * On the wasm backend the loss and its gradient are one kernel each (src/backend/cross-entropy-kernels.ts, float64
 * inside, rounded once); elsewhere the tfjs ops below.
 *
 * Deliberate differences from the public reference code:
 * - When no position is labelled (|P| = 0) the loss is 0, not NaN: a batch of sentences without any first
 *   sub-token (possible after windowing) must not poison the run.
 * - Labels outside [0, C) other than the ignore index are an error here. PyTorch raises on CUDA too, but a
 *   one-hot formulation in tfjs would silently count them as probability 0 and train on nonsense.
 */
import { tf } from '../tf.js';
import type { Scalar, Tensor } from '../tf.js';
import { LossInputError, expectFloat, fmtShape, sameShape } from './check.js';
import { CROSS_ENTROPY } from '../backend/cross-entropy-kernels.js';
import { hasKernel } from '../backend/simd-kernels.js';

export const IGNORE_INDEX = -100;

export interface CrossEntropyOptions {
  /** Label value that marks a position as not labelled (default -100). */
  ignoreIndex?: number;
  /**
   * Check every label is in [0, C) or the ignore index (default true). It downloads the labels (b*t int32, tiny
   * next to a forward pass); turn it off only where the labels were validated upstream.
   */
  validateLabels?: boolean;
}

/**
 * Mean cross-entropy over the positions whose label is not `ignoreIndex`.
 * @param logits float32 `[..., C]` (usually `[b, t, C]`)
 * @param labels int32 of shape `logits.shape` without the last axis (usually `[b, t]`)
 * @returns a scalar; 0 when nothing is labelled
 */
export function tokenCrossEntropy(logits: Tensor, labels: Tensor, opts: CrossEntropyOptions = {}): Scalar {
  const ignoreIndex = opts.ignoreIndex ?? IGNORE_INDEX;
  const where = 'ce.ts: tokenCrossEntropy';
  expectFloat(where, 'logits', logits);
  if (labels.dtype !== 'int32') {
    throw new LossInputError(
      where,
      `labels have dtype ${labels.dtype}; expected int32 tag ids (${ignoreIndex} = ignored)`,
    );
  }
  if (logits.rank < 2 || !sameShape(logits.shape.slice(0, -1), labels.shape)) {
    throw new LossInputError(
      where,
      `logits ${fmtShape(logits.shape)} and labels ${fmtShape(labels.shape)} do not match; expected logits = labels shape + [C]`,
    );
  }
  const numClasses = logits.shape[logits.rank - 1];
  if (opts.validateLabels ?? true) {
    const ids = labels.dataSync();
    for (let i = 0; i < ids.length; i++) {
      const y = ids[i];
      if (y !== ignoreIndex && (y < 0 || y >= numClasses)) {
        throw new LossInputError(
          where,
          `label ${y} at flat position ${i} is outside [0, ${numClasses}) and is not the ignore index ${ignoreIndex}`,
        );
      }
    }
  }
  // On wasm one kernel each way (src/backend/cross-entropy-kernels.ts: the same formula in float64, rounded once).
  if (hasKernel(CROSS_ENTROPY) && logits.dtype === 'float32') {
    return tf.engine().runKernel(CROSS_ENTROPY, { logits, labels }, { ignoreIndex }) as Scalar;
  }
  return tf.tidy(() => {
    const flatLogits = tf.reshape(logits, [-1, numClasses]);
    const flatLabels = tf.reshape(labels, [-1]);
    const labelled = tf.notEqual(flatLabels, tf.scalar(ignoreIndex, 'int32'));
    const mask = tf.cast(labelled, 'float32');
    // Ignored positions get class 0 so oneHot stays in range; their term is multiplied by 0 below.
    const safe = tf.where(labelled, flatLabels, tf.zerosLike(flatLabels));
    const logProbs = tf.logSoftmax(flatLogits);
    const picked = tf.sum(tf.mul(logProbs, tf.oneHot(safe, numClasses)), -1);
    const count = tf.maximum(tf.sum(mask), tf.scalar(1));
    // 0 - x rather than -x: with nothing labelled this is +0, not -0.
    return tf.div(tf.sub(tf.scalar(0), tf.sum(tf.mul(picked, mask))), count) as Scalar;
  });
}
