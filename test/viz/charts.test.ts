/**
 * Every chart builder from a small table: the spec compiles with vega-lite without warnings, renders to SVG with
 * marks, and to a PNG of the expected size (SVG size x scale) that is not blank. Also: DataFrame input gives the
 * same spec as rows, and bad rows are rejected naming the row and field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ablationChart,
  compileSpec,
  mmdByLayerChart,
  perLayerF1Chart,
  perLayerF1ErrorBarChart,
  projectionChart,
  renderSvg,
  svgToPng,
  trainingCurvesChart,
  type VlSpec,
} from '../../src/viz/index.js';
import { logTicks } from '../../src/viz/charts.js';
import { publishedRows } from '../../src/run/published.js';
import { VARIANT_LABELS } from '../../src/run/variants.js';
import { resultsFrame, type ResultRow } from '../../src/eval/table.js';
import { ablationRows, f1Rows, f1StatRows, metricRecords, mmdRows, projectionPoints } from './fixtures.js';
import { decodePng, inkStats } from './png.js';

async function checkRenders(name: string, spec: VlSpec, minMarks: number): Promise<void> {
  const { warnings } = compileSpec(spec);
  assert.deepEqual(warnings, [], `${name}: vega-lite warnings`);
  const svg = await renderSvg(spec);
  const m = /<svg[^>]*width="(\d+(?:\.\d+)?)"[^>]*height="(\d+(?:\.\d+)?)"/.exec(svg);
  assert.ok(m, `${name}: SVG has a size`);
  const marks = (svg.match(/<path|<line|<rect|<circle/g) ?? []).length;
  assert.ok(marks >= minMarks, `${name}: ${marks} shapes in the SVG, expected at least ${minMarks}`);
  const { png, width, height } = svgToPng(svg, { scale: 2 });
  const img = decodePng(png);
  assert.equal(img.width, width);
  assert.equal(img.width, Math.round(2 * Number(m[1])), `${name}: PNG width = 2 x SVG width`);
  assert.equal(img.height, Math.round(2 * Number(m[2])), `${name}: PNG height = 2 x SVG height`);
  const { ink, colours } = inkStats(img);
  assert.ok(ink > 0.01, `${name}: only ${(100 * ink).toFixed(2)}% of the pixels are not white`);
  assert.ok(colours >= 4, `${name}: only ${colours} colours`);
  const texts = (svg.match(/<text/g) ?? []).length;
  assert.ok(texts >= 5, `${name}: ${texts} text elements (titles, axes)`);
}

test('perLayerF1Chart: panels per language, reference line, PNG renders', async () => {
  const spec = perLayerF1Chart(f1Rows(), { reference: 0.8 });
  const values = (spec.data as { values: Record<string, unknown>[] }).values;
  assert.equal(values.filter((v) => v.kind === 'reference').length, 2, 'one reference row per language');
  assert.equal(
    values.find((v) => v.kind === 'score' && v.layer === 10 && v.language === 'es')!.f1,
    78,
    'F1 drawn in percent',
  );
  await checkRenders('perLayerF1Chart', spec, 20);
});

test('perLayerF1Chart: a danfojs DataFrame gives the same spec as its rows', () => {
  const rows = f1Rows().map((r) => ({
    ...r,
    precision: r.f1,
    recall: r.f1,
    support: 10,
    split: 'test',
  })) as ResultRow[];
  assert.deepEqual(perLayerF1Chart(resultsFrame(rows)), perLayerF1Chart(rows));
});

test('perLayerF1Chart: bad rows are rejected naming the row and field', () => {
  const rows = f1Rows();
  (rows[3] as unknown as Record<string, unknown>).f1 = 'high';
  assert.throws(() => perLayerF1Chart(rows), /row 3 has f1 = "high"; expected a finite number/);
  assert.throws(() => perLayerF1Chart([]), /no rows/);
  assert.throws(() => perLayerF1Chart(42 as never), /expected an array of rows or a danfojs DataFrame/);
});

test('perLayerF1ErrorBarChart renders error bars', async () => {
  const spec = perLayerF1ErrorBarChart(f1StatRows());
  await checkRenders('perLayerF1ErrorBarChart', spec, 40);
});

test('trainingCurvesChart: teacher and student logs, every term in its panel, terms of another scale apart', async () => {
  for (const student of [false, true]) {
    const spec = trainingCurvesChart(metricRecords(student), { title: student ? 'student' : 'teacher' });
    const panels = spec.vconcat as { data: { values: Record<string, unknown>[] }; title: { text: string } }[];
    assert.deepEqual(
      panels.map((p) => p.title.text.replace(/;.*/, '')),
      [
        'loss and its terms',
        ...(student ? ['MMD terms (their own scale)'] : []),
        `per-layer ${student ? 'KD' : 'CE'} of the auxiliary heads`,
        'learning rate',
        'dev F1 at each evaluation',
      ],
    );
    const terms = new Set(panels[0]!.data.values.map((v) => v.term));
    const expected = student
      ? ['total loss', 'main KD (layer 12)', 'auxiliary (weighted sum)']
      : ['total loss', 'main CE (layer 12)', 'auxiliary (weighted sum)'];
    assert.deepEqual([...terms].sort(), expected.sort());
    if (student) assert.deepEqual(new Set(panels[1]!.data.values.map((v) => v.term)), new Set(['MMD_M', 'MMD_L']));
    assert.deepEqual(
      [...new Set(panels[student ? 2 : 1]!.data.values.map((v) => v.layer))].sort((a, b) => Number(a) - Number(b)),
      [4, 5, 6, 7, 8, 9, 10, 11],
    );
    await checkRenders('trainingCurvesChart', spec, 10);
  }
  assert.throws(() => trainingCurvesChart([{ kind: 'other', step: 1 }]), /no 'step' or 'eval' records/);
});

test('trainingCurvesChart: smoothed curve over the faint raw one, every axis labelled with its unit, sane log labels', () => {
  const spec = trainingCurvesChart(metricRecords(true), { smoothing: 0.5 });
  const panels = spec.vconcat as Record<string, any>[];
  const loss = panels[0]!;
  assert.equal(loss.layer.length, 2, 'raw + smoothed');
  assert.equal(loss.layer[0].mark.opacity, 0.25, 'the raw curve is faint');
  assert.equal(loss.layer[0].encoding.y.field, 'value');
  assert.equal(loss.layer[1].encoding.y.field, 'smoothed');
  assert.match(loss.title.text, /smoothed \(EMA 0\.5\)/);
  // TensorBoard's debiased EMA: the first point is the raw value, then w*s + (1-w)*x, debiased.
  const total = loss.data.values.filter((v: any) => v.term === 'total loss');
  assert.equal(total[0].smoothed, total[0].value);
  const s2 = (0.5 * 0.5 * total[0].value + 0.5 * total[1].value) / (1 - 0.25);
  assert.ok(Math.abs(total[1].smoothed - s2) < 1e-5);
  for (const p of panels) {
    const enc = p.encoding ?? p.layer.at(-1).encoding;
    if (p === panels.at(-1)) assert.match(enc.x.title, /step \(optimizer updates\)/);
    else assert.equal(enc.x.title, null, 'one x title, under the last panel');
    assert.match(enc.y.title, /\((nats|unitless|%|per update)/, `y axis of '${p.title.text}' names its unit`);
    assert.equal(enc.x.scale.padding, 10, 'edge points drawn whole');
    if (enc.y.scale?.type === 'log') {
      assert.equal(enc.y.axis.format, '.2~g', 'log axis labels: two significant digits');
      assert.ok(enc.y.axis.values.length <= 12, 'ticks and grid lines from logTicks, not every minor tick');
    }
  }
  assert.equal(panels.at(-1)!.encoding.y.scale.zero, true, 'dev F1 from 0');
  // smoothing 0: only the raw curve
  const raw = trainingCurvesChart(metricRecords(false), { smoothing: 0 }).vconcat as Record<string, any>[];
  assert.equal(raw[0]!.layer.length, 1);
  assert.throws(() => trainingCurvesChart(metricRecords(false), { smoothing: 1 }), /weight in \[0, 1\)/);
});

test('one colour per model in every chart (the teacher is blue whoever is beside it); F1 axes start at 0', () => {
  const teacherOnly = perLayerF1Chart(f1Rows().filter((r) => r.model === 'teacher')) as Record<string, any>;
  const both = perLayerF1Chart(f1Rows()) as Record<string, any>;
  const scaleOf = (spec: Record<string, any>) => spec.spec.layer[0].encoding.color.scale;
  const colourOf = (scale: { domain: string[]; range: string[] }, m: string) => scale.range[scale.domain.indexOf(m)];
  assert.equal(colourOf(scaleOf(teacherOnly), 'teacher'), colourOf(scaleOf(both), 'teacher'));
  assert.notEqual(colourOf(scaleOf(both), 'student:nl'), colourOf(scaleOf(both), 'teacher'));
  const mmd = mmdByLayerChart(mmdRows()) as Record<string, any>;
  assert.equal(colourOf(mmd.spec.encoding.color.scale, 'teacher'), colourOf(scaleOf(both), 'teacher'));
  assert.equal(colourOf(mmd.spec.encoding.color.scale, 'student:nl'), colourOf(scaleOf(both), 'student:nl'));
  assert.equal(both.spec.layer[0].encoding.y.scale.zero, true);
  const bars = perLayerF1ErrorBarChart(f1StatRows()) as Record<string, any>;
  assert.equal(bars.spec.layer[0].encoding.y.scale.zero, true);
  assert.match(mmd.spec.encoding.x.title, /^transformer layer of the \[CLS\] vector/);
});

test("perLayerF1ErrorBarChart: variants under the paper's labels and their own colours", () => {
  const rows = f1StatRows()
    .filter((r) => r.model === 'teacher')
    .flatMap((r) => ['full', 'noAux', 'noAll'].map((v) => ({ ...r, model: v })));
  const spec = perLayerF1ErrorBarChart(rows) as Record<string, any>;
  const color = spec.spec.layer[1].encoding.color;
  assert.equal(color.title, 'variant');
  assert.deepEqual(
    color.scale.domain,
    ['full', 'noAux', 'noAll'].map((v) => VARIANT_LABELS[v]),
  );
  assert.ok(
    !spec.data.values.some((v: any) => ['full', 'noAux', 'noAll'].includes(v.model)),
    'no internal names shown',
  );
});

test('mmdByLayerChart renders one panel per pair', async () => {
  const spec = mmdByLayerChart(mmdRows());
  await checkRenders('mmdByLayerChart', spec, 30);
});

test('projectionChart renders teacher and student side by side', async () => {
  const spec = projectionChart(projectionPoints());
  await checkRenders('projectionChart', spec, 100);
});

test('ablationChart: published vs measured, average only over complete rows, nulls not drawn', async () => {
  const rows = ablationRows();
  const spec = ablationChart(rows);
  const values = (spec.data as { values: Record<string, unknown>[] }).values;
  const avg = values.find((v) => v.language === 'avg' && v.variant === 'MSD' && v.source === 'published');
  assert.ok(avg, 'average bar');
  assert.equal(avg!.f1, 78, 'mean of 72, 80, 82');
  await checkRenders('ablationChart', spec, 30);

  // with unknown (null) published cells: measured bars only, no 'published' legend entry, and the subtitle says why
  const unknown = publishedRows('conll', { includeNull: true }).map((r) => ({ ...r, f1: null }));
  assert.equal(unknown.length, 15, 'five variants on three languages');
  const measured = rows.filter((r) => r.source === 'measured' && r.variant === 'full');
  const spec2 = ablationChart([...unknown, ...measured]) as Record<string, any>;
  const values2 = (spec2.data as { values: Record<string, unknown>[] }).values;
  assert.ok(values2.every((v) => v.source === 'measured' && typeof v.f1 === 'number'));
  assert.match(JSON.stringify(spec2.title), /no published numbers for these languages/);
  assert.deepEqual(spec2.spec.layer[0].encoding.color.scale.domain, ['measured'], 'no legend entry without bars');
  assert.deepEqual(spec2.spec.encoding.xOffset.scale.domain, ['measured'], 'no empty slot beside each bar');
  assert.equal(spec2.spec.layer[1].mark.type, 'text', 'each bar carries its value (a 0 has no bar to see)');
  await checkRenders('ablationChart (nulls)', spec2, 4);
  assert.throws(() => ablationChart(unknown), new RegExp(`all ${unknown.length} scores are null; nothing to draw`));
  assert.throws(
    () =>
      ablationChart([
        { variant: 'full', language: 'de', f1: 0.8, source: 'measured' },
        { variant: 'full', language: 'de', f1: 180, source: 'measured' },
      ]),
    /not a percentage/,
  );
});

test('logTicks: 1-2-5 per decade over a short range, decades over a long one', () => {
  assert.deepEqual(logTicks(0.02, 0.3), [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1]);
  assert.deepEqual(logTicks(0.0008, 9), [0.0001, 0.001, 0.01, 0.1, 1, 10]);
  assert.deepEqual(logTicks(0.0229597277939, 0.0229597277939), [0.01, 0.02, 0.05, 0.1]);
});
