/**
 * conlleval.pl's text report, character for character, for papers and logs:
 *
 *   processed 62 tokens with 9 phrases; found: 8 phrases; correct: 6.
 *   accuracy:  88.71%; precision:  75.00%; recall:  66.67%; FB1:  70.59
 *                 LOC: precision: 100.00%; recall: 100.00%; FB1: 100.00  3
 *
 * The number at the end of a type line is the count of PREDICTED phrases of that type (as in conlleval.pl), not
 * the gold support. Percentages are computed with conlleval's own arithmetic (100*correct/found, then
 * 2*P*R/(P+R)) and printed with C printf's `%6.2f` rounding, so the text matches the Perl script exactly.
 */
import type { EntityScores } from './metric.js';

/**
 * C printf `%.2f` of a non-negative double: correctly rounded from the exact binary value, with exact ties
 * rounded to even (glibc). JS `toFixed` is also exact but rounds ties up, so `3.125` (= 100 * 1/32, which
 * conlleval can print) would come out `3.13` instead of printf's `3.12`. A double is exactly halfway between two
 * hundredths only when it is an odd multiple of 1/8 (x = (2n+1)/200 must be dyadic, so 25 divides 2n+1), and
 * then 100x is exact, which makes the tie case easy to handle by hand.
 */
export function printfFixed2(x: number): string {
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : x < 0 ? '-inf' : 'nan';
  if (x < 0) return '-' + printfFixed2(-x);
  const eighths = x * 8;
  if (Number.isInteger(eighths) && eighths % 2 === 1) {
    const low = x * 100 - 0.5; // exact: x * 100 is a half-integer below 2^53
    const m = low % 2 === 0 ? low : low + 1;
    return `${Math.floor(m / 100)}.${String(m % 100).padStart(2, '0')}`;
  }
  return x.toFixed(2);
}

/** `%6.2f`, `%17s`, `%d` as printf pads them (right-aligned, never truncated). */
const f62 = (x: number): string => printfFixed2(x).padStart(6);
const s17 = (s: string): string => s.padStart(17);

/**
 * The conlleval.pl report of scores from `scoreEntities` (either chunk mode; the header does not say which, so
 * say it yourself when you print strict-mode scores).
 */
export function conllevalReport(scores: EntityScores): string {
  const lines: string[] = [];
  // conlleval: "processed $tokenCounter tokens with $foundCorrect phrases; found: $foundGuessed phrases; correct: $correctChunk."
  lines.push(
    `processed ${scores.tokens} tokens with ${scores.support} phrases; found: ${scores.predicted} phrases; correct: ${scores.correct}.`,
  );
  if (scores.tokens > 0) {
    // the same operations in the same order as the Perl code, so the doubles (and their rounding) agree
    const precision = scores.predicted > 0 ? (100 * scores.correct) / scores.predicted : 0;
    const recall = scores.support > 0 ? (100 * scores.correct) / scores.support : 0;
    const fb1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    const accuracy = (100 * scores.correctTags) / scores.tokens;
    lines.push(`accuracy: ${f62(accuracy)}%; precision: ${f62(precision)}%; recall: ${f62(recall)}%; FB1: ${f62(fb1)}`);
  }
  for (const t of scores.perType) {
    const precision = t.predicted > 0 ? (100 * t.correct) / t.predicted : 0;
    const recall = t.support > 0 ? (100 * t.correct) / t.support : 0;
    const fb1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    lines.push(
      `${s17(t.type)}: precision: ${f62(precision)}%; recall: ${f62(recall)}%; FB1: ${f62(fb1)}  ${t.predicted}`,
    );
  }
  return lines.join('\n') + '\n';
}
