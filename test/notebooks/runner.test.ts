/**
 * The notebook runner's pure parts (kernel-setup/notebooks.ts) on made-up notebooks, and the committed notebooks
 * themselves (stored clean, tslab kernel). Executing notebooks is `npm run test:notebooks`, not this file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
  VEGA_LITE_MIME,
  CELL_ERROR_MARKER,
  type Notebook,
  type Output,
} from '../../kernel-setup/notebooks.js';

function nb(outputs: Output[][]): Notebook {
  return { nbformat: 4, cells: outputs.map((o) => ({ cell_type: 'code', source: 'x', outputs: o })) };
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
    { name: 'other notebook, no chart needed', nb: nb([[]]), file: 'notebooks/01_teacher.ipynb', problems: [] },
    {
      name: 'error output',
      nb: nb([[], [{ output_type: 'error', ename: 'TypeError', evalue: 'bad', traceback: [] }]]),
      file: 'notebooks/01_teacher.ipynb',
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

test('committed notebooks are stored without outputs and use the tslab kernel', () => {
  const files = listNotebooks(join(process.cwd(), 'notebooks'));
  assert.ok(files.some((f) => f.endsWith('00_setup.ipynb')), 'notebooks/00_setup.ipynb exists');
  for (const file of files) {
    const book = parseNotebook(readFileSync(file, 'utf8'), file);
    assert.deepEqual(dirtyCells(book), [], `${file}: cells with outputs or execution counts (clear them before committing)`);
    const kernel = (book.metadata?.kernelspec as { name?: string } | undefined)?.name;
    assert.equal(kernel, 'tslab', `${file}: kernelspec.name`);
  }
});
