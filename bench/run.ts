/**
 * `npm run bench [-- name ...]`: runs every `bench/*.bench.ts` (or the named ones) in this process, one after the
 * other, prints each result table and writes them all to `bench/results/<timestamp>.json`.
 *
 * A bench module default-exports `async (ctx) => rows`, where each row names what was measured, our figure, the
 * reference figure measured in the same run (when there is one) and their ratio. Targets belong here, never in
 * unit tests: a bench prints whether a target was met and does not fail the run.
 */
import { readdirSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface BenchRow {
  /** What was measured, e.g. "tokenise + align nl train". */
  what: string;
  /** Our figure. */
  value: number;
  unit: string;
  /** The same quantity for the reference implementation, measured in the same run. */
  reference?: { name: string; value: number };
  /** Whether higher is better (throughput) or lower (time); sets the direction of `ratio`. */
  better: 'higher' | 'lower';
  /** A target the issue sets, e.g. { op: '>=', value: 1, on: 'ratio' }. */
  target?: { on: 'value' | 'ratio'; op: '<=' | '>='; value: number };
  note?: string;
}

export interface BenchContext {
  log(line: string): void;
  /** Repository root. */
  root: string;
}

export type Bench = (ctx: BenchContext) => Promise<BenchRow[]>;

/** ratio > 1 means we are better than the reference, whatever the unit. */
export function ratioOf(row: BenchRow): number | undefined {
  if (!row.reference) return undefined;
  return row.better === 'higher' ? row.value / row.reference.value : row.reference.value / row.value;
}

function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  return a >= 1000 ? n.toFixed(0) : a >= 10 ? n.toFixed(1) : a >= 0.1 ? n.toFixed(3) : n.toPrecision(3);
}

async function main(): Promise<void> {
  const here = dirname(fileURLToPath(import.meta.url));
  const root = join(here, '..');
  const wanted = process.argv.slice(2);
  const files = readdirSync(here)
    .filter((f) => f.endsWith('.bench.ts'))
    .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)))
    .sort();
  if (files.length === 0) throw new Error(`no bench matched ${wanted.join(', ') || '*'} in ${here}`);
  const all: Record<string, (BenchRow & { ratio?: number; met?: boolean })[]> = {};
  for (const file of files) {
    const name = file.replace(/\.bench\.ts$/, '');
    console.log(`\n== ${name}`);
    const mod = (await import(pathToFileURL(join(here, file)).href)) as { default: Bench };
    const rows = await mod.default({ log: (l) => console.log(`   ${l}`), root });
    all[name] = rows.map((row) => {
      const ratio = ratioOf(row);
      const on = row.target?.on === 'ratio' ? ratio : row.value;
      const met =
        row.target && on !== undefined
          ? row.target.op === '>='
            ? on >= row.target.value
            : on <= row.target.value
          : undefined;
      const ref = row.reference
        ? `  vs ${row.reference.name} ${fmt(row.reference.value)} ${row.unit}  ratio ${fmt(ratio!)}x`
        : '';
      const tgt = row.target
        ? `  target ${row.target.on} ${row.target.op} ${row.target.value}: ${met ? 'met' : 'NOT met'}`
        : '';
      console.log(`   ${row.what}: ${fmt(row.value)} ${row.unit}${ref}${tgt}${row.note ? `  (${row.note})` : ''}`);
      return { ...row, ratio, met };
    });
  }
  const outDir = join(root, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(out, JSON.stringify({ node: process.version, date: new Date().toISOString(), results: all }, null, 2));
  console.log(`\nresults: ${out}`);
}

await main();
