import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/backend/init.js';
import { loadDataset } from '../../src/data/registry.js';
import { loadBert } from '../../src/model/checkpoint.js';
import { pruneVocabulary } from '../../src/model/prune.js';
import { writeTinyCheckpoint } from '../../src/model/tiny.js';
import { tf } from '../../src/tf.js';
import { loadTokenizer } from '../../src/tokenizer/load.js';
import { REAL_DATA, REAL_TOKENIZER } from '../real-data.js';

const MBERT = REAL_TOKENIZER ?? '';
const DATA = REAL_DATA ?? '';

/** A 2-layer, 8-wide random BERT with mBERT's real vocabulary, and a pruned copy on 300 Spanish sentences. */
function setup() {
  const root = mkdtempSync(join(tmpdir(), 'prune-'));
  const full = join(root, 'full');
  const pruned = join(root, 'pruned');
  writeTinyCheckpoint(full, {
    seed: 3,
    hiddenSize: 8,
    numLayers: 2,
    numHeads: 2,
    intermediateSize: 16,
    vocab: join(MBERT, 'vocab.txt'),
  });
  const es = loadDataset('conll2002', 'es', 'train', { root: DATA }).sentences.slice(0, 300);
  const report = pruneVocabulary(full, [es], pruned);
  return { root, full, pruned, es, report };
}

test('pruneVocabulary keeps exactly the pieces the corpus uses plus the specials, rows remapped', async () => {
  await initBackend({ prefer: 'cpu' });
  const { root, full, pruned, es, report } = setup();
  try {
    const a = loadTokenizer(full);
    const used = new Set<number>();
    for (const s of es) for (const id of a.encodeWords(s.tokens).ids) used.add(id);
    for (const t of ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']) used.add(a.tokenToId(t)!);
    assert.equal(report.originalVocabSize, 119547);
    assert.equal(report.vocabSize, used.size);
    assert.ok(report.vocabSize < 10_000, `300 sentences use far fewer pieces than mBERT has (${report.vocabSize})`);
    const config = JSON.parse(readFileSync(join(pruned, 'config.json'), 'utf8')) as {
      vocab_size: number;
      pad_token_id: number;
    };
    assert.equal(config.vocab_size, used.size);
    assert.equal(config.pad_token_id, 0);
    assert.ok(existsSync(join(pruned, 'prune.json')));
    assert.deepEqual(
      report.remapped.map((r) => r.name),
      ['bert.embeddings.word_embeddings.weight'],
    );

    // Every kept row is the original row of the same token; everything else is unchanged.
    const b = loadTokenizer(pruned);
    const wa = loadBert(full).encoder;
    const wb = loadBert(pruned).encoder;
    const ea = wa.getWeights();
    const eb = wb.getWeights();
    const H = 8;
    const rowsA = ea.get('embeddings.word_embeddings')!;
    const rowsB = eb.get('embeddings.word_embeddings')!;
    assert.equal(rowsB.length, used.size * H);
    for (const old of used) {
      const tok = a.idToToken(old)!;
      const nu = b.tokenToId(tok)!;
      assert.deepEqual(rowsB.subarray(nu * H, (nu + 1) * H), rowsA.subarray(old * H, (old + 1) * H), `row of '${tok}'`);
    }
    for (const [name, v] of ea) if (name !== 'embeddings.word_embeddings') assert.deepEqual(eb.get(name), v, name);
    wa.dispose();
    wb.dispose();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('pruned tokenizer: same tokens on covered text, same encoder outputs; other text uses kept pieces or [UNK]', async () => {
  await initBackend({ prefer: 'cpu' });
  const { root, full, pruned, es } = setup();
  try {
    const a = loadTokenizer(full);
    const b = loadTokenizer(pruned);
    const bTxt = loadTokenizer(pruned, { prefer: 'vocab.txt' });
    for (const s of es) {
      const x = a.encodeWords(s.tokens);
      const y = b.encodeWords(s.tokens);
      assert.deepEqual(y.tokens, x.tokens, s.id);
      assert.deepEqual([...bTxt.encodeWords(s.tokens).ids], [...y.ids], `${s.id}: tokenizer.json and vocab.txt agree`);
    }
    // The encoders agree on covered text (ids renumbered, same embeddings behind them).
    const words = es[0]!.tokens;
    const ids = (t: ReturnType<typeof loadTokenizer>) => [t.clsId, ...t.encodeWords(words).ids, t.sepId];
    const ma = loadBert(full).encoder;
    const mb = loadBert(pruned).encoder;
    const before = tf.memory().numTensors;
    const run = (m: typeof ma, row: number[]) =>
      tf.tidy(() =>
        m
          .forward(
            {
              inputIds: tf.tensor2d([row], [1, row.length], 'int32'),
              attentionMask: tf.ones([1, row.length], 'int32'),
            },
            { training: false },
          )
          .hidden[2]!.arraySync(),
      );
    const ha = run(ma, ids(a));
    const hb = run(mb, ids(b));
    assert.equal(tf.memory().numTensors, before);
    assert.deepEqual(hb, ha);
    ma.dispose();
    mb.dispose();

    // Text outside the corpus: every piece is a kept one, and a word they cannot spell is [UNK].
    assert.deepEqual(b.tokenizeWord('Ωψ').tokens, ['[UNK]']);
    for (const w of ['Amsterdam', 'Rijksmuseum', 'Schiphol']) {
      for (const t of b.tokenizeWord(w).tokens) assert.ok(b.tokenToId(t) !== undefined);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('pruneVocabulary refuses to overwrite its input and names missing files', () => {
  const root = mkdtempSync(join(tmpdir(), 'prune-'));
  try {
    const dir = join(root, 'm');
    writeTinyCheckpoint(dir, { seed: 1 });
    assert.throws(() => pruneVocabulary(dir, [], dir), /is the checkpoint itself/);
    assert.throws(() => pruneVocabulary(join(root, 'missing'), [], join(root, 'out')), /model\.safetensors not found/);
    // With no corpus at all, only the specials remain.
    const r = pruneVocabulary(dir, [], join(root, 'out'));
    assert.equal(r.vocabSize, 5);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
