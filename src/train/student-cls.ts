/**
 * The teacher's [CLS] vectors that the MMD terms compare the student's with (paper, section 3), read from the run's
 * cache. The student's come from its pass over the step's target and source rows (student-pass.ts).
 */
import { tf } from '../tf.js';
import type { Encoded } from '../tokenizer/align.js';
import type { Batch } from '../tokenizer/batching.js';

/** Teacher [CLS] vectors of a source batch's windows, [b, H], from the cached [windows, H] array. */
export function teacherCls(cls: Float32Array, H: number, batch: Batch, index: Map<Encoded, number>): tf.Tensor2D {
  const out = new Float32Array(batch.items.length * H);
  batch.items.forEach((w, r) => {
    const k = index.get(w)!;
    out.set(cls.subarray(k * H, (k + 1) * H), r * H);
  });
  return tf.tensor2d(out, [batch.items.length, H]);
}
