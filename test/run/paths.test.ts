/**
 * Every path inside a run directory comes from src/run/dir.ts: no other file in src/ (nor a notebook's code) builds
 * one by hand from the names of the run's entries (`join(x, 'teacher', 'best')`, `${dir}/results/summary.json`).
 * A model directory's own files (config.json, model.safetensors, vocab.txt) belong to src/model and src/tokenizer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

/** The names a run directory is made of (entries, model sub-paths, result files). */
const RUN_NAMES = [
  'teacher',
  'students',
  'results',
  'cache',
  'pretrained',
  'pretrained-pruned',
  'diagnostics',
  'figures',
  'report.html',
  'summary.json',
  'demo-summary.json',
  'metrics.jsonl',
  'checkpoints',
  'last.safetensors',
  'best',
  'train-report.json',
  'mmd.json',
  'projection.json',
];
const quoted = (names: string[]) => new RegExp(`(['"\`])(${names.map((n) => n.replace('.', '\\.')).join('|')})\\1`);
const RUN_NAME = quoted(RUN_NAMES);
const CONFIG_JSON = quoted(['config.json']);
/** A template literal that appends a run name to a directory: `${dir}/teacher/...`. */
const TEMPLATE_PATH = new RegExp(`\\}/(${RUN_NAMES.map((n) => n.replace('.', '\\.')).join('|')})\\b`);

function files(dir: string, ext: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? files(p, ext) : p.endsWith(ext) ? [p] : [];
  });
}

/** The argument text of every `join(...)` / `resolve(...)` call on a line (to its closing parenthesis or the line end). */
function joinArguments(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/\b(?:join|resolve)\(/g)) {
    const start = m.index! + m[0].length;
    let depth = 1;
    let i = start;
    for (; i < line.length && depth > 0; i++) depth += line[i] === '(' ? 1 : line[i] === ')' ? -1 : 0;
    out.push(line.slice(start, i));
  }
  return out;
}

/** The offending lines of a source text: a path joined from run names, outside comments. */
export function handBuiltRunPaths(text: string, opts: { modelFilesAllowed: boolean }): string[] {
  return text.split('\n').filter((line) => {
    const code = line.trim();
    if (code.startsWith('*') || code.startsWith('//') || code.startsWith('/*')) return false;
    const args = joinArguments(code);
    if (args.some((a) => RUN_NAME.test(a))) return true;
    if (!opts.modelFilesAllowed && args.some((a) => CONFIG_JSON.test(a))) return true;
    return TEMPLATE_PATH.test(code);
  });
}

test('the checker itself: it finds the hand-built paths the review found, and passes the run module’s calls', () => {
  const bad = [
    "const teacherDir = join(runDir, 'teacher', 'best');",
    "  const mmdPath = join(runDir, 'diagnostics', 'mmd.json');",
    "const p = join(outDir, d, 'config.json');",
    'const f = `${root}/results/summary.json`;',
  ];
  for (const line of bad) assert.deepEqual(handBuiltRunPaths(line, { modelFilesAllowed: false }), [line]);
  const good = [
    'const teacherDir = run.teacher().best;',
    "task: 'teacher',",
    ' * <run>/teacher/best/   the selected model',
    "const dir = join(root, 'logs', `${id}.log`);",
    "if (existsSync(join(dir, marker))) return { dir, source: 'cache', tried };",
  ];
  for (const line of good) assert.deepEqual(handBuiltRunPaths(line, { modelFilesAllowed: false }), [], line);
});

test('no file of src/ outside src/run/ builds a run path by hand', () => {
  const found: string[] = [];
  for (const f of files(join(root, 'src'), '.ts')) {
    const rel = relative(root, f);
    if (rel.startsWith(join('src', 'run'))) continue;
    const modelFilesAllowed = rel.startsWith(join('src', 'model')) || rel.startsWith(join('src', 'tokenizer'));
    for (const line of handBuiltRunPaths(readFileSync(f, 'utf8'), { modelFilesAllowed }))
      found.push(`${rel}: ${line.trim()}`);
  }
  assert.deepEqual(found, [], `ask src/run/dir.ts (runDir(cfg | path)) instead:\n${found.join('\n')}`);
});

test('no notebook builds a run path by hand', () => {
  const found: string[] = [];
  for (const f of files(join(root, 'notebooks'), '.ipynb')) {
    const nb = JSON.parse(readFileSync(f, 'utf8')) as { cells: { cell_type: string; source: string[] | string }[] };
    for (const cell of nb.cells.filter((c) => c.cell_type === 'code')) {
      const text = Array.isArray(cell.source) ? cell.source.join('') : cell.source;
      for (const line of handBuiltRunPaths(text, { modelFilesAllowed: false }))
        found.push(`${relative(root, f)}: ${line.trim()}`);
    }
  }
  assert.deepEqual(found, [], `ask the run directory (runDir(...)) instead:\n${found.join('\n')}`);
});
