/**
 * Pure helpers of the notebook test runner (run-notebooks.ts): finding notebooks, reading executed ones, the
 * checks each executed notebook must pass, and the failing-cell reports written by nbconvert_config.py.
 * No Jupyter here, so test/notebooks/ can test all of it on made-up notebooks.
 */
import { readdirSync, statSync, readFileSync, existsSync, realpathSync } from 'node:fs';
import { join, relative, basename } from 'node:path';

/** The parts of an nbformat 4 notebook the runner reads. */
export interface Notebook {
  cells: Cell[];
  metadata?: Record<string, unknown>;
  nbformat: number;
}
export interface Cell {
  cell_type: 'code' | 'markdown' | 'raw';
  source: string | string[];
  outputs?: Output[];
  execution_count?: number | null;
}
export interface Output {
  output_type: 'stream' | 'display_data' | 'execute_result' | 'error' | 'update_display_data';
  name?: string;
  text?: string | string[];
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
  traceback?: string[];
}

export const VEGA_LITE_MIME = 'application/vnd.vegalite.v5+json';

/**
 * Where the training notebooks train when MSD_NOTEBOOK_QUICK=1 (notebookRun's quick setting; run-notebooks.ts
 * empties it first); relative to the repository root.
 */
export { QUICK_RUN_DIR } from '../src/notebook.js';

/**
 * Notebooks that the quick run executes a second time with `runDir` set to QUICK_RUN_DIR, after the first pass has
 * trained it: the open-a-finished-run path (read a run, train nothing). 04 opens sweeps, not runs, so it is not here.
 */
export const OPEN_RUN_NOTEBOOKS = ['02_students.ipynb', '05_figures.ipynb'];

/** The choices cell's `runDir` line, as committed (train here). */
export const RUN_DIR_CHOICE = /^(\s*)runDir: '',/m;

/** A copy of a notebook whose choices cell opens `dir` instead of training (`runDir: '',` rewritten). */
export function withRunDir(nb: Notebook, dir: string): Notebook {
  let found = 0;
  const cells = nb.cells.map((cell) => {
    const text = sourceText(cell.source);
    if (cell.cell_type !== 'code' || !RUN_DIR_CHOICE.test(text)) return cell;
    found++;
    return { ...cell, source: text.replace(RUN_DIR_CHOICE, (_, indent: string) => `${indent}runDir: '${dir}',`) };
  });
  if (found !== 1) throw new Error(`withRunDir: expected one choices cell with "runDir: '',", found ${found}`);
  return { ...nb, cells };
}

/** Every `.ipynb` under `dir` (recursively, skipping `.ipynb_checkpoints` and dot-folders), sorted by path. */
export function listNotebooks(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d).sort()) {
      if (entry.startsWith('.')) continue;
      const full = join(d, entry);
      if (statSync(full).isDirectory()) walk(full);
      else if (entry.endsWith('.ipynb')) found.push(full);
    }
  };
  walk(dir);
  return found.sort();
}

/** Parses notebook JSON; `file` names it in errors. */
export function parseNotebook(text: string, file: string): Notebook {
  let nb: unknown;
  try {
    nb = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: not valid notebook JSON (${(err as Error).message})`);
  }
  const obj = nb as Partial<Notebook>;
  if (typeof obj !== 'object' || obj === null || !Array.isArray(obj.cells) || typeof obj.nbformat !== 'number') {
    throw new Error(`${file}: expected an nbformat 4 notebook (an object with "cells" and "nbformat")`);
  }
  if (obj.nbformat !== 4) throw new Error(`${file}: expected nbformat 4, found ${obj.nbformat}`);
  return obj as Notebook;
}

export function sourceText(s: string | string[] | undefined): string {
  return Array.isArray(s) ? s.join('') : (s ?? '');
}

/** Outputs of code cells carrying `mime` in their data bundle, with the cell index. */
export function outputsWithMime(nb: Notebook, mime: string): { cellIndex: number; data: unknown }[] {
  const found: { cellIndex: number; data: unknown }[] = [];
  nb.cells.forEach((cell, cellIndex) => {
    for (const out of cell.outputs ?? []) {
      if (out.data && Object.prototype.hasOwnProperty.call(out.data, mime)) {
        found.push({ cellIndex, data: out.data[mime] });
      }
    }
  });
  return found;
}

/** `error` outputs in an executed notebook (nbconvert stops at the first failure, but a cell may allow errors). */
export function errorOutputs(nb: Notebook): { cellIndex: number; output: Output }[] {
  const found: { cellIndex: number; output: Output }[] = [];
  nb.cells.forEach((cell, cellIndex) => {
    for (const output of cell.outputs ?? []) if (output.output_type === 'error') found.push({ cellIndex, output });
  });
  return found;
}

/** Code cells that still hold outputs or execution counts: notebooks are committed clean. */
export function dirtyCells(nb: Notebook): number[] {
  const dirty: number[] = [];
  nb.cells.forEach((cell, i) => {
    const c = cell as Cell & { execution_count?: number | null };
    if ((c.outputs?.length ?? 0) > 0 || (c.execution_count ?? null) !== null) dirty.push(i);
  });
  return dirty;
}

/** What one executed notebook must contain beyond "no cell failed". Keyed by file name. */
export type Expectation = (nb: Notebook) => string[];

/** At least one output of `mime` whose data is a JSON object (a Vega-Lite spec passed as a string is a bug). */
export function expectJsonOutput(mime: string): Expectation {
  return (nb) => {
    const outs = outputsWithMime(nb, mime);
    if (outs.length === 0) return [`no output with MIME type ${mime}`];
    return outs
      .filter((o) => typeof o.data !== 'object' || o.data === null || Array.isArray(o.data))
      .map((o) => `cell ${o.cellIndex}: ${mime} output is a ${typeof o.data}, expected a JSON object`);
  };
}

/** MIME types a static copy of a chart may have: what viewers without Vega-Lite (GitHub, classic Notebook) show. */
export const STATIC_MIMES = ['image/svg+xml', 'image/png'];

/** A chart's title (a string, a list of lines, or `{ text }`) and description, for matching a promised chart. */
export function chartLabel(spec: unknown): string {
  const s = spec as { title?: unknown; description?: unknown };
  const t = s?.title;
  const title =
    typeof t === 'string'
      ? t
      : Array.isArray(t)
        ? t.join(' ')
        : typeof (t as { text?: unknown })?.text === 'string'
          ? (t as { text: string }).text
          : Array.isArray((t as { text?: unknown })?.text)
            ? (t as { text: string[] }).text.join(' ')
            : '';
  return [title, typeof s?.description === 'string' ? s.description : ''].filter((x) => x).join(' | ');
}

/**
 * The charts a notebook promises: for each pattern, a Vega-Lite v5 JSON object whose title or description matches
 * it, and a static copy (SVG or PNG) in the same cell. Vega-Lite's own compile check runs in run-notebooks.ts.
 */
export function expectCharts(promised: { name: string; match: RegExp }[]): Expectation {
  return (nb) => {
    const problems = expectJsonOutput(VEGA_LITE_MIME)(nb);
    if (problems.length) return problems;
    const charts = outputsWithMime(nb, VEGA_LITE_MIME).map((o) => ({ ...o, label: chartLabel(o.data) }));
    for (const p of promised) {
      const found = charts.filter((c) => p.match.test(c.label));
      if (found.length === 0) {
        const seen = charts.map((c) => `'${c.label || '(no title)'}'`).join(', ');
        problems.push(
          `no Vega-Lite chart for '${p.name}' (title or description matching ${p.match}); charts shown: ${seen}`,
        );
        continue;
      }
      for (const c of found) {
        if (!STATIC_MIMES.some((m) => outputsWithMime({ ...nb, cells: [nb.cells[c.cellIndex]!] }, m).length > 0)) {
          problems.push(
            `cell ${c.cellIndex}: chart '${c.label}' has no static copy (${STATIC_MIMES.join(' or ')}) in its cell`,
          );
        }
      }
    }
    return problems;
  };
}

/** At least one output carrying `mime` (an HTML table, for instance), named `what` in the message. */
export function expectOutput(mime: string, what: string): Expectation {
  return (nb) => (outputsWithMime(nb, mime).length > 0 ? [] : [`no ${what} (no output with MIME type ${mime})`]);
}

/** Text (stdout, display text) that an executed notebook must print, e.g. the files it exported. */
export function expectText(what: string, pattern: RegExp): Expectation {
  return (nb) => {
    const texts: string[] = [];
    for (const cell of nb.cells) {
      for (const o of cell.outputs ?? []) {
        if (o.text !== undefined) texts.push(sourceText(o.text));
        const plain = o.data?.['text/plain'];
        if (typeof plain === 'string' || Array.isArray(plain)) texts.push(sourceText(plain as string | string[]));
      }
    }
    return pattern.test(texts.join('\n')) ? [] : [`${what}: no output matches ${pattern}`];
  };
}

export const EXPECTATIONS: Record<string, Expectation[]> = {
  '00_setup.ipynb': [expectJsonOutput(VEGA_LITE_MIME)],
  '01_teacher.ipynb': [
    expectCharts([{ name: 'per-layer F1 of the teacher', match: /teacher.*F1 of every layer/i }]),
    expectOutput('text/html', 'dataset statistics table'),
  ],
  '04_ablations.ipynb': [
    expectCharts([
      { name: 'ablation chart, published vs measured', match: /^Ablations: full MSD and each variant/ },
      {
        name: 'per-layer F1 with error bars over seeds',
        match: /^Ablations: entity F1 of every layer head, mean ± std/,
      },
    ]),
    expectOutput('text/html', 'results table'),
    expectText('t-test p-values against full MSD', /p vs full/),
  ],
  '05_figures.ipynb': [
    expectCharts([
      { name: 'per-layer F1 of the run', match: /F1 of every layer head/ },
      { name: 'training curves', match: /^Training curves/ },
      { name: 'MMD per layer (from 03)', match: /MMD²/ },
      { name: 'Figure 2 (from 03)', match: /\[CLS\] vectors of source and target/ },
    ]),
    expectText('exported SVG and PNG figures', /figures\/per-layer-f1\.svg[\s\S]*figures\/per-layer-f1\.png/),
    expectText(
      'exported CSV and LaTeX tables',
      /figures\/results-per-layer\.csv[\s\S]*figures\/results-per-layer\.tex/,
    ),
    expectText('the HTML report', /report\.html/),
  ],
  '03_mmd_diagnostics.ipynb': [
    expectCharts([
      { name: 'MMD^2 source vs target per layer', match: /MMD² between .* per layer/ },
      { name: 'cross-model MMD^2', match: /cross-model MMD²/i },
      { name: 'Figure-2 scatter', match: /Figure 2/ },
    ]),
  ],
  '02_students.ipynb': [
    expectCharts([
      { name: 'loss-term curves of a student', match: /student .*loss terms/i },
      { name: 'per-layer F1, teacher vs students', match: /teacher vs students.*F1 of every layer/i },
    ]),
  ],
};

/**
 * Absolute paths of a machine in a committed notebook (cell sources and metadata): `/home/...`, `/Users/...`,
 * `/tmp/...`, `/work/...`, `/root/...`, `/mnt/...`, `C:\...`. Notebooks use paths relative to the repository root.
 * Returns `cell N: ...` / `metadata: ...` messages with the offending text.
 */
export function machinePaths(nb: Notebook): string[] {
  const pattern =
    /(?:^|[\s'"`(=:,[])((?:\/(?:home|Users|tmp|work|root|mnt|var|opt|srv|data|scratch|private)\/[^\s'"`)]*)|(?:[A-Za-z]:\\[^\s'"`)]*))/g;
  const problems: string[] = [];
  const scan = (where: string, text: string): void => {
    for (const m of text.matchAll(pattern)) problems.push(`${where}: machine path '${m[1]}'`);
  };
  nb.cells.forEach((cell, i) => scan(`cell ${i}`, sourceText(cell.source)));
  scan('metadata', JSON.stringify(nb.metadata ?? {}, null, 1));
  return problems;
}

/**
 * Code cells of an executed notebook without an execution count (JupyterLab shows them as `[ ]:`, never run). tslab
 * sends no `execute_input`, so nbclient sees the count only in the reply: nbconvert_config.py copies it from there.
 * Empty cells are not executed and keep none.
 */
export function uncountedCells(nb: Notebook): number[] {
  return nb.cells.flatMap((c, i) =>
    c.cell_type === 'code' && sourceText(c.source).trim() !== '' && typeof c.execution_count !== 'number' ? [i] : [],
  );
}

/** Problems found in an executed notebook: error outputs, uncounted cells and the expectations for its file name. */
export function checkExecuted(nb: Notebook, file: string, expectations = EXPECTATIONS): string[] {
  const problems = errorOutputs(nb).map(({ cellIndex, output }) =>
    `cell ${cellIndex}: ${output.ename ?? 'Error'}: ${output.evalue ?? ''}`.trimEnd(),
  );
  const uncounted = uncountedCells(nb);
  if (uncounted.length)
    problems.push(`cells ${uncounted.join(', ')}: executed but no execution_count (shown as [ ]: in JupyterLab)`);
  for (const expect of expectations[basename(file)] ?? []) problems.push(...expect(nb));
  return problems;
}

/** A failing cell as reported by nbconvert_config.py's hook. */
export interface CellErrorReport {
  cellIndex: number;
  source: string | string[];
  outputs: Output[];
  ename?: string | null;
  evalue?: string | null;
  traceback?: string[] | null;
}

export const CELL_ERROR_MARKER = 'MSD_CELL_ERROR ';

/** Extracts the hook's reports from nbconvert's stderr (lines that are not reports are ignored). */
export function parseCellErrors(stderr: string): CellErrorReport[] {
  const reports: CellErrorReport[] = [];
  for (const line of stderr.split('\n')) {
    const at = line.indexOf(CELL_ERROR_MARKER);
    if (at < 0) continue;
    try {
      reports.push(JSON.parse(line.slice(at + CELL_ERROR_MARKER.length)) as CellErrorReport);
    } catch {
      /* a truncated line: the raw stderr tail is printed anyway */
    }
  }
  return reports;
}

// ANSI colour codes in tracebacks make logs unreadable.
const stripAnsi = (s: string): string => s.replace(/\u001b\[[0-9;]*m/g, '');

/** A readable report of a failing cell: where, its source, what it printed, the error. */
export function formatCellError(file: string, r: CellErrorReport): string {
  const lines = [`${file}: cell ${r.cellIndex} failed`, '  --- source ---'];
  for (const l of sourceText(r.source).split('\n')) lines.push(`  | ${l}`);
  const streams = r.outputs.filter((o) => o.output_type === 'stream');
  if (streams.length) {
    lines.push('  --- output ---');
    for (const o of streams) {
      for (const l of sourceText(o.text).replace(/\n$/, '').split('\n'))
        lines.push(`  ${o.name === 'stderr' ? '!' : '|'} ${l}`);
    }
  }
  const errText = [r.ename, r.evalue].filter((x) => x).join(': ');
  const tb = (r.traceback ?? []).map(stripAnsi).join('\n').trim();
  if (errText || tb) {
    lines.push('  --- error ---');
    for (const l of (tb || errText).split('\n')) lines.push(`  ${l}`);
  }
  return lines.join('\n');
}

/**
 * Whether the kernelspec at `specPath` starts `binary` (the absolute path of this checkout's tslab). A spec that
 * is missing, unreadable or points elsewhere (the checkout moved) needs `kernel-setup/install.sh` again.
 */
export function kernelSpecProblem(specPath: string, binary: string): string | undefined {
  if (!existsSync(specPath)) return `${specPath} does not exist`;
  let argv: unknown;
  try {
    argv = (JSON.parse(readFileSync(specPath, 'utf8')) as { argv?: unknown }).argv;
  } catch (err) {
    return `${specPath}: not valid JSON (${(err as Error).message})`;
  }
  if (!Array.isArray(argv) || typeof argv[0] !== 'string') return `${specPath}: no "argv" command`;
  const real = (p: string): string => (existsSync(p) ? realpathSync(p) : p);
  if (!existsSync(argv[0])) return `${specPath} runs ${argv[0]}, which does not exist`;
  if (real(argv[0]) !== real(binary)) return `${specPath} runs ${argv[0]}, not this checkout's ${binary}`;
  return undefined;
}

/** Path relative to `root` for messages. */
export function rel(root: string, p: string): string {
  return relative(root, p) || p;
}

/** What kernel-setup/interrupt_check.py prints: one live kernel, a training cell interrupted, then resumed. */
export interface InterruptReport {
  setup?: { reply?: { status?: string } | null; outputs?: unknown[] };
  interrupt?: {
    sent?: boolean;
    linesWhenSent?: number | null;
    replySeconds?: number;
    reply?: { status?: string } | null;
    outputs?: { type: string; name?: string; text?: string }[];
  };
  linesAfterReply?: number;
  linesThreeSecondsLater?: number;
  alive?: { reply?: { status?: string } | null; outputs?: { type: string; text?: string }[] };
  resume?: { reply?: { status?: string } | null; outputs?: { type: string; text?: string }[] };
}

const streamText = (outs: { type: string; text?: string }[] | undefined): string =>
  (outs ?? []).map((o) => (o.type === 'stream' ? (o.text ?? '') : '')).join('');

/**
 * What Kernel > Interrupt during training must do, read from interrupt_check.py's report: the cell ends (error
 * reply, so Run All stops) soon, saying where training stopped; the kernel still answers; metrics.jsonl stops
 * growing; the same cell run again resumes from that step and finishes.
 */
export function interruptProblems(r: InterruptReport): string[] {
  const p: string[] = [];
  if (r.setup?.reply?.status !== 'ok') return [`the setup cell failed: ${JSON.stringify(r.setup)}`];
  const i = r.interrupt;
  if (!i?.sent) return ['training never wrote 5 lines of metrics.jsonl, so no interrupt was sent'];
  if (!i.reply) p.push('the interrupted cell never replied (it kept running)');
  else if (i.reply.status !== 'error') p.push(`the interrupted cell replied '${i.reply.status}', expected 'error'`);
  if ((i.replySeconds ?? Infinity) > 10) p.push(`the cell replied ${i.replySeconds?.toFixed(1)} s after the interrupt`);
  const text = streamText(i.outputs);
  const m = /Interrupted: teacher stopped at step (\d+) of \d+; checkpoint \S+ written/.exec(text);
  if (!m) p.push(`the cell does not say where training stopped; its output:\n${text}`);
  if (r.linesAfterReply !== r.linesThreeSecondsLater)
    p.push(
      `metrics.jsonl kept growing: ${r.linesAfterReply} lines at the reply, ${r.linesThreeSecondsLater} 3 s later`,
    );
  if (r.alive?.reply?.status !== 'ok' || !/alive 2/.test(streamText(r.alive?.outputs)))
    p.push(`the kernel did not answer after the interrupt: ${JSON.stringify(r.alive)}`);
  const resumed = streamText(r.resume?.outputs);
  if (r.resume?.reply?.status !== 'ok') p.push(`the resumed cell failed: ${resumed}`);
  else if (m && !new RegExp(`resumed from \\S+ at step ${m[1]}\\n`).test(resumed))
    p.push(`the cell run again did not resume from step ${m[1]}:\n${resumed}`);
  else if (!/finished at step \d+/.test(resumed)) p.push(`the resumed training did not finish:\n${resumed}`);
  return p;
}
