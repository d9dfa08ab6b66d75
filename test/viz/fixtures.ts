/** Small tables every chart test builds from (shapes as the library produces them). */
import type { F1Row, F1StatRow, MetricRecord, MmdChartRow, ProjectionPoint } from '../../src/viz/index.js';
import type { AblationRow } from '../../src/run/published.js';
import { createRng } from '../../src/rng.js';

export function f1Rows(): F1Row[] {
  const rows: F1Row[] = [];
  for (const [model, lang, base] of [
    ['teacher', 'es', 0.78],
    ['teacher', 'nl', 0.62],
    ['student:nl', 'nl', 0.68],
  ] as const) {
    for (let layer = 4; layer <= 12; layer++)
      rows.push({ model, language: lang, split: 'test', layer, f1: base - 0.02 * Math.abs(10 - layer) });
  }
  return rows;
}

export function f1StatRows(): F1StatRow[] {
  return f1Rows().map((r) => ({
    model: r.model!,
    language: r.language,
    layer: r.layer,
    mean: r.f1,
    std: 0.01 + 0.002 * (r.layer % 3),
    n: 3,
  }));
}

export function metricRecords(student = false): MetricRecord[] {
  const out: MetricRecord[] = [];
  const total = 40;
  for (let step = 2; step <= total; step += 2) {
    const decay = Math.exp(-step / 15);
    const terms: Record<string, number> = student
      ? {
          kd_12: 0.02 * decay + 0.001,
          aux: 0.015 * decay + 0.001,
          mmd_M: 0.3 * decay + 0.01,
          mmd_L: 0.5 * decay + 0.02,
        }
      : { ce_12: 2 * decay + 0.1, aux: 1.5 * decay + 0.1 };
    for (let m = 4; m <= 11; m++)
      terms[`${student ? 'kd' : 'ce'}_${m}`] = (student ? 0.02 : 2) * decay * (1 + (12 - m) / 10) + 0.01;
    terms.total = Object.values(terms).reduce((a, b) => a + b, 0) / 3;
    out.push({
      kind: 'step',
      step,
      epoch: step > 20 ? 1 : 0,
      loss: terms.total,
      terms,
      lr: step < 4 ? (5e-5 * step) / 4 : 5e-5 * (1 - step / total),
      gradNorm: 1,
    });
    if (step % 10 === 0)
      out.push({
        kind: 'eval',
        step,
        score: 0.5 + step / 100,
        devF1: 0.5 + step / 100,
        best: 0.5 + step / 100,
        improved: true,
      });
  }
  return out;
}

export function mmdRows(): MmdChartRow[] {
  const rows: MmdChartRow[] = [];
  for (let layer = 1; layer <= 12; layer++) {
    rows.push({ model: 'teacher', layer, pair: 'source-target', mmd2: 0.05 + 0.01 * layer });
    rows.push({ model: 'student:nl', layer, pair: 'source-target', mmd2: 0.05 + 0.006 * layer });
    rows.push({ model: 'teacher vs student:nl', layer, pair: 'teacher-student (source)', mmd2: 0.002 * layer * layer });
  }
  return rows;
}

export function projectionPoints(): ProjectionPoint[] {
  const rng = createRng(5);
  const pts: ProjectionPoint[] = [];
  for (const model of ['teacher', 'student:nl']) {
    for (const [language, cx] of [
      ['es', -3],
      ['nl', 3],
    ] as const) {
      const shift = model === 'teacher' ? cx : cx / 3;
      for (let i = 0; i < 40; i++)
        pts.push({ model, language, x: shift + rng.next() * 2 - 1, y: rng.next() * 2 - 1, id: `${language}#${i}` });
    }
  }
  return pts;
}

export function ablationRows(): AblationRow[] {
  const rows: AblationRow[] = [];
  const base: Record<string, number> = { full: 80, noAux: 78.5, noMmdM: 79.2, noMmdL: 78.9 };
  for (const [v, f] of Object.entries(base)) {
    for (const [lang, d] of [
      ['de', -8],
      ['es', 0],
      ['nl', 2],
    ] as const) {
      rows.push({ variant: v, language: lang, f1: f + d, source: 'published' });
      rows.push({ variant: v, language: lang, f1: f + d - 1.5, source: 'measured' });
    }
  }
  return rows;
}
