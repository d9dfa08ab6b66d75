import { test } from 'node:test';
import assert from 'node:assert/strict';
import { entitySpans } from '../../src/eval/spans.js';

const words = ['Jan', 'Peeters', 'woont', 'in', 'Den', 'Haag'];

test('entitySpans: word indices (end exclusive), type, text and mean probability', () => {
  const tags = ['B-PER', 'I-PER', 'O', 'O', 'B-LOC', 'I-LOC'];
  const probs = [0.9, 0.7, 0.99, 0.98, 0.6, 0.5];
  const spans = entitySpans(words, tags, { probs });
  assert.equal(spans.length, 2);
  assert.deepEqual(
    { ...spans[0], prob: undefined },
    { type: 'PER', start: 0, end: 2, text: 'Jan Peeters', prob: undefined },
  );
  assert.ok(Math.abs(spans[0]!.prob! - 0.8) < 1e-12);
  assert.deepEqual(
    { ...spans[1], prob: undefined },
    { type: 'LOC', start: 4, end: 6, text: 'Den Haag', prob: undefined },
  );
  assert.ok(Math.abs(spans[1]!.prob! - 0.55) < 1e-12);
  for (const s of spans) assert.deepEqual(words.slice(s.start, s.end).join(' '), s.text);
});

test('entitySpans: no probs means no prob field; joiner for character-tokenised text', () => {
  const spans = entitySpans(['北', '京', '很', '大'], ['B-LOC', 'I-LOC', 'O', 'O'], { joiner: '' });
  assert.deepEqual(spans, [{ type: 'LOC', start: 0, end: 2, text: '北京' }]);
  assert.equal('prob' in spans[0]!, false);
  assert.deepEqual(entitySpans([], []), []);
});

test('entitySpans: chunking mode as in scoring (IOB1 run kept by default, dropped in strict)', () => {
  const tags = ['I-PER', 'I-PER', 'O', 'O', 'B-LOC', 'B-LOC'];
  assert.deepEqual(
    entitySpans(words, tags).map((s) => s.text),
    ['Jan Peeters', 'Den', 'Haag'],
  );
  assert.deepEqual(
    entitySpans(words, tags, { mode: 'strict' }).map((s) => s.text),
    ['Den', 'Haag'],
  );
});

test('entitySpans: length mismatches and bad tags are errors', () => {
  assert.throws(() => entitySpans(words, ['O']), /6 words but 1 tags/);
  assert.throws(() => entitySpans(['a'], ['O'], { probs: [0.1, 0.2] }), /1 words but 2 probabilities/);
  assert.throws(() => entitySpans(['a'], ['S-PER']), /invalid tag "S-PER"/);
});
