/**
 * Running a model over encoded windows in evaluation mode (no dropout), one length-bucketed batch at a time: the one
 * inference loop behind the teacher-output cache (train/cache.ts), the [CLS] diagnostics (diagnostics/cls.ts) and
 * prediction (eval/predict.ts).
 *
 *   inferBatches(model, windows, ({ hidden, logits, items, length }) => { ... read with dataSync() ... });
 *
 * The callback runs inside tf.tidy: it copies what it needs out of the tensors (dataSync) and keeps no tensor; the
 * batch's tensors are freed after it returns (leak-free).
 *
 * Decoding heads (prediction, evaluation) reads the same two things from every batch, so it has its own entry point,
 * `readHeads`: the argmax tag id per head and, optionally, one head's probability of that tag. Its batches are
 * independent and its outputs small, so on Node it runs on both cores (model/inference-pool.ts, installed by
 * `initBackend`); in the browser, and for small jobs, it is a loop over the batches in this thread.
 */
import type { AnySentence } from '../data/types.js';
import { tf } from '../tf.js';
import type { Encoded } from '../tokenizer/align.js';
import { makeBatches, type Batch } from '../tokenizer/batching.js';
import { batchToTensors, disposeBatchTensors } from '../tokenizer/tensors.js';
import type { NerModel } from './ner-model-type.js';

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

/**
 * What `readHeads` reads from each batch: the argmax tag id of each head in `layers`, and the probability of that
 * tag under head `probsOf` (the main head, for `predict`).
 */
export interface HeadReadout {
  layers: readonly number[];
  probsOf?: number;
}

/**
 * One batch's readout, for a batch of `rows` x `length` positions: `ids[k * rows * length + r * length + p]` is the
 * tag id of head `layers[k]` at row r, position p; `probs[r * length + p]` is head `probsOf`'s probability of its tag.
 */
export interface BatchReadout {
  ids: Int32Array;
  probs?: Float32Array;
}

/** The arrays of one batch a readout needs (a `Batch` without its items), as a worker thread receives them. */
export type BatchArrays = Pick<Batch, 'inputIds' | 'attentionMask' | 'tokenTypeIds' | 'wordIndex' | 'shape'>;

/** One batch through the model in evaluation mode, read out. Leak-free. */
export function readBatchHeads(
  model: Pick<NerModel, 'encoder' | 'heads'>,
  batch: BatchArrays,
  readout: HeadReadout,
): BatchReadout {
  const x = batchToTensors(batch as Batch);
  try {
    return tf.tidy(() => {
      const { hidden } = model.encoder.forward(x, { training: false });
      const logits = model.heads.logits(hidden, { training: false });
      const size = batch.shape[0] * batch.shape[1];
      const ids = new Int32Array(readout.layers.length * size);
      readout.layers.forEach((m, k) => ids.set(tf.argMax(logits.get(m)!, -1).dataSync() as Int32Array, k * size));
      const probs =
        readout.probsOf === undefined
          ? undefined
          : Float32Array.from(tf.max(tf.softmax(logits.get(readout.probsOf)!), -1).dataSync() as Float32Array);
      return { ids, probs };
    });
  } finally {
    disposeBatchTensors(x);
  }
}

export interface ReadHeadsOptions {
  /**
   * Threads to share the batches among: 1 runs them all in this thread. Default: the runner's choice (on Node,
   * `MSD_INFERENCE_THREADS`, else both cores for jobs worth a worker thread; see inference-pool.ts).
   */
  threads?: number;
  /** Called as batches finish with (done, total) windows. */
  onProgress?: (done: number, total: number) => void;
}

/** Runs a readout over batches and returns one `BatchReadout` per batch, in batch order. */
export type HeadsRunner = (
  model: NerModel,
  batches: readonly Batch[],
  readout: HeadReadout,
  opts: ReadHeadsOptions,
) => BatchReadout[];

/** Every batch in this thread, in order. */
export const readHeadsHere: HeadsRunner = (model, batches, readout, opts) => {
  const total = batches.reduce((n, b) => n + b.shape[0], 0);
  let done = 0;
  return batches.map((b) => {
    const out = readBatchHeads(model, b, readout);
    done += b.shape[0];
    opts.onProgress?.(done, total);
    return out;
  });
};

let runner: HeadsRunner = readHeadsHere;

/** Replaces how `readHeads` runs (initBackend installs inference-pool.ts's runner on Node); returns the previous one. */
export function setHeadsRunner(next: HeadsRunner): HeadsRunner {
  const prev = runner;
  runner = next;
  return prev;
}

/** Reads every batch's heads (see `HeadReadout`), in batch order, with the installed runner. */
export function readHeads(
  model: NerModel,
  batches: readonly Batch[],
  readout: HeadReadout,
  opts: ReadHeadsOptions = {},
): BatchReadout[] {
  return runner(model, batches, readout, opts);
}
