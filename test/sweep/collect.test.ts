import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectSweep, latexTable, tidyFrame, writeCollect } from '../../src/sweep/collect.js';
import { planSweep, writePlan, type SweepPlan } from '../../src/sweep/plan.js';
import { processAlive, sweepFileStatus } from '../../src/sweep/state.js';
import { sweepFigures } from '../../src/viz/sweep-figures.js';
import { tTest } from '../../src/sweep/stats.js';

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

/** A finished cell as evaluateRun leaves it: results/summary.json with per-layer rows of the teacher and student. */
function finish(plan: SweepPlan, id: string, student: number, teacher: number): void {
  const cell = plan.cells.find((c) => c.id === id)!;
  const rows = [];
  for (const layer of [2, 3, 4]) {
    const off = (4 - layer) * 0.1; // lower layers score lower
    rows.push({
      model: 'teacher',
      language: 'es',
      split: 'test',
      layer,
      precision: 0.9,
      recall: 0.9,
      f1: 0.9 - off,
      support: 10,
    });
    rows.push({
      model: 'teacher',
      language: 'nl',
      split: 'test',
      layer,
      precision: teacher,
      recall: teacher,
      f1: teacher - off,
      support: 10,
    });
    rows.push({
      model: 'student:nl',
      language: 'nl',
      split: 'test',
      layer,
      precision: student,
      recall: student,
      f1: student - off,
      support: 10,
    });
  }
  mkdirSync(join(cell.dir, 'results'), { recursive: true });
  writeFileSync(
    join(cell.dir, 'results', 'summary.json'),
    JSON.stringify({ rows, mainLayer: { teacher: 4, 'student:nl': 4 } }),
  );
}

test('collect: tidy rows, mean/std over seeds, t-test against full, incomplete cells listed and left out', () => {
  const dir = mkdtempSync(join(tmpdir(), 'msd-collect-'));
  try {
    const plan = planSweep(
      {
        preset: 'tiny',
        set: { 'model.tiny.numLayers': 4, 'model.headLayers': [2, 4], 'run.evalLayers': [2, 4] },
        axes: { variant: ['full', 'noAux'], 'run.seed': [1, 2, 3] },
      },
      dir,
    );
    writePlan(plan);
    const teacherBySeed = [0.3, 0.3, 0.33];
    [0.5, 0.52, 0.54].forEach((f, i) => finish(plan, `variant-full_seed-${i + 1}`, f, teacherBySeed[i]!));
    finish(plan, 'variant-noAux_seed-1', 0.4, 0.3);
    finish(plan, 'variant-noAux_seed-2', 0.42, 0.3);
    // noAux seed 3: half-trained (a checkpoint and a metrics line), never averaged in.
    const partial = plan.cells.find((c) => c.id === 'variant-noAux_seed-3')!;
    mkdirSync(join(partial.dir, 'students', 'nl', 'checkpoints'), { recursive: true });
    writeFileSync(join(partial.dir, 'students', 'nl', 'checkpoints', 'last.safetensors'), '');
    writeFileSync(join(partial.dir, 'students', 'nl', 'metrics.jsonl'), '{"kind":"step","step":6,"loss":1}\n');

    const st = sweepFileStatus({ ...JSON.parse(readFileSync(join(dir, 'plan.json'), 'utf8')), root: dir });
    assert.deepEqual(
      st.cells.map((c) => c.state),
      ['done', 'done', 'done', 'done', 'done', 'partial'],
    );
    assert.deepEqual([st.cells[5]!.task, st.cells[5]!.step], ['student:nl', 6]);

    const r = collectSweep(dir);
    assert.deepEqual(r.incomplete, [
      { cell: 'variant-noAux_seed-3', state: 'partial', detail: 'student:nl at step 6' },
    ]);
    assert.deepEqual(r.seeds, [1, 2, 3]);
    // 5 finished cells x 3 student layers + the teacher on nl once per seed (3 teachers x 3 layers), not per cell.
    assert.equal(r.rows.filter((x) => x.variant !== 'teacher').length, 15);
    assert.equal(r.rows.filter((x) => x.variant === 'teacher').length, 9);
    assert.ok(
      r.rows.every((x) => x.language === 'nl'),
      'the teacher on its source language is not a cross-lingual result',
    );

    const at = (variant: string) => r.main.find((x) => x.variant === variant)!;
    assert.deepEqual(
      r.main.map((x) => x.variant),
      ['teacher', 'full', 'noAux'],
    );
    close(at('full').mean, 0.52);
    close(at('full').std, 0.02, 1e-12);
    assert.equal(at('full').n, 3);
    assert.ok(Number.isNaN(at('full').p));
    close(at('noAux').mean, 0.41);
    close(at('noAux').std, Math.sqrt(0.0002), 1e-12);
    assert.equal(at('noAux').missing, '3');
    assert.equal(at('noAux').p, tTest([0.4, 0.42], [0.5, 0.52, 0.54]).p);
    assert.ok(at('noAux').p < 0.05);
    close(at('teacher').mean, 0.31);
    assert.equal(at('teacher').n, 3);
    // Per layer: layer 2 of full is 0.2 lower at every seed.
    const l2 = r.layers.find((x) => x.variant === 'full' && x.layer === 2)!;
    close(l2.mean, 0.32, 1e-12);

    const tex = latexTable(r.main);
    assert.match(tex, /full & \\textbf\{52\.00 \$\\pm\$ 2\.00\} \\\\/);
    assert.match(tex, /noAux & 41\.00 \$\\pm\$ 1\.41\$\^\{\*\}\$ \\\\/);
    assert.match(tex, /teacher & 31\.00 \$\\pm\$ 1\.73/);
    const paths = writeCollect(dir, r);
    assert.match(
      readFileSync(paths.incomplete, 'utf8'),
      /^cell,state,detail\nvariant-noAux_seed-3,partial,student:nl at step 6\n$/,
    );
    const csv = readFileSync(paths.main, 'utf8').split('\n');
    assert.equal(csv[0], 'setting,variant,language,layer,n,mean,std,p,pNote,seeds,missing');
    assert.equal(readFileSync(paths.runs, 'utf8').trim().split('\n').length, 1 + 24);

    const frame = tidyFrame(r.rows);
    assert.deepEqual(frame.shape, [24, Object.keys(r.rows[0]!).length]);
    assert.ok(frame.columns.includes('f1') && frame.columns.includes('variant'));

    const figs = sweepFigures(r);
    assert.ok(figs.ablation && figs.perLayer);
    const values = (figs.ablation as { data: { values: { variant: string; f1: number }[] } }).data.values;
    assert.ok(
      values.some((v) => v.f1 === 52 && v.variant === 'MSD'),
      JSON.stringify(values),
    ); // full MSD, labelled by viz
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('latexTable: every column bolds its best mean (ties all bold); an avg column only with several languages', () => {
  const row = (variant: string, language: string, mean: number, p = Number.NaN) => ({
    setting: '',
    variant,
    language,
    layer: 4,
    n: 2,
    mean,
    std: 0.01,
    p,
    pNote: '',
    seeds: '1 2',
    missing: '',
  });
  const tex = latexTable([
    row('full', 'de', 0.7),
    row('full', 'nl', 0.6),
    row('noAux', 'de', 0.7, 0.5),
    row('noAux', 'nl', 0.65, 0.01),
  ]);
  assert.match(tex, /variant & de & nl & avg/);
  assert.match(tex, /full & \\textbf\{70\.00 \$\\pm\$ 1\.00\} & 60\.00 \$\\pm\$ 1\.00 & 65\.00 \\\\/);
  assert.match(
    tex,
    /noAux & \\textbf\{70\.00 \$\\pm\$ 1\.00\} & \\textbf\{65\.00 \$\\pm\$ 1\.00\}\$\^\{\*\}\$ & \\textbf\{67\.50\} \\\\/,
  );
});

test('file state: a cell whose local child is alive is running; a dead pid file is ignored', () => {
  const dir = mkdtempSync(join(tmpdir(), 'msd-state-'));
  try {
    const plan = planSweep({ preset: 'tiny', axes: { 'run.seed': [1, 2] }, shareTeacher: false }, dir);
    writePlan(plan);
    mkdirSync(join(dir, 'state'), { recursive: true });
    writeFileSync(join(dir, 'state', 'seed-1.pid'), `${process.pid}\n`);
    writeFileSync(join(dir, 'state', 'seed-2.pid'), '999999999\n');
    const st = sweepFileStatus({ ...JSON.parse(readFileSync(join(dir, 'plan.json'), 'utf8')), root: dir });
    assert.deepEqual(
      st.cells.map((c) => [c.state, c.pid]),
      [
        ['running', process.pid],
        ['queued', undefined],
      ],
    );
    writeFileSync(join(dir, 'state', 'seed-2.exit'), '1\n');
    mkdirSync(join(dir, 'logs'), { recursive: true });
    writeFileSync(join(dir, 'logs', 'seed-2.log'), 'a\nmsd: something broke\n\n');
    const again = sweepFileStatus({ ...JSON.parse(readFileSync(join(dir, 'plan.json'), 'utf8')), root: dir });
    assert.deepEqual(
      [again.cells[1]!.state, again.cells[1]!.exitCode, again.cells[1]!.tail],
      ['failed', 1, ['a', 'msd: something broke']],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('processAlive: a zombie (killed, not yet reaped) counts as dead', async () => {
  const { spawn } = await import('node:child_process');
  // The background child exits only once its parent has become `sleep 60` (exec), which never reaps it: a zombie
  // until the parent is killed below. (A child that exits at once, `sleep 0 &`, could be reaped by bash itself before
  // the exec, and then /proc had no entry for it: a CI run failed that way.) Its state is polled (up to 20 s).
  const waitForExec = `until [ "$(cat /proc/$PPID/comm)" = sleep ]; do sleep 0.02; done`;
  const child = spawn('bash', ['-c', `sh -c '${waitForExec}' & echo $!; exec sleep 60`], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  try {
    const pid = Number(
      await new Promise<string>((res) => child.stdout!.once('data', (d: Buffer) => res(d.toString()))),
    );
    const state = () => {
      if (!existsSync(`/proc/${pid}/stat`)) return 'gone';
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    };
    for (let t = Date.now(); !['Z', 'gone'].includes(state()) && Date.now() - t < 20_000;)
      await new Promise((r) => setTimeout(r, 50));
    assert.equal(state(), 'Z', 'the test made a zombie');
    assert.equal(processAlive(pid), false);
    assert.equal(processAlive(process.pid), true);
    assert.equal(processAlive(999999999), false);
  } finally {
    child.kill();
  }
});
