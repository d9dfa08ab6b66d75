import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { countParameters, encoderParamSpecs } from '../../src/model/params.js';
import { parseBertConfig, readBertConfig, toHfConfig } from '../../src/model/config.js';
import { noRealTokenizer, REAL_TOKENIZER } from '../real-data.js';

const MBERT = join(REAL_TOKENIZER ?? '', 'config.json');

test('mBERT config: parameter count from shapes (no allocation)', { skip: noRealTokenizer('config.json') }, () => {
  const cfg = readBertConfig(MBERT);
  assert.equal(cfg.hiddenSize, 768);
  assert.equal(cfg.numLayers, 12);
  assert.equal(cfg.layerNormEps, 1e-12);
  assert.equal(countParameters(cfg), 177_262_848);
  assert.equal(countParameters(cfg, { pooler: true }), 177_853_440);
  // 5 embedding tensors + 16 per layer.
  assert.equal(encoderParamSpecs(cfg).length, 5 + 16 * 12);
});

test(
  'toHfConfig round-trips through parseBertConfig and keeps unknown fields',
  { skip: noRealTokenizer('config.json') },
  () => {
    const cfg = readBertConfig(MBERT);
    const again = parseBertConfig(toHfConfig(cfg), 'again');
    const { raw: _a, ...x } = cfg;
    const { raw: _b, ...y } = again;
    assert.deepEqual(y, x);
    assert.deepEqual(toHfConfig(cfg).architectures, ['BertForMaskedLM']);
  },
);

const base = {
  model_type: 'bert',
  hidden_act: 'gelu',
  vocab_size: 10,
  hidden_size: 8,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  intermediate_size: 16,
};

const rejected: [string, Record<string, unknown>, RegExp][] = [
  ['tanh GELU', { hidden_act: 'gelu_new' }, /hidden_act "gelu_new" is not supported/],
  ['relu', { hidden_act: 'relu' }, /hidden_act "relu"/],
  ['relative positions', { position_embedding_type: 'relative_key' }, /position_embedding_type "relative_key"/],
  ['another model type', { model_type: 'roberta' }, /model_type "roberta"/],
  ['decoder', { is_decoder: true }, /decoder/],
  ['heads do not divide hidden', { num_attention_heads: 3 }, /not divisible/],
  ['missing hidden_size', { hidden_size: undefined }, /missing required field "hidden_size"/],
  ['string size', { hidden_size: '8' }, /"hidden_size" must be a number/],
  ['fractional layers', { num_hidden_layers: 1.5 }, /"num_hidden_layers" must be a positive integer/],
  ['dropout 1', { hidden_dropout_prob: 1 }, /"hidden_dropout_prob" must be a probability/],
  ['zero eps', { layer_norm_eps: 0 }, /"layer_norm_eps" must be a positive number/],
];

for (const [what, patch, re] of rejected) {
  test(`parseBertConfig rejects: ${what}`, () => {
    const json: Record<string, unknown> = { ...base, ...patch };
    for (const k of Object.keys(patch)) if (patch[k] === undefined) delete json[k];
    assert.throws(
      () => parseBertConfig(json, 'my/config.json'),
      (err: Error) => re.test(err.message) && err.message.startsWith('my/config.json'),
    );
  });
}

test('parseBertConfig accepts the minimal config with BERT defaults', () => {
  const cfg = parseBertConfig(base);
  assert.equal(cfg.maxPositions, 512);
  assert.equal(cfg.typeVocabSize, 2);
  assert.equal(cfg.hiddenDropout, 0.1);
});
