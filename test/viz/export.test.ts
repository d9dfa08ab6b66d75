/**
 * exportFigure / renderPng / show: files by extension, PNG scale, the bundled font draws text on a machine without
 * system fonts (resvg is told not to load any), unsupported formats and broken specs fail with a clear message,
 * and show() sends one bundle with the spec as an object plus a PNG.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  compileSpec,
  exportFigure,
  perLayerF1Chart,
  renderPng,
  show,
  showTable,
  svgToPng,
  VEGALITE_MIME,
  type MimeBundle,
} from '../../src/viz/index.js';
import { fontFiles } from '../../src/viz/render.js';
import { figureBundle } from '../../src/viz/show.js';
import { f1Rows } from './fixtures.js';
import { decodePng, inkStats } from './png.js';

const tiny = {
  $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
  data: {
    values: [
      { a: 1, b: 2 },
      { a: 2, b: 5 },
      { a: 3, b: 3 },
    ],
  },
  mark: 'bar',
  encoding: { x: { field: 'a', type: 'ordinal' }, y: { field: 'b', type: 'quantitative' } },
  width: 120,
  height: 80,
};

test('exportFigure writes SVG, PNG (scale) and the spec by extension', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'msd-viz-export-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const svgPath = await exportFigure(tiny, join(dir, 'sub', 'f.svg'));
  const svg = readFileSync(svgPath, 'utf8');
  assert.match(svg, /^<svg/);
  const w = Number(/width="(\d+)"/.exec(svg)![1]);
  const h = Number(/height="(\d+)"/.exec(svg)![1]);
  for (const scale of [1, 3]) {
    const p = await exportFigure(tiny, join(dir, `f${scale}.png`), { scale });
    const img = decodePng(readFileSync(p));
    assert.deepEqual([img.width, img.height], [w * scale, h * scale]);
    assert.ok(inkStats(img).ink > 0.05);
  }
  const def = decodePng(await renderPng(tiny));
  assert.deepEqual([def.width, def.height], [2 * w, 2 * h], 'default scale is 2');
  const before = JSON.stringify(tiny);
  await renderPng(tiny);
  assert.equal(JSON.stringify(tiny), before, 'rendering leaves the spec as it was');
  const json = await exportFigure(tiny, join(dir, 'f.vl.json'));
  assert.deepEqual(JSON.parse(readFileSync(json, 'utf8')), tiny);
  await assert.rejects(exportFigure(tiny, join(dir, 'f.pdf')), /PDF is not supported/);
  await assert.rejects(exportFigure(tiny, join(dir, 'f.gif')), /unknown format 'gif'/);
});

test('text is drawn with the bundled font (no system fonts loaded)', () => {
  assert.equal(fontFiles().length, 2);
  const text = (s: string) =>
    `<svg xmlns="http://www.w3.org/2000/svg" width="200" height="40"><text x="5" y="28" font-family="Liberation Sans, sans-serif" font-size="24">${s}</text></svg>`;
  const withText = inkStats(decodePng(svgToPng(text('Layer 12 F1'), { scale: 1 }).png)).ink;
  const empty = inkStats(decodePng(svgToPng(text(''), { scale: 1 }).png)).ink;
  assert.equal(empty, 0);
  assert.ok(withText > 0.03, `text covers ${(100 * withText).toFixed(1)}% of the picture`);
});

test('compileSpec and exportFigure reject broken specs with the reason', async () => {
  assert.throws(() => compileSpec([] as never), /expected a Vega-Lite spec object, got an array/);
  const bad = { ...tiny, mark: 'nonsense', title: 'broken' };
  assert.throws(() => compileSpec(bad), /vega-lite could not compile the spec 'broken': \S/);
  await assert.rejects(exportFigure(bad, join(tmpdir(), 'never.png')), /could not compile the spec 'broken'/);
});

test('show sends one bundle: the Vega-Lite spec as an object, a PNG and a text line', async () => {
  const spec = perLayerF1Chart(f1Rows());
  const sent: MimeBundle[] = [];
  assert.equal(await show(spec, { sink: (b) => sent.push(b) }), undefined, 'no cell value for tslab to print');
  assert.equal(sent.length, 1);
  const bundle = sent[0]!;
  assert.equal(typeof bundle[VEGALITE_MIME], 'object', 'spec as a JSON object, not a string');
  assert.deepEqual(bundle[VEGALITE_MIME], spec);
  const img = decodePng(Buffer.from(bundle['image/png'] as string, 'base64'));
  assert.ok(img.width > 400 && inkStats(img).ink > 0.01);
  assert.match(bundle['text/plain'] as string, /Entity F1/);
  // outside a tslab kernel nothing is displayed (and nothing fails)
  await show(spec);
  const quiet = await figureBundle(spec, { png: false, svg: true });
  assert.match(quiet['image/svg+xml'] as string, /^<svg/);
  assert.equal(quiet['image/png'], undefined);
  const tables: MimeBundle[] = [];
  showTable([{ model: 'a<b', f1: 0.5 }], { sink: (b) => tables.push(b) });
  assert.match(tables[0]!['text/html'] as string, /a&lt;b/);
  assert.equal(tables[0]!['text/plain'], 'model,f1\na<b,0.5\n');
});
