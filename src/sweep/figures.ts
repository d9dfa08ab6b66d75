/**
 * The figures of a collected sweep, drawn by src/viz: the ablation chart (main-head F1 of each variant per
 * language, measured here) and per-layer F1 with error bars (mean ± std over seeds). Written by `msd collect` as
 * SVG and as the Vega-Lite JSON a notebook can display.
 */
import { join } from 'node:path';
import { ablationChart, perLayerF1ErrorBarChart } from '../viz/charts.js';
import type { AblationRow } from '../viz/published.js';
import { exportFigure, type VlSpec } from '../viz/render.js';
import type { CollectResult, StatRow } from './collect.js';

/** A row's series name: the variant (viz labels the names of variants.ts), prefixed by its setting if any. */
function figureVariant(r: StatRow): string {
  return r.setting ? `${r.setting} ${r.variant}` : r.variant;
}

export function sweepFigures(r: CollectResult): { ablation?: VlSpec; perLayer?: VlSpec } {
  const out: { ablation?: VlSpec; perLayer?: VlSpec } = {};
  const main = r.main.filter((s) => Number.isFinite(s.mean));
  if (main.length) {
    const rows: AblationRow[] = main.map((s) => ({
      variant: figureVariant(s),
      language: s.language,
      f1: Number((100 * s.mean).toFixed(2)),
      source: 'measured',
    }));
    out.ablation = ablationChart(rows, {
      title: 'Sweep: MSD and its ablations',
      subtitle: `main-head entity F1 (%), test split, mean over ${[...new Set(main.map((s) => s.n))].join('/')} seeds`,
    });
  }
  const layers = r.layers.filter((s) => Number.isFinite(s.mean));
  if (layers.length) {
    out.perLayer = perLayerF1ErrorBarChart(
      layers.map((s) => ({
        model: figureVariant(s),
        language: s.language,
        layer: s.layer,
        mean: s.mean,
        std: Number.isFinite(s.std) ? s.std : 0,
        n: s.n,
      })),
      { title: 'Sweep: entity F1 per layer (mean ± std over seeds)' },
    );
  }
  return out;
}

/** Writes collect/ablation.{svg,vl.json} and collect/per-layer.{svg,vl.json}; returns the paths. */
export async function writeSweepFigures(root: string, r: CollectResult): Promise<string[]> {
  const figs = sweepFigures(r);
  const paths: string[] = [];
  for (const [name, spec] of [
    ['ablation', figs.ablation],
    ['per-layer', figs.perLayer],
  ] as const) {
    if (!spec) continue;
    for (const ext of ['vl.json', 'svg']) {
      const p = join(root, 'collect', `${name}.${ext}`);
      await exportFigure(spec, p, ext === 'vl.json' ? { format: 'json' } : {});
      paths.push(p);
    }
  }
  return paths;
}
