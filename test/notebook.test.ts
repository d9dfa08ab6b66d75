/**
 * notebookRun / notebookSweep (src/notebook.ts): a notebook's choices become a config and a run directory under the
 * project root, wherever the kernel starts: a copy of a notebook run from runs/notebooks/ trains into
 * <root>/runs/notebooks-tiny, not runs/runs/ (what `if (cwd ends with 'notebooks') chdir('..')` did). A finished run
 * is opened with its own config; quick is CI's small setting.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { configToJson, resolveConfig } from '../src/config.js';
import { notebookRun, notebookSweep, projectRoot, QUICK_RUN_DIR } from '../src/notebook.js';

const start = process.cwd();
const project = realpathSync(mkdtempSync(join(tmpdir(), 'msd-notebook-')));
writeFileSync(join(project, 'package.json'), '{ "name": "someones-project", "private": true }\n');
const copies = join(project, 'runs', 'notebooks');
mkdirSync(copies, { recursive: true });
mkdirSync(join(project, 'notebooks'), { recursive: true });
after(() => {
  process.chdir(start);
  rmSync(project, { recursive: true, force: true });
});

const lines: string[] = [];
const quiet = { ensureData: false, quick: false, log: (l: string) => lines.push(l) };
const choices = {
  runDir: '',
  preset: 'tiny',
  corpus: 'conll2002',
  source: 'es',
  targets: ['nl'],
  backend: '',
  seed: 7,
};

test('a notebook copy run from runs/notebooks/ trains into <root>/runs/notebooks-tiny (not runs/runs/)', async () => {
  for (const cwd of [copies, join(project, 'notebooks'), project]) {
    process.chdir(cwd);
    const nb = await notebookRun(choices, quiet);
    assert.equal(nb.root, project);
    assert.equal(resolve(nb.run.root), join(project, 'runs', 'notebooks-tiny'), `kernel started in ${cwd}`);
    assert.equal(process.cwd(), project, 'later cells read relative paths from the root');
    assert.equal(nb.training, true);
    assert.equal(nb.cfg.run.seed, 7);
    assert.deepEqual(nb.cfg.data.targets, ['nl']);
  }
  assert.match(lines.join('\n'), /Trains into runs\/notebooks-tiny \(preset 'tiny'\); finished parts are reused\./);
});

test('an explicit root wins over the kernel directory; no package.json above and no root is an error', async () => {
  process.chdir(copies);
  const other = join(project, 'elsewhere');
  mkdirSync(other, { recursive: true });
  const nb = await notebookRun(choices, { ...quiet, root: other });
  assert.equal(nb.root, other);
  assert.equal(resolve(nb.run.root), join(other, 'runs', 'notebooks-tiny'));
  assert.equal(projectRoot(join(copies, 'a', 'b')), project);
  assert.throws(() => projectRoot('/'), /no package\.json at or above \/; pass \{ root \}/);
});

test('runDir opens a finished run with its own config; a directory without config.json is refused, named', async () => {
  process.chdir(project);
  const saved = resolveConfig('tiny', { data: { targets: ['de'] }, run: { seed: 3, outDir: 'runs/finished' } });
  mkdirSync(join(project, 'runs', 'finished'), { recursive: true });
  writeFileSync(join(project, 'runs', 'finished', 'config.json'), configToJson(saved));
  process.chdir(copies);
  const nb = await notebookRun({ ...choices, runDir: 'runs/finished' }, quiet);
  assert.equal(nb.training, false);
  assert.deepEqual(nb.cfg.data.targets, ['de'], 'the run decides, not the choices');
  assert.equal(nb.cfg.run.seed, 3);
  assert.equal(resolve(nb.run.root), join(project, 'runs', 'finished'));
  await assert.rejects(
    notebookRun({ ...choices, runDir: 'runs/nothing' }, quiet),
    new RegExp(`runDir 'runs/nothing': ${join(project, 'runs', 'nothing', 'config.json')} not found`),
  );
});

test('quick (MSD_NOTEBOOK_QUICK=1): QUICK_RUN_DIR, fewer sentences, one epoch; choices and bad values checked', async () => {
  const saved = process.env.MSD_NOTEBOOK_QUICK;
  process.env.MSD_NOTEBOOK_QUICK = '1';
  try {
    const nb = await notebookRun(choices, { ...quiet, quick: undefined });
    assert.equal(nb.quick, true);
    assert.equal(nb.cfg.run.outDir, QUICK_RUN_DIR);
    assert.equal(nb.cfg.data.limit.train, 200);
    assert.equal(nb.cfg.teacher.epochs, 1);
  } finally {
    if (saved === undefined) delete process.env.MSD_NOTEBOOK_QUICK;
    else process.env.MSD_NOTEBOOK_QUICK = saved;
  }
  await assert.rejects(notebookRun({ ...choices, backend: 'tpu' }, quiet), /run\.backend: expected one of/);
});

test('notebookSweep plans variants x seeds into <root>/runs/notebooks-tiny/ablations, or opens that sweep', async () => {
  process.chdir(copies);
  const sweep = await notebookSweep({ ...choices, seeds: [1, 2] }, quiet);
  assert.equal(resolve(sweep.dir), join(project, 'runs', 'notebooks-tiny', 'ablations'));
  assert.equal(sweep.plan?.cells.length, 10);
  assert.equal(sweep.base.data.source, 'es');
  const quick = await notebookSweep({ ...choices, seeds: [1, 2] }, { ...quiet, quick: true });
  assert.deepEqual(quick.seeds, [1], 'quick runs the first seed only');
  assert.equal(quick.plan?.cells.length, 5);
  const opened = await notebookSweep({ ...choices, seeds: [], runDir: 'runs/notebooks-tiny/ablations' }, quiet);
  assert.equal(opened.training, false);
  assert.equal(opened.plan, undefined);
  assert.equal(opened.base.run.seed === 1 || opened.base.run.seed === 2, true);
});
