/**
 * One BERT-base layer, forward + backward, at batch b x t with the second half of the first row padded: the speed
 * bench's layer row and the kernel A/B (ab-kernels.ts) time the same step. A one-layer encoder with its
 * embeddings frozen (run off the tape), so the gradient covers exactly one layer's weights, of the mean square of
 * its output over the real tokens; bench/reference/torch_msd.py's `layer` computes the same function (its input
 * needs no gradient either).
 */
import { tf } from '../src/tf.js';
import { BertEncoder } from '../src/model/bert.js';
import { bertConfig } from '../src/model/config.js';

export interface LayerStep {
  /** One forward + backward; returns the loss (read back, so the step is complete when it returns). */
  step(): number;
  dispose(): void;
}

export function layerStep(b = 8, t = 128): LayerStep {
  const cfg = bertConfig({ vocabSize: 1000, hiddenSize: 768, numLayers: 1, numHeads: 12, intermediateSize: 3072 });
  const enc = BertEncoder.random(cfg, 1);
  const x = tf.randomUniform([b, t], 0, 1000, 'int32') as tf.Tensor2D;
  const maskValues = new Int32Array(b * t).fill(1);
  maskValues.fill(0, t / 2, t);
  const mask = tf.tensor2d(maskValues, [b, t], 'int32');
  const real = tf.tidy(() => tf.expandDims(tf.cast(mask, 'float32'), 2));
  const realCount = maskValues.reduce((a, v) => a + v, 0);
  const frozen = { freezeEmbeddings: true, freezeLayers: 0 };
  const vars = enc.trainableVariables(frozen).map((v) => v.variable);
  return {
    step() {
      const { value, grads } = tf.variableGrads(() => {
        const { hidden } = enc.forward(
          { inputIds: x, attentionMask: mask },
          { training: true, dropoutSeed: 3, frozen },
        );
        // Mean of h^2 over the real tokens (a loss reads no padded position), as the PyTorch reference computes it.
        return tf.div(tf.sum(tf.mul(tf.square(hidden[1]!), real)), realCount * 768) as tf.Scalar;
      }, vars);
      const v = value.dataSync()[0]!;
      tf.dispose([value, ...Object.values(grads)]);
      return v;
    },
    dispose() {
      tf.dispose([x, mask, real]);
      enc.dispose();
    },
  };
}
