import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config.js';
import { planSweep, readPlan, readSweepSpec, writePlan, type SweepSpec } from '../../src/sweep/plan.js';
import { ABLATION_VARIANTS, variantOf } from '../../src/run/variants.js';

const grid: SweepSpec = {
  name: 'g',
  preset: 'tiny',
  set: { 'teacher.epochs': 1, 'data.limit.train': 100 },
  axes: { 'data.targets': [['nl'], ['es', 'nl']], variant: ['full', 'noAux'], 'run.seed': [1, 2] },
};

test('plan: the product of every axis kind, in axis order, with resolved configs and ids from labels', () => {
  const p = planSweep(grid, '/sw');
  assert.equal(p.cells.length, 8);
  assert.deepEqual(p.cells.map((c) => c.id).slice(0, 3), [
    'targets-nl_variant-full_seed-1',
    'targets-nl_variant-full_seed-2',
    'targets-nl_variant-noAux_seed-1',
  ]);
  assert.equal(p.cells[7]!.id, 'targets-es+nl_variant-noAux_seed-2');
  assert.deepEqual(
    p.cells.map((c) => c.index),
    [0, 1, 2, 3, 4, 5, 6, 7],
  );
  const c = p.cells[6]!;
  assert.deepEqual(c.config.data.targets, ['es', 'nl']);
  assert.deepEqual(c.config.student.ablation, ABLATION_VARIANTS.noAux);
  assert.equal(c.config.run.seed, 1);
  assert.equal(c.config.teacher.epochs, 1);
  assert.equal(c.config.data.limit.train, 100);
  assert.equal(c.config.run.outDir, '/sw/cells/targets-es+nl_variant-noAux_seed-1');
  assert.equal(c.configPath, '/sw/configs/targets-es+nl_variant-noAux_seed-1.json');
  assert.equal(variantOf(c.config.student.ablation), 'noAux');
  // Named axis: label -> several keys at once.
  const named = planSweep(
    { preset: 'tiny', axes: { lr: { low: { 'student.lr': 1e-5, 'teacher.lr': 1e-5 }, high: { 'student.lr': 1e-3 } } } },
    '/sw',
  );
  assert.deepEqual(
    named.cells.map((x) => [x.id, x.config.student.lr, x.config.teacher.lr]),
    [
      ['lr-low', 1e-5, 1e-5],
      ['lr-high', 1e-3, resolveConfig('tiny').teacher.lr],
    ],
  );
  // No axes: one cell.
  assert.deepEqual(
    planSweep({ preset: 'tiny' }, '/sw').cells.map((x) => x.id),
    ['base'],
  );
  // `set` as a list of --set strings works the same.
  assert.equal(planSweep({ preset: 'tiny', set: ['student.epochs=3'] }, '/sw').cells[0]!.config.student.epochs, 3);
});

test('plan: one teacher per distinct teacher config, shared by the cells that need it', () => {
  const p = planSweep(grid, '/sw');
  // Teachers depend on the seed only here (targets and variant are student-side): 2 teachers for 8 cells.
  assert.equal(p.teachers.length, 2);
  for (const t of p.teachers) {
    assert.equal(t.cells.length, 4);
    for (const id of t.cells) {
      const cell = p.cells.find((c) => c.id === id)!;
      assert.equal(cell.config.run.teacherDir, t.dir);
      assert.equal(cell.config.run.seed, t.config.run.seed);
    }
    assert.equal(t.config.run.outDir, t.dir);
    // The union of its cells' targets (a pruned vocabulary must cover every target text).
    assert.deepEqual(t.config.data.targets, ['es', 'nl']);
    assert.equal(t.config.run.teacherDir, '');
  }
  // A teacher-side axis splits teachers; shareTeacher false gives every cell its own.
  assert.equal(planSweep({ ...grid, axes: { ...grid.axes, 'teacher.lr': [1e-3, 2e-3] } }, '/sw').teachers.length, 4);
  const own = planSweep({ ...grid, shareTeacher: false }, '/sw');
  assert.equal(own.teachers.length, 0);
  assert.ok(own.cells.every((c) => c.config.run.teacherDir === '' && c.teacher === ''));
});

test('plan: ids are stable (adding a value keeps the other ids and configs) and duplicates are kept once', () => {
  const a = planSweep(grid, '/sw');
  const b = planSweep({ ...grid, axes: { ...grid.axes, 'run.seed': [1, 2, 3] } }, '/sw');
  for (const c of a.cells) {
    const same = b.cells.find((x) => x.id === c.id);
    assert.ok(same, c.id);
    assert.deepEqual(same!.config, c.config);
  }
  assert.equal(b.cells.length, 12);
  // The same value twice, and a named axis value equal to the base: one cell each.
  const d = planSweep({ preset: 'tiny', axes: { 'run.seed': [1, 1, 2], variant: ['full', 'full'] } }, '/sw');
  assert.deepEqual(
    d.cells.map((c) => c.id),
    ['seed-1_variant-full', 'seed-2_variant-full'],
  );
  assert.equal(d.duplicates.length, 4);
  assert.equal(d.duplicates[0]!.sameAs, 'seed-1_variant-full');
  const e = planSweep(
    { preset: 'tiny', axes: { lr: { base: {}, same: { 'student.lr': resolveConfig('tiny').student.lr } } } },
    '/sw',
  );
  assert.deepEqual(
    e.cells.map((c) => c.id),
    ['lr-base'],
  );
  // Ambiguous short names fall back to the full key.
  const f = planSweep({ preset: 'tiny', axes: { 'teacher.lr': [1e-3], 'student.lr': [1e-3] } }, '/sw');
  assert.equal(f.cells[0]!.id, 'teacher-lr-0.001_student-lr-0.001');
});

test('plan: bad sweep files are clear errors', () => {
  const bad: [unknown, RegExp][] = [
    [{ axes: { 'run.sed': [1] } }, /axes\.run\.sed: 'run\.sed' is not a config key \(did you mean 'run\.seed'\?\)/],
    [{ axes: { 'run.seed': ['one'] } }, /axes\.run\.seed: value "one": run\.seed: expected a number, got a string/],
    [{ axes: { 'run.seed': 3 } }, /axes\.run\.seed: expected a non-empty list of values/],
    [{ axes: { 'run.seed': [] } }, /non-empty list/],
    [
      { axes: { variant: ['full', 'noMMD'] } },
      /axes\.variant: variant 'noMMD': expected one of full, noAux, noMmdL, noMmdM, noAll/,
    ],
    [{ axes: { 'data.targets': ['nl'] } }, /data\.targets: value "nl": data\.targets: expected an array, got a string/],
    [{ axes: { lr: { low: 5 } } }, /axes\.lr\.low: expected an object of dotted config keys/],
    [
      { axes: { lr: { low: { 'student.lrr': 1 } } } },
      /axes\.lr\.low: unknown key 'student\.lrr'; did you mean 'student\.lr'\?/,
    ],
    [{ set: { 'teacher.epochs': 'x' } }, /set: teacher\.epochs: expected a number/],
    [{ set: { 'teacher.epochs': 1 }, sets: {} }, /unknown key 'sets'/],
    [{ preset: 'huge' }, /preset: expected one of paper, tiny/],
    [
      { axes: { 'run.evalLayers': [[0, 2]] } },
      /axes\.run\.evalLayers: value \[0,2\]: run\.evalLayers: \[0, 2\] must lie within model\.headLayers/,
    ],
    // Each value is valid alone, the combination is not: the error names the cell.
    [
      {
        set: { 'model.tiny.numLayers': 12, 'model.headLayers': [2, 4], 'run.evalLayers': [2, 4] },
        axes: { 'model.tiny.numLayers': [4], 'student.clsLayer': [8] },
      },
      /f\.json: cell numLayers-4_clsLayer-8: student\.clsLayer: 8 must be -1/,
    ],
    [{ name: 'a b' }, /name: expected letters, digits/],
    // __proto__, constructor and prototype: never keys, wherever they stand (JSON.parse makes __proto__ an own key).
    [JSON.parse('{"axes": {"__proto__": [1]}}'), /f\.json: key 'axes\.__proto__' is not allowed/],
    [{ set: { 'constructor.x': 1 } }, /f\.json: set: key 'constructor' is not allowed/],
    [{ set: ['prototype=1'] }, /key 'prototype' is not allowed/],
    [
      { axes: { named: { a: JSON.parse('{"__proto__": {"x": 1}}') } } },
      /key 'axes\.named\.a\.__proto__' is not allowed/,
    ],
  ];
  for (const [spec, re] of bad)
    assert.throws(
      () => planSweep({ preset: 'tiny', ...(spec as object) } as SweepSpec, '/sw', 'f.json'),
      re,
      JSON.stringify(spec),
    );
  assert.throws(() => planSweep([1, 2] as unknown as SweepSpec, '/sw', 'f.json'), /f\.json: expected a JSON object/);
  const dir = mkdtempSync(join(tmpdir(), 'msd-plan-'));
  try {
    writeFileSync(join(dir, 'bad.json'), '{\n  "axes": {\n    "run.seed": [1,,2]\n  }\n}\n');
    assert.throws(
      () => readSweepSpec(join(dir, 'bad.json')),
      /bad\.json:3:\d+: not valid JSON: Unexpected token ','\n  line 3: /,
    );
    assert.throws(() => readSweepSpec(join(dir, 'missing.json')), /missing\.json: cannot read the sweep file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writePlan: configs and plan.json on disk; replanning the same sweep is fine, a changed cell is refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'msd-plan-'));
  try {
    const p = planSweep(grid, dir);
    writePlan(p);
    const back = readPlan(dir);
    assert.equal(back.cells.length, 8);
    assert.equal(back.teachers.length, 2);
    const cfg = JSON.parse(readFileSync(p.cells[3]!.configPath, 'utf8'));
    assert.deepEqual(cfg, p.cells[3]!.config);
    writePlan(planSweep({ ...grid, axes: { ...grid.axes, 'run.seed': [1, 2, 3] } }, dir)); // only adds cells
    assert.equal(readPlan(dir).cells.length, 12);
    assert.throws(
      () => writePlan(planSweep({ ...grid, set: { 'teacher.epochs': 2 } }, dir)),
      /planned with other configs/,
    );
    writePlan(planSweep({ ...grid, set: { 'teacher.epochs': 2 } }, dir), { force: true });
    assert.throws(() => readPlan(join(dir, 'nope')), /no plan\.json; plan the sweep first/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
