/** Label alignment, windows for long sentences and decoding back to one tag per word. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labelSchema, loadDataset } from '../../src/data/index.js';
import { createRng } from '../../src/rng.js';
import { decodeSentences, decodeWordLabels, decodeWordTags } from '../../src/tokenizer/decode.js';
import { encodeDataset } from '../../src/tokenizer/dataset.js';
import {
  encodeSentence,
  firstPieceMask,
  IGNORE_LABEL,
  predictionMask,
  type Encoded,
} from '../../src/tokenizer/align.js';
import { planWindows } from '../../src/tokenizer/windows.js';
import { tokenizerFromVocab } from '../../src/tokenizer/load.js';
import { DATA_ROOT, mbert, sentence, unlabelledOf } from './helpers.js';

const tiny = tokenizerFromVocab([
  '[PAD]',
  '[UNK]',
  '[CLS]',
  '[SEP]',
  '[MASK]',
  'un',
  'want',
  '##want',
  '##ed',
  'runn',
  '##ing',
  ',',
]);
const schema = labelSchema(['PER', 'LOC']); // O B-PER I-PER B-LOC I-LOC
const X = IGNORE_LABEL;

test('first sub-token carries the label; continuations, [CLS] and [SEP] carry -100', () => {
  const s = sentence(['unwanted', 'running', ','], ['B-PER', 'I-PER', 'O']);
  const [e, ...rest] = encodeSentence(tiny, s, { schema });
  assert.equal(rest.length, 0);
  assert.deepEqual([...e!.inputIds], [2, 5, 7, 8, 9, 10, 11, 3]);
  assert.deepEqual([...e!.wordIndex], [-1, 0, 0, 0, 1, 1, 2, -1]);
  assert.deepEqual([...e!.labels!], [X, 1, X, X, 2, X, 0, X]);
  assert.deepEqual([...firstPieceMask(e!.wordIndex)], [0, 1, 0, 0, 1, 0, 1, 0]);
  assert.deepEqual(e!.window, { index: 0, count: 1, wordStart: 0, wordEnd: 3, ownStart: 0, ownEnd: 3 });
  assert.equal(e!.sentenceId, s.id);
});

test('labelAllSubtokens labels continuation pieces, B- becoming I-', () => {
  const s = sentence(['unwanted', 'running', 'unwanted'], ['B-PER', 'I-PER', 'B-LOC']);
  const [e] = encodeSentence(tiny, s, { schema, labelAllSubtokens: true });
  assert.deepEqual([...e!.labels!], [X, 1, 2, 2, 2, 2, 3, 4, 4, X]);
});

test('no labels for unlabelled sentences or without a schema', () => {
  assert.equal(encodeSentence(tiny, unlabelledOf(['unwanted', 'running']), { schema })[0]!.labels, undefined);
  assert.equal(encodeSentence(tiny, sentence(['unwanted'], ['B-PER']))[0]!.labels, undefined);
});

test('bad tags are errors naming file, line and sentence', () => {
  const s = sentence(['unwanted', 'running'], ['B-PER', 'B-ORG'], 'bad#1');
  assert.throws(
    () => encodeSentence(tiny, s, { schema }),
    /mem\.conll:\d+: sentence bad#1 token 1 has tag 'B-ORG', which is not in the schema/,
  );
  const short = sentence(['unwanted', 'running'], ['O'], 'bad#2');
  assert.throws(() => encodeSentence(tiny, short, { schema }), /sentence bad#2 has 2 tokens but 1 tags/);
  assert.throws(() => encodeSentence(tiny, short, { maxLength: 2 }), /maxLength must be an integer >= 3/);
  assert.throws(
    () => encodeSentence(tiny, short, { maxLength: 10, stride: 8 }),
    /stride must be an integer in \[0, 7\]/,
  );
});

test('windows: bounded, owned ranges partition the words, each word owned where it has most context', () => {
  const rng = createRng(7);
  for (let trial = 0; trial < 400; trial++) {
    const n = rng.int(60);
    const counts = Array.from({ length: n }, () => 1 + (rng.next() < 0.1 ? rng.int(12) : rng.int(3)));
    const budget = 4 + rng.int(30);
    const stride = rng.int(budget);
    const spans = planWindows(counts, budget, stride);
    if (n === 0) {
      assert.deepEqual(
        spans,
        [{ wordStart: 0, wordEnd: 0, ownStart: 0, ownEnd: 0 }],
        'an empty sentence is one empty window',
      );
      continue;
    }
    const pieces = (a: number, b: number): number => counts.slice(a, b).reduce((x, y) => x + y, 0);
    let next = 0;
    for (const [k, sp] of spans.entries()) {
      assert.ok(
        pieces(sp.wordStart, sp.wordEnd) <= budget || sp.wordEnd - sp.wordStart === 1,
        `window ${k} over budget`,
      );
      assert.equal(sp.ownStart, next, 'owned ranges are contiguous and in order');
      assert.ok(
        sp.ownEnd > sp.ownStart && sp.wordStart <= sp.ownStart && sp.ownEnd <= sp.wordEnd,
        `window ${k} owns a non-empty part of itself`,
      );
      next = sp.ownEnd;
      if (k > 0)
        assert.ok(
          pieces(sp.wordStart, Math.max(sp.wordStart, spans[k - 1]!.wordEnd)) <= stride,
          'overlap within stride',
        );
    }
    assert.equal(next, n, 'every word owned');
    for (let w = 0; w < n; w++) {
      const score = (sp: { wordStart: number; wordEnd: number }): number =>
        Math.min(pieces(sp.wordStart, w), pieces(w + 1, sp.wordEnd));
      const holders = spans.filter((sp) => sp.wordStart <= w && w < sp.wordEnd);
      const best = Math.max(...holders.map(score));
      const owner = spans.find((sp) => sp.ownStart <= w && w < sp.ownEnd)!;
      assert.equal(score(owner), best, `word ${w} owned with less than the best context`);
      assert.equal(
        holders.find((sp) => score(sp) === best),
        owner,
        'ties go to the earlier window',
      );
    }
  }
});

test('a word longer than the window keeps its first pieces in a window of its own', () => {
  const s = sentence(['running', 'unwanted', ',', 'running'], ['O', 'B-PER', 'O', 'B-LOC']);
  const windows = encodeSentence(tiny, s, { schema, maxLength: 4, stride: 0 }); // budget 2 sub-tokens
  assert.ok(
    windows.every((w) => w.inputIds.length <= 4),
    'every window within maxLength',
  );
  const preds = windows.map((w) => Int32Array.from(w.labels!, (l) => (l === X ? 0 : l)));
  assert.deepEqual(decodeWordTags(windows, preds, schema), s.tags);
  const unwanted = windows.find((w) => w.window.wordStart === 1)!;
  assert.deepEqual([...unwanted.inputIds], [2, 5, 7, 3]);
});

/** Gold ids as "predictions" on every sub-token: decoding must give back every gold tag. */
function goldPredictions(windows: Encoded[], tags: readonly string[]): Int32Array[] {
  return windows.map((w) => Int32Array.from(w.wordIndex, (i) => (i < 0 ? 0 : schema2.tagToId.get(tags[i]!)!)));
}
const es = loadDataset('conll2002', 'es', 'train', { root: DATA_ROOT });
const schema2 = es.schema;

test('CoNLL-2002 es train: every word is labelled once and decoded back, even in 3000-sub-token sentences', () => {
  const tok = mbert();
  const { encoded, report } = encodeDataset(tok, es.sentences, { schema: schema2 });
  const bySentence = new Map<string, Encoded[]>();
  for (const e of encoded) {
    assert.ok(e.inputIds.length <= 128, `${e.sentenceId} window over 128`);
    const list = bySentence.get(e.sentenceId) ?? [];
    list.push(e);
    bySentence.set(e.sentenceId, list);
  }
  assert.equal(bySentence.size, es.sentences.length);
  assert.ok(report.longSentences > 0 && report.maxSubTokens > 1000, 'the split has long sentences');
  let labelled = 0;
  for (const s of es.sentences) {
    const windows = bySentence.get(s.id)!;
    for (const w of windows) for (const l of w.labels!) if (l !== X) labelled++;
    assert.deepEqual(decodeWordTags(windows, goldPredictions(windows, s.tags), schema2), s.tags, s.id);
    const mask = windows.reduce((n, w) => n + predictionMask(w).reduce((a, b) => a + b, 0), 0);
    assert.equal(mask, s.tokens.length, `${s.id}: one predicted position per word`);
  }
  assert.equal(labelled, report.words, 'one label per word over the split');
  assert.equal(report.windows, encoded.length);
});

test('droppedByTruncation equals the words a cut at 126 sub-tokens loses', () => {
  const tok = mbert();
  const { report } = encodeDataset(tok, es.sentences, { schema: schema2 });
  let dropped = 0;
  for (const s of es.sentences) {
    const { wordIds } = tok.encodeWords(s.tokens);
    dropped += s.tokens.length - new Set(wordIds.subarray(0, 126)).size;
  }
  assert.equal(report.droppedByTruncation, dropped);
  assert.ok(dropped > 0, 'es train has words past 126 sub-tokens');
});

test('decodeSentences groups windows in any order; decoding errors are explicit', () => {
  const tok = mbert();
  const long = es.sentences.reduce((a, b) => (a.tokens.length > b.tokens.length ? a : b));
  const short = es.sentences[0]!;
  const wl = encodeSentence(tok, long, { schema: schema2 });
  const ws = encodeSentence(tok, short, { schema: schema2 });
  assert.ok(wl.length > 2, 'the longest es sentence needs several windows');
  const pl = goldPredictions(wl, long.tags);
  const ps = goldPredictions(ws, short.tags);
  const pairs = [...wl.map((w, i) => [w, pl[i]!] as const), ...ws.map((w, i) => [w, ps[i]!] as const)].reverse();
  const out = decodeSentences(pairs, schema2);
  assert.deepEqual(out.get(long.id), long.tags);
  assert.deepEqual(out.get(short.id), short.tags);
  assert.throws(() => decodeWordLabels(wl.slice(1), pl.slice(1)), /word 0 is owned by none of the/);
  assert.throws(() => decodeWordLabels([wl[0]!, ws[0]!], [pl[0]!, ps[0]!]), /windows of different sentences/);
  assert.throws(() => decodeWordLabels(ws, [new Int32Array(1)]), /sub-tokens but 1 predictions/);
  assert.throws(
    () => decodeWordTags(ws, [new Int32Array(ws[0]!.inputIds.length).fill(99)], schema2),
    /predicted id 99 is outside the schema/,
  );
});
