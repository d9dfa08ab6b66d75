/**
 * Length-bucketed batches with dynamic padding.
 *
 * Every batch is padded to its own longest sequence, not to 128, and sequences of similar length are batched
 * together, so little of each batch is padding. With shuffling (training), the order is drawn from a seeded RNG:
 * sequences are shuffled, taken in pools of `poolBatches` batches, each pool sorted by length and cut into
 * batches, and the batches shuffled again; the pool keeps some randomness in which sequences meet, the final
 * shuffle keeps long and short batches mixed over the epoch. Same (seed, epoch) -> same batches. Without
 * shuffling (evaluation) the whole set is sorted by length. Batch size is a sequence count, a token budget
 * (padded tokens per batch, b * t), or both.
 */
import { IGNORE_LABEL, type Encoded } from './align.js';
import { createRng, mixSeed } from '../rng.js';

export interface BatchOptions {
  /** Sequences per batch (default 32 when no tokenBudget is given). */
  batchSize?: number;
  /** Most padded tokens (rows x longest row) per batch; a longer single sequence still gets a batch of its own. */
  tokenBudget?: number;
  /** Shuffle (default true). Seeded: `seed` and `epoch` fix the order. */
  shuffle?: boolean;
  seed?: number;
  /** Epoch number, mixed into the seed so each epoch has its own order (default 0). */
  epoch?: number;
  /** Group sequences of similar length (default true). */
  bucket?: boolean;
  /** Pool size in batches for bucketing while shuffling (default 50). */
  poolBatches?: number;
  /** Id written into padding positions of inputIds (default 0, `[PAD]` of BERT vocabularies; see tokenizer.padId). */
  padId?: number;
}

/** A padded batch as row-major typed arrays of shape [b, t], ready for int32 tensors. */
export interface Batch {
  inputIds: Int32Array;
  /** 1 on real sub-tokens, 0 on padding. */
  attentionMask: Int32Array;
  /** All 0 (single-segment input). */
  tokenTypeIds: Int32Array;
  /** -100 on ignored positions and padding; present when every item has labels. */
  labels?: Int32Array;
  /** Word index per sub-token (-1 on [CLS], [SEP] and padding), see `Encoded.wordIndex`. */
  wordIndex: Int32Array;
  shape: [number, number];
  /** The sequences of the batch, row by row. */
  items: readonly Encoded[];
}

function checkPositive(name: string, v: number | undefined): void {
  if (v !== undefined && (!Number.isInteger(v) || v < 1))
    throw new Error(`makeBatches: ${name} must be a positive integer, got ${v}`);
}

/** Cuts encoded sequences into padded batches (see the module comment). */
export function makeBatches(encoded: readonly Encoded[], opts: BatchOptions = {}): Batch[] {
  checkPositive('batchSize', opts.batchSize);
  checkPositive('tokenBudget', opts.tokenBudget);
  checkPositive('poolBatches', opts.poolBatches);
  const batchSize = opts.batchSize ?? (opts.tokenBudget ? Infinity : 32);
  const tokenBudget = opts.tokenBudget ?? Infinity;
  const shuffle = opts.shuffle ?? true;
  const bucket = opts.bucket ?? true;
  const rng = createRng(mixSeed(opts.seed ?? 0, opts.epoch ?? 0));
  const len = (i: number): number => encoded[i]!.inputIds.length;
  const byLength = (a: number, b: number): number => len(a) - len(b) || a - b;

  const order = encoded.map((_, i) => i);
  if (shuffle) rng.shuffle(order);
  let groups: number[][];
  if (!bucket) {
    groups = cut(order, len, batchSize, tokenBudget);
  } else if (!shuffle) {
    groups = cut(order.sort(byLength), len, batchSize, tokenBudget);
  } else {
    // A pool holds about `poolBatches` batches; with a token budget, estimate rows per batch from the mean length.
    const mean = encoded.length ? encoded.reduce((n, e) => n + e.inputIds.length, 0) / encoded.length : 1;
    const rows = Math.max(1, Math.min(batchSize, Math.floor(tokenBudget / mean)));
    const pool = Math.max(1, rows * (opts.poolBatches ?? 50));
    groups = [];
    for (let p = 0; p < order.length; p += pool)
      groups.push(...cut(order.slice(p, p + pool).sort(byLength), len, batchSize, tokenBudget));
    rng.shuffle(groups);
  }
  return groups.map((g) =>
    padBatch(
      g.map((i) => encoded[i]!),
      opts.padId ?? 0,
    ),
  );
}

/** Consecutive runs of `order` under both limits (rows, and rows x longest <= tokenBudget). */
function cut(order: number[], len: (i: number) => number, batchSize: number, tokenBudget: number): number[][] {
  const out: number[][] = [];
  let cur: number[] = [];
  let longest = 0;
  for (const i of order) {
    const l = Math.max(longest, len(i));
    if (cur.length > 0 && (cur.length + 1 > batchSize || (cur.length + 1) * l > tokenBudget)) {
      out.push(cur);
      cur = [];
      longest = 0;
    }
    cur.push(i);
    longest = Math.max(longest, len(i));
  }
  if (cur.length) out.push(cur);
  return out;
}

/** Pads sequences to the longest one: pad id 0, mask 0, label -100, word index -1. */
export function padBatch(items: readonly Encoded[], padId = 0): Batch {
  if (items.length === 0) throw new Error('padBatch: no sequences');
  const b = items.length;
  const t = Math.max(...items.map((e) => e.inputIds.length));
  const withLabels = items.filter((e) => e.labels !== undefined).length;
  if (withLabels !== 0 && withLabels !== b) {
    throw new Error(
      `padBatch: ${withLabels} of ${b} sequences have labels; a batch must be all labelled or all unlabelled (e.g. ${items.find((e) => !e.labels)!.sentenceId} has none)`,
    );
  }
  const inputIds = new Int32Array(b * t).fill(padId);
  const attentionMask = new Int32Array(b * t);
  const tokenTypeIds = new Int32Array(b * t);
  const wordIndex = new Int32Array(b * t).fill(-1);
  const labels = withLabels ? new Int32Array(b * t).fill(IGNORE_LABEL) : undefined;
  items.forEach((e, r) => {
    const o = r * t;
    inputIds.set(e.inputIds, o);
    attentionMask.fill(1, o, o + e.inputIds.length);
    wordIndex.set(e.wordIndex, o);
    if (labels) labels.set(e.labels!, o);
  });
  const batch: Batch = { inputIds, attentionMask, tokenTypeIds, wordIndex, shape: [b, t], items };
  if (labels) batch.labels = labels;
  return batch;
}

/**
 * Cuts a batch into consecutive groups of rows whose padded size (rows x their own longest row) stays within
 * `maxTokens`, each re-padded to its own longest row: the micro-batches of gradient accumulation. A row longer than
 * the budget gets a group of its own. `maxTokens` 0 (or a batch within it) returns the batch itself.
 */
export function splitBatch(batch: Batch, maxTokens: number, padId = 0): Batch[] {
  if (!Number.isInteger(maxTokens) || maxTokens < 0)
    throw new Error(`splitBatch: maxTokens must be an integer >= 0, got ${maxTokens}`);
  const [b, t] = batch.shape;
  if (maxTokens === 0 || b * t <= maxTokens) return [batch];
  const groups: Encoded[][] = [];
  let cur: Encoded[] = [];
  let longest = 0;
  for (const item of batch.items) {
    const len = Math.max(longest, item.inputIds.length);
    if (cur.length > 0 && (cur.length + 1) * len > maxTokens) {
      groups.push(cur);
      cur = [];
      longest = 0;
    }
    cur.push(item);
    longest = Math.max(longest, item.inputIds.length);
  }
  groups.push(cur);
  return groups.map((items) => padBatch(items, padId));
}

/** Cuts a batch's rows into `n` consecutive groups of near-equal size (sizes differ by at most one), each re-padded. */
export function chunkBatch(batch: Batch, n: number, padId = 0): Batch[] {
  const b = batch.items.length;
  if (!Number.isInteger(n) || n < 1 || n > b)
    throw new Error(`chunkBatch: n must be an integer in [1, ${b}], got ${n}`);
  if (n === 1) return [batch];
  const out: Batch[] = [];
  for (let k = 0, start = 0; k < n; k++) {
    const size = Math.floor(b / n) + (k < b % n ? 1 : 0);
    out.push(padBatch(batch.items.slice(start, start + size), padId));
    start += size;
  }
  return out;
}

/** The rows of a flat [b, t] array (e.g. argmax predictions of a batch) paired with the batch's items. */
export function batchRows<T extends ArrayLike<number> & { subarray(start: number, end: number): T }>(
  batch: Batch,
  flat: T,
): [Encoded, T][] {
  const [b, t] = batch.shape;
  if (flat.length !== b * t) throw new Error(`batchRows: expected ${b} x ${t} = ${b * t} values, got ${flat.length}`);
  return batch.items.map((e, r) => [e, flat.subarray(r * t, (r + 1) * t)]);
}

/** Real tokens / padded tokens over all batches (1 = no padding at all). */
export function paddingEfficiency(batches: readonly Batch[]): number {
  let real = 0;
  let padded = 0;
  for (const b of batches) {
    padded += b.shape[0] * b.shape[1];
    for (const e of b.items) real += e.inputIds.length;
  }
  return padded === 0 ? 1 : real / padded;
}

/**
 * The same ratio when every sequence is padded (and cut) to a fixed length, as the reference code does with 128:
 * sum(min(length, maxLength)) / (count x maxLength). `lengths` are sequence lengths with [CLS] and [SEP].
 */
export function fixedPaddingEfficiency(lengths: Iterable<number>, maxLength = 128): number {
  let real = 0;
  let n = 0;
  for (const l of lengths) {
    real += Math.min(l, maxLength);
    n++;
  }
  return n === 0 ? 1 : real / (n * maxLength);
}

/** Real (non-padding) tokens of a batch: the attention mask's sum (for tokens/s). */
export function realTokens(batch: Batch): number {
  let n = 0;
  for (let i = 0; i < batch.attentionMask.length; i++) n += batch.attentionMask[i]!;
  return n;
}
