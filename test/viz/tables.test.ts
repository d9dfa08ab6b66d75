/**
 * Tables: CSV quoting, HTML escaping, LaTeX tabular with the best number per column in bold, the ablation table's
 * averages, DataFrame input (the published-numbers file: test/run/published.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ablationTable, toCsv, toHtml, toLatex } from '../../src/viz/index.js';
import { resultsFrame } from '../../src/eval/table.js';
import { ablationRows } from './fixtures.js';

test('toCsv quotes commas, quotes and newlines; null is an empty cell', () => {
  const csv = toCsv([
    { a: 'x,y', b: 'say "hi"', c: null },
    { a: 'line\nbreak', b: 2, c: 3.5 },
  ]);
  assert.equal(csv, 'a,b,c\n"x,y","say ""hi""",\n"line\nbreak",2,3.5\n');
});

test('toCsv and toHtml take a danfojs DataFrame', () => {
  const df = resultsFrame([
    { model: 'teacher', language: 'nl', split: 'test', layer: 12, precision: 0.5, recall: 0.25, f1: 1 / 3, support: 7 },
  ]);
  const csv = toCsv(df);
  assert.match(csv, /^model,language,split,layer,precision,recall,f1,support\nteacher,nl,test,12,0.5,0.25,0.333/);
  assert.match(toHtml(df), /<td class="num">0.33<\/td>/);
});

test('toLatex: booktabs tabular, numbers right-aligned, best per column bold, special characters escaped', () => {
  const tex = toLatex(
    [
      { method: 'MSD', de: 71.2, es: 78.0 },
      { method: 'w/o MMD_L & co', de: 72.25, es: 77.9 },
    ],
    { digits: 2 },
  );
  const lines = tex.trim().split('\n');
  assert.equal(lines[0], '\\begin{tabular}{lrr}');
  assert.equal(lines[1], '\\toprule');
  assert.equal(lines[2], 'method & de & es \\\\');
  assert.equal(lines[4], 'MSD & 71.20 & \\textbf{78.00} \\\\');
  assert.equal(lines[5], 'w/o MMD\\_L \\& co & \\textbf{72.25} & 77.90 \\\\');
  assert.equal(lines[lines.length - 1], '\\end{tabular}');
  const float = toLatex([{ a: 1 }], { caption: 'F1 (%)', label: 'tab:f1' });
  assert.match(float, /\\begin\{table\}\[t\][\s\S]*\\caption\{F1 \(\\%\)\}\n\\label\{tab:f1\}\n\\end\{table\}/);
  // ties are all bold; a lower-is-better column
  const ties = toLatex(
    [
      { m: 'a', mmd2: 1.5 },
      { m: 'b', mmd2: 1.5 },
      { m: 'c', mmd2: 0.5 },
    ],
    { best: 'min' },
  );
  assert.match(ties, /c & \\textbf\{0.50\}/);
  assert.doesNotMatch(ties, /a & \\textbf/);
});

test('ablationTable: one row per variant and source, average only where every language is known', () => {
  const rows = ablationRows().filter((r) => !(r.source === 'measured' && r.variant === 'noAux' && r.language === 'nl'));
  const table = ablationTable(rows);
  assert.equal(table.length, 8);
  const msdPub = table.find((r) => r.method === 'MSD' && r.source === 'published')!;
  assert.deepEqual(msdPub, { method: 'MSD', source: 'published', de: 72, es: 80, nl: 82, avg: 78 });
  const noAux = table.find((r) => r.source === 'measured' && r.method === 'MSD w/o. distillers')!;
  assert.equal(noAux.nl, null);
  assert.equal(noAux.avg, null, 'no average over an incomplete row');
  const tex = toLatex(table);
  assert.match(tex, /MSD & published & \\textbf\{72.00\} & \\textbf\{80.00\} & \\textbf\{82.00\} & \\textbf\{78.00\}/);
  assert.match(tex, /-- &/, 'unknown cells as --');
});

test('integer columns print as integers; bold marks the best only in score columns', () => {
  // A datasetStats-like table: counts of 100 or less were printed as 92.00 and 53.00 next to LOC 98.
  const stats = toHtml(
    [
      { split: 'es train', sentences: 8323, meanLength: 31.8, maxLength: 92, PER: 53, LOC: 98 },
      { split: 'es dev', sentences: 1915, meanLength: 28.2, maxLength: 88, PER: 40, LOC: 97 },
    ],
    { digits: 2 },
  );
  assert.match(stats, /<td class="num">92<\/td>/);
  assert.match(stats, /<td class="num">53<\/td><td class="num">98<\/td>/);
  assert.match(stats, /<td class="num">31\.80<\/td>/, 'non-integers keep their decimals');
  assert.doesNotMatch(stats, /<strong>/, 'no score column, nothing bold');
  // 04's seeds column (1.000 before) and a files table (report.html 1208.3 kB was bold).
  const seeds = toHtml(
    [
      { variant: 'full', seeds: 1, 'F1 mean (%)': 6.5, 'F1 std (%)': 0.2 },
      { variant: 'noAux', seeds: 1, 'F1 mean (%)': 5.25, 'F1 std (%)': 0.9 },
    ],
    { digits: 3 },
  );
  assert.match(seeds, /<td class="num">1<\/td>/);
  assert.match(seeds, /<strong>6\.500<\/strong>/, 'the best F1 is bold');
  assert.doesNotMatch(seeds, /<strong>0\.900<\/strong>/, 'not the largest std');
  const files = toHtml(
    [
      { file: 'figures/a.png', kB: 40.2 },
      { file: 'report.html', kB: 1208.3 },
    ],
    { digits: 1 },
  );
  assert.doesNotMatch(files, /<strong>/);
  // Score columns keep decimals even when every value is an integer, and their best is bold.
  const scores = toLatex([
    { model: 'a', f1: 0, support: 12 },
    { model: 'b', f1: 1, support: 7 },
  ]);
  assert.match(scores, /a & 0\.00 & 12 \\\\/);
  assert.match(scores, /b & \\textbf\{1\.00\} & 7 \\\\/);
});
