/**
 * Running a trained model over sentences: every head (layer 4..12 by default) is decoded to one tag per word.
 * Long sentences are windowed by the tokenizer and merged back (each word is read from the window that owns it),
 * so every word is predicted; nothing is cut at 128 sub-tokens as in the public reference code.
 */
import type { AnySentence, UnlabelledSentence } from '../data/types.js';
import { unlabelled } from '../data/unlabelled.js';
import type { NerModel } from '../model/ner-model-type.js';
import { checkUniqueIds, inferenceBatches, readHeads } from '../model/inference.js';
import { encodeDataset } from '../tokenizer/dataset.js';
import type { Encoded } from '../tokenizer/align.js';
import { decodeWordLabels } from '../tokenizer/decode.js';
import { entitySpans, type EntitySpan } from './spans.js';

export interface RunHeadsOptions {
  /** Heads to decode (default: every head of the model). */
  layers?: readonly number[];
  /** Sequences per forward pass (default 32). */
  batchSize?: number;
  /** Also return the main head's probability of the predicted tag per word. */
  probs?: boolean;
  /** Called as batches finish with (done, total) sequences. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Threads to run the batches on (1: this thread only, 2: this one and a worker). Default: both cores on Node
   * for jobs worth it (about a second of work; `MSD_INFERENCE_THREADS` overrides; model/inference-pool.ts).
   */
  threads?: number;
}

export interface HeadOutputs {
  layers: number[];
  /** Per layer: one Int32Array of label ids per input sentence (input order), one id per word. */
  labels: Map<number, Int32Array[]>;
  /** Main head: probability of the predicted tag per word, per sentence (when `probs`). */
  probs?: Float32Array[];
}

/** Positions are encoded as window * STRIDE + position so that one decode pass finds each word's owner. */
const STRIDE = 1 << 16;

/** Runs the heads on sentences in evaluation mode (no dropout) and decodes per-word label ids. Leak-free. */
export function runHeads(model: NerModel, sentences: readonly AnySentence[], opts: RunHeadsOptions = {}): HeadOutputs {
  const layers = [...(opts.layers ?? model.heads.layers)];
  for (const m of layers) {
    if (!model.heads.layers.includes(m))
      throw new Error(`runHeads: the model has no head on layer ${m} (heads: ${model.heads.layers.join(', ')})`);
  }
  checkUniqueIds(sentences, 'runHeads');
  const { encoded } = encodeDataset(model.tokenizer, sentences, { maxLength: model.maxLength });
  const batches = inferenceBatches(encoded, model.tokenizer.padId, opts.batchSize);
  const readouts = readHeads(
    model,
    batches,
    { layers, probsOf: opts.probs ? model.heads.mainLayer : undefined },
    { threads: opts.threads, onProgress: opts.onProgress },
  );
  // Per window: predicted ids per layer, and the main head's max probability.
  const preds = new Map<Encoded, { ids: Map<number, Int32Array>; prob?: Float32Array }>();
  batches.forEach(({ items, shape: [rows, len] }, b) => {
    const { ids, probs } = readouts[b]!;
    items.forEach((item, r) => {
      const n = item.inputIds.length;
      const at = r * len;
      preds.set(item, {
        ids: new Map(layers.map((m, k) => [m, ids.slice(k * rows * len + at, k * rows * len + at + n)])),
        prob: probs?.slice(at, at + n),
      });
    });
  });
  // The windows of a sentence are consecutive in `encoded`.
  const labels = new Map<number, Int32Array[]>(layers.map((m) => [m, []]));
  const probs: Float32Array[] | undefined = opts.probs ? [] : undefined;
  let i = 0;
  for (const s of sentences) {
    const windows: Encoded[] = [];
    while (i < encoded.length && encoded[i]!.sentenceId === s.id) windows.push(encoded[i++]!);
    if (s.tokens.length === 0) {
      for (const m of layers) labels.get(m)!.push(new Int32Array(0));
      probs?.push(new Float32Array(0));
      continue;
    }
    const owner = decodeWordLabels(
      windows,
      windows.map((w, k) => Int32Array.from({ length: w.inputIds.length }, (_, p) => k * STRIDE + p)),
    );
    for (const m of layers) {
      labels
        .get(m)!
        .push(
          Int32Array.from(owner, (code) => preds.get(windows[Math.floor(code / STRIDE)]!)!.ids.get(m)![code % STRIDE]!),
        );
    }
    probs?.push(
      Float32Array.from(owner, (code) => preds.get(windows[Math.floor(code / STRIDE)]!)!.prob![code % STRIDE]!),
    );
  }
  return { layers, labels, probs };
}

/** Tags per word for each head: layer -> one tag list per sentence. */
export function predictLayerTags(
  model: NerModel,
  sentences: readonly AnySentence[],
  opts: RunHeadsOptions = {},
): Map<number, string[][]> {
  const { labels } = runHeads(model, sentences, opts);
  return new Map(
    [...labels].map(([m, perSentence]) => [
      m,
      perSentence.map((ids) => Array.from(ids, (id) => model.schema.idToTag[id]!)),
    ]),
  );
}

export interface Prediction {
  id: string;
  tokens: readonly string[];
  /** One tag per word, from the main head. */
  tags: string[];
  /** Probability of each word's predicted tag. */
  probs: number[];
  /** Entities with word offsets, text and mean probability. */
  entities: EntitySpan[];
}

/**
 * Splits raw text into words the way BERT's basic tokenizer would see them: whitespace, then punctuation as
 * separate words (so "Madrid," gives "Madrid" and ","). Tokens keep their original characters.
 */
export function pretokenize(text: string): string[] {
  return text.match(/[\p{L}\p{M}\p{N}_]+|[^\s\p{L}\p{M}\p{N}_]/gu) ?? [];
}

/** Where each word of `tokens` (e.g. `pretokenize(text)`, in order) lies in `text`: [start, end) character offsets. */
export function wordOffsets(text: string, tokens: readonly string[]): [number, number][] {
  let at = 0;
  return tokens.map((t) => {
    const i = text.indexOf(t, at);
    if (i < 0) throw new Error(`wordOffsets: word "${t}" not found in the text after offset ${at}`);
    at = i + t.length;
    return [i, at];
  });
}

/**
 * Tags new sentences with the main head: pre-tokenised sentences, token lists, or raw strings (split by
 * `pretokenize`). Returns tags, per-word probabilities and entity spans.
 */
export function predict(
  model: NerModel,
  input: readonly (AnySentence | readonly string[] | string)[],
  opts: { batchSize?: number; joiner?: string } = {},
): Prediction[] {
  const sentences: UnlabelledSentence[] = unlabelled(
    input.map((x, i) => {
      if (typeof x === 'string' || Array.isArray(x)) {
        const tokens = typeof x === 'string' ? pretokenize(x) : [...(x as readonly string[])];
        return {
          id: `input#${i}`,
          lang: 'und',
          tokens,
          tags: tokens.map(() => 'O'),
          source: { file: '<input>', line: i + 1 },
        };
      }
      const s = x as AnySentence;
      return { id: s.id, lang: s.lang, tokens: [...s.tokens], tags: s.tokens.map(() => 'O'), source: s.source };
    }),
  );
  const main = model.heads.mainLayer;
  const out = runHeads(model, sentences, { layers: [main], probs: true, batchSize: opts.batchSize });
  return sentences.map((s, i) => {
    const tags = Array.from(out.labels.get(main)![i]!, (id) => model.schema.idToTag[id]!);
    const probs = Array.from(out.probs![i]!);
    return {
      id: s.id,
      tokens: s.tokens,
      tags,
      probs,
      entities: entitySpans(s.tokens, tags, { probs, joiner: opts.joiner }),
    };
  });
}
