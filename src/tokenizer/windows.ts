/**
 * Long sentences: windows over whole words so that every word is predicted and evaluated.
 *
 * The public reference code truncates every sentence to 128 sub-tokens and silently drops the words beyond it
 * from both gold and prediction. Here a sentence whose sub-tokens exceed the budget (maxLength - 2 for [CLS] and
 * [SEP]) is covered by overlapping windows cut at word boundaries: each window is filled greedily, and the next one
 * starts far enough back that up to `stride` sub-tokens of the previous window are repeated as context.
 *
 * Each word is *owned* by exactly one window: the one where it has the most context, i.e. the largest
 * min(sub-tokens to its left, sub-tokens to its right) inside the window (the "max context" rule of BERT's
 * SQuAD code; ties go to the earlier window). Labels are set only on owned words (a word is trained on once) and
 * decoding reads each word from its owner, so the owned ranges of a sentence's windows partition its words.
 * A single word longer than the whole budget (possible only with a small maxLength) gets a window of its own and
 * keeps its first `budget` sub-tokens; its first piece, the one that carries label and prediction, always stays.
 */

export interface WindowSpan {
  /** Words [wordStart, wordEnd) are in the window (as context or owned). */
  wordStart: number;
  wordEnd: number;
  /** Words [ownStart, ownEnd) are labelled and decoded from this window. */
  ownStart: number;
  ownEnd: number;
}

/**
 * Plans the windows of one sentence from its per-word sub-token counts. `budget` is the number of content
 * sub-tokens a window may hold; `stride` the most sub-tokens of overlap between consecutive windows (< budget).
 */
export function planWindows(pieceCounts: ArrayLike<number>, budget: number, stride: number): WindowSpan[] {
  if (!Number.isInteger(budget) || budget < 1)
    throw new Error(`planWindows: budget must be a positive integer, got ${budget}`);
  if (!Number.isInteger(stride) || stride < 0 || stride >= budget) {
    throw new Error(
      `planWindows: stride must be an integer in [0, ${budget - 1}] (less than the window budget), got ${stride}`,
    );
  }
  const n = pieceCounts.length;
  let total = 0;
  for (let i = 0; i < n; i++) total += pieceCounts[i]!;
  if (total <= budget) return [{ wordStart: 0, wordEnd: n, ownStart: 0, ownEnd: n }];

  const spans: { s: number; e: number }[] = [];
  let s = 0;
  for (;;) {
    let e = s;
    let used = 0;
    while (e < n && used + pieceCounts[e]! <= budget) used += pieceCounts[e++]!;
    if (e === s) e = s + 1; // one word longer than the budget: a window of its own, truncated
    spans.push({ s, e });
    if (e >= n) break;
    let next = e;
    let overlap = 0;
    while (next - 1 > s && overlap + pieceCounts[next - 1]! <= stride) overlap += pieceCounts[--next]!;
    // The next window must reach past this one (take word e), else the plan would not advance.
    while (next < e && overlap + pieceCounts[e]! > budget) overlap -= pieceCounts[next++]!;
    s = next;
  }

  // Prefix sums of sub-tokens, for context on each side of a word inside a window.
  const prefix = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) prefix[i + 1] = prefix[i]! + pieceCounts[i]!;
  const owner = new Int32Array(n).fill(-1);
  const bestScore = new Float64Array(n).fill(-1);
  spans.forEach(({ s: ws, e: we }, k) => {
    for (let i = ws; i < we; i++) {
      const score = Math.min(prefix[i]! - prefix[ws]!, prefix[we]! - prefix[i + 1]!);
      if (score > bestScore[i]!) {
        bestScore[i] = score;
        owner[i] = k;
      }
    }
  });
  // Owners are non-decreasing along the sentence by construction; enforce it so owned ranges stay contiguous.
  for (let i = 1; i < n; i++) if (owner[i]! < owner[i - 1]!) owner[i] = owner[i - 1]!;

  const out: WindowSpan[] = [];
  spans.forEach(({ s: ws, e: we }, k) => {
    let os = -1;
    let oe = -1;
    for (let i = ws; i < we; i++) {
      if (owner[i] === k) {
        if (os < 0) os = i;
        oe = i + 1;
      }
    }
    if (os >= 0) out.push({ wordStart: ws, wordEnd: we, ownStart: os, ownEnd: oe }); // a window owning nothing adds nothing
  });
  return out;
}
