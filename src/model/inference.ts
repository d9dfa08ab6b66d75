/**
 * Running a model over encoded windows in evaluation mode (no dropout), one length-bucketed batch at a time: the one
 * inference loop behind prediction and evaluation (eval/predict.ts), the teacher-output cache (train/cache.ts) and
 * the [CLS] diagnostics (diagnostics/cls.ts).
 *
 *   const batches = inferenceBatches(windows, model.tokenizer.padId);
 *   const out = readHeads(model, batches, { layers: [12], softmaxOf: [4, 12], clsOf: [12] });   // one per batch
 *
 * Each consumer says what it reads (`HeadReadout`) rather than handing in a callback, so a batch's result is plain
 * arrays: the batches are independent, and on Node they run on both cores (model/inference-pool.ts, installed by
 * `initBackend`); in the browser, and for small jobs, they run in a loop in this thread. Leak-free: every tensor of
 * a batch is freed before the next.
 */
import type { AnySentence } from '../data/types.js';
import { tf } from '../tf.js';
import type { Encoded } from '../tokenizer/align.js';
import { makeBatches, type Batch } from '../tokenizer/batching.js';
import { batchToTensors, disposeBatchTensors } from '../tokenizer/tensors.js';
import type { NerModel } from './ner-model-type.js';
import { clsSlice } from './cls.js';
import type { FreezeOptions } from './params.js';

/** The batches `readHeads` runs, in this order: the windows sorted by length, cut every `batchSize` (default 32). */
export function inferenceBatches(windows: readonly Encoded[], padId: number, batchSize = 32): Batch[] {
  return makeBatches(windows, { batchSize, shuffle: false, bucket: true, padId });
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
 * What `readHeads` reads from each batch, all in evaluation mode:
 * - `layers`: the argmax tag id of each of these heads at every position (prediction, evaluation);
 * - `probsOf`: that head's probability of its argmax tag (`predict`'s confidence);
 * - `softmaxOf`: the full tag distribution of each of these heads (the teacher's KD targets, train/cache.ts);
 * - `clsOf`: the [CLS] vector of each of these hidden layers, 0 = embeddings (MMD, diagnostics).
 */
export interface HeadReadout {
  layers: readonly number[];
  probsOf?: number;
  softmaxOf?: readonly number[];
  clsOf?: readonly number[];
  /**
   * A training-mode forward (dropout on) instead of evaluation mode: batch b's dropout seed is `seeds[b]`, and
   * `frozen` is the model's frozen part (a student step's pass off the tape, train/student-micro-batches.ts).
   * Reads [CLS] vectors and prefix states only.
   */
  dropout?: { seeds: readonly number[]; frozen: FreezeOptions };
  /** Also return the first `prefixBlocks` hidden states (embeddings = block 0: the frozen prefix's states). */
  prefixBlocks?: number;
}

/**
 * One batch's readout, for a batch of `rows` x `length` positions, C labels and hidden size H, k indexing the
 * readout's list: `ids[k * rows * length + r * length + p]` (head `layers[k]`, row r, position p);
 * `probs[r * length + p]`; `softmax[((k * rows + r) * length + p) * C + c]`; `cls[(k * rows + r) * H + h]`.
 */
export interface BatchReadout {
  ids: Int32Array;
  probs?: Float32Array;
  softmax?: Float32Array;
  cls?: Float32Array;
  /** `prefix[((j * rows + r) * length + p) * H + h]`: hidden state j < prefixBlocks. */
  prefix?: Float32Array;
}

/** The arrays of one batch a readout needs (a `Batch` without its items), as a worker thread receives them. */
export type BatchArrays = Pick<Batch, 'inputIds' | 'attentionMask' | 'tokenTypeIds' | 'wordIndex' | 'shape'>;

/**
 * Batch number `index` of a job through the model, in evaluation mode unless `readout.dropout`, read out (the heads
 * run only when the readout needs them).
 */
export function readBatchHeads(
  model: Pick<NerModel, 'encoder' | 'heads'>,
  batch: BatchArrays,
  readout: HeadReadout,
  index = 0,
): BatchReadout {
  const x = batchToTensors(batch as Batch);
  let out: BatchReadout | undefined;
  try {
    // The arrays leave through `out`, not as tidy's result: tidy walks its result looking for tensors, element by
    // element through typed arrays (seconds per student step for the prefix states).
    tf.tidy(() => {
      const { dropout } = readout;
      const { hidden } = model.encoder.forward(
        x,
        dropout ? { training: true, dropoutSeed: dropout.seeds[index]!, frozen: dropout.frozen } : { training: false },
      );
      const softmaxOf = readout.softmaxOf ?? [];
      const clsOf = readout.clsOf ?? [];
      const needsHeads = readout.layers.length > 0 || readout.probsOf !== undefined || softmaxOf.length > 0;
      if (needsHeads && dropout)
        throw new Error('readHeads: a training-mode readout reads [CLS] and prefix states only');
      const logits = needsHeads ? model.heads.logits(hidden, { training: false }) : new Map<number, tf.Tensor3D>();
      const ids = valuesOf(
        readout.layers.map((m) => tf.argMax(logits.get(m)!, -1)),
        Int32Array,
      );
      const probs =
        readout.probsOf === undefined
          ? undefined
          : valuesOf([tf.max(tf.softmax(logits.get(readout.probsOf)!), -1)], Float32Array);
      const softmax = softmaxOf.length
        ? valuesOf(
            softmaxOf.map((m) => tf.softmax(logits.get(m)!)),
            Float32Array,
          )
        : undefined;
      const cls = clsOf.length
        ? valuesOf(
            clsOf.map((m) => clsSlice(hidden[m]!)),
            Float32Array,
          )
        : undefined;
      const blocks = readout.prefixBlocks ?? 0;
      const prefix = blocks > 0 ? valuesOf(hidden.slice(0, blocks), Float32Array) : undefined;
      out = { ids, probs, softmax, cls, prefix };
    });
  } finally {
    disposeBatchTensors(x);
  }
  return out!;
}

/** The values of `parts`, back to back, in one new array. */
function valuesOf<A extends Float32Array | Int32Array>(parts: tf.Tensor[], Ctor: { new (n: number): A }): A {
  const out = new Ctor(parts.reduce((n, t) => n + t.size, 0));
  let at = 0;
  for (const t of parts) {
    out.set(t.dataSync() as A, at);
    at += t.size;
  }
  return out;
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
  return batches.map((b, i) => {
    const out = readBatchHeads(model, b, readout, i);
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
