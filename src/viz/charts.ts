/**
 * Vega-Lite v5 specs built by typed functions from the library's tables. Each returns a plain spec object: show it
 * in a notebook (`show`), write it (`exportFigure`), or embed it (`msd report`). Every input is a row array or a
 * danfojs DataFrame with the named columns; F1 is a fraction in [0, 1] (as `evaluate` returns it) unless the
 * function says percent, and is drawn in percent.
 *
 *   perLayerF1Chart(rows, { reference })            x layer, y F1, colour model, one panel per language
 *   perLayerF1ErrorBarChart(rows)                   the same from mean/std over seeds (msd collect)
 *   trainingCurvesChart(metrics, { title })         loss terms, per-layer terms, learning rate, dev F1 over steps
 *   mmdByLayerChart(rows)                           MMD^2 per layer, colour model, one panel per pair
 *   projectionChart(points)                         Figure 2: one panel per model, colour language
 *   ablationChart(rows)                             variants x languages + average, published vs measured
 */
import { FONT_FAMILY, VEGALITE_SCHEMA, type VlSpec } from './render.js';
import { rowsOf, requireFields, type TableInput } from './table-input.js';
import type { AblationRow } from '../run/published.js';
import { VARIANT_LABELS } from '../run/variants.js';
import { colorScale, DEV_F1_COLOR, SOURCE_COLORS, VARIANT_COLORS } from './style.js';

/** Shared look: bundled font, readable sizes, unbolded axis titles, light panel borders. */
export const CHART_CONFIG = {
  font: FONT_FAMILY,
  title: { fontSize: 15, subtitleFontSize: 11, subtitleColor: '#555', anchor: 'start', offset: 10 },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', gridColor: '#e6e6e6' },
  legend: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal', labelLimit: 260 },
  header: { labelFontSize: 12, titleFontSize: 12, titleFontWeight: 'normal' },
  view: { stroke: '#cccccc' },
  background: 'white',
  padding: 8,
};

function base(title: string | undefined, subtitle?: string | string[]): VlSpec {
  const spec: VlSpec = { $schema: VEGALITE_SCHEMA, config: CHART_CONFIG };
  if (title !== undefined || subtitle !== undefined) spec.title = subtitle ? { text: title ?? '', subtitle } : title;
  return spec;
}

const round = (x: number, d = 4): number => Math.round(x * 10 ** d) / 10 ** d;

// ---------------------------------------------------------------------------------------------------------------
// Per-layer F1

/** One row of `evaluate()`'s table (extra columns are ignored). */
export interface F1Row {
  model?: string;
  language: string;
  layer: number;
  /** Fraction in [0, 1]. */
  f1: number;
  split?: string;
}

export interface PerLayerF1Options {
  title?: string;
  subtitle?: string;
  /**
   * The source-dev F1 (fraction) drawn as a dashed reference line: one number for every panel, or one per
   * language panel.
   */
  reference?: number | Record<string, number>;
  /** Label of the reference line (default 'source dev'). */
  referenceLabel?: string;
  /** Panel width in pixels (default 230). */
  width?: number;
}

/** Pixels kept free at both ends of a continuous x axis, so that the first and last points are drawn whole. */
const EDGE_PADDING = 10;

/** The x axis of per-layer charts: one tick per layer; `title` says what sits on the layer (a head, a [CLS] vector). */
function layerAxis(layers: number[], title = 'layer of the classifier head'): Record<string, unknown> {
  const lo = Math.min(...layers);
  const hi = Math.max(...layers);
  return {
    field: 'layer',
    type: 'quantitative',
    title,
    scale: { domain: [lo, hi], nice: false, zero: false, padding: EDGE_PADDING },
    axis: { values: Array.from({ length: hi - lo + 1 }, (_, i) => lo + i), format: 'd', grid: false },
  };
}

/**
 * The y encoding of an F1 axis: percent, from 0 (a line near the axis is a low score, not the axis). `max`, the
 * largest value drawn: when it is 0 the axis still spans 0-10, so that a row of zeros reads as zero, not as a lone tick.
 */
function f1Axis(field: string, title = 'entity F1 (%)', max?: number): Record<string, unknown> {
  return {
    field,
    type: 'quantitative',
    title,
    // above 60 the whole 0-100 range, with room for a value label over the highest bar
    scale: {
      zero: true,
      nice: true,
      ...(max === 0 ? { domainMax: 10 } : max !== undefined && max > 60 ? { domainMax: 100 } : {}),
    },
  };
}

/** Per-layer entity F1: x = layer, y = F1 (%), colour = model, one panel per language; dashed source-dev line. */
export function perLayerF1Chart(input: TableInput<F1Row>, opts: PerLayerF1Options = {}): VlSpec {
  const rows = rowsOf(input, 'perLayerF1Chart');
  if (rows.length === 0) throw new Error('perLayerF1Chart: no rows');
  requireFields(rows, { language: 'string', layer: 'number', f1: 'number' }, 'perLayerF1Chart');
  const languages = [...new Set(rows.map((r) => r.language))];
  const data: Record<string, unknown>[] = rows.map((r) => ({
    kind: 'score',
    model: r.model ?? 'model',
    language: r.language,
    layer: r.layer,
    f1: round(100 * r.f1, 2),
  }));
  const label = opts.referenceLabel ?? 'source dev';
  if (opts.reference !== undefined) {
    for (const lang of languages) {
      const ref = typeof opts.reference === 'number' ? opts.reference : opts.reference[lang];
      if (ref !== undefined)
        data.push({
          kind: 'reference',
          language: lang,
          f1: round(100 * ref, 2),
          label: `${label} ${(100 * ref).toFixed(1)}`,
        });
    }
  }
  const layers = rows.map((r) => r.layer);
  const layer: Record<string, unknown>[] = [
    {
      transform: [{ filter: "datum.kind === 'score'" }],
      mark: { type: 'line', point: { size: 36 }, strokeWidth: 2 },
      encoding: {
        x: layerAxis(layers),
        y: f1Axis('f1', undefined, Math.max(...data.map((d) => d.f1 as number))),
        color: {
          field: 'model',
          type: 'nominal',
          title: 'model',
          scale: colorScale(data.filter((d) => d.kind === 'score').map((d) => d.model as string)),
          legend: { orient: 'bottom', columns: 4 },
        },
        tooltip: [
          { field: 'model', type: 'nominal' },
          { field: 'layer', type: 'quantitative' },
          { field: 'f1', type: 'quantitative', title: 'F1 (%)', format: '.2f' },
        ],
      },
    },
  ];
  if (opts.reference !== undefined) {
    layer.push(
      {
        transform: [{ filter: "datum.kind === 'reference'" }],
        mark: { type: 'rule', strokeDash: [5, 4], color: '#666', strokeWidth: 1.5 },
        encoding: { y: { field: 'f1', type: 'quantitative' } },
      },
      {
        transform: [{ filter: "datum.kind === 'reference'" }],
        mark: { type: 'text', align: 'left', baseline: 'bottom', dx: 4, dy: -3, color: '#444', fontSize: 10, x: 0 },
        encoding: { y: { field: 'f1', type: 'quantitative' }, text: { field: 'label' } },
      },
    );
  }
  return {
    ...base(
      opts.title ?? 'Entity F1 of every layer head',
      opts.subtitle ??
        `test split${opts.reference !== undefined ? '; dashed: source-language dev F1 of the main head' : ''}`,
    ),
    data: { values: data },
    facet: {
      column: { field: 'language', type: 'nominal', title: null, sort: languages, header: { labelFontWeight: 'bold' } },
    },
    spec: { width: opts.width ?? 230, height: 190, layer },
    resolve: { scale: { y: 'shared' } },
  };
}

/** A mean/std row over several runs (seeds) of one model, language and layer; F1 as a fraction. */
export interface F1StatRow {
  model: string;
  language: string;
  layer: number;
  mean: number;
  std: number;
  /** Runs averaged (shown in the tooltip). */
  n?: number;
}

/** Per-layer F1 with error bars (mean +- one standard deviation over runs), colour = model, panel = language. */
export function perLayerF1ErrorBarChart(
  input: TableInput<F1StatRow>,
  opts: { title?: string; subtitle?: string; width?: number } = {},
): VlSpec {
  const rows = rowsOf(input, 'perLayerF1ErrorBarChart');
  if (rows.length === 0) throw new Error('perLayerF1ErrorBarChart: no rows');
  requireFields(
    rows,
    { model: 'string', language: 'string', layer: 'number', mean: 'number', std: 'number' },
    'perLayerF1ErrorBarChart',
  );
  const languages = [...new Set(rows.map((r) => r.language))];
  // Variant names (full, noAux, ...) are shown under the paper's labels, in the variants' own colours.
  const variants = rows.every((r) => r.model in VARIANT_LABELS);
  const name = (m: string) => (variants ? VARIANT_LABELS[m]! : m);
  const data = rows.map((r) => ({
    model: name(r.model),
    language: r.language,
    layer: r.layer,
    mean: round(100 * r.mean, 2),
    lo: round(100 * (r.mean - r.std), 2),
    hi: round(100 * (r.mean + r.std), 2),
    std: round(100 * r.std, 2),
    n: r.n ?? null,
  }));
  const x = layerAxis(rows.map((r) => r.layer));
  const models = [...new Set(rows.map((r) => r.model))];
  const scale = variants
    ? { domain: models.map(name), range: models.map((m) => VARIANT_COLORS[m] ?? '#888') }
    : colorScale(models);
  const title = variants ? 'variant' : 'model';
  const color = { field: 'model', type: 'nominal', title, scale, legend: { orient: 'bottom', columns: 5 } };
  return {
    ...base(
      opts.title ?? 'Entity F1 per layer (mean ± std over runs)',
      opts.subtitle ?? 'test split; bars: one standard deviation',
    ),
    data: { values: data },
    facet: {
      column: { field: 'language', type: 'nominal', title: null, sort: languages, header: { labelFontWeight: 'bold' } },
    },
    spec: {
      width: opts.width ?? 230,
      height: 190,
      layer: [
        {
          mark: { type: 'errorbar', ticks: { size: 5 } },
          encoding: {
            x,
            y: f1Axis('lo'),
            y2: { field: 'hi' },
            color,
          },
        },
        {
          mark: { type: 'line', point: { size: 30 }, strokeWidth: 2 },
          encoding: {
            x,
            y: { field: 'mean', type: 'quantitative' },
            color,
            tooltip: [
              { field: 'model', title },
              { field: 'layer', type: 'quantitative' },
              { field: 'mean', type: 'quantitative', title: 'mean F1 (%)', format: '.2f' },
              { field: 'std', type: 'quantitative', title: 'std (%)', format: '.2f' },
              { field: 'n', type: 'quantitative', title: 'runs' },
            ],
          },
        },
      ],
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Training curves

/** A line of a run's metrics.jsonl (src/train/loop.ts): `kind: 'step'` with loss terms, or `kind: 'eval'`. */
export interface MetricRecord {
  kind: string;
  step: number;
  loss?: number;
  terms?: Record<string, number>;
  lr?: number;
  score?: number;
  devF1?: number;
  [key: string]: unknown;
}

const TERM_LABELS: Record<string, string> = {
  total: 'total loss',
  aux: 'auxiliary (weighted sum)',
  stu: 'L_stu (KD)',
  mmd_M: 'MMD_M',
  mmd_L: 'MMD_L',
};

function termLabel(name: string, mainLayer: number): string {
  if (TERM_LABELS[name]) return TERM_LABELS[name]!;
  const m = /^(ce|kd)_(\d+)$/.exec(name);
  if (m && Number(m[2]) === mainLayer) return `${m[1] === 'ce' ? 'main CE' : 'main KD'} (layer ${m[2]})`;
  return name;
}

/** Legend order of the loss panel: a term ranks by the first of these its label starts with; anything else last. */
const TERM_ORDER = ['total loss', 'main ', 'auxiliary', 'L_stu'];

/** Legend order: total first, then the main term, the auxiliary sum, L_stu, anything else (alphabetical within). */
function termOrder(labels: readonly string[]): string[] {
  const rank = (t: string) => {
    const i = TERM_ORDER.findIndex((prefix) => t.startsWith(prefix));
    return i < 0 ? TERM_ORDER.length : i;
  };
  return [...new Set(labels)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/**
 * TensorBoard's smoothing: an exponential moving average with weight `w` in [0, 1) (0 = none), debiased so that the
 * first points are not pulled towards 0: s_t = (w s_{t-1} + (1 - w) x_t) / (1 - w^t), with s_0 = 0.
 */
export function emaSmooth(values: readonly number[], weight: number): number[] {
  if (!(weight >= 0 && weight < 1)) throw new Error(`smoothing: expected a weight in [0, 1), got ${weight}`);
  let acc = 0;
  return values.map((v, i) => {
    acc = weight * acc + (1 - weight) * v;
    return weight === 0 ? v : acc / (1 - weight ** (i + 1));
  });
}

/** Adds `smoothed` to each series' points (grouped by `key`, in step order). */
function smoothSeries<T extends { step: number; value: number }>(points: T[], key: (p: T) => string, w: number) {
  const groups = new Map<string, T[]>();
  for (const p of points) {
    const k = key(p);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(p);
  }
  const out: (T & { smoothed: number })[] = [];
  for (const g of groups.values()) {
    g.sort((a, b) => a.step - b.step);
    const sm = emaSmooth(
      g.map((p) => p.value),
      w,
    );
    g.forEach((p, i) => out.push({ ...p, value: round(p.value, 6), smoothed: round(sm[i]!, 6) }));
  }
  return out;
}

/**
 * Ticks (and grid lines) of a log axis over [lo, hi]: 1, 2, 5 times each power of ten, or the powers alone when that
 * would be more than 8; Vega's own put a grid line at every minor tick and labelled a one-value axis 0.0229597277939.
 */
export function logTicks(lo: number, hi: number): number[] {
  const from = Math.floor(Math.log10(lo));
  const to = Math.ceil(Math.log10(hi));
  const at = (mults: number[]) =>
    Array.from({ length: to - from + 1 }, (_, i) => mults.map((m) => Number((m * 10 ** (from + i)).toPrecision(2))))
      .flat()
      .filter((v) => v >= 10 ** from && v <= 10 ** to);
  const fine = at([1, 2, 5]);
  return fine.filter((v) => v >= lo / 2.5 && v <= hi * 2.5).length <= 8 ? fine : at([1]);
}

/** A log-scale y axis that reads well whatever its range: nice decades, ticks from `logTicks`, two digits at most. */
function logY(title: string, values: readonly number[]): Record<string, unknown> {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return {
    field: 'smoothed',
    type: 'quantitative',
    title,
    scale: { type: 'log', nice: true },
    axis: { format: '.2~g', values: logTicks(lo, hi) },
  };
}

export interface TrainingCurvesOptions {
  title?: string;
  width?: number;
  /** TensorBoard-style smoothing weight in [0, 1): 0 draws the raw values only (default 0.8). */
  smoothing?: number;
}

/** The step records' numbers by panel: loss terms, MMD terms, the auxiliary heads' per-layer terms, the lr. */
function curveSeries(steps: readonly MetricRecord[], mainLayer: number) {
  const loss: { step: number; term: string; value: number }[] = [];
  const mmd: { step: number; term: string; value: number }[] = [];
  const perLayer: { step: number; layer: number; kind: string; value: number }[] = [];
  const lr: Record<string, unknown>[] = [];
  for (const r of steps) {
    const terms = { ...(r.terms ?? {}) };
    if (terms.total === undefined && typeof r.loss === 'number') terms.total = r.loss;
    for (const [k, v] of Object.entries(terms)) {
      if (typeof v !== 'number' || !Number.isFinite(v)) continue;
      const m = /^(ce|kd)_(\d+)$/.exec(k);
      if (m && Number(m[2]) !== mainLayer)
        perLayer.push({ step: r.step, layer: Number(m[2]), kind: m[1] === 'ce' ? 'CE' : 'KD', value: v });
      else if (/^mmd_/.test(k)) mmd.push({ step: r.step, term: termLabel(k, mainLayer), value: v });
      else loss.push({ step: r.step, term: termLabel(k, mainLayer), value: v });
    }
    if (typeof r.lr === 'number') lr.push({ step: r.step, lr: r.lr });
  }
  return { loss, mmd, perLayer, lr };
}

/** What every panel of the training curves shares: the step axis, the width, the smoothing, points on few steps. */
interface CurvePanels {
  x: Record<string, unknown>;
  width: number;
  smoothing: number;
  few: boolean;
}

interface SeriesSpec {
  field: string;
  title: string;
  type: 'nominal' | 'ordinal';
  scale: Record<string, unknown>;
}

/** A panel of one or more series: the raw values faint, the smoothed curve over them, one colour per series. */
function seriesPanel(
  c: CurvePanels,
  title: string,
  yTitle: string,
  points: Record<string, unknown>[],
  series: SeriesSpec,
  height: number,
): Record<string, unknown> {
  const positive = points.every((d) => (d.value as number) > 0);
  const y = positive
    ? logY(
        `${yTitle.replace(/\)$/, ', log scale)')}`,
        points.flatMap((d) => [d.value as number, d.smoothed as number]),
      )
    : { field: 'smoothed', type: 'quantitative', title: yTitle, scale: { zero: false } };
  const color = {
    field: series.field,
    type: series.type,
    title: series.title,
    scale: series.scale,
    // the raw layer's 25% opacity must not fade the legend's symbols
    legend: { orient: 'right', symbolOpacity: 1, symbolStrokeWidth: 2 },
  };
  const { x, smoothing } = c;
  const layer: Record<string, unknown>[] = [];
  if (smoothing > 0)
    layer.push({
      mark: { type: 'line', strokeWidth: 1, opacity: 0.25 },
      encoding: { x, y: { ...y, field: 'value' }, color },
    });
  layer.push({
    mark: { type: 'line', strokeWidth: 1.8, point: c.few },
    encoding: {
      x,
      y,
      color,
      tooltip: [
        { field: series.field, title: series.title },
        { field: 'step', type: 'quantitative' },
        { field: 'value', type: 'quantitative', format: '.4g', title: 'raw' },
        ...(smoothing > 0 ? [{ field: 'smoothed', type: 'quantitative', format: '.4g', title: 'smoothed' }] : []),
      ],
    },
  });
  return {
    title: { text: title, fontSize: 12, anchor: 'start' },
    width: c.width,
    height,
    data: { values: points },
    layer,
  };
}

/** The learning-rate panel. */
function lrPanel(c: CurvePanels, lr: Record<string, unknown>[]): Record<string, unknown> {
  return {
    title: { text: 'learning rate', fontSize: 12, anchor: 'start' },
    width: c.width,
    height: 90,
    data: { values: lr },
    mark: { type: 'line', color: '#555', strokeWidth: 1.5, point: c.few ? { color: '#555' } : false },
    encoding: {
      x: c.x,
      y: {
        field: 'lr',
        type: 'quantitative',
        title: 'lr (per update)',
        axis: { tickCount: 4, labelExpr: "datum.value === 0 ? '0' : format(datum.value, '.1~e')" },
      },
    },
  };
}

/** The dev F1 panel (%), a point at each evaluation. */
function devPanel(c: CurvePanels, dev: { step: number; f1: number }[]): Record<string, unknown> {
  return {
    title: { text: 'dev F1 at each evaluation', fontSize: 12, anchor: 'start' },
    width: c.width,
    height: 110,
    data: { values: dev },
    mark: { type: 'line', point: { size: 40, color: DEV_F1_COLOR }, color: DEV_F1_COLOR, strokeWidth: 1.8 },
    encoding: {
      x: c.x,
      y: f1Axis('f1', 'dev F1 (%)', Math.max(...dev.map((d) => d.f1))),
      tooltip: [
        { field: 'step', type: 'quantitative' },
        { field: 'f1', type: 'quantitative', title: 'F1 (%)' },
      ],
    },
  };
}

/**
 * Training curves of one model from its metrics.jsonl records, one panel per scale: (1) the loss and its terms
 * (total, main CE or KD, auxiliary sum) in nats, (2) the MMD terms (MMD², unitless), (3) the per-layer CE or KD of
 * each auxiliary head, colour by layer, (4) the learning rate, (5) dev F1 (%) at each evaluation. Loss and MMD
 * panels draw the smoothed curve (TensorBoard's EMA, `smoothing`) over the faint raw one, on a log scale.
 */
export function trainingCurvesChart(input: TableInput<MetricRecord>, opts: TrainingCurvesOptions = {}): VlSpec {
  const records = rowsOf(input, 'trainingCurvesChart');
  const steps = records.filter((r) => r.kind === 'step');
  const evals = records.filter((r) => r.kind === 'eval');
  if (steps.length === 0 && evals.length === 0) throw new Error("trainingCurvesChart: no 'step' or 'eval' records");
  requireFields([...steps, ...evals], { step: 'number' }, 'trainingCurvesChart');
  const smoothing = opts.smoothing ?? 0.8;
  const layerTerms = new Set<number>();
  for (const r of steps)
    for (const k of Object.keys(r.terms ?? {})) if (/^(ce|kd)_\d+$/.test(k)) layerTerms.add(Number(k.split('_')[1]));
  const mainLayer = layerTerms.size ? Math.max(...layerTerms) : 12;
  const { loss, mmd, perLayer, lr } = curveSeries(steps, mainLayer);
  const dev = evals
    .map((r) => ({ step: r.step, f1: typeof r.devF1 === 'number' ? r.devF1 : r.score }))
    .filter((r): r is { step: number; f1: number } => typeof r.f1 === 'number')
    .map((r) => ({ step: r.step, f1: round(100 * r.f1, 2) }));
  const x = {
    field: 'step',
    type: 'quantitative',
    title: 'step (optimizer updates)',
    scale: { zero: false, nice: false, padding: EDGE_PADDING },
  };
  // with few logged steps a line is hard to see (one step draws nothing): mark every point
  const c: CurvePanels = { x, width: opts.width ?? 560, smoothing, few: new Set(steps.map((r) => r.step)).size <= 25 };
  const smoothNote = smoothing > 0 ? `; smoothed (EMA ${smoothing}) over the raw values (faint)` : '';
  const panels: Record<string, unknown>[] = [];
  if (loss.length) {
    const scale = { domain: termOrder(loss.map((d) => d.term)), scheme: 'tableau10' };
    const points = smoothSeries(loss, (p) => p.term, smoothing);
    const series: SeriesSpec = { field: 'term', title: 'term', type: 'nominal', scale };
    panels.push(seriesPanel(c, `loss and its terms${smoothNote}`, 'loss (nats)', points, series, 180));
  }
  if (mmd.length) {
    const scale = { domain: [...new Set(mmd.map((d) => d.term))].sort(), range: ['#9467bd', '#8c564b'] };
    const points = smoothSeries(mmd, (p) => p.term, smoothing);
    const series: SeriesSpec = { field: 'term', title: 'MMD term', type: 'nominal', scale };
    panels.push(seriesPanel(c, 'MMD terms (their own scale)', 'MMD² (unitless)', points, series, 170));
  }
  if (perLayer.length) {
    const kind = [...new Set(perLayer.map((d) => d.kind))].join('/');
    const points = smoothSeries(perLayer, (p) => `${p.kind}${p.layer}`, smoothing);
    const series: SeriesSpec = { field: 'layer', title: 'layer', type: 'ordinal', scale: { scheme: 'viridis' } };
    panels.push(seriesPanel(c, `per-layer ${kind} of the auxiliary heads`, `${kind} (nats)`, points, series, 150));
  }
  if (lr.length) panels.push(lrPanel(c, lr));
  if (dev.length) panels.push(devPanel(c, dev));
  // One x axis title, under the last panel: the panels share the step axis.
  panels.slice(0, -1).forEach((p) => {
    const layers = (p.layer as { encoding: Record<string, unknown> }[] | undefined) ?? [];
    for (const enc of [p.encoding as Record<string, unknown> | undefined, ...layers.map((l) => l.encoding)])
      if (enc?.x) enc.x = { ...x, title: null };
  });
  return {
    ...base(opts.title ?? 'Training curves'),
    vconcat: panels,
    spacing: 18,
    resolve: { scale: { color: 'independent', x: 'shared' } },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// MMD per layer

export interface MmdChartRow {
  model: string;
  layer: number;
  pair: string;
  mmd2: number;
}

/** MMD^2 per layer (from `mmdByLayer`): colour = model, one panel per pair (source-target, teacher-student). */
export function mmdByLayerChart(
  input: TableInput<MmdChartRow>,
  opts: { title?: string; subtitle?: string; width?: number } = {},
): VlSpec {
  const rows = rowsOf(input, 'mmdByLayerChart');
  if (rows.length === 0) throw new Error('mmdByLayerChart: no rows');
  requireFields(rows, { model: 'string', layer: 'number', pair: 'string', mmd2: 'number' }, 'mmdByLayerChart');
  const pairs = [...new Set(rows.map((r) => r.pair))];
  return {
    ...base(
      opts.title ?? 'MMD² between [CLS] vectors, per layer',
      opts.subtitle ?? 'lower = closer; multi-kernel Gaussian MMD² (the loss’s estimator), seeded samples',
    ),
    data: { values: rows.map((r) => ({ model: r.model, layer: r.layer, pair: r.pair, mmd2: r.mmd2 })) },
    facet: {
      column: { field: 'pair', type: 'nominal', title: null, sort: pairs, header: { labelFontWeight: 'bold' } },
    },
    spec: {
      width: opts.width ?? 260,
      height: 200,
      mark: { type: 'line', point: { size: 36 }, strokeWidth: 2 },
      encoding: {
        x: layerAxis(
          rows.map((r) => r.layer),
          'transformer layer of the [CLS] vector',
        ),
        y: { field: 'mmd2', type: 'quantitative', title: 'MMD² (unitless)', scale: { zero: true } },
        color: {
          field: 'model',
          type: 'nominal',
          title: 'model',
          scale: colorScale(rows.map((r) => r.model)),
          legend: { orient: 'bottom', columns: 3 },
        },
        tooltip: [
          { field: 'model' },
          { field: 'pair' },
          { field: 'layer', type: 'quantitative' },
          { field: 'mmd2', type: 'quantitative', format: '.4g', title: 'MMD²' },
        ],
      },
    },
    resolve: { scale: { y: 'independent' } },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Figure 2: 2-D projection

export interface ProjectionPoint {
  model: string;
  language: string;
  x: number;
  y: number;
  /** Optional sentence id (tooltip). */
  id?: string;
}

/** The paper's Figure 2: one panel per model (teacher, student), colour and shape = language. */
export function projectionChart(
  input: TableInput<ProjectionPoint>,
  opts: { title?: string; subtitle?: string; size?: number } = {},
): VlSpec {
  const rows = rowsOf(input, 'projectionChart');
  if (rows.length === 0) throw new Error('projectionChart: no points');
  requireFields(rows, { model: 'string', language: 'string', x: 'number', y: 'number' }, 'projectionChart');
  const models = [...new Set(rows.map((r) => r.model))];
  const noAxis = { title: null, labels: false, ticks: false, grid: false, domain: false };
  return {
    ...base(
      opts.title ?? '[CLS] vectors of source and target sentences',
      opts.subtitle ?? '2-D projection; each point is one sentence',
    ),
    data: {
      values: rows.map((r) => ({
        model: r.model,
        language: r.language,
        x: round(r.x, 4),
        y: round(r.y, 4),
        id: r.id ?? '',
      })),
    },
    facet: {
      column: { field: 'model', type: 'nominal', title: null, sort: models, header: { labelFontWeight: 'bold' } },
    },
    spec: {
      width: opts.size ?? 260,
      height: opts.size ?? 260,
      mark: { type: 'point', filled: true, size: 30, opacity: 0.75 },
      encoding: {
        x: { field: 'x', type: 'quantitative', axis: noAxis, scale: { zero: false, nice: false, padding: 8 } },
        y: { field: 'y', type: 'quantitative', axis: noAxis, scale: { zero: false, nice: false, padding: 8 } },
        color: { field: 'language', type: 'nominal', title: 'language', legend: { orient: 'bottom' } },
        shape: { field: 'language', type: 'nominal', title: 'language' },
        tooltip: [{ field: 'language' }, { field: 'id', title: 'sentence' }],
      },
    },
    resolve: { scale: { x: 'independent', y: 'independent' } },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Ablations: published vs measured

export const AVERAGE = 'avg';

/**
 * Adds the average over languages per (variant, source), only where every language of that group has a score (an
 * average over a different set of languages would not be comparable) and only for two or more languages. F1 stays
 * in percent.
 */
export function withAverage(rows: readonly AblationRow[], languages?: readonly string[]): AblationRow[] {
  const langs = languages ?? [...new Set(rows.filter((r) => r.language !== AVERAGE).map((r) => r.language))];
  const out = rows.filter((r) => r.language !== AVERAGE);
  const groups = new Map<string, AblationRow[]>();
  for (const r of out) {
    const k = `${r.variant}\u0000${r.source}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(r);
  }
  if (langs.length < 2) return out; // an average over one language is that language
  for (const g of groups.values()) {
    const vals = langs.map((l) => g.find((r) => r.language === l)?.f1);
    if (vals.every((v): v is number => typeof v === 'number')) {
      out.push({
        variant: g[0]!.variant,
        source: g[0]!.source,
        language: AVERAGE,
        f1: round(vals.reduce((a, b) => a + b, 0) / vals.length, 2),
        corpus: g[0]!.corpus,
      });
    }
  }
  return out;
}

/** The rows of the ablation chart that have a score, after checking every row (fields, source, F1 in percent). */
function knownAblationRows(raw: AblationRow[]): AblationRow[] {
  if (raw.length === 0) throw new Error('ablationChart: no rows');
  requireFields(raw, { variant: 'string', language: 'string', f1: 'number|null', source: 'string' }, 'ablationChart');
  for (const r of raw) {
    if (r.source !== 'published' && r.source !== 'measured')
      throw new Error(`ablationChart: source '${r.source}' is not 'published' or 'measured'`);
    if (r.f1 !== null && (r.f1 < 0 || r.f1 > 100))
      throw new Error(`ablationChart: F1 ${r.f1} for ${r.variant}/${r.language} is not a percentage in [0, 100]`);
  }
  const known = raw.filter((r) => r.f1 !== null);
  if (known.length === 0)
    throw new Error(
      `ablationChart: all ${raw.length} scores are null; nothing to draw (published numbers not filled in and no measured rows?)`,
    );
  return known;
}

/**
 * Full MSD and each ablation per language with the average: x = variant, bars side by side for the paper's
 * published number and this run's measured one. `rows` hold F1 in percent (`publishedRows()` plus measured rows);
 * null scores are not drawn, and the subtitle says when no published number is available.
 */
export function ablationChart(
  input: TableInput<AblationRow>,
  opts: { title?: string; subtitle?: string; variants?: readonly string[]; width?: number } = {},
): VlSpec {
  const raw = rowsOf(input, 'ablationChart');
  const known = knownAblationRows(raw);
  const rows = withAverage(known);
  const languages = [...new Set(known.map((r) => r.language))];
  const variants = opts.variants ?? [...new Set(raw.map((r) => r.variant))];
  const hasPublished = known.some((r) => r.source === 'published');
  // Only the sources that have a bar get a legend entry and a slot beside each variant.
  const sources = (['published', 'measured'] as const).filter((s) => known.some((r) => r.source === s));
  const label = (v: string) => VARIANT_LABELS[v] ?? v;
  const data = rows.map((r) => ({ variant: label(r.variant), language: r.language, f1: r.f1, source: r.source }));
  return {
    ...base(
      opts.title ?? 'MSD and its ablations: published vs measured',
      opts.subtitle ??
        (hasPublished
          ? `entity F1 (%), test split${languages.length > 1 ? '; avg over the languages shown' : ''}`
          : ['entity F1 (%), test split', 'no published numbers for these languages and variants']),
    ),
    data: { values: data },
    facet: {
      column: {
        field: 'language',
        type: 'nominal',
        title: null,
        sort: [...languages, AVERAGE],
        header: { labelFontWeight: 'bold' },
      },
    },
    spec: {
      // wide enough for the value labels over the bars; a single bar is not a 90-pixel sliver
      width: opts.width ?? Math.max(140, 40 * sources.length * new Set(known.map((r) => r.variant)).size),
      height: 200,
      encoding: {
        x: {
          field: 'variant',
          type: 'nominal',
          title: null,
          sort: variants.map(label),
          axis: { labelAngle: new Set(known.map((r) => r.variant)).size > 2 ? -35 : 0, labelLimit: 220 },
        },
        xOffset: { field: 'source', type: 'nominal', sort: sources, scale: { domain: sources } },
      },
      layer: [
        {
          mark: { type: 'bar' },
          encoding: {
            y: f1Axis('f1', undefined, Math.max(...data.map((d) => d.f1 as number))),
            color: {
              field: 'source',
              type: 'nominal',
              title: null,
              sort: sources,
              scale: { domain: sources, range: sources.map((s) => SOURCE_COLORS[s]) },
              legend: { orient: 'bottom' },
            },
            tooltip: [
              { field: 'variant' },
              { field: 'language' },
              { field: 'source' },
              { field: 'f1', type: 'quantitative', title: 'F1 (%)', format: '.2f' },
            ],
          },
        },
        {
          // the value over each bar: a score of 0 has no bar to see
          mark: { type: 'text', baseline: 'bottom', dy: -2, fontSize: 10, color: '#333' },
          encoding: {
            y: { field: 'f1', type: 'quantitative' },
            text: { field: 'f1', type: 'quantitative', format: '.1f' },
          },
        },
      ],
    },
  };
}
