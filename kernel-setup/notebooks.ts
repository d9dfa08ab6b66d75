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

export const EXPECTATIONS: Record<string, Expectation[]> = {
  '00_setup.ipynb': [expectJsonOutput(VEGA_LITE_MIME)],
};

/** Problems found in an executed notebook: error outputs and the expectations for its file name. */
export function checkExecuted(nb: Notebook, file: string, expectations = EXPECTATIONS): string[] {
  const problems = errorOutputs(nb).map(
    ({ cellIndex, output }) => `cell ${cellIndex}: ${output.ename ?? 'Error'}: ${output.evalue ?? ''}`.trimEnd(),
  );
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
      for (const l of sourceText(o.text).replace(/\n$/, '').split('\n')) lines.push(`  ${o.name === 'stderr' ? '!' : '|'} ${l}`);
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
