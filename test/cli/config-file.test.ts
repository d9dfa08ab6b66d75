/**
 * `--config FILE` is one layer among the others: the preset, then the file (any subset of keys), then each --set,
 * then --out; errors name the file, the dotted key and what was expected. A finished run's config.json, given back
 * with --config, resolves to the same config and trains the same model (spawned through the built CLI).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFrom, type CommonOptions } from '../../src/cli/common.js';
import { configToJson, parseSets, resolveConfig, resolveLayers, type MsdConfig } from '../../src/config.js';
import { noRealData, noRealTokenizer } from '../real-data.js';
import { MSD, REPO, requireBuild } from '../sweep/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'msd-config-file-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | object): string {
  const p = join(dir, name);
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return p;
}

const opts = (o: Partial<CommonOptions>): CommonOptions => ({ set: [], defaultPreset: 'paper', ...o });

test('a partial file is a layer on the preset: the keys it names change, every other key keeps its default', () => {
  const mine = file('mine.json', { run: { seed: 3 } });
  assert.deepEqual(configFrom(opts({ config: mine })), resolveConfig('paper', { run: { seed: 3 } }));
  assert.deepEqual(
    configFrom(opts({ config: mine, preset: 'tiny', out: 'runs/x' })),
    resolveConfig('tiny', { run: { seed: 3, outDir: 'runs/x' } }),
  );
  // Dotted keys, as in sweep files, and both forms in one file.
  const dotted = file('dotted.json', { 'run.seed': 5, teacher: { epochs: 1 }, 'student.ablation.noAux': true });
  const c = configFrom(opts({ config: dotted, defaultPreset: 'tiny' }));
  assert.equal(c.run.seed, 5);
  assert.equal(c.teacher.epochs, 1);
  assert.equal(c.student.ablation.noAux, true);
  assert.equal(c.preset, 'tiny');
});

test('the order is preset, file, each --set in turn, then --out', () => {
  const f = file('order.json', { run: { seed: 3, outDir: 'runs/file' }, teacher: { epochs: 7 } });
  const c = configFrom(opts({ config: f, set: ['run.seed=4', 'run.seed=5', 'run.outDir=runs/set'], out: 'runs/out' }));
  assert.equal(c.run.seed, 5, 'the last --set wins over the file and earlier --set');
  assert.equal(c.run.outDir, 'runs/out', '--out wins over --set and the file');
  assert.equal(c.teacher.epochs, 7, 'the file wins over the preset');
  // The same layers through the library.
  assert.deepEqual(
    c,
    resolveLayers('paper', [
      { from: 'f', values: { run: { seed: 3, outDir: 'runs/file' }, teacher: { epochs: 7 } } },
      { from: 's', values: parseSets(['run.seed=5', 'run.outDir=runs/set']) },
      { from: 'o', values: { run: { outDir: 'runs/out' } } },
    ]),
  );
});

test("the file's preset is the base unless --preset names another (then it is an error)", () => {
  const full = file('full.json', configToJson(resolveConfig('tiny', { student: { lr: 1e-4 } })));
  assert.equal(configToJson(configFrom(opts({ config: full }))), readFileSync(full, 'utf8'));
  assert.equal(configFrom(opts({ config: full, preset: 'tiny' })).preset, 'tiny');
  assert.throws(
    () => configFrom(opts({ config: full, preset: 'paper' })),
    /full\.json is a config of the 'tiny' preset, and --preset paper was given/,
  );
  assert.throws(
    () => configFrom(opts({ config: file('p.json', { preset: 'tiyn' }) })),
    /unknown preset 'tiyn'; did you mean 'tiny'\?/,
  );
});

test('errors in a file name the file, the dotted key and what was expected, with a close match', () => {
  const cases: [string | object, RegExp][] = [
    [{ run: { sed: 3 } }, /bad\.json: unknown key 'run\.sed'; did you mean 'run\.seed'\? Known keys in run: seed,/],
    [{ 'teacher.learningrate': 1 }, /bad\.json: unknown key 'teacher\.learningrate'/],
    [{ seed: 3 }, /bad\.json: unknown key 'seed'; did you mean 'run\.seed'\?/],
    [{ run: { seed: '3' } }, /bad\.json: run\.seed: expected a number, got a string \("3"\)/],
    [{ run: 3 }, /bad\.json: run: expected an object \(a section of keys\), got a number/],
    [{ data: { targets: 'nl' } }, /bad\.json: data\.targets: expected an array, got a string/],
    [{ run: { backend: 'wsm' } }, /bad\.json: run\.backend: expected one of .*got 'wsm'; did you mean 'wasm'\?/],
    [[1, 2], /bad\.json: expected a JSON object of config keys/],
    ['{"run": {"seed": 3,}}', /bad\.json:1:20: not valid JSON: .*\n  line 1: \{"run"/],
    ['{\n  "run": {\n    "seed": 3\n  }\n', /bad\.json:5:1: not valid JSON/],
    ['{"__proto__": {"x": 1}}', /bad\.json: key '__proto__' is not allowed/],
    ['{"run": {"constructor": 1}}', /bad\.json: key 'run\.constructor' is not allowed/],
    ['{"run.prototype": 1}', /bad\.json: key 'run\.prototype' is not allowed/],
    [{ run: { seed: 1 }, 'run.seed': 2 }, /bad\.json: 'run\.seed' is given twice/],
  ];
  for (const [content, re] of cases) {
    const p = file('bad.json', content);
    assert.throws(() => configFrom(opts({ config: p })), re, JSON.stringify(content));
  }
  assert.throws(
    () => configFrom(opts({ config: join(dir, 'none.json') })),
    /none\.json: cannot read the config file: no such file/,
  );
  assert.throws(() => configFrom(opts({ config: dir })), /cannot read the config file: a directory, not a file/);
  assert.equal(({} as Record<string, unknown>).x, undefined, 'no prototype was polluted');
});

test('--resume without --config continues with the run directory config.json', () => {
  const run = join(dir, 'run-a');
  mkdirSync(run);
  writeFileSync(join(run, 'config.json'), configToJson(resolveConfig('tiny', { run: { outDir: run, seed: 9 } })));
  const c = configFrom(opts({ resume: true, out: run }));
  assert.equal(c.preset, 'tiny');
  assert.equal(c.run.seed, 9);
});

test(
  "a finished run's config.json, given back with --config, trains the same model",
  { skip: noRealData('conll2002') || noRealTokenizer() },
  () => {
    requireBuild();
    const sets = [
      'data.limit.train=24',
      'data.limit.dev=12',
      'data.limit.test=12',
      'data.maxLength=32',
      'teacher.batchSize=8',
      'student.batchSize=8',
      'student.epochs=1',
      'teacher.epochs=1',
      'run.seed=11',
    ];
    const a = join(dir, 'repro-a');
    const b = join(dir, 'repro-b');
    const run = (...args: string[]) =>
      execFileSync(process.execPath, [MSD, ...args], { cwd: REPO, encoding: 'utf8', stdio: 'pipe' });
    run('run', '--preset', 'tiny', '--plain', '--out', a, ...sets.flatMap((s) => ['--set', s]));
    const saved = join(a, 'config.json');
    // Resolved again from the file (under the default preset 'paper' of `msd run`): the same config, byte for byte.
    assert.equal(run('run', '--config', saved, '--print-config'), readFileSync(saved, 'utf8'));
    run('run', '--config', saved, '--out', b, '--plain');
    const cfgB = JSON.parse(readFileSync(join(b, 'config.json'), 'utf8')) as MsdConfig;
    assert.deepEqual({ ...cfgB, run: { ...cfgB.run, outDir: a } }, JSON.parse(readFileSync(saved, 'utf8')));
    for (const m of ['teacher/best', 'students/nl/best'])
      assert.ok(
        readFileSync(join(a, m, 'model.safetensors')).equals(readFileSync(join(b, m, 'model.safetensors'))),
        `${m}: the same weights`,
      );
    const rows = (d: string) =>
      (JSON.parse(readFileSync(join(d, 'results', 'summary.json'), 'utf8')) as { rows: unknown }).rows;
    assert.deepEqual(rows(b), rows(a));
  },
);
