/** WordPiece rules on a tiny vocabulary, the loaders' defaults and their errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTokenizer, tokenizerFromVocab } from '../../src/tokenizer/load.js';
import { preTokenizeWord } from '../../src/tokenizer/normalize.js';
import { WordPieceTokenizer } from '../../src/tokenizer/wordpiece.js';
import { MBERT_DIR } from './helpers.js';

const VOCAB = [
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
  'a',
  '##a',
  '##aa',
  'é',
  'e',
  '北',
  '𠀀',
  'u',
];
const tiny = tokenizerFromVocab(VOCAB);

test('greedy longest-match-first WordPiece', () => {
  const cases: [string, string[]][] = [
    ['unwanted', ['un', '##want', '##ed']],
    ['running', ['runn', '##ing']],
    ['wanted,', ['want', '##ed', ',']], // punctuation is split off first
    ['aaaaa', ['a', '##aa', '##aa']], // longest continuation each time
    ['unwantedX', ['[UNK]']], // no cut for some position: the whole piece is unknown
    ['北北', ['北', '北']],
    ['𠀀', ['𠀀']],
    ['un want', ['un', 'want']], // whitespace inside a word splits it, both pieces stay with the word
    ['[CLS]', ['[CLS]']],
    ['un[SEP]want', ['un', '[SEP]', 'want']],
  ];
  for (const [word, tokens] of cases) assert.deepEqual(tiny.tokenizeWord(word).tokens, tokens, word);
  assert.deepEqual(tiny.tokenizeWord('unwanted').ids, [5, 7, 8]);
});

test('a word with no sub-token becomes [UNK], never disappears', () => {
  for (const word of ['', ' ', '\u0000', '\u200b\u200e', '\ufffd'])
    assert.deepEqual(tiny.tokenizeWord(word).tokens, ['[UNK]'], JSON.stringify(word));
});

test('pieces over 100 code points become [UNK]; 100 is fine, astral characters count once', () => {
  assert.deepEqual(tiny.tokenizeWord('a'.repeat(100)).tokens, ['a', ...Array(49).fill('##aa'), '##a']);
  assert.deepEqual(tiny.tokenizeWord('a'.repeat(101)).tokens, ['[UNK]']);
  assert.deepEqual(tiny.tokenizeWord('𠀀'.repeat(100)).tokens.length, 100); // CJK: each its own piece
  const big = tokenizerFromVocab([...VOCAB, '😀', '##😀'], {});
  assert.equal(big.tokenizeWord('😀'.repeat(100)).tokens.length, 100);
  assert.deepEqual(big.tokenizeWord('😀'.repeat(101)).tokens, ['[UNK]']);
});

test('encodeWords maps every sub-token to its word', () => {
  const enc = tiny.encodeWords(['unwanted', ',', '\u0000', 'running']);
  assert.deepEqual(enc.tokens, ['un', '##want', '##ed', ',', '[UNK]', 'runn', '##ing']);
  assert.deepEqual([...enc.wordIds], [0, 0, 0, 1, 2, 3, 3]);
  assert.deepEqual(
    [...enc.ids],
    enc.tokens.map((t) => tiny.tokenToId(t)),
  );
});

test('the per-word cache returns the same answer as a fresh tokenizer', () => {
  const words = ['unwanted', 'running', 'a', 'unwanted', 'zzz'];
  const first = words.map((w) => tiny.tokenizeWord(w).tokens.join(' '));
  tiny.clearCache();
  assert.deepEqual(
    words.map((w) => tiny.tokenizeWord(w).tokens.join(' ')),
    first,
  );
  assert.equal(tiny.tokenizeWord('unwanted'), tiny.tokenizeWord('unwanted'));
});

test('lowercase and accent stripping follow the config', () => {
  const lower = { cleanText: true, handleChineseChars: true, stripAccents: true, lowercase: true };
  assert.deepEqual(preTokenizeWord('ÉCOLE,Straße', lower), ['ecole', ',', 'straße']);
  assert.deepEqual(preTokenizeWord('ΟΔΟΣ', lower), ['οδοσ']); // per character, as Rust: no final sigma
  const cased = { cleanText: true, handleChineseChars: true, stripAccents: false, lowercase: false };
  assert.deepEqual(preTokenizeWord('Éco北le', cased), ['Éco', '北', 'le']);
  assert.deepEqual(preTokenizeWord('Éco北le', { ...cased, handleChineseChars: false }), ['Éco北le']);
  const t = tokenizerFromVocab(VOCAB, { lowercase: true, stripAccents: true });
  assert.deepEqual(t.tokenizeWord('UNWANTÉD').tokens, ['un', '##want', '##ed']);
});

function tempModelDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'msd-tok-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

test('vocab.txt without tokenizer_config.json uses BertTokenizer defaults (lowercase, strip accents)', () => {
  const dir = tempModelDir({ 'vocab.txt': VOCAB.join('\n') + '\n' });
  const t = loadTokenizer(dir);
  assert.equal(t.config.source, join(dir, 'vocab.txt'));
  assert.deepEqual(t.config.normalization, {
    cleanText: true,
    handleChineseChars: true,
    stripAccents: true,
    lowercase: true,
  });
  assert.deepEqual(t.tokenizeWord('UnWantéd').tokens, ['un', '##want', '##ed']);
  assert.equal(t.vocabSize, VOCAB.length);
});

test('tokenizer.json is preferred when present; prefer picks explicitly', () => {
  const dir = mkdtempSync(join(tmpdir(), 'msd-tok-'));
  copyFileSync(join(MBERT_DIR, 'vocab.txt'), join(dir, 'vocab.txt'));
  assert.equal(loadTokenizer(dir).config.source, join(dir, 'vocab.txt'));
  assert.throws(() => loadTokenizer(dir, { prefer: 'tokenizer.json' }), /tokenizer\.json was requested but is not in/);
  assert.match(loadTokenizer(MBERT_DIR).config.source, /tokenizer\.json$/);
  assert.throws(() => loadTokenizer(tmpdir() + '/definitely-missing-dir'), /neither tokenizer\.json nor vocab\.txt/);
});

test('a tokenizer.json that is not BERT WordPiece is refused naming the file and field', () => {
  const bpe = tempModelDir({
    'tokenizer.json': JSON.stringify({ model: { type: 'BPE', vocab: {} }, normalizer: null, pre_tokenizer: null }),
  });
  assert.throws(
    () => loadTokenizer(bpe),
    (e: Error) =>
      e.message.includes(join(bpe, 'tokenizer.json')) && /model\.type is "BPE"; expected "WordPiece"/.test(e.message),
  );
  const broken = tempModelDir({ 'tokenizer.json': '{ not json' });
  assert.throws(() => loadTokenizer(broken), /tokenizer\.json: not readable JSON/);
  const noUnk = tempModelDir({ 'vocab.txt': ['[CLS]', '[SEP]', '[PAD]', 'a'].join('\n') });
  assert.throws(() => loadTokenizer(noUnk), /vocab\.txt: the unknown token '\[UNK\]' is not in the vocabulary/);
});

test('special tokens that do not start with a bracket are still matched verbatim', () => {
  const t = new WordPieceTokenizer({
    ...tiny.config,
    vocab: new Map([...tiny.config.vocab, ['<s>', 99]]),
    specialTokens: ['[CLS]', '<s>'],
  });
  assert.deepEqual(t.tokenizeWord('un<s>want').tokens, ['un', '<s>', 'want']);
  assert.deepEqual(t.tokenizeWord('un[CLS]').tokens, ['un', '[CLS]']);
});
