/**
 * Entity-level precision, recall and F1, as conlleval.pl computes them (and optionally in strict IOB2 mode).
 *
 * An entity is correct when gold and prediction have a chunk with the same start, end and type in the same
 * sentence; sentences are scored independently. Micro averages pool all entities; per-type scores carry their
 * support (gold entities of that type); the macro average is the plain mean of the per-type scores over every
 * type seen in gold or predictions (seqeval / scikit-learn's definition: macro F1 is the mean of per-type F1,
 * not the F1 of the mean precision and recall).
 *
 * Edge cases: precision is 0 when nothing was predicted and recall is 0 when there is no gold entity (conlleval
 * prints 0.00 for both), F1 is 0 when precision + recall is 0; `noEntities` flags the case of no entity on either
 * side, so a 0 there is not mistaken for a bad model. Nothing here returns NaN.
 */
import type { Sentence } from '../data/types.js';
import { chunks, type Chunk, type ChunkMode } from './chunks.js';

/** Precision, recall and F1 as fractions in [0, 1]. */
export interface PRF {
  precision: number;
  recall: number;
  f1: number;
}

/** Scores of one entity type. */
export interface TypeScore extends PRF {
  type: string;
  /** Gold entities of this type. */
  support: number;
  /** Predicted entities of this type (conlleval prints this count at the end of each type line). */
  predicted: number;
  /** Predicted entities of this type that match a gold entity exactly. */
  correct: number;
}

export interface EntityScores extends PRF {
  /** Which average `precision`/`recall`/`f1` above hold. */
  average: 'micro' | 'macro';
  mode: ChunkMode;
  micro: PRF;
  macro: PRF;
  /** One entry per type seen in gold or predictions, sorted by type name (code-unit order, as Perl's `sort`). */
  perType: TypeScore[];
  /** Gold entities (micro support). */
  support: number;
  predicted: number;
  correct: number;
  /** True when there is no entity in gold nor in the predictions: every score is then 0 by definition. */
  noEntities: boolean;
  sentences: number;
  tokens: number;
  /** Tokens whose predicted tag equals the gold tag, and their share (conlleval's "accuracy"). */
  correctTags: number;
  accuracy: number;
}

export interface ScoreOptions {
  /** Chunking rules (default `conlleval`); `strict` is strict IOB2, see chunks.ts. */
  mode?: ChunkMode;
  /** Which average the top-level precision/recall/f1 report (default `micro`; both are always in the result). */
  average?: 'micro' | 'macro';
  /** Sentence ids for error messages, when `gold` is plain tag lists. */
  ids?: readonly string[];
}

/** Gold tags: one tag list per sentence, or the sentences themselves. */
export type GoldInput = readonly (readonly string[])[] | readonly Sentence[];

/** Precision, recall, F1 from counts; 0 (never NaN) where a denominator is 0. */
export function prf(correct: number, predicted: number, gold: number): PRF {
  const precision = predicted > 0 ? correct / predicted : 0;
  const recall = gold > 0 ? correct / gold : 0;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { precision, recall, f1 };
}

function isSentences(gold: GoldInput): gold is readonly Sentence[] {
  return gold.length > 0 && !Array.isArray(gold[0]);
}

interface Counts {
  gold: number;
  predicted: number;
  correct: number;
}

function bump(map: Map<string, Counts>, type: string, key: keyof Counts): void {
  let c = map.get(type);
  if (!c) map.set(type, (c = { gold: 0, predicted: 0, correct: 0 }));
  c[key]++;
}

/** Counts exact matches between two chunk lists, both sorted by start (they never overlap within a side). */
function countMatches(gold: Chunk[], pred: Chunk[], perType: Map<string, Counts>): number {
  let i = 0;
  let j = 0;
  let correct = 0;
  while (i < gold.length && j < pred.length) {
    const g = gold[i]!;
    const p = pred[j]!;
    if (g.start < p.start) i++;
    else if (g.start > p.start) j++;
    else {
      if (g.end === p.end && g.type === p.type) {
        correct++;
        bump(perType, g.type, 'correct');
      }
      i++;
      j++;
    }
  }
  return correct;
}

/** Precision, recall and F1 of each entity type, types in conlleval's order. */
function typeScores(perTypeCounts: Map<string, Counts>): TypeScore[] {
  const types = [...perTypeCounts.keys()].sort(codeUnitOrder);
  return types.map((type) => {
    const c = perTypeCounts.get(type)!;
    return {
      type,
      ...prf(c.correct, c.predicted, c.gold),
      support: c.gold,
      predicted: c.predicted,
      correct: c.correct,
    };
  });
}

/**
 * Scores predicted tags against gold tags, sentence by sentence. Throws, naming the sentence (index and id), when
 * the sentence counts or a sentence's lengths differ, or when a tag is not O / B-T / I-T (/ E-T in conlleval mode).
 */
export function scoreEntities(
  gold: GoldInput,
  predicted: readonly (readonly string[])[],
  options: ScoreOptions = {},
): EntityScores {
  const mode = options.mode ?? 'conlleval';
  if (mode !== 'conlleval' && mode !== 'strict')
    throw new Error(`unknown chunk mode ${JSON.stringify(mode)}: expected 'conlleval' or 'strict'`);
  const average = options.average ?? 'micro';
  if (average !== 'micro' && average !== 'macro')
    throw new Error(`unknown average ${JSON.stringify(average)}: expected 'micro' or 'macro'`);
  const sentences = isSentences(gold) ? gold : undefined;
  const goldTags: readonly (readonly string[])[] = sentences
    ? sentences.map((s) => s.tags)
    : (gold as readonly (readonly string[])[]);
  const idOf = (i: number): string | undefined => sentences?.[i]?.id ?? options.ids?.[i];
  const name = (i: number): string => {
    const id = idOf(i);
    return `sentence ${i}${id !== undefined ? ` (id ${id})` : ''}`;
  };
  if (goldTags.length !== predicted.length) {
    throw new Error(
      `gold has ${goldTags.length} sentences but predictions have ${predicted.length}: expected one predicted tag list per gold sentence`,
    );
  }

  const perTypeCounts = new Map<string, Counts>();
  let goldCount = 0;
  let predCount = 0;
  let correct = 0;
  let tokens = 0;
  let correctTags = 0;
  for (let s = 0; s < goldTags.length; s++) {
    const g = goldTags[s];
    const p = predicted[s];
    if (!Array.isArray(g) || !Array.isArray(p)) {
      throw new Error(
        `${name(s)}: expected an array of tags on both sides, got ${Array.isArray(g) ? typeof p : typeof g}`,
      );
    }
    if (g.length !== p.length) {
      throw new Error(
        `${name(s)}: ${g.length} gold tags but ${p.length} predicted tags; every word needs exactly one predicted tag`,
      );
    }
    const gc = chunks(g, mode, { side: 'gold', sentence: s, id: idOf(s) });
    const pc = chunks(p, mode, { side: 'predicted', sentence: s, id: idOf(s) });
    for (const c of gc) bump(perTypeCounts, c.type, 'gold');
    for (const c of pc) bump(perTypeCounts, c.type, 'predicted');
    goldCount += gc.length;
    predCount += pc.length;
    correct += countMatches(gc, pc, perTypeCounts);
    tokens += g.length;
    // conlleval's token accuracy: prefix and type equal, i.e. the same tag string (both parsed fine above)
    for (let t = 0; t < g.length; t++) if (g[t] === p[t]) correctTags++;
  }

  const perType = typeScores(perTypeCounts);
  const micro = prf(correct, predCount, goldCount);
  const mean = (k: keyof PRF): number => (perType.length ? perType.reduce((a, t) => a + t[k], 0) / perType.length : 0);
  const macro: PRF = { precision: mean('precision'), recall: mean('recall'), f1: mean('f1') };
  const head = average === 'micro' ? micro : macro;
  return {
    ...head,
    average,
    mode,
    micro,
    macro,
    perType,
    support: goldCount,
    predicted: predCount,
    correct,
    noEntities: goldCount === 0 && predCount === 0,
    sentences: goldTags.length,
    tokens,
    correctTags,
    accuracy: tokens > 0 ? correctTags / tokens : 0,
  };
}

/**
 * conlleval.pl sorts type names with Perl's `sort` on UTF-8 bytes, which orders like code points; JS `<` compares
 * UTF-16 code units, the same order except for astral characters against U+E000..U+FFFF.
 */
function codeUnitOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
