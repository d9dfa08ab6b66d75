/**
 * The run report: `<runDir>/report.html`, one self-contained page (vega, vega-lite, vega-embed and the font inlined;
 * nothing is fetched from the network) with the run's config, its results table and every chart the run's files
 * allow. `msd report <runDir>` writes it; `runCharts(runDir)` gives the same charts as specs (for exportFigure).
 *
 * Read from the run directory (src/run/dir.ts; a shared teacher's log from the shared teacher's run):
 *   config.json                       shown as is; corpus, source, targets, ablation flags
 *   results/summary.json              per-layer F1 of every model -> results table, per-layer F1 chart, ablation chart
 *   teacher/metrics.jsonl             training curves; the best source-dev F1 is the per-layer chart's reference line
 *   students/<lang>/metrics.jsonl     training curves of each student
 *   diagnostics/mmd.json              MmdRow[] (optional; `msd report --diagnostics` computes it) -> MMD chart
 *   diagnostics/projection.json       ProjectionPoint[] (optional, same) -> Figure-2 scatter
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { modelConfigPath } from '../model/config.js';
import { runDir, type RunDir } from '../run/dir.js';
import { readJson, readJsonl, writeFileAtomic } from '../run/io.js';
import { runVariant } from '../run/variants.js';
import {
  ablationChart,
  mmdByLayerChart,
  perLayerF1Chart,
  projectionChart,
  trainingCurvesChart,
  type MetricRecord,
  type MmdChartRow,
  type ProjectionPoint,
} from './charts.js';
import { publishedRows, publishedCorpus, type AblationRow } from '../run/published.js';
import { browserBundles, compileSpec, fontFiles, type VlSpec } from './render.js';
import { ablationTable, escapeHtml, toHtml } from './tables.js';
import { resultsTable, type ResultRow } from '../eval/table.js';

export interface RunChart {
  /** File-name friendly id, e.g. `per-layer-f1`, `training-student-nl`. */
  name: string;
  title: string;
  spec: VlSpec;
}

interface Summary {
  preset?: string;
  selectOn?: string;
  zeroShot?: boolean;
  rows: ResultRow[];
}

interface RunFiles {
  run: RunDir;
  config: Record<string, unknown> | undefined;
  summary: Summary | undefined;
  metrics: { model: string; path: string; records: MetricRecord[] }[];
  mmd: MmdChartRow[] | undefined;
  projection: ProjectionPoint[] | undefined;
}

function readRun(path: string): RunFiles {
  if (!existsSync(path)) throw new Error(`report: run directory ${path} does not exist`);
  const run = runDir(path);
  const optional = <T>(file: string): T | undefined => (existsSync(file) ? readJson<T>(file) : undefined);
  const summary = optional<Summary>(run.summaryPath);
  if (summary && !Array.isArray(summary.rows))
    throw new Error(`${run.summaryPath}: expected a 'rows' array (per-layer results)`);
  const logs = [
    { model: 'teacher', path: run.teacher().metrics },
    ...run.studentLanguages().map((lang) => ({ model: `student:${lang}`, path: run.student(lang).metrics })),
  ];
  return {
    run,
    config: optional<Record<string, unknown>>(run.configPath),
    summary,
    metrics: logs.filter((l) => existsSync(l.path)).map((l) => ({ ...l, records: readJsonl<MetricRecord>(l.path) })),
    mmd: optional<MmdChartRow[]>(run.mmdPath),
    projection: optional<ProjectionPoint[]>(run.projectionPath),
  };
}

/** The best source-dev F1 the teacher reached (its selection score), from its metrics log. */
function teacherDevF1(files: RunFiles): number | undefined {
  const t = files.metrics.find((m) => m.model === 'teacher');
  const evals = t?.records.filter((r) => r.kind === 'eval' && typeof r.score === 'number') ?? [];
  return evals.length ? Math.max(...evals.map((r) => r.score!)) : undefined;
}

/** Measured ablation rows of one run: each student's main-head F1 (percent) on its own language. */
function measuredRows(files: RunFiles): AblationRow[] {
  if (!files.summary) return [];
  const rows = files.summary.rows.filter((r) => r.model?.startsWith('student:'));
  if (rows.length === 0) return [];
  const main = Math.max(...rows.map((r) => r.layer));
  const variant = runVariant(files.config);
  return rows
    .filter((r) => r.layer === main)
    .map((r) => ({ variant, language: r.language, f1: Math.round(10000 * r.f1) / 100, source: 'measured' as const }));
}

function corpusOf(config: Record<string, unknown> | undefined): string | undefined {
  const c = (config?.data as Record<string, unknown> | undefined)?.corpus;
  return typeof c === 'string' ? c : undefined;
}

/** Every chart the run directory's files allow, in report order. */
export function runCharts(dir: string): RunChart[] {
  return chartsOf(readRun(dir));
}

/** Builds one chart; a bad input file is named in the error (the builders name the row and field). */
function build(file: string, f: () => VlSpec): VlSpec {
  try {
    return f();
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
}

function chartsOf(files: RunFiles): RunChart[] {
  const charts: RunChart[] = [];
  if (files.summary && files.summary.rows.length) {
    const ref = teacherDevF1(files);
    const rows = files.summary.rows;
    charts.push({
      name: 'per-layer-f1',
      title: 'Per-layer F1',
      spec: build(files.run.summaryPath, () =>
        perLayerF1Chart(rows, { reference: ref, referenceLabel: 'teacher source dev' }),
      ),
    });
    const measured = measuredRows(files);
    if (measured.length) {
      const corpus = corpusOf(files.config);
      const langs = new Set(measured.map((r) => r.language));
      const published = corpus
        ? publishedRows(publishedCorpus(corpus), { includeNull: true }).filter(
            // one run is one variant: the paper's row of that variant beside it, not every ablation's
            (r) => langs.has(r.language) && r.variant === runVariant(files.config),
          )
        : [];
      charts.push({
        name: 'ablation',
        title: 'Published vs measured',
        spec: build(files.run.summaryPath, () => ablationChart([...published, ...measured])),
      });
    }
  }
  for (const m of files.metrics) {
    if (m.records.length === 0) continue;
    const title = `Training curves: ${m.model}`;
    charts.push({
      name: `training-${m.model.replace(/[^a-z0-9]+/gi, '-')}`,
      title,
      spec: build(m.path, () => trainingCurvesChart(m.records, { title })),
    });
  }
  const mmd = files.mmd;
  if (mmd?.length)
    charts.push({
      name: 'mmd-by-layer',
      title: 'MMD per layer',
      spec: build(files.run.mmdPath, () => mmdByLayerChart(mmd)),
    });
  const proj = files.projection;
  if (proj?.length)
    charts.push({
      name: 'projection',
      title: 'Figure 2: [CLS] projection',
      spec: build(files.run.projectionPath, () => projectionChart(proj)),
    });
  return charts;
}

/** The main-head F1 of each model and language, as a wide table (percent). */
function mainTable(rows: readonly ResultRow[]): Record<string, unknown>[] {
  if (rows.length === 0) return [];
  const main = Math.max(...rows.map((r) => r.layer));
  const languages = [...new Set(rows.map((r) => r.language))];
  const models = [...new Set(rows.map((r) => r.model ?? ''))];
  return models.map((m) => {
    const out: Record<string, unknown> = { model: m };
    for (const l of languages) {
      const r = rows.find((x) => (x.model ?? '') === m && x.language === l && x.layer === main);
      out[l] = r ? Math.round(10000 * r.f1) / 100 : null;
    }
    return out;
  });
}

function scriptSafe(code: string): string {
  // an inlined script must not contain "</script" (it would end the element early)
  return code.replace(/<\/script/gi, '<\\/script');
}

/** The selected models of a run (teacher/best, students/<lang>/best) that exist, for the export commands. */
function modelDirs(dir: string): { name: string; dir: string }[] {
  const run = runDir(dir);
  const models = [
    { name: 'teacher', dir: run.teacher().best },
    ...run.studentLanguages().map((l) => ({ name: l, dir: run.student(l).best })),
  ];
  return models.filter((m) => existsSync(modelConfigPath(m.dir)));
}

/** The Results section: the main head's table, published vs measured where the paper has numbers, every layer. */
function resultSections(files: RunFiles): string[] {
  const out: string[] = [];
  const summary = files.summary;
  if (summary?.rows.length) {
    const main = Math.max(...summary.rows.map((r) => r.layer));
    out.push(
      `<h2>Results</h2><p>Entity F1 (%) of the main head (layer ${main}) on each language's evaluation split.</p>${toHtml(mainTable(summary.rows))}`,
    );
    const measured = measuredRows(files);
    const corpus = corpusOf(files.config);
    if (measured.length && corpus) {
      const langs = new Set(measured.map((r) => r.language));
      const published = publishedRows(publishedCorpus(corpus), { includeNull: true }).filter(
        (r) => langs.has(r.language) && r.variant === runVariant(files.config),
      );
      out.push(
        `<h3>Published vs measured</h3>${toHtml(ablationTable([...published, ...measured]))}<p class="note">Published: Ma et al. (EMNLP 2022), Tables 1-3, mBERT with English as the source language (src/run/published.json); – : the paper has no number for that language.</p>`,
      );
    }
    const perLayer = resultsTable(summary.rows);
    out.push(
      `<details><summary>Every layer (${perLayer.length} rows; precision, recall, F1 in %)</summary>${toHtml(perLayer, { digits: 2 })}</details>`,
    );
  } else {
    out.push('<h2>Results</h2><p class="note">No results/summary.json yet (run <code>msd eval</code>).</p>');
  }
  return out;
}

/** The export commands of every selected model of the run (none when no model is there yet). */
function exportSection(dir: string): string[] {
  const out: string[] = [];
  const models = modelDirs(dir);
  if (models.length)
    out.push(
      '<h2>Use the models elsewhere</h2><p>Each selected model as a transformers <code>BertForTokenClassification</code> ' +
        '(<code>--format hf</code>) or as a tagger page for any static host (<code>--format web</code>):</p><pre>' +
        models
          .flatMap(({ name, dir }) =>
            ['hf', 'web'].map((f) => `node lib/cli/msd.js export ${dir} --format ${f} --out exports/${name}-${f}`),
          )
          .map(escapeHtml)
          .join('\n') +
        '</pre>',
    );
  return out;
}

/** The report page's HTML for a run directory. */
export function reportHtml(dir: string, opts: { title?: string } = {}): { html: string; charts: RunChart[] } {
  const files = readRun(dir);
  const charts = chartsOf(files);
  for (const c of charts) compileSpec(c.spec);
  const title = opts.title ?? `MSD run report: ${basename(dir.replace(/\/+$/, ''))}`;
  const bundles = browserBundles();
  const fonts = fontFiles()
    .map(
      (f, i) =>
        `@font-face{font-family:'Liberation Sans';font-weight:${i === 0 ? 400 : 700};src:url(data:font/ttf;base64,${readFileSync(f).toString('base64')}) format('truetype');}`,
    )
    .join('\n');
  const summary = files.summary;
  const sections: string[] = [];
  sections.push(
    `<p class="meta">run directory <code>${escapeHtml(dir)}</code>; preset <code>${escapeHtml(String(summary?.preset ?? (files.config?.preset as string | undefined) ?? '?'))}</code>; ` +
      `student selection ${escapeHtml(String(summary?.selectOn ?? '?'))} (${summary?.zeroShot === false ? '<strong>not zero-shot</strong>' : 'zero-shot'}); ` +
      `variant <code>${escapeHtml(runVariant(files.config))}</code>; written ${new Date().toISOString()}</p>`,
  );
  sections.push(...resultSections(files));
  sections.push('<h2>Charts</h2>');
  if (charts.length === 0)
    sections.push('<p class="note">Nothing to draw yet: no results and no metrics logs in this run directory.</p>');
  charts.forEach((c, i) =>
    sections.push(
      // The chart draws its own title: a heading above it would say the same twice.
      `<section class="chart-box" aria-label="${escapeHtml(c.title)}"><div id="chart-${i}" class="chart" data-name="${escapeHtml(c.name)}"></div></section>`,
    ),
  );
  sections.push(...exportSection(dir));
  sections.push(`<h2>Config</h2><pre>${escapeHtml(JSON.stringify(files.config ?? null, null, 2))}</pre>`);
  const specs = JSON.stringify(charts.map((c) => c.spec)).replace(/</g, '\\u003c');
  const html = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="generator" content="msd-ner (${bundles.map((b) => `${b.name} ${b.version}`).join(', ')})">
<style>
${fonts}
body{font-family:'Liberation Sans',Arial,Helvetica,sans-serif;margin:24px auto;max-width:1200px;padding:0 16px;color:#222}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}h3{font-size:15px}
.meta,.note{color:#555;font-size:13px}code,pre{font-family:monospace;font-size:12px}pre{background:#f6f6f6;padding:10px;overflow:auto}
table.msd-table{border-collapse:collapse;font-size:13px;margin:8px 0}table.msd-table th,table.msd-table td{border:1px solid #ddd;padding:3px 8px}
table.msd-table td.num{text-align:right;font-variant-numeric:tabular-nums}table.msd-table th{background:#f3f3f3}
.chart-box{margin:12px 0 24px}.chart-error{color:#b00;white-space:pre-wrap}
</style>
${bundles.map((b) => `<script>/* ${b.name} ${b.version} */\n${scriptSafe(b.code)}\n</script>`).join('\n')}
</head><body>
<h1>${escapeHtml(title)}</h1>
${sections.join('\n')}
<script>
(function () {
  var specs = ${specs};
  var state = (window.__msdReport = { total: specs.length, done: 0, errors: [] });
  specs.forEach(function (spec, i) {
    vegaEmbed('#chart-' + i, spec, { renderer: 'svg', actions: false })
      .then(function () { state.done++; })
      .catch(function (err) {
        state.errors.push(String(err));
        var el = document.getElementById('chart-' + i);
        el.className += ' chart-error';
        el.textContent = 'could not draw this chart: ' + err;
      });
  });
})();
</script>
</body></html>
`;
  return { html, charts };
}

/** Writes `<runDir>/report.html` (atomically) and returns its path and the charts it holds. */
export function writeReport(
  dir: string,
  opts: { title?: string; out?: string } = {},
): { path: string; charts: RunChart[] } {
  const { html, charts } = reportHtml(dir, opts);
  const path = opts.out ?? runDir(dir).reportPath;
  writeFileAtomic(path, html);
  return { path, charts };
}
