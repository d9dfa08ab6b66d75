/**
 * The [CLS] vectors the MMD terms compare (paper, section 3): the teacher's, read from the run's cache, and the
 * student's, from a forward pass on the step's source batch.
 */
import type { MsdConfig } from '../config.js';
import { clsSlice } from '../model/cls.js';
import type { NerModel } from '../model/ner-model.js';
import type { BertOutput } from '../model/bert.js';
import { tf } from '../tf.js';
import type { Encoded } from '../tokenizer/align.js';
import type { Batch } from '../tokenizer/batching.js';
import { batchToTensors } from '../tokenizer/tensors.js';
import { streamSeed } from '../rng.js';

/** Teacher [CLS] vectors of a source batch's windows, [b, H], from the cached [windows, H] array. */
export function teacherCls(cls: Float32Array, H: number, batch: Batch, index: Map<Encoded, number>): tf.Tensor2D {
  const out = new Float32Array(batch.items.length * H);
  batch.items.forEach((w, r) => {
    const k = index.get(w)!;
    out.set(cls.subarray(k * H, (k + 1) * H), r * H);
  });
  return tf.tensor2d(out, [batch.items.length, H]);
}

/** The dropout seed of the student's forward on a source batch, derived from the step seed. */
export function sourceSeed(stepSeed: number): number {
  return streamSeed(stepSeed, 'mmd-source');
}

/**
 * The student's forward on a source batch (the MMD_M input), dropout seeded from the step seed (`sourceSeed`); `frozenPrefix`
 * continues from the frozen prefix's states of an earlier identical forward (see `ForwardOptions`).
 */
export function studentSourceForward(
  student: NerModel,
  source: Batch,
  stepSeed: number,
  frozen: MsdConfig['student'],
  frozenPrefix?: tf.Tensor3D[],
): BertOutput {
  const xs = batchToTensors(source);
  return student.encoder.forward(xs, {
    training: true,
    dropoutSeed: sourceSeed(stepSeed),
    frozen,
    frozenPrefix,
  });
}

/** The student's [CLS] on a source batch (the MMD_M input), dropout seeded from the step seed. */
export function studentCls(
  student: NerModel,
  source: Batch,
  stepSeed: number,
  clsLayer: number,
  frozen: MsdConfig['student'],
  frozenPrefix?: tf.Tensor3D[],
): tf.Tensor2D {
  return clsSlice(studentSourceForward(student, source, stepSeed, frozen, frozenPrefix).hidden[clsLayer]!);
}
