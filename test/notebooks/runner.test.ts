/**
 * The notebook runner's pure parts (kernel-setup/notebooks.ts) on made-up notebooks, and the committed notebooks
 * themselves (stored clean, tslab kernel). Executing notebooks is `npm run test:notebooks`, not this file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { join, relative } from 'node:path';
import {
  listNotebooks,
  parseNotebook,
  checkExecuted,
  expectJsonOutput,
  parseCellErrors,
  formatCellError,
  kernelSpecProblem,
  dirtyCells,
  machinePaths,
  expectCharts,
  expectText,
  chartLabel,
  EXPECTATIONS,
  OPEN_RUN_NOTEBOOKS,
  withRunDir,
  sourceText,
  VEGA_LITE_MIME,
  CELL_ERROR_MARKER,
  interruptProblems,
  uncountedCells,
  type InterruptReport,
  type Notebook,
  type Output,
} from '../../kernel-setup/notebooks.js';

function nb(outputs: Output[][]): Notebook {
  return {
    nbformat: 4,
    cells: outputs.map((o, i) => ({ cell_type: 'code', source: 'x', outputs: o, execution_count: i + 1 })),
  };
}
const display = (data: Record<string, unknown>): Output => ({ output_type: 'display_data', data });
const spec = { mark: 'bar', data: { values: [{ a: 1 }] } };

test('listNotebooks finds .ipynb files recursively, sorted, skipping checkpoints and dot-folders', () => {
  const dir = mkdtempSync(join(tmpdir(), 'msd-nb-'));
  try {
    for (const f of ['b.ipynb', 'a.ipynb', 'sub/c.ipynb', '.ipynb_checkpoints/a-checkpoint.ipynb', '.hidden/d.ipynb', 'notes.md']) {
      mkdirSync(join(dir, f, '..'), { recursive: true });
      writeFileSync(join(dir, f), '{}');
    }
    assert.deepEqual(listNotebooks(dir).map((f) => relative(dir, f)), ['a.ipynb', 'b.ipynb', 'sub/c.ipynb']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('parseNotebook rejects what is not an nbformat 4 notebook, naming the file', () => {
  const cases: [string, RegExp][] = [
    ['{not json', /x\.ipynb: not valid notebook JSON/],
    ['[]', /x\.ipynb: expected an nbformat 4 notebook/],
    ['{"cells": 3, "nbformat": 4}', /x\.ipynb: expected an nbformat 4 notebook/],
    ['{"cells": [], "nbformat": 3}', /x\.ipynb: expected nbformat 4, found 3/],
  ];
  for (const [text, err] of cases) assert.throws(() => parseNotebook(text, 'x.ipynb'), err, text);
  assert.equal(parseNotebook('{"cells": [], "nbformat": 4}', 'x.ipynb').cells.length, 0);
});

test('checkExecuted: 00_setup needs a Vega-Lite v5 output that is a JSON object', () => {
  const cases: { name: string; nb: Notebook; file: string; problems: RegExp[] }[] = [
    { name: 'spec object', nb: nb([[], [display({ [VEGA_LITE_MIME]: spec })]]), file: 'notebooks/00_setup.ipynb', problems: [] },
    { name: 'no chart', nb: nb([[display({ 'text/plain': 'hi' })]]), file: 'notebooks/00_setup.ipynb', problems: [/no output with MIME type application\/vnd\.vegalite\.v5\+json/] },
    { name: 'v4 only', nb: nb([[display({ 'application/vnd.vegalite.v4+json': spec })]]), file: 'notebooks/00_setup.ipynb', problems: [/no output with MIME type/] },
    { name: 'spec as string', nb: nb([[display({ [VEGA_LITE_MIME]: JSON.stringify(spec) })]]), file: 'notebooks/00_setup.ipynb', problems: [/cell 0: .* is a string, expected a JSON object/] },
    { name: 'notebook without expectations, no chart needed', nb: nb([[]]), file: 'notebooks/scratch.ipynb', problems: [] },
    {
      name: 'error output',
      nb: nb([[], [{ output_type: 'error', ename: 'TypeError', evalue: 'bad', traceback: [] }]]),
      file: 'notebooks/scratch.ipynb',
      problems: [/cell 1: TypeError: bad/],
    },
  ];
  for (const c of cases) {
    const problems = checkExecuted(c.nb, c.file);
    assert.equal(problems.length, c.problems.length, `${c.name}: ${problems.join('; ')}`);
    c.problems.forEach((re, i) => assert.match(problems[i]!, re, c.name));
  }
});

test('expectJsonOutput accepts a spec in any cell and rejects arrays', () => {
  const check = expectJsonOutput(VEGA_LITE_MIME);
  assert.deepEqual(check(nb([[], [], [display({ [VEGA_LITE_MIME]: spec, 'text/plain': 'chart' })]])), []);
  assert.match(check(nb([[display({ [VEGA_LITE_MIME]: [spec] })]]))[0]!, /expected a JSON object/);
});

test('parseCellErrors reads the hook reports out of noisy stderr; formatCellError shows source, output, error', () => {
  const report = {
    cellIndex: 3,
    source: ["const t: number = 'x';\n", 'console.log(t);'],
    outputs: [
      { output_type: 'stream', name: 'stdout', text: 'before\n' },
      { output_type: 'stream', name: 'stderr', text: "1:7 - Type 'string' is not assignable to type 'number'.\n" },
    ],
    ename: 'Error',
    evalue: 'boom',
    traceback: ['\u001b[31mError\u001b[0m: boom', '    at cell 3'],
  };
  const stderr = ['[NbConvertApp] Converting notebook', `${CELL_ERROR_MARKER}${JSON.stringify(report)}`, 'Traceback (most recent call last):', `${CELL_ERROR_MARKER}{truncated`].join('\n');
  const parsed = parseCellErrors(stderr);
  assert.equal(parsed.length, 1);
  assert.deepEqual(parsed[0], report);
  const text = formatCellError('notebooks/x.ipynb', parsed[0]!);
  assert.match(text, /^notebooks\/x\.ipynb: cell 3 failed/);
  assert.match(text, /\| const t: number = 'x';\n {2}\| console\.log\(t\);/);
  assert.match(text, /\| before/);
  assert.match(text, /! 1:7 - Type 'string' is not assignable/);
  assert.match(text, /\n  Error: boom\n {6}at cell 3/);
  assert.doesNotMatch(text, /\u001b/);
  assert.deepEqual(parseCellErrors('no reports here\n'), []);
});

test('kernelSpecProblem: missing, unreadable, stale and matching kernelspecs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'msd-kernel-'));
  try {
    const binary = join(dir, 'tslab');
    writeFileSync(binary, '#!/bin/sh\n');
    const spec = join(dir, 'kernel.json');
    const write = (argv: unknown): void => writeFileSync(spec, JSON.stringify({ argv }));
    assert.match(kernelSpecProblem(spec, binary)!, /does not exist/);
    writeFileSync(spec, '{');
    assert.match(kernelSpecProblem(spec, binary)!, /not valid JSON/);
    write(undefined);
    assert.match(kernelSpecProblem(spec, binary)!, /no "argv" command/);
    write(['/elsewhere/node_modules/.bin/tslab', 'kernel']);
    assert.match(kernelSpecProblem(spec, binary)!, /runs \/elsewhere\/node_modules\/\.bin\/tslab, which does not exist/);
    const other = join(dir, 'other-tslab');
    writeFileSync(other, '');
    write([other, 'kernel']);
    assert.match(kernelSpecProblem(spec, binary)!, /not this checkout's/);
    write([binary, 'kernel', '--config-path', '{connection_file}']);
    assert.equal(kernelSpecProblem(spec, binary), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('machinePaths finds absolute paths of a machine in sources and metadata, not relative ones or URLs', () => {
  const book = (sources: string[], metadata: Record<string, unknown> = {}): Notebook => ({
    nbformat: 4,
    metadata,
    cells: sources.map((source) => ({ cell_type: 'code', source })),
  });
  const clean = book([
    "import { x } from '../lib/index.js';\nconst root = '../data';",
    "const runDir = 'runs/demo'; // $schema: 'https://vega.github.io/schema/vega-lite/v5.json'",
    'See `runs/<name>/figures/` and https://example.org/data/x.',
  ]);
  assert.deepEqual(machinePaths(clean), []);
  const dirty = book(
    ["const a = '/home/ana/msd/runs/x';", 'load("/work/main/data")\nconst w = \'C:\\\\Users\\\\ana\';', '(see /tmp/nb/out.html)'],
    { widgets: { state: '/Users/bob/x' } },
  );
  const found = machinePaths(dirty);
  assert.equal(found.length, 5, found.join('; '));
  assert.match(found[0]!, /^cell 0: machine path '\/home\/ana\/msd\/runs\/x'$/);
  assert.match(found[1]!, /^cell 1: machine path '\/work\/main\/data'$/);
  assert.match(found[2]!, /^cell 1: machine path 'C:\\\\Users/);
  assert.match(found[3]!, /^cell 2: machine path '\/tmp\/nb\/out\.html'$/);
  assert.match(found[4]!, /^metadata: machine path '\/Users\/bob\/x'$/);
});

test('chartLabel reads a title string, a title object, a list of lines and the description', () => {
  assert.equal(chartLabel({ title: 'F1 per layer' }), 'F1 per layer');
  assert.equal(chartLabel({ title: { text: 'MMD', subtitle: 'x' }, description: 'MMD^2 per layer' }), 'MMD | MMD^2 per layer');
  assert.equal(chartLabel({ title: ['a', 'b'] }), 'a b');
  assert.equal(chartLabel({ title: { text: ['c', 'd'] } }), 'c d');
  assert.equal(chartLabel({ mark: 'bar' }), '');
});

test('expectCharts: each promised chart as a Vega-Lite object with a static copy in its cell', () => {
  const f1 = { ...spec, title: 'Entity F1 per layer' };
  const mmd = { ...spec, title: { text: 'MMD^2 per layer' } };
  const svg = { 'image/svg+xml': '<svg/>' };
  const check = expectCharts([
    { name: 'per-layer F1', match: /F1 per layer/ },
    { name: 'MMD', match: /MMD/ },
  ]);
  // Both charts, each with an SVG (same bundle or a second output of the same cell): fine.
  assert.deepEqual(check(nb([[display({ [VEGA_LITE_MIME]: f1, ...svg })], [display({ [VEGA_LITE_MIME]: mmd }), display({ 'image/png': 'iVBOR' })]])), []);
  // One chart missing: named, with what was shown.
  const missing = check(nb([[display({ [VEGA_LITE_MIME]: f1, ...svg })]]));
  assert.equal(missing.length, 1);
  assert.match(missing[0]!, /no Vega-Lite chart for 'MMD' .*charts shown: 'Entity F1 per layer'/);
  // A static copy in another cell does not count.
  const noStatic = check(nb([[display({ [VEGA_LITE_MIME]: f1 })], [display(svg)], [display({ [VEGA_LITE_MIME]: mmd, ...svg })]]));
  assert.deepEqual(noStatic.length, 1);
  assert.match(noStatic[0]!, /cell 0: chart 'Entity F1 per layer' has no static copy/);
  // No chart at all, or a spec passed as a string.
  assert.match(check(nb([[display(svg)]]))[0]!, /no output with MIME type/);
  assert.match(check(nb([[display({ [VEGA_LITE_MIME]: JSON.stringify(f1) })]]))[0]!, /is a string, expected a JSON object/);
});

test('expectText finds printed text in streams and text/plain outputs', () => {
  const check = expectText('exported files', /figures\/.*\.svg/);
  assert.deepEqual(check(nb([[{ output_type: 'stream', name: 'stdout', text: ['wrote runs/x/figures/', 'f1.svg\n'] }]])), []);
  assert.deepEqual(check(nb([[display({ 'text/plain': 'runs/x/figures/a.svg' })]])), []);
  assert.match(check(nb([[{ output_type: 'stream', name: 'stdout', text: 'nothing\n' }]]))[0]!, /^exported files: no output matches/);
});

test('withRunDir rewrites the choices cell to open a run, and refuses a notebook without exactly one', () => {
  const book: Notebook = {
    nbformat: 4,
    cells: [
      { cell_type: 'markdown', source: "runDir: '', (in prose)" },
      { cell_type: 'code', source: ["// choices\n", 'const choices = {\n', "  runDir: '',   // '' = train\n", "  preset: 'tiny',\n};"] },
      { cell_type: 'code', source: 'console.log(choices.runDir);' },
    ],
  };
  const opened = withRunDir(book, 'runs/notebooks-quick');
  assert.equal(sourceText(opened.cells[1]!.source), "// choices\nconst choices = {\n  runDir: 'runs/notebooks-quick',   // '' = train\n  preset: 'tiny',\n};");
  assert.equal(opened.cells[0], book.cells[0]);
  assert.equal(sourceText(book.cells[1]!.source), "// choices\nconst choices = {\n  runDir: '',   // '' = train\n  preset: 'tiny',\n};", 'the original is unchanged');
  assert.throws(() => withRunDir({ nbformat: 4, cells: [book.cells[2]!] }, 'x'), /found 0/);
  assert.throws(() => withRunDir({ nbformat: 4, cells: [book.cells[1]!, book.cells[1]!] }, 'x'), /found 2/);
});

test('committed notebooks: stored without outputs or machine paths, tslab kernel, checked when executed', () => {
  const files = listNotebooks(join(process.cwd(), 'notebooks'));
  const names = files.map((f) => relative(join(process.cwd(), 'notebooks'), f));
  for (const want of ['00_setup.ipynb', '01_teacher.ipynb']) assert.ok(names.includes(want), `notebooks/${want} exists`);
  for (const file of files) {
    const book = parseNotebook(readFileSync(file, 'utf8'), file);
    assert.deepEqual(dirtyCells(book), [], `${file}: cells with outputs or execution counts (clear them before committing)`);
    assert.deepEqual(machinePaths(book), [], `${file}: paths of one machine (use paths relative to the repository root)`);
    const kernel = (book.metadata?.kernelspec as { name?: string } | undefined)?.name;
    assert.equal(kernel, 'tslab', `${file}: kernelspec.name`);
    const name = relative(join(process.cwd(), 'notebooks'), file);
    assert.ok((EXPECTATIONS[name] ?? []).length > 0, `${name}: no checks in kernel-setup/notebooks.ts EXPECTATIONS`);
    if (name === '00_setup.ipynb') continue;
    // The training notebooks: the first code cell holds the choices only (runDir '' as committed: train), and the
    // next hands them to notebookRun / notebookSweep (which own the quick setting and QUICK_RUN_DIR).
    const code = book.cells.filter((c) => c.cell_type === 'code').map((c) => sourceText(c.source));
    assert.match(code[0]!, /^\/\/ Choices[^\n]*\nconst choices = \{\n( [^\n]*\n)+\};$/, `${name}: the first code cell is \`const choices = { ... };\` only`);
    assert.match(code[0]!, /^ {2}runDir: '',/m, `${name}: runDir must be '' (train) as committed`);
    assert.match(code[1]!, /= await notebook(Run|Sweep)\(choices\);/, `${name}: the second code cell calls notebookRun(choices)`);
    assert.doesNotMatch(code.join('\n'), /process\.chdir|MSD_NOTEBOOK_QUICK|resolveConfig\(/, `${name}: the helper's work done by hand`);
  }
  for (const name of OPEN_RUN_NOTEBOOKS) assert.ok(files.some((f) => f.endsWith(`/${name}`)), `OPEN_RUN_NOTEBOOKS: notebooks/${name} exists`);
});

test('interruptProblems: what Kernel > Interrupt during training must do (interrupt_check.py reports)', () => {
  const stream = (text: string) => ({ type: 'stream', name: 'stdout', text });
  const good: InterruptReport = {
    setup: { reply: { status: 'ok' }, outputs: [] },
    interrupt: {
      sent: true,
      linesWhenSent: 6,
      replySeconds: 0.2,
      reply: { status: 'error' },
      outputs: [stream('[Interrupted: teacher stopped at step 7 of 313; checkpoint /r/teacher/checkpoints/last.safetensors written: run again with resume to continue]\n')],
    },
    linesAfterReply: 7,
    linesThreeSecondsLater: 7,
    alive: { reply: { status: 'ok' }, outputs: [stream('alive 2\n')] },
    resume: { reply: { status: 'ok' }, outputs: [stream('resumed from /r/teacher/checkpoints/last.safetensors at step 7\n'), stream('finished at step 313\n')] },
  };
  assert.deepEqual(interruptProblems(good), []);
  // Before the fix: tslab freed the cell at once ("Interrupted asynchronously") while training went on.
  const before: InterruptReport = {
    ...good,
    interrupt: { ...good.interrupt, outputs: [stream('Error: Interrupted asynchronously\n    at interrupt (executor.js:99)\n')] },
    linesAfterReply: 7,
    linesThreeSecondsLater: 30,
    resume: { reply: { status: 'ok' }, outputs: [stream('resumed from /r/teacher/checkpoints/last.safetensors at step 0\n')] },
  };
  const problems = interruptProblems(before);
  assert.equal(problems.length, 3, problems.join('\n'));
  assert.match(problems[0]!, /does not say where training stopped/);
  assert.match(problems[1]!, /metrics\.jsonl kept growing: 7 lines at the reply, 30 3 s later/);
  assert.match(problems[2]!, /resumed training did not finish/);
  // A cell that never ends (the loop never yields, so the signal is never delivered).
  const stuck = interruptProblems({ ...good, interrupt: { ...good.interrupt, reply: null, outputs: [] } });
  assert.match(stuck[0]!, /never replied/);
  assert.match(interruptProblems({ ...good, resume: { reply: { status: 'ok' }, outputs: [stream('resumed from x at step 3\n')] } })[0]!, /did not resume from step 7/);
  assert.match(interruptProblems({ ...good, alive: { reply: null, outputs: [] } })[0]!, /kernel did not answer/);
});

test('checkExecuted: every executed code cell carries its execution_count (not [ ]: in JupyterLab)', () => {
  const ran = nb([[], []]);
  assert.deepEqual(checkExecuted(ran, 'notebooks/scratch.ipynb'), []);
  // What nbconvert wrote for tslab before nbconvert_config.py's hook: null everywhere.
  const uncounted: Notebook = {
    nbformat: 4,
    cells: [
      { cell_type: 'markdown', source: '# t' },
      { cell_type: 'code', source: 'x', outputs: [], execution_count: null },
      { cell_type: 'code', source: '  \n', outputs: [], execution_count: null },
      { cell_type: 'code', source: 'y', outputs: [] },
    ],
  };
  assert.deepEqual(uncountedCells(uncounted), [1, 3], 'empty cells are not executed');
  assert.match(checkExecuted(uncounted, 'notebooks/scratch.ipynb')[0]!, /cells 1, 3: executed but no execution_count/);
});

test('git ignores what JupyterLab writes beside notebooks (.ipynb_checkpoints/)', (t) => {
  const root = join(import.meta.dirname, '..', '..');
  let out: string;
  try {
    out = execFileSync('git', ['check-ignore', '--no-index', 'notebooks/.ipynb_checkpoints/01_teacher-checkpoint.ipynb', '.ipynb_checkpoints/x.ipynb'], { cwd: root, encoding: 'utf8' });
  } catch (err) {
    if ((err as { status?: number }).status === 1) return assert.fail('.ipynb_checkpoints/ is not in .gitignore');
    return t.skip(`git unavailable here: ${(err as Error).message}`);
  }
  assert.equal(out.trim().split('\n').length, 2, out);
});
