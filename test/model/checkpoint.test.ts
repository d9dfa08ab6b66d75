import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../../src/tf.js';
import { BertEncoder } from '../../src/model/bert.js';
import { LayerHeads } from '../../src/model/heads.js';
import { bertConfig, toHfConfig, type BertConfig } from '../../src/model/config.js';
import { loadBert } from '../../src/model/checkpoint.js';
import { saveModel } from '../../src/model/save.js';
import { serializeSafetensors, type TensorToWrite } from '../../src/model/safetensors.js';
import { writeTinyCheckpoint } from '../../src/model/tiny.js';
import { noRealTokenizer, REAL_TOKENIZER } from '../real-data.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'ckpt-'));
const cfg = bertConfig({
  vocabSize: 40,
  hiddenSize: 8,
  numLayers: 2,
  numHeads: 2,
  intermediateSize: 12,
  maxPositions: 32,
});
const MBERT_VOCAB = join(REAL_TOKENIZER ?? '', 'vocab.txt');

/** HF names written out by hand (independent of checkpoint.ts): [ours, HF, transposed]. */
function hfTable(c: BertConfig, legacyLn = false): [string, string, boolean][] {
  const lnW = legacyLn ? 'gamma' : 'weight';
  const lnB = legacyLn ? 'beta' : 'bias';
  const rows: [string, string, boolean][] = [
    ['embeddings.word_embeddings', 'embeddings.word_embeddings.weight', false],
    ['embeddings.position_embeddings', 'embeddings.position_embeddings.weight', false],
    ['embeddings.token_type_embeddings', 'embeddings.token_type_embeddings.weight', false],
    ['embeddings.layer_norm.gamma', `embeddings.LayerNorm.${lnW}`, false],
    ['embeddings.layer_norm.beta', `embeddings.LayerNorm.${lnB}`, false],
  ];
  for (let i = 0; i < c.numLayers; i++) {
    const L = `encoder.layer.${i}`;
    rows.push(
      [`layer.${i}.attention.query.kernel`, `${L}.attention.self.query.weight`, true],
      [`layer.${i}.attention.query.bias`, `${L}.attention.self.query.bias`, false],
      [`layer.${i}.attention.key.kernel`, `${L}.attention.self.key.weight`, true],
      [`layer.${i}.attention.key.bias`, `${L}.attention.self.key.bias`, false],
      [`layer.${i}.attention.value.kernel`, `${L}.attention.self.value.weight`, true],
      [`layer.${i}.attention.value.bias`, `${L}.attention.self.value.bias`, false],
      [`layer.${i}.attention.output.kernel`, `${L}.attention.output.dense.weight`, true],
      [`layer.${i}.attention.output.bias`, `${L}.attention.output.dense.bias`, false],
      [`layer.${i}.attention.layer_norm.gamma`, `${L}.attention.output.LayerNorm.${lnW}`, false],
      [`layer.${i}.attention.layer_norm.beta`, `${L}.attention.output.LayerNorm.${lnB}`, false],
      [`layer.${i}.intermediate.kernel`, `${L}.intermediate.dense.weight`, true],
      [`layer.${i}.intermediate.bias`, `${L}.intermediate.dense.bias`, false],
      [`layer.${i}.output.kernel`, `${L}.output.dense.weight`, true],
      [`layer.${i}.output.bias`, `${L}.output.dense.bias`, false],
      [`layer.${i}.output.layer_norm.gamma`, `${L}.output.LayerNorm.${lnW}`, false],
      [`layer.${i}.output.layer_norm.beta`, `${L}.output.LayerNorm.${lnB}`, false],
    );
  }
  return rows;
}

/** Writes `enc`'s weights in HF layout ([out, in] Linear weights) with the given name prefix. */
function hfTensors(enc: BertEncoder, prefix: string, legacyLn = false): [string, TensorToWrite][] {
  return hfTable(enc.config, legacyLn).map(([ours, hf, transposed]) => {
    const v = enc.variable(ours);
    const data = v.dataSync() as Float32Array;
    if (!transposed) return [`${prefix}${hf}`, { shape: v.shape, data }];
    const [inDim, outDim] = v.shape;
    const t = new Float32Array(data.length);
    for (let i = 0; i < inDim; i++) for (let o = 0; o < outDim; o++) t[o * inDim + i] = data[i * outDim + o];
    return [`${prefix}${hf}`, { shape: [outDim, inDim], data: t }];
  });
}

function writeHfDir(tensors: [string, TensorToWrite][], c: BertConfig = cfg): string {
  const dir = tmp();
  writeFileSync(join(dir, 'config.json'), JSON.stringify(toHfConfig(c)));
  writeFileSync(join(dir, 'model.safetensors'), serializeSafetensors(tensors, { format: 'pt' }));
  return dir;
}

function assertSameWeights(a: Map<string, Float32Array>, b: Map<string, Float32Array>): void {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [k, v] of a) assert.deepEqual(b.get(k), v, k);
}

const layouts: [string, string, boolean][] = [
  ['with the bert. prefix (BertForTokenClassification)', 'bert.', false],
  ['without prefix (BertModel)', '', false],
  ['legacy LayerNorm.gamma/beta names', 'bert.', true],
];
for (const [what, prefix, legacy] of layouts) {
  test(`loads a hand-written HF checkpoint ${what}, transposing Linear weights`, () => {
    const src = BertEncoder.random(cfg, 11);
    const extra: [string, TensorToWrite][] = [
      [`${prefix}pooler.dense.weight`, { shape: [8, 8], data: new Float32Array(64) }],
      ['cls.predictions.bias', { shape: [40], data: new Float32Array(40) }],
      ['something.else', { shape: [1], data: new Float32Array(1) }],
    ];
    const dir = writeHfDir([...hfTensors(src, prefix, legacy), ...extra]);
    const loaded = loadBert(dir);
    assertSameWeights(src.getWeights(), loaded.encoder.getWeights());
    assert.deepEqual(loaded.report.missing, []);
    assert.deepEqual(loaded.report.unused.sort(), [`${prefix}pooler.dense.weight`, 'cls.predictions.bias'].sort());
    assert.deepEqual(loaded.report.unexpected, ['something.else']);
    assert.equal(loaded.heads, undefined);
    // Same weights => same outputs.
    const batch = {
      inputIds: tf.tensor2d([[2, 5, 7, 3]], undefined, 'int32'),
      attentionMask: tf.tensor2d([[1, 1, 1, 1]], undefined, 'int32'),
    };
    const x = src.forward(batch, { training: false }),
      y = loaded.encoder.forward(batch, { training: false });
    assert.deepEqual(x.hidden[2].dataSync(), y.hidden[2].dataSync());
    tf.dispose([...x.hidden, ...y.hidden, batch.inputIds, batch.attentionMask]);
    src.dispose();
    loaded.encoder.dispose();
  });
}

test('missing tensors: an error naming them (strict), or a report (strict: false)', () => {
  const src = BertEncoder.random(cfg, 1);
  const dir = writeHfDir(hfTensors(src, 'bert.').filter(([n]) => n !== 'bert.encoder.layer.1.output.dense.weight'));
  assert.throws(
    () => loadBert(dir),
    /lacks 1 encoder tensor\(s\): encoder\.layer\.1\.output\.dense\.weight .*strict: false/,
  );
  const loaded = loadBert(dir, { strict: false });
  assert.deepEqual(loaded.report.missing, ['encoder.layer.1.output.dense.weight']);
  loaded.encoder.dispose();
  src.dispose();
});

test('a shape that does not match config.json is an error naming the tensor', () => {
  const src = BertEncoder.random(cfg, 1);
  const dir = writeHfDir(hfTensors(src, 'bert.'), { ...cfg, vocabSize: 41 });
  assert.throws(
    () => loadBert(dir),
    /"bert\.embeddings\.word_embeddings\.weight" has shape \[40,8\], expected \[41,8\]/,
  );
  src.dispose();
});

test('sharded checkpoint via model.safetensors.index.json', () => {
  const src = BertEncoder.random(cfg, 2);
  const dir = tmp();
  writeFileSync(join(dir, 'config.json'), JSON.stringify(toHfConfig(cfg)));
  const all = hfTensors(src, 'bert.');
  const half = Math.floor(all.length / 2);
  const shards = [all.slice(0, half), all.slice(half)];
  const weightMap: Record<string, string> = {};
  shards.forEach((s, i) => {
    const file = `model-0000${i + 1}-of-00002.safetensors`;
    writeFileSync(join(dir, file), serializeSafetensors(s));
    for (const [n] of s) weightMap[n] = file;
  });
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  const loaded = loadBert(dir);
  assertSameWeights(src.getWeights(), loaded.encoder.getWeights());
  assert.equal(loaded.report.files.length, 2);
  loaded.encoder.dispose();
  // An index pointing outside the directory is refused.
  writeFileSync(
    join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ weight_map: { x: '../evil.safetensors' } }),
  );
  assert.throws(
    () => loadBert(dir),
    /maps to "\.\.\/evil\.safetensors"; expected a \.safetensors file name in the same directory/,
  );
  src.dispose();
});

test('a pytorch_model.bin-only directory gets a conversion recipe, and the pickle is not read', () => {
  const dir = tmp();
  writeFileSync(join(dir, 'config.json'), JSON.stringify(toHfConfig(cfg)));
  writeFileSync(join(dir, 'pytorch_model.bin'), 'not a pickle at all');
  assert.throws(
    () => loadBert(dir),
    (err: Error) =>
      /has only pytorch_model\.bin/.test(err.message) &&
      /execute arbitrary code/.test(err.message) &&
      /safetensors\.torch import save_file/.test(err.message),
  );
  const empty = tmp();
  writeFileSync(join(empty, 'config.json'), JSON.stringify(toHfConfig(cfg)));
  assert.throws(() => loadBert(empty), /no model\.safetensors or model\.safetensors\.index\.json found/);
});

test('tiny checkpoint: deterministic from the seed, equal to BertEncoder.random, loads with only the pooler unused', () => {
  const [a, b, c] = [tmp(), tmp(), tmp()];
  const config = writeTinyCheckpoint(a, { seed: 7, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 24 });
  writeTinyCheckpoint(b, { seed: 7, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 24 });
  writeTinyCheckpoint(c, { seed: 8, hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 24 });
  const bytes = (d: string) => readFileSync(join(d, 'model.safetensors'));
  assert.ok(bytes(a).equals(bytes(b)));
  assert.ok(!bytes(a).equals(bytes(c)));
  for (const f of ['config.json', 'vocab.txt', 'tokenizer_config.json']) assert.ok(existsSync(join(a, f)), f);
  const loaded = loadBert(a);
  assert.deepEqual(loaded.report.unexpected, []);
  assert.deepEqual(loaded.report.unused, ['bert.pooler.dense.weight', 'bert.pooler.dense.bias']);
  assert.equal(loaded.config.vocabSize, readFileSync(join(a, 'vocab.txt'), 'utf8').trim().split('\n').length);
  const fresh = BertEncoder.random(config, 7);
  assertSameWeights(fresh.getWeights(), loaded.encoder.getWeights());
  fresh.dispose();
  loaded.encoder.dispose();
});

test('tiny checkpoint with the real mBERT vocab copies the tokenizer files', { skip: noRealTokenizer() }, () => {
  const dir = tmp();
  const config = writeTinyCheckpoint(dir, {
    seed: 1,
    vocab: MBERT_VOCAB,
    hiddenSize: 8,
    numLayers: 1,
    numHeads: 2,
    intermediateSize: 16,
  });
  assert.equal(config.vocabSize, 119547);
  for (const f of ['vocab.txt', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) {
    assert.ok(readFileSync(join(dir, f)).equals(readFileSync(join(MBERT_VOCAB, '..', f))), f);
  }
  const loaded = loadBert(dir);
  assert.equal(loaded.tokenizer.vocab, join(dir, 'vocab.txt'));
  assert.equal(loaded.tokenizer.tokenizerJson, join(dir, 'tokenizer.json'));
  loaded.encoder.dispose();
});

test('save + load round-trips encoder and heads bit-exactly, atomically, with configs and tokenizer files', () => {
  const src = tmp();
  writeTinyCheckpoint(src, { seed: 3, hiddenSize: 16, numLayers: 4, numHeads: 4, intermediateSize: 32 });
  const first = loadBert(src);
  const heads = new LayerHeads({
    hiddenSize: 16,
    numLabels: 5,
    numLayers: 4,
    layers: [2, 3, 4],
    dropout: 0.2,
    seed: 9,
  });
  // Train-like change so the saved weights are not just the tiny checkpoint's.
  first.encoder.variable('layer.3.output.bias').assign(tf.fill([16], 0.125));
  const out = join(tmp(), 'model');
  const labels = ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC'];
  const trainingConfig = { lr: 5e-5, seed: 1, preset: 'tiny' };
  saveModel(out, first.encoder, heads, { trainingConfig, labels, tokenizerFrom: src });
  assert.deepEqual(readdirSync(out).sort(), [
    'config.json',
    'model.safetensors',
    'tokenizer_config.json',
    'training_config.json',
    'vocab.txt',
  ]);
  const again = loadBert(out);
  assertSameWeights(first.encoder.getWeights(), again.encoder.getWeights());
  assert.ok(again.heads);
  assert.deepEqual(again.heads.layers, [2, 3, 4]);
  assert.equal(again.heads.dropout, 0.2);
  assertSameWeights(heads.getWeights(), again.heads.getWeights());
  assert.deepEqual(again.report, { missing: [], unexpected: [], unused: [], files: [join(out, 'model.safetensors')] });
  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  assert.equal(config.id2label['1'], 'B-PER');
  assert.deepEqual(config.msd_heads, { layers: [2, 3, 4], num_labels: 5, dropout: 0.2 });
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'training_config.json'), 'utf8')), trainingConfig);
  // Saving again writes the same bytes.
  const before = readFileSync(join(out, 'model.safetensors'));
  saveModel(out, again.encoder, again.heads);
  assert.ok(before.equals(readFileSync(join(out, 'model.safetensors'))));
  assert.throws(
    () => saveModel(out, again.encoder, again.heads, { labels: ['O'] }),
    /1 labels given for heads with 5 outputs/,
  );
  for (const m of [first, again]) {
    m.encoder.dispose();
    m.heads?.dispose();
  }
  heads.dispose();
});
