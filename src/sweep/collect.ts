/**
 * `msd collect <sweepDir>`: every finished cell's per-layer results as one tidy table, mean and sample standard
 * deviation over seeds per setting x variant x language (x layer), and a two-sample t-test of each variant against
 * full MSD on the same setting and language (stats.ts). Cells that are not finished are listed, never averaged in;
 * a group with fewer seeds than planned says which are missing.
 *
 * The teacher (zero-shot direct transfer, the students' starting point) appears as the variant `teacher`, counted
 * once per distinct teacher (a shared teacher is evaluated by every cell that uses it, with the same numbers).
 *
 *   collect/runs.csv      tidy: cell, axis labels, seed, variant, model, language, split, layer, P, R, F1, support
 *   collect/main.csv      main-head F1 per setting, variant, language: n, mean, std, p vs full, missing seeds
 *   collect/layers.csv    the same per layer (the per-layer F1 figure with error bars)
 *   collect/table.tex     main.csv as the paper's table: mean ± std in %, best per column in bold, * for p < 0.05
 *   collect/incomplete.csv  cells left out and why
 */
import { createHash } from 'node:crypto';
import { loadDanfo } from '../danfo.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DataFrame } from 'danfojs-node';
import { teacherConfigView, type MsdConfig } from '../config.js';
import type { ResultRow } from '../eval/table.js';
import { runDir } from '../run/dir.js';
import { readJson, writeFileAtomic, writeJsonAtomic } from '../run/io.js';
import { readPlan } from './plan.js';
import { sweepFileStatus, type Plan } from './state.js';
import { describe, tTest } from './stats.js';
import { VARIANT_NAMES, variantOf } from '../run/variants.js';
import type { SeedStatRow } from '../run/seed-stats.js';

export interface TidyRow {
  cell: string;
  /** Non-seed, non-variant, non-target axis labels joined (`lr=low`), '' when there are none. */
  setting: string;
  seed: number;
  variant: string;
  model: string;
  language: string;
  split: string;
  layer: number;
  /** Whether `layer` is the model's main head. */
  main: boolean;
  precision: number;
  recall: number;
  f1: number;
  support: number;
  [axis: string]: string | number | boolean;
}

/** A statistic over seeds (src/run/seed-stats.ts) with the t-test against full MSD and the seeds behind it. */
export interface StatRow extends SeedStatRow {
  /** Two-sided p of this variant against `full` on the same setting, language and layer (NaN: undefined or none). */
  p: number;
  pNote: string;
  seeds: string;
  /** Planned seeds without a finished result. */
  missing: string;
}

export interface CollectResult {
  rows: TidyRow[];
  main: StatRow[];
  layers: StatRow[];
  incomplete: { cell: string; state: string; detail: string }[];
  /** The planned seeds (the `run.seed` axis; one seed when there is no such axis). */
  seeds: number[];
}

export interface CollectOptions {
  /** Welch ('unequal', default) or Student ('equal') t-test. */
  variance?: 'equal' | 'unequal';
}

interface SummaryFile {
  rows: ResultRow[];
  mainLayer?: Record<string, number>;
}

function variantOrder(v: string): number {
  const i = ['teacher', ...VARIANT_NAMES].indexOf(v);
  return i < 0 ? 100 : i;
}

/** Mean/std/p per (setting, variant, language, layer) over seeds. */
function aggregate(rows: readonly TidyRow[], seeds: readonly number[], variance: 'equal' | 'unequal'): StatRow[] {
  const groups = new Map<string, TidyRow[]>();
  for (const r of rows) {
    const k = JSON.stringify([r.setting, r.variant, r.language, r.layer]);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(r);
  }
  const values = (setting: string, variant: string, language: string, layer: number) =>
    (groups.get(JSON.stringify([setting, variant, language, layer])) ?? []).map((r) => r.f1);
  const out: StatRow[] = [];
  for (const g of groups.values()) {
    const { setting, variant, language, layer } = g[0]!;
    const f1s = g.map((r) => r.f1);
    const d = describe(f1s);
    const have = new Set(g.map((r) => r.seed));
    let p = Number.NaN;
    let pNote = '';
    if (variant !== 'full') {
      const full = values(setting, 'full', language, layer);
      if (full.length === 0) pNote = 'no full-MSD cells to compare with';
      else {
        const t = tTest(f1s, full, { variance });
        p = t.p;
        pNote = t.note ?? '';
      }
    }
    out.push({
      setting,
      variant,
      language,
      layer,
      n: d.n,
      mean: d.mean,
      std: d.std,
      p,
      pNote,
      seeds: [...have].sort((a, b) => a - b).join(' '),
      missing: seeds.filter((s) => !have.has(s)).join(' '),
    });
  }
  return out.sort(
    (a, b) =>
      a.setting.localeCompare(b.setting) ||
      variantOrder(a.variant) - variantOrder(b.variant) ||
      a.variant.localeCompare(b.variant) ||
      a.language.localeCompare(b.language) ||
      a.layer - b.layer,
  );
}

/** Reads every finished cell of a planned sweep into the tidy table and its statistics. */
export function collectSweep(root: string, opts: CollectOptions = {}): CollectResult {
  const plan: Plan = readPlan(root);
  const status = sweepFileStatus(plan);
  const seedAxis = plan.axes.find((a) => a.name === 'run.seed');
  const other = plan.axes.filter((a) => !['run.seed', 'variant', 'data.targets'].includes(a.name));
  const rows: TidyRow[] = [];
  const incomplete: CollectResult['incomplete'] = [];
  const teachersSeen = new Set<string>();
  const seeds = new Set<number>();
  plan.cells.forEach((cell, i) => {
    const st = status.cells[i]!;
    const cfg = JSON.parse(readFileSync(cell.config, 'utf8')) as MsdConfig;
    seeds.add(cfg.run.seed);
    if (st.state !== 'done') {
      const detail =
        st.state === 'failed'
          ? `exit ${st.exitCode}: ${(st.tail ?? []).slice(-1)[0] ?? ''}`
          : st.step !== undefined
            ? `${st.task} at step ${st.step}`
            : '';
      incomplete.push({ cell: cell.id, state: st.state, detail });
      return;
    }
    const summary = readJson<SummaryFile>(runDir(cell.dir).summaryPath);
    const setting = other.map((a) => `${a.short}=${cell.labels[a.short]}`).join(',');
    const variant = cell.labels.variant ?? variantOf(cfg.student.ablation) ?? 'custom';
    const teacherKey = createHash('sha256')
      .update(JSON.stringify(teacherConfigView(cfg)))
      .digest('hex');
    for (const r of summary.rows) {
      const model = r.model ?? '';
      const isTeacher = model === 'teacher';
      // The teacher on the targets only (its source score is not a cross-lingual result), once per teacher.
      if (isTeacher) {
        const k = JSON.stringify([setting, teacherKey, r.language, r.layer]);
        if (teachersSeen.has(k) || !cfg.data.targets.includes(r.language)) continue;
        teachersSeen.add(k);
      }
      if (!isTeacher && model !== `student:${r.language}`) continue;
      const mainLayer = summary.mainLayer?.[model] ?? cfg.model.headLayers[1];
      rows.push({
        cell: cell.id,
        ...cell.labels,
        setting,
        seed: cfg.run.seed,
        variant: isTeacher ? 'teacher' : variant,
        model,
        language: r.language,
        split: r.split,
        layer: r.layer,
        main: r.layer === mainLayer,
        precision: r.precision,
        recall: r.recall,
        f1: r.f1,
        support: r.support,
      });
    }
  });
  const planned = seedAxis ? (seedAxis.labels.map(Number) as number[]) : [...seeds];
  const variance = opts.variance ?? 'unequal';
  return {
    rows,
    main: aggregate(
      rows.filter((r) => r.main),
      planned,
      variance,
    ),
    layers: aggregate(rows, planned, variance),
    incomplete,
    seeds: planned,
  };
}

/** The tidy table as a danfojs DataFrame (danfojs is loaded on first use: it takes seconds). */
export function tidyFrame(rows: readonly TidyRow[]): DataFrame {
  const { DataFrame: DF } = loadDanfo();
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return new DF(
    rows.map((r) => columns.map((c) => r[c] ?? '')),
    { columns },
  );
}

function csvCell(v: unknown): string {
  if (v === undefined || v === null || (typeof v === 'number' && Number.isNaN(v))) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** RFC 4180 CSV of objects (columns: the union of keys in first-seen order). */
export function toCsvRows(rows: readonly object[]): string {
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const lines = [
    cols.join(','),
    ...rows.map((r) => cols.map((c) => csvCell((r as Record<string, unknown>)[c])).join(',')),
  ];
  return `${lines.join('\n')}\n`;
}

function latexEscape(s: string): string {
  return s.replace(/\\/g, '\\textbackslash{}').replace(/([&%$#_{}])/g, '\\$1');
}

/**
 * The paper's kind of table: one row per (setting, variant), one column per language (+ `avg` when every language
 * is there), `mean ± std` of main-head F1 in %, the best mean of each column in bold (ties all bold), `*` where the
 * t-test against full MSD gives p < alpha.
 */
export function latexTable(main: readonly StatRow[], opts: { alpha?: number; caption?: string } = {}): string {
  const alpha = opts.alpha ?? 0.05;
  const languages = [...new Set(main.map((r) => r.language))].sort();
  const keys = [...new Set(main.map((r) => JSON.stringify([r.setting, r.variant])))];
  const at = (k: string, l: string) =>
    main.find((r) => JSON.stringify([r.setting, r.variant]) === k && r.language === l);
  const avg = (k: string) => {
    const ms = languages.map((l) => at(k, l)?.mean);
    return ms.every((m): m is number => m !== undefined) ? ms.reduce((a, b) => a + b, 0) / ms.length : undefined;
  };
  const columns = languages.length > 1 ? [...languages, 'avg'] : languages;
  const valueOf = (k: string, c: string) => (c === 'avg' ? avg(k) : at(k, c)?.mean);
  const best = new Map(
    columns.map((c) => [
      c,
      Math.max(...keys.map((k) => valueOf(k, c) ?? -Infinity).map((v) => Number((100 * v).toFixed(2)))),
    ]),
  );
  const settingCol = main.some((r) => r.setting !== '');
  const head = [...(settingCol ? ['setting'] : []), 'variant', ...columns];
  const lines = [
    `\\begin{tabular}{${settingCol ? 'l' : ''}l${'r'.repeat(columns.length)}}`,
    '\\toprule',
    `${head.map(latexEscape).join(' & ')} \\\\`,
    '\\midrule',
  ];
  for (const k of keys) {
    const [setting, variant] = JSON.parse(k) as [string, string];
    const cells = columns.map((c) => {
      const v = valueOf(k, c);
      if (v === undefined) return '--';
      const r = c === 'avg' ? undefined : at(k, c)!;
      const pct = Number((100 * v).toFixed(2));
      let text = pct.toFixed(2);
      if (r && Number.isFinite(r.std)) text += ` $\\pm$ ${(100 * r.std).toFixed(2)}`;
      if (pct === best.get(c)) text = `\\textbf{${text}}`;
      if (r && Number.isFinite(r.p) && r.p < alpha) text += '$^{*}$';
      return text;
    });
    lines.push(`${[...(settingCol ? [latexEscape(setting)] : []), latexEscape(variant), ...cells].join(' & ')} \\\\`);
  }
  lines.push('\\bottomrule', '\\end{tabular}');
  const n = [...new Set(main.map((r) => r.n))].join('/');
  const caption =
    opts.caption ??
    `Entity F1 (\\%) of the main head, test split: mean $\\pm$ std over ${n} seeds; best per column in bold; $^{*}$: p $<$ ${alpha} (two-sided t-test against full MSD).`;
  return ['\\begin{table}[t]', '\\centering', ...lines, `\\caption{${caption}}`, '\\end{table}', ''].join('\n');
}

/** Where `msd collect` writes a figure of the sweep: `collect/<name>.<ext>` (ext without the dot: svg, vl.json). */
export function collectFigurePath(root: string, name: string, ext: string): string {
  return join(root, 'collect', `${name}.${ext}`);
}

/** Writes collect/*.csv, table.tex and collect.json into the sweep directory; returns the paths. */
export function writeCollect(root: string, r: CollectResult): Record<string, string> {
  const dir = join(root, 'collect');
  const paths = {
    runs: join(dir, 'runs.csv'),
    main: join(dir, 'main.csv'),
    layers: join(dir, 'layers.csv'),
    latex: join(dir, 'table.tex'),
    incomplete: join(dir, 'incomplete.csv'),
    json: join(dir, 'collect.json'),
  };
  writeFileAtomic(paths.runs, toCsvRows(r.rows));
  writeFileAtomic(paths.main, toCsvRows(r.main));
  writeFileAtomic(paths.layers, toCsvRows(r.layers));
  writeFileAtomic(paths.latex, r.main.length ? latexTable(r.main) : '% no finished cells\n');
  writeFileAtomic(
    paths.incomplete,
    ['cell,state,detail', ...r.incomplete.map((c) => [c.cell, c.state, c.detail].map(csvCell).join(','))].join('\n') +
      '\n',
  );
  writeJsonAtomic(paths.json, { seeds: r.seeds, main: r.main, incomplete: r.incomplete });
  return paths;
}

/** The main table as console text (percent), incomplete cells listed below it. */
export function formatCollect(r: CollectResult): string {
  const lines: string[] = [];
  const fmt = (x: number) => (Number.isFinite(x) ? (100 * x).toFixed(2) : '-');
  lines.push(
    `main-head F1 (%) over seeds:`,
    `${'setting'.padEnd(12)} ${'variant'.padEnd(8)} ${'lang'.padEnd(5)} ${'n'.padStart(2)} ${'mean'.padStart(6)} ${'std'.padStart(6)} ${'p vs full'.padStart(9)}  missing seeds`,
  );
  for (const s of r.main) {
    const p = s.variant === 'full' ? '' : Number.isFinite(s.p) ? s.p.toPrecision(3) : 'n/a';
    lines.push(
      `${(s.setting || '-').padEnd(12)} ${s.variant.padEnd(8)} ${s.language.padEnd(5)} ${String(s.n).padStart(2)} ${fmt(s.mean).padStart(6)} ${fmt(s.std).padStart(6)} ${p.padStart(9)}  ${s.missing}`,
    );
  }
  if (r.incomplete.length) {
    lines.push(`\n${r.incomplete.length} cell(s) not finished, left out of every mean:`);
    for (const c of r.incomplete) lines.push(`  ${c.cell}: ${c.state}${c.detail ? ` (${c.detail})` : ''}`);
  }
  return lines.join('\n');
}

/** Whether a directory is a planned sweep. */
export function isSweepDir(root: string): boolean {
  return existsSync(join(root, 'plan.json'));
}
