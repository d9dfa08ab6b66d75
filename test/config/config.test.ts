import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  resolveConfig,
  parseSets,
  PAPER,
  TINY,
  configToJson,
  checkLayerCount,
  headLayerList,
  configKeyPath,
  isConfigKey,
  nestKeys,
  type MsdConfig,
} from '../../src/config.js';
import { BACKEND_NAMES } from '../../src/backend/names.js';

test('presets carry the paper settings', () => {
  const c = resolveConfig('paper');
  assert.equal(c.teacher.lr, 5e-5);
  assert.equal(c.student.lr, 2e-5);
  assert.equal(c.teacher.batchSize, 32);
  assert.equal(c.data.maxLength, 128);
  assert.equal(c.teacher.alpha, 0.1);
  assert.equal(c.teacher.lambda, 'learned');
  assert.equal(c.student.alphaPrime, 0.001);
  assert.equal(c.student.betaPrime, 0.001);
  assert.deepEqual(c.model.headLayers, [4, 12]);
  assert.equal(c.teacher.freezeLayers, 3);
  assert.equal(c.teacher.freezeEmbeddings, true);
  assert.equal(resolveConfig('tiny').model.tiny.enabled, true);
});

test('overrides merge deeply and never mutate the presets', () => {
  const tinyBefore = JSON.stringify(TINY);
  const c = resolveConfig('tiny', {
    student: { lr: 1e-4, ablation: { noMmdL: true } },
    data: { targets: ['nl', 'es'] },
  });
  assert.equal(c.student.lr, 1e-4);
  assert.equal(c.student.ablation.noMmdL, true);
  assert.equal(c.student.ablation.noMmdM, false);
  assert.deepEqual(c.data.targets, ['nl', 'es']);
  assert.equal(JSON.stringify(TINY), tinyBefore, 'the preset object is unchanged');
  assert.equal(TINY.student.ablation.noMmdL, false);
});

const bad: [string, unknown, RegExp][] = [
  [
    'unknown top-level key',
    { modle: {} },
    /config: unknown key 'modle'; did you mean 'model'\? Known keys at the top: preset, model, data/,
  ],
  ['unknown nested key', { teacher: { learningRate: 1 } }, /unknown key 'teacher.learningRate'/],
  ['wrong type', { teacher: { lr: '1e-4' } }, /config: teacher.lr: expected a number, got a string/],
  [
    'object expected',
    { student: { ablation: true } },
    /config: student.ablation: expected an object \(a section of keys\), got a boolean/,
  ],
  ['array element type', { data: { targets: [1, 2] } }, /config: data.targets: expected an array of strings/],
  [
    'enum',
    { student: { selectOn: 'test' } },
    /config: student.selectOn: expected one of 'source-dev', 'target-dev', got 'test'/,
  ],
  [
    'lambda mode',
    { teacher: { lambda: 'softmax' } },
    /config: teacher.lambda: expected 'learned', 'uniform' or a list/,
  ],
  ['lambda length', { teacher: { lambda: [1, 2] } }, /config teacher.lambda: expected 8 weights/],
  ['non-finite', { teacher: { lr: Number.NaN } }, /expected a finite number/],
  ['layer range', { model: { headLayers: [0, 12] } }, /model.headLayers: \[0, 12\] must start at layer 1/],
  ['batch size', { student: { batchSize: 0 } }, /student.batchSize: expected a positive integer/],
  ['negative learning rate', { teacher: { lr: -1e-4 } }, /config teacher\.lr: expected a number > 0, got -0\.0001/],
  ['warmup ratio', { student: { warmupRatio: 1.5 } }, /student\.warmupRatio: expected a number from 0 to 1/],
  ['log every', { run: { logEvery: 0 } }, /run\.logEvery: expected an integer >= 1/],
  ['kept tape tokens', { run: { keptTapeTokens: 1.5 } }, /run\.keptTapeTokens: expected an integer >= 0, got 1\.5/],
  ['negative limit', { data: { limit: { dev: -1 } } }, /data\.limit\.dev: expected an integer >= 0/],
  ['dropout', { model: { classifierDropout: 1 } }, /model\.classifierDropout: expected a number from 0 to below 1/],
];
for (const [name, override, message] of bad) {
  test(`override rejected: ${name}`, () => {
    assert.throws(() => resolveConfig('paper', override as never), message);
  });
}

test('unknown preset', () => {
  assert.throws(() => resolveConfig('huge'), /unknown preset 'huge'; expected one of paper, tiny/);
});

test('--set strings parse by the type of the default', () => {
  const o = parseSets([
    'teacher.lr=1e-4',
    'data.targets=nl,de',
    'student.ablation.noAux=true',
    'run.outDir=runs/x',
    'model.headLayers=[1,12]',
    'teacher.lambda=uniform',
  ]);
  const c = resolveConfig('paper', o);
  assert.equal(c.teacher.lr, 1e-4);
  assert.deepEqual(c.data.targets, ['nl', 'de']);
  assert.equal(c.student.ablation.noAux, true);
  assert.equal(c.run.outDir, 'runs/x');
  assert.deepEqual(c.model.headLayers, [1, 12]);
  assert.equal(c.teacher.lambda, 'uniform');
  assert.throws(() => parseSets(['teacher.lr']), /expected key.path=value/);
  assert.throws(() => resolveConfig('paper', parseSets(['teacher.nope=1'])), /unknown key 'teacher.nope'/);
});

test('config JSON round-trips', () => {
  const c = resolveConfig('tiny', { run: { seed: 7 } });
  const back = JSON.parse(configToJson(c)) as MsdConfig;
  assert.deepEqual(resolveConfig(back), c);
  assert.deepEqual(resolveConfig(PAPER), resolveConfig('paper'));
});

test('head layers are checked against the encoder actually used, not against 12 layers', () => {
  // A 24-layer checkpoint (e.g. a large BERT): heads up to 24 resolve; the count is checked when the model is built.
  const large = resolveConfig('paper', {
    model: { headLayers: [4, 24] },
    run: { evalLayers: [4, 24] },
    student: { clsLayer: 24 },
  });
  assert.deepEqual(
    headLayerList(large.model),
    Array.from({ length: 21 }, (_, i) => 4 + i),
  );
  checkLayerCount(large, 24, 'large/config.json');
  assert.throws(
    () => checkLayerCount(large, 12, 'mbert/config.json'),
    /model.headLayers: \[4, 24\] must lie within 1..12; the encoder has 12 layers \(mbert\/config.json\)/,
  );
  // The tiny preset carries its layer count, so resolveConfig checks it at once.
  const twelve = { tiny: { numLayers: 12 } };
  assert.throws(
    () => resolveConfig('tiny', { model: { ...twelve, headLayers: [4, 13] }, run: { evalLayers: [4, 13] } }),
    /must lie within 1..12; the encoder has 12 layers \(model.tiny.numLayers\)/,
  );
  assert.throws(
    () =>
      resolveConfig('tiny', { model: { tiny: { numLayers: 4 }, headLayers: [2, 12] }, run: { evalLayers: [2, 12] } }),
    /must lie within 1..4/,
  );
  assert.throws(
    () => resolveConfig('tiny', { model: { ...twelve, headLayers: [1, 12] }, student: { freezeLayers: 13 } }),
    /student.freezeLayers: expected 0..12/,
  );
});

test('__proto__, constructor and prototype are refused in overrides, --set and key paths, and nothing is polluted', () => {
  const cases: [() => unknown, RegExp][] = [
    [() => resolveConfig('tiny', JSON.parse('{"__proto__": {"x": 1}}')), /config: key '__proto__' is not allowed/],
    [
      () => resolveConfig('tiny', JSON.parse('{"run": {"__proto__": {"x": 1}}}')),
      /key 'run\.__proto__' is not allowed/,
    ],
    [() => resolveConfig('tiny', { constructor: {} } as never), /config: key 'constructor' is not allowed/],
    [() => resolveConfig('tiny', { run: { prototype: 1 } } as never), /key 'run\.prototype' is not allowed/],
    // An object literal's `__proto__:` sets its prototype instead of a key: refused as not a plain object.
    [() => resolveConfig('tiny', { __proto__: { run: { seed: 1 } } } as never), /expected a plain object/],
    [() => resolveConfig('tiny', { run: { __proto__: { seed: 1 } } } as never), /run: expected a plain object/],
    [() => parseSets(['__proto__.x=1']), /--set '__proto__\.x=1': key '__proto__' is not allowed/],
    [() => parseSets(['run.constructor=1']), /key 'run\.constructor' is not allowed/],
    [() => parseSets(['constructor.prototype.x=1']), /key 'constructor' is not allowed/],
    [() => configKeyPath('student.__proto__.x', 'nb'), /nb: key 'student\.__proto__' is not allowed/],
  ];
  for (const [f, re] of cases) assert.throws(f, re);
  assert.equal(({} as Record<string, unknown>).x, undefined);
  assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'seed'), false);
});

test('the key-path walk: sections and leaves, the type at the path, close matches', () => {
  assert.deepEqual(configKeyPath('student.ablation.noAux'), { keys: ['student', 'ablation', 'noAux'], value: false });
  assert.equal(isConfigKey('student.ablation'), true);
  assert.equal(isConfigKey('run.seed.x'), false);
  assert.equal(isConfigKey('preset'), false);
  assert.throws(
    () => configKeyPath('run.seed.x', 'f'),
    /f: unknown key 'run\.seed\.x': 'run\.seed' is a number, not a section/,
  );
  assert.throws(() => configKeyPath('studnet.lr', 'f'), /unknown key 'studnet'; did you mean 'student'\?/);
  assert.throws(() => configKeyPath('lr'), /unknown key 'lr'; did you mean 'teacher\.lr'\?/);
  assert.throws(
    () => configKeyPath('xyzzy'),
    (e: Error) => !/did you mean/.test(e.message) && /unknown key 'xyzzy'/.test(e.message),
  );
  assert.deepEqual(nestKeys({ 'run.seed': 1, 'student.ablation.noAux': true }), {
    run: { seed: 1 },
    student: { ablation: { noAux: true } },
  });
});

test('run.backend: the backend names come from one list (src/backend/names.ts), which initBackend also orders by', () => {
  for (const name of ['', ...BACKEND_NAMES])
    assert.equal(resolveConfig('tiny', parseSets([`run.backend=${name}`])).run.backend, name);
  assert.throws(
    () => resolveConfig('tiny', { run: { backend: 'tpu' as never } }),
    new RegExp(`run\\.backend: expected one of ${['', ...BACKEND_NAMES].map((n) => `'${n}'`).join(', ')}, got 'tpu'`),
  );
});
