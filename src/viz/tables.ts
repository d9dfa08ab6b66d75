/**
 * Tables for papers and notebooks: CSV, HTML, and a LaTeX `tabular` with the best number of each column in bold.
 * Inputs are row arrays or danfojs DataFrames.
 *
 *   toLatex(ablationTable(rows), { caption: 'CoNLL', digits: 2 })
 *   toCsv(evaluate(model, splits))
 *   toHtml(table)            // a <table>, for display.html() in a notebook or the run report
 */
import { rowsOf, type TableInput } from './table-input.js';
import { AVERAGE, withAverage } from './charts.js';
import type { AblationRow } from '../run/published.js';
import { VARIANT_LABELS } from '../run/variants.js';

type Row = Record<string, unknown>;

function columnsOf(rows: readonly Row[], columns?: readonly string[]): string[] {
  if (columns) return [...columns];
  const seen: string[] = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!seen.includes(k)) seen.push(k);
  return seen;
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** RFC 4180 CSV with a header row; null/undefined become empty cells. */
export function toCsv(input: TableInput<Row>, opts: { columns?: readonly string[] } = {}): string {
  const rows = rowsOf(input, 'toCsv');
  const cols = columnsOf(rows, opts.columns);
  return [cols.map(csvCell).join(','), ...rows.map((r) => cols.map((c) => csvCell(r[c])).join(','))].join('\n') + '\n';
}

const HTML_ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESC[c]!);
}

export interface FormatOptions {
  columns?: readonly string[];
  /** Decimals for non-integer numbers (default 2). */
  digits?: number;
  /** Columns whose best value is emphasised (default: the score columns, see `isScoreColumn`). */
  bestColumns?: readonly string[];
  /** 'max' (default) or 'min' is best. */
  best?: 'max' | 'min';
}

/**
 * Whether a column holds scores, the only columns where the best value is emphasised and decimals are always
 * printed: by name, F1 / precision / recall / score / accuracy / MMD (not their std or a p-value), or a language
 * code (`es`, `nl`) or `avg` as in the ablation tables. Counts (sentences, `maxLength`, `PER`, `seeds`), sizes (`kB`)
 * and statistics are not scores.
 */
export function isScoreColumn(name: string): boolean {
  if (/^([a-z]{2,3}|avg)$/.test(name)) return true;
  return /f1|precision|recall|score|accuracy|mmd/i.test(name) && !/std|±|\bp\b|p-value/i.test(name);
}

function fmt(v: unknown, digits: number, integerColumn = false): string {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'number') return integerColumn ? String(v) : v.toFixed(digits);
  return String(v);
}

/** Columns printed without decimals: every value an integer, and not a score column (an F1 of 74 stays 74.00). */
function integerColumns(rows: readonly Row[], cols: readonly string[], opts: FormatOptions): Set<string> {
  return new Set(
    cols.filter((c) => {
      if (isScoreColumn(c) || opts.bestColumns?.includes(c)) return false;
      const nums = rows.map((r) => r[c]).filter((v): v is number => typeof v === 'number');
      return nums.length > 0 && nums.every((v) => Number.isInteger(v));
    }),
  );
}

/** For each column to emphasise, the rows holding its best value (ties all emphasised). */
function bestCells(rows: readonly Row[], cols: readonly string[], opts: FormatOptions): Map<string, Set<number>> {
  const out = new Map<string, Set<number>>();
  const digits = opts.digits ?? 2;
  const candidates =
    opts.bestColumns ??
    cols.filter(
      (c) =>
        isScoreColumn(c) &&
        rows.some((r) => typeof r[c] === 'number') &&
        rows.every((r) => r[c] === null || r[c] === undefined || typeof r[c] === 'number'),
    );
  for (const c of candidates) {
    const vals = rows.map((r) => (typeof r[c] === 'number' ? Number((r[c] as number).toFixed(digits)) : undefined));
    const present = vals.filter((v): v is number => v !== undefined);
    if (present.length < 2) continue;
    const target = opts.best === 'min' ? Math.min(...present) : Math.max(...present);
    if (present.every((v) => v === target)) continue; // all equal: nothing stands out
    out.set(c, new Set(vals.flatMap((v, i) => (v === target ? [i] : []))));
  }
  return out;
}

/** An HTML <table> (escaped); the best value of each score column in <strong>, integer columns without decimals. */
export function toHtml(input: TableInput<Row>, opts: FormatOptions & { caption?: string } = {}): string {
  const rows = rowsOf(input, 'toHtml');
  const cols = columnsOf(rows, opts.columns);
  const digits = opts.digits ?? 2;
  const best = bestCells(rows, cols, opts);
  const ints = integerColumns(rows, cols, opts);
  // Text columns left-aligned, numbers right-aligned (JupyterLab's table style aligns every cell right), inline so
  // that it holds in a notebook as in the report.
  const isText = new Set(
    cols.filter((c) => rows.some((r) => r[c] !== null && r[c] !== undefined && typeof r[c] !== 'number')),
  );
  const align = (c: string) => (isText.has(c) ? ' style="text-align:left"' : '');
  const head = `<thead><tr>${cols.map((c) => `<th${align(c)}>${escapeHtml(c)}</th>`).join('')}</tr></thead>`;
  const body = rows
    .map((r, i) => {
      const cells = cols.map((c) => {
        const text = escapeHtml(fmt(r[c], digits, ints.has(c)));
        const numeric = typeof r[c] === 'number';
        const bold = best.get(c)?.has(i);
        return `<td${numeric ? ' class="num"' : align(c)}>${bold ? `<strong>${text}</strong>` : text}</td>`;
      });
      return `<tr>${cells.join('')}</tr>`;
    })
    .join('\n');
  const caption = opts.caption ? `<caption>${escapeHtml(opts.caption)}</caption>` : '';
  return `<table class="msd-table">${caption}${head}<tbody>\n${body}\n</tbody></table>`;
}

const LATEX_ESC: [RegExp, string][] = [
  [/\\/g, '\\textbackslash{}'],
  [/([&%$#_{}])/g, '\\$1'],
  [/~/g, '\\textasciitilde{}'],
  [/\^/g, '\\textasciicircum{}'],
];
export function escapeLatex(s: string): string {
  let out = s;
  for (const [re, rep] of LATEX_ESC) out = out.replace(re, rep);
  return out;
}

/**
 * A LaTeX `tabular` (booktabs rules: \toprule, \midrule, \bottomrule) with the best number of each score column in
 * \textbf; text columns left-aligned, numbers right-aligned. With `caption` the tabular is wrapped in a table float.
 */
export function toLatex(
  input: TableInput<Row>,
  opts: FormatOptions & { caption?: string; label?: string; header?: Record<string, string> } = {},
): string {
  const rows = rowsOf(input, 'toLatex');
  const cols = columnsOf(rows, opts.columns);
  if (cols.length === 0) throw new Error('toLatex: no columns');
  const digits = opts.digits ?? 2;
  const best = bestCells(rows, cols, opts);
  const ints = integerColumns(rows, cols, opts);
  const numeric = cols.map(
    (c) => rows.length > 0 && rows.every((r) => r[c] === null || r[c] === undefined || typeof r[c] === 'number'),
  );
  const align = numeric.map((n) => (n ? 'r' : 'l')).join('');
  const lines = [
    `\\begin{tabular}{${align}}`,
    '\\toprule',
    `${cols.map((c) => escapeLatex(opts.header?.[c] ?? c)).join(' & ')} \\\\`,
    '\\midrule',
    ...rows.map(
      (r, i) =>
        `${cols
          .map((c) => {
            const text = escapeLatex(fmt(r[c], digits, ints.has(c)).replace('–', '--'));
            return best.get(c)?.has(i) ? `\\textbf{${text}}` : text;
          })
          .join(' & ')} \\\\`,
    ),
    '\\bottomrule',
    '\\end{tabular}',
  ];
  if (!opts.caption) return lines.join('\n') + '\n';
  return (
    [
      '\\begin{table}[t]',
      '\\centering',
      ...lines,
      `\\caption{${escapeLatex(opts.caption)}}`,
      ...(opts.label ? [`\\label{${opts.label}}`] : []),
      '\\end{table}',
    ].join('\n') + '\n'
  );
}

/**
 * The ablation rows (F1 in percent) as a wide table: one row per variant and source (published / measured), one
 * column per language, then `avg` (only where the row has every language). Unknown scores are null.
 */
export function ablationTable(
  input: TableInput<AblationRow>,
  opts: { languages?: readonly string[]; variants?: readonly string[] } = {},
): Row[] {
  const rows = rowsOf(input, 'ablationTable').filter((r) => r.language !== AVERAGE);
  const languages = opts.languages ?? [...new Set(rows.map((r) => r.language))];
  const variants = opts.variants ?? [...new Set(rows.map((r) => r.variant))];
  const withAvg = withAverage(
    rows.filter((r) => r.f1 !== null),
    languages,
  );
  const out: Row[] = [];
  for (const source of ['published', 'measured'] as const) {
    for (const v of variants) {
      const group = withAvg.filter((r) => r.variant === v && r.source === source);
      if (group.length === 0 && !rows.some((r) => r.variant === v && r.source === source)) continue;
      const row: Row = { method: VARIANT_LABELS[v] ?? v, source };
      for (const l of languages.length > 1 ? [...languages, AVERAGE] : languages)
        row[l] = group.find((r) => r.language === l)?.f1 ?? null;
      out.push(row);
    }
  }
  return out;
}
