/**
 * `msd report <runDir>`: writes `<runDir>/report.html`, one self-contained page with the run's config, results
 * table and every chart (src/viz/report.ts).
 *
 *   msd report runs/demo                      the page from the files the run wrote
 *   msd report runs/demo --diagnostics        first compute MMD per layer and the Figure-2 projection (loads models)
 *   msd report runs/demo --figures            also each chart as SVG and PNG in <runDir>/figures/
 */
import type { Command } from 'commander';
import { runDir } from '../run/dir.js';

interface ReportOptions {
  diagnostics?: boolean;
  figures?: boolean;
  sample: string;
  method: string;
  scale: string;
  out?: string;
}

function positiveInt(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 2) throw new Error(`--${name} is '${v}'; expected an integer >= 2`);
  return n;
}

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description('write <runDir>/report.html: config, results table and every chart of a run (offline, self-contained)')
    .argument('<runDir>', 'a run directory (msd run / msd demo output)')
    .option('--diagnostics', 'compute MMD per layer and the Figure-2 projection first (loads the selected models)')
    .option('--sample <n>', 'sentences per set for the MMD diagnostics', '200')
    .option('--method <name>', 'projection for Figure 2: t-sne, umap or pca', 't-sne')
    .option('--figures', 'also write every chart as SVG and PNG into <runDir>/figures/')
    .option('--scale <x>', 'PNG scale for --figures', '2')
    .option('--out <file>', 'where to write the page (default <runDir>/report.html)')
    .action(async (dir: string, o: ReportOptions) => {
      const { writeReport } = await import('../viz/report.js'); // the modules that load tfjs, after the options
      const run = runDir(dir);
      if (o.diagnostics) {
        const { runDiagnostics } = await import('../diagnostics/run.js');
        if (!['t-sne', 'umap', 'pca'].includes(o.method))
          throw new Error(`--method is '${o.method}'; expected t-sne, umap or pca`);
        const d = await runDiagnostics(run.root, {
          sample: positiveInt('sample', o.sample),
          method: o.method as 't-sne' | 'umap' | 'pca',
          onProgress: (m) => console.log(`diagnostics: ${m}`),
        });
        console.log(
          `diagnostics: ${d.mmd.length} MMD rows, ${d.projection.length} projected points -> ${d.paths.join(', ')}`,
        );
      }
      const { path, charts } = writeReport(run.root, { out: o.out });
      console.log(`report: ${charts.length} chart(s) -> ${path}`);
      if (o.figures) {
        const { exportFigure } = await import('../viz/render.js');
        const scale = Number(o.scale);
        for (const c of charts) {
          await exportFigure(c.spec, run.figure(c.name, 'svg'));
          await exportFigure(c.spec, run.figure(c.name, 'png'), { scale });
        }
        console.log(`figures: ${charts.length} x (svg, png) -> ${run.figuresDir}`);
      }
    });
}
