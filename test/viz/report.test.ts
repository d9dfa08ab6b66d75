/**
 * The run report: built from a small fake run directory (config, per-layer results, teacher and student metrics
 * logs, diagnostics), written by the `msd report` command, self-contained (no network), and checked in a real
 * headless Chromium: no console errors, every chart drew marks, and a screenshot that is not blank.
 *
 * Chromium: MSD_CHROMIUM, else chromium / chromium-browser / google-chrome on PATH; on CI (CI=true) a missing one is
 * installed with test/viz/install-chromium.sh (apt, as root). Without one the browser test is skipped, saying why.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveConfig } from '../../src/config.js';
import type { ResultRow } from '../../src/eval/table.js';
import { runCharts, writeReport } from '../../src/viz/index.js';
import { f1Rows, metricRecords, mmdRows, projectionPoints } from './fixtures.js';
import { decodePng, inkStats } from './png.js';
import { findChromium, launchChromiumContext } from '../browser.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');

const made: string[] = [];
after(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

function fakeRun(): string {
  const dir = mkdtempSync(join(tmpdir(), 'msd-report-run-'));
  made.push(dir);
  const cfg = resolveConfig('tiny', {
    data: { corpus: 'conll2002', source: 'es', targets: ['nl'] },
    run: { outDir: dir },
  });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg, null, 2));
  const rows: ResultRow[] = f1Rows().map((r) => ({
    model: r.model,
    language: r.language,
    split: 'test',
    layer: r.layer,
    precision: r.f1,
    recall: r.f1,
    f1: r.f1,
    support: 100,
  }));
  mkdirSync(join(dir, 'results'), { recursive: true });
  writeFileSync(
    join(dir, 'results', 'summary.json'),
    JSON.stringify({ preset: 'tiny', selectOn: 'source-dev', zeroShot: true, main: {}, rows }),
  );
  const log = (p: string, recs: object[]) => {
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, recs.map((r) => JSON.stringify(r)).join('\n') + '\n');
  };
  log(join(dir, 'teacher', 'metrics.jsonl'), metricRecords(false));
  log(join(dir, 'students', 'nl', 'metrics.jsonl'), metricRecords(true));
  mkdirSync(join(dir, 'diagnostics'));
  writeFileSync(join(dir, 'diagnostics', 'mmd.json'), JSON.stringify(mmdRows()));
  writeFileSync(join(dir, 'diagnostics', 'projection.json'), JSON.stringify(projectionPoints()));
  return dir;
}

test('runCharts: every chart the run files allow', () => {
  const dir = fakeRun();
  const names = runCharts(dir).map((c) => c.name);
  assert.deepEqual(names, [
    'per-layer-f1',
    'ablation',
    'training-teacher',
    'training-student-nl',
    'mmd-by-layer',
    'projection',
  ]);
  // One run is one variant: its ablation chart holds that variant only, published beside measured.
  const ablation = runCharts(dir).find((c) => c.name === 'ablation')!.spec as {
    data: { values: Record<string, unknown>[] };
  };
  assert.deepEqual([...new Set(ablation.data.values.map((v) => v.variant))], ['MSD']);
  rmSync(join(dir, 'diagnostics'), { recursive: true });
  rmSync(join(dir, 'results'), { recursive: true });
  assert.deepEqual(
    runCharts(dir).map((c) => c.name),
    ['training-teacher', 'training-student-nl'],
  );
  assert.throws(() => runCharts(join(dir, 'nope')), /does not exist/);
  mkdirSync(join(dir, 'diagnostics'));
  writeFileSync(
    join(dir, 'diagnostics', 'mmd.json'),
    JSON.stringify([{ model: 'teacher', layer: 1, pair: 'source-target', mmd2: 'x' }]),
  );
  assert.throws(() => runCharts(dir), /diagnostics\/mmd\.json: mmdByLayerChart: row 0 has mmd2 = "x"/);
  rmSync(join(dir, 'diagnostics'), { recursive: true });
  writeFileSync(join(dir, 'teacher', 'metrics.jsonl'), '{"kind":"step","step":1}\nnot json\n');
  assert.throws(() => runCharts(dir), /metrics.jsonl:2: not a JSON line/);
});

test('report.html is self-contained: libraries inlined, nothing loaded from the network', () => {
  const dir = fakeRun();
  const { path, charts } = writeReport(dir);
  assert.equal(path, join(dir, 'report.html'));
  const html = readFileSync(path, 'utf8');
  assert.equal(charts.length, 6);
  // (assert.ok on .test: the page is megabytes; a failing assert.match would print all of it)
  const has = (re: RegExp, what: string) => assert.ok(re.test(html), what);
  assert.ok(!/<script[^>]+src=/i.test(html), 'no external scripts');
  assert.ok(!/<link[^>]+href=/i.test(html), 'no external stylesheets');
  has(/\/\* vega 5\.\d+\.\d+ \*\//, 'vega 5 inlined');
  has(/\/\* vega-lite 5\.\d+\.\d+ \*\//, 'vega-lite 5 inlined');
  has(/\/\* vega-embed 6\.\d+\.\d+ \*\//, 'vega-embed 6 inlined');
  has(/@font-face\{font-family:'Liberation Sans'/, 'font inlined');
  has(
    /<td style="text-align:left">student:nl<\/td><td>–<\/td><td class="num"><strong>64.00<\/strong><\/td>/,
    'main-head table in percent, best in bold',
  );
  has(/<td style="text-align:left">teacher<\/td><td class="num">74.00<\/td><td class="num">58.00<\/td>/, 'teacher row');
  assert.equal((html.match(/<div id="chart-\d+" class="chart"/g) ?? []).length, 6);
  // Each chart draws its own title: no heading above it repeats it.
  const headings = [...html.matchAll(/<h[1-6]>([^<]*)<\/h[1-6]>/g)].map((m) => m[1]);
  for (const c of charts) {
    const t = c.spec.title as string | { text: string };
    const drawn = typeof t === 'string' ? t : t.text;
    assert.ok(!headings.includes(drawn), `heading '${drawn}' repeated above its chart`);
  }
  has(/Every layer \(\d+ rows; precision, recall, F1 in %\)/, 'per-layer table in percent');
});

test("report.html names the export commands of the run's selected models", () => {
  const dir = fakeRun();
  assert.ok(!readFileSync(writeReport(dir).path, 'utf8').includes('msd.js export'), 'no model, no commands');
  for (const d of [join(dir, 'teacher', 'best'), join(dir, 'students', 'nl', 'best')]) {
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'config.json'), '{}');
  }
  const html = readFileSync(writeReport(dir).path, 'utf8');
  for (const [name, model] of [
    ['teacher', join(dir, 'teacher', 'best')],
    ['nl', join(dir, 'students', 'nl', 'best')],
  ])
    for (const f of ['hf', 'web'])
      assert.ok(
        html.includes(`node lib/cli/msd.js export ${model} --format ${f} --out exports/${name}-${f}`),
        `${name} ${f}`,
      );
});

test('msd report <runDir> writes the page (CLI)', () => {
  const dir = fakeRun();
  const out = execFileSync(
    process.execPath,
    ['--import', 'tsx', join(repo, 'src', 'cli', 'msd.ts'), 'report', dir, '--figures', '--scale', '1'],
    { cwd: repo, encoding: 'utf8' },
  );
  assert.match(out, /report: 6 chart\(s\) -> .*report\.html/);
  assert.ok(existsSync(join(dir, 'report.html')));
  for (const name of ['per-layer-f1', 'projection']) {
    const img = decodePng(readFileSync(join(dir, 'figures', `${name}.png`)));
    assert.ok(inkStats(img).ink > 0.01, `${name}.png not blank`);
    assert.match(readFileSync(join(dir, 'figures', `${name}.svg`), 'utf8'), /^<svg/);
  }
  const bad = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(repo, 'src', 'cli', 'msd.ts'), 'report', join(dir, 'missing')],
    { cwd: repo, encoding: 'utf8' },
  );
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /run directory .*missing does not exist/);
});

const chromium = findChromium();

test(
  'report.html in headless Chromium: no console errors, every chart drew marks, screenshot not blank',
  { skip: chromium.reason, timeout: 120_000 },
  async () => {
    const dir = fakeRun();
    const { path } = writeReport(dir);
    const profile = mkdtempSync(join(tmpdir(), 'msd-chromium-profile-'));
    const context = await launchChromiumContext(profile, { width: 1280, height: 900 });
    try {
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      const requests: string[] = [];
      page.on('request', (r) => {
        if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) requests.push(r.url());
      });
      await page.goto(`file://${path}`);
      await page.waitForFunction(
        () => {
          const s = (globalThis as unknown as { __msdReport?: { total: number; done: number; errors: string[] } })
            .__msdReport;
          return !!s && s.done + s.errors.length === s.total;
        },
        undefined,
        { timeout: 60_000 },
      );
      const state = await page.evaluate(
        () => (globalThis as unknown as { __msdReport: { total: number; done: number; errors: string[] } }).__msdReport,
      );
      assert.deepEqual(state.errors, []);
      assert.equal(state.done, 6);
      const marks = await page.$$eval('div.chart', (els) =>
        els.map((el) => ({
          name: el.getAttribute('data-name'),
          svg: el.querySelectorAll('svg').length,
          marks: el.querySelectorAll(
            'svg g.mark-line path, svg g.mark-symbol path, svg g.mark-rect path, svg g.mark-rule line',
          ).length,
        })),
      );
      for (const m of marks) {
        assert.equal(m.svg, 1, `${m.name}: one SVG`);
        assert.ok(m.marks >= 4, `${m.name}: ${m.marks} marks drawn`);
      }
      assert.deepEqual(problems, [], 'no console errors or warnings');
      assert.deepEqual(requests, [], 'no network requests');
      const shot = decodePng(await page.screenshot({ fullPage: true }));
      assert.equal(shot.width, 1280);
      assert.ok(shot.height > 2000, `full page is ${shot.height}px tall`);
      const { ink, colours } = inkStats(shot);
      assert.ok(ink > 0.02 && colours > 20, `screenshot: ${(100 * ink).toFixed(1)}% ink, ${colours} colours`);
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  },
);
