/**
 * Running a model over encoded windows in evaluation mode (no dropout), one length-bucketed batch at a time: the one
 * inference loop behind the teacher-output cache (train/cache.ts), the [CLS] diagnostics (diagnostics/cls.ts) and
 * prediction (eval/predict.ts).
 *
 *   inferBatches(model, windows, ({ hidden, logits, items, length }) => { ... read with dataSync() ... });
 *
 * The callback runs inside tf.tidy: it copies what it needs out of the tensors (dataSync) and keeps no tensor; the
 * batch's tensors are freed after it returns (leak-free).
 */
import type { AnySentence } from '../data/types.js';
import { tf } from '../tf.js';
import type { Encoded } from '../tokenizer/align.js';
import { makeBatches, type Batch } from '../tokenizer/batching.js';
import { batchToTensors, disposeBatchTensors } from '../tokenizer/tensors.js';
import type { NerModel } from './ner-model.js';

export interface InferenceBatch {
  /** hidden[0] = embeddings, hidden[m] = layer m, each [batch, length, H]. */
  hidden: tf.Tensor3D[];
  /** The heads' logits per head layer ([batch, length, labels]), computed on first call. */
  logits(): Map<number, tf.Tensor3D>;
  /** The windows of this batch, in row order. */
  items: readonly Encoded[];
  /** The padded length of this batch. */
  length: number;
}

export interface InferenceOptions {
  /** Sequences per forward pass (default 32). */
  batchSize?: number;
  /** Called after each batch with (done, total) windows. */
  onProgress?: (done: number, total: number) => void;
}

/** The batches `inferBatches` runs, in its order: the windows sorted by length, cut every `batchSize` (default 32). */
export function inferenceBatches(windows: readonly Encoded[], padId: number, batchSize = 32): Batch[] {
  return makeBatches(windows, { batchSize, shuffle: false, bucket: true, padId });
}

/** Every window through the model, batch by batch, in evaluation mode; `read` copies out what it needs. */
export function inferBatches(
  model: NerModel,
  windows: readonly Encoded[],
  read: (batch: InferenceBatch) => void,
  opts: InferenceOptions = {},
): void {
  const batches = inferenceBatches(windows, model.tokenizer.padId, opts.batchSize);
  let done = 0;
  for (const batch of batches) {
    const x = batchToTensors(batch);
    try {
      tf.tidy(() => {
        const { hidden } = model.encoder.forward(x, { training: false });
        let logits: Map<number, tf.Tensor3D> | undefined;
        read({
          hidden,
          logits: () => (logits ??= model.heads.logits(hidden, { training: false })),
          items: batch.items,
          length: batch.shape[1],
        });
      });
    } finally {
      disposeBatchTensors(x);
    }
    done += batch.shape[0];
    opts.onProgress?.(done, windows.length);
  }
}

/** Sentence ids must be unique (outputs are matched back by id); `where` names the caller in the error. */
export function checkUniqueIds(sentences: readonly AnySentence[], where: string): void {
  const seen = new Set<string>();
  for (const s of sentences) {
    if (seen.has(s.id))
      throw new Error(
        `${where}: sentence id '${s.id}' appears twice (${s.source.file}:${s.source.line}); ids must be unique`,
      );
    seen.add(s.id);
  }
}
