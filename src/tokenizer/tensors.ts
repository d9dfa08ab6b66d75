/**
 * Batches as int32 tensors. The caller owns the tensors and disposes them (`disposeBatchTensors` or
 * `tf.dispose`); nothing else is allocated, so a batch costs exactly its four or five tensors.
 */
import { tf, type Tensor2D } from '../tf.js';
import type { Batch } from './batching.js';

export interface BatchTensors {
  inputIds: Tensor2D;
  attentionMask: Tensor2D;
  tokenTypeIds: Tensor2D;
  /** Word index per sub-token, -1 on special tokens and padding. */
  wordIndex: Tensor2D;
  /** Present when the batch has labels; -100 where ignored. */
  labels?: Tensor2D;
}

/** int32 tensors of shape [b, t] for a batch. */
export function batchToTensors(batch: Batch): BatchTensors {
  const shape = batch.shape;
  const out: BatchTensors = {
    inputIds: tf.tensor2d(batch.inputIds, shape, 'int32'),
    attentionMask: tf.tensor2d(batch.attentionMask, shape, 'int32'),
    tokenTypeIds: tf.tensor2d(batch.tokenTypeIds, shape, 'int32'),
    wordIndex: tf.tensor2d(batch.wordIndex, shape, 'int32'),
  };
  if (batch.labels) out.labels = tf.tensor2d(batch.labels, shape, 'int32');
  return out;
}

/** Disposes every tensor of a `batchToTensors` result. */
export function disposeBatchTensors(t: BatchTensors): void {
  tf.dispose([t.inputIds, t.attentionMask, t.tokenTypeIds, t.wordIndex, ...(t.labels ? [t.labels] : [])]);
}
