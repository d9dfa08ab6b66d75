/**
 * Our character classes against Hugging Face's Rust tokenizer over every Unicode scalar value: which characters
 * `clean_text` removes, which are whitespace, which are punctuation (isolated by the pre-tokenizer) and which CJK
 * ideographs are split off. Rust's tables are older than Node's ICU, so src/tokenizer/unicode.ts carries exception
 * lists; this test shows whether they are still exact for the Node version running it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { charFlags, CHAR_CHINESE, CHAR_PUNCT, CHAR_REMOVED, CHAR_WHITESPACE } from '../../src/tokenizer/unicode.js';
import { rustTokenizers } from './helpers.js';

const rust = rustTokenizers();

function* scalars(): Generator<number> {
  for (let cp = 0; cp <= 0x10ffff; cp++) if (cp < 0xd800 || cp > 0xdfff) yield cp;
}

function hex(list: number[]): string {
  return list
    .slice(0, 12)
    .map((c) => 'U+' + c.toString(16).toUpperCase())
    .join(' ');
}

test(
  'clean_text removals, whitespace and punctuation match Rust for every code point',
  { skip: !rust && 'npm tokenizers not installed' },
  () => {
    const norm = rust!.bertNormalizer({
      cleanText: true,
      handleChineseChars: false,
      stripAccents: false,
      lowercase: false,
    });
    const pre = rust!.bertPreTokenizer();
    const removed: number[] = [];
    const space: number[] = [];
    const punct: number[] = [];
    for (const cp of scalars()) {
      const ch = String.fromCodePoint(cp);
      const out = norm.normalizeString(`a${ch}b`);
      const flags = charFlags(cp);
      if ((out === 'ab') !== Boolean(flags & CHAR_REMOVED)) removed.push(cp);
      if (out === 'ab') continue;
      const parts = pre.preTokenizeString(`a${ch}b`).map((p) => p[0]);
      const rustSpace = parts.length === 2 && parts[0] === 'a' && parts[1] === 'b';
      const rustPunct = parts.length === 3;
      // clean_text maps whitespace to ' ', so ask the pre-tokenizer about the raw character.
      if (rustSpace !== Boolean(flags & CHAR_WHITESPACE)) space.push(cp);
      if (rustPunct !== Boolean(flags & CHAR_PUNCT)) punct.push(cp);
    }
    assert.deepEqual(hex(removed), '', `${removed.length} code points removed differently`);
    assert.deepEqual(hex(space), '', `${space.length} code points split as whitespace differently`);
    assert.deepEqual(hex(punct), '', `${punct.length} code points isolated as punctuation differently`);
  },
);

test('CJK ideographs split exactly where Rust splits them', { skip: !rust && 'npm tokenizers not installed' }, () => {
  const norm = rust!.bertNormalizer({
    cleanText: false,
    handleChineseChars: true,
    stripAccents: false,
    lowercase: false,
  });
  const diff: number[] = [];
  for (const cp of scalars()) {
    const ch = String.fromCodePoint(cp);
    if ((norm.normalizeString(ch) !== ch) !== Boolean(charFlags(cp) & CHAR_CHINESE)) diff.push(cp);
  }
  assert.equal(hex(diff), '', `${diff.length} code points differ`);
});

test('character classes on known characters (independent of Rust)', () => {
  const table: [string, number][] = [
    ['a', 0],
    [' ', CHAR_WHITESPACE],
    ['\t', CHAR_WHITESPACE],
    ['\u00a0', CHAR_WHITESPACE],
    ['\u0000', CHAR_REMOVED],
    ['\u200b', CHAR_REMOVED],
    ['\u0085', CHAR_REMOVED | CHAR_WHITESPACE], // a C1 control: removed before it could act as whitespace
    ['$', CHAR_PUNCT],
    ['¿', CHAR_PUNCT],
    ['।', CHAR_PUNCT],
    ['北', CHAR_CHINESE],
    ['한', 0],
    ['\u{20000}', CHAR_CHINESE],
    ['\u{2B820}', 0], // Rust's table starts its extension range at U+2B920
  ];
  for (const [ch, flags] of table) assert.equal(charFlags(ch.codePointAt(0)!), flags, JSON.stringify(ch));
});
