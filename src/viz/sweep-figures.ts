/**
 * The figures of a collected sweep: the ablation chart (main-head F1 of each variant per language, measured) and
 * per-layer F1 with error bars (mean ± std over seeds). `msd collect` writes them as SVG and as the Vega-Lite JSON
 * a notebook can display. The input is `collectSweep`'s statistics rows (src/sweep/collect.ts), whose type lives in
 * src/run/seed-stats.ts so that viz and sweep do not depend on each other.
 */
import type { AblationRow } from '../run/published.js';
import type { SeedStatRow } from '../run/seed-stats.js';
import { ablationChart, perLayerF1ErrorBarChart } from './charts.js';
import type { VlSpec } from './render.js';

/** A row's series name: the variant (labelled as in src/run/variants.ts), prefixed by its setting if any. */
function figureVariant(r: SeedStatRow): string {
  return r.setting ? `${r.setting} ${r.variant}` : r.variant;
}

/** The ablation chart of the main-head rows and the per-layer chart of every layer's rows (each when there is data). */
export function sweepFigures(r: { main: readonly SeedStatRow[]; layers: readonly SeedStatRow[] }): {
  ablation?: VlSpec;
  perLayer?: VlSpec;
} {
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
