/**
 * `msd export <modelDir> --format hf|web --out <dir>`: a trained model (a run's `best/` directory) for use outside
 * this library.
 *
 *   msd export runs/demo/students/nl/best --format hf --out exports/nl-hf      transformers' BertForTokenClassification
 *   msd export ... --format hf --layer 1 --out ...                             head 1 as the classifier
 *   msd export runs/demo/students/nl/best --format web --out exports/nl-web    a static tagger page (any static host)
 */
import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { checkModelDir } from './predict.js';

interface ExportOptions {
  format: string;
  out: string;
  layer?: string;
}

export function registerExportCommand(program: Command): void {
  program
    .command('export')
    .description(
      'write a trained model for transformers (--format hf) or as a tagger page for the browser (--format web)',
    )
    .argument('<modelDir>', 'a saved model, e.g. runs/demo/students/nl/best')
    .requiredOption('--format <hf|web>', 'hf: a transformers BertForTokenClassification directory; web: a static page')
    .requiredOption('--out <dir>', 'the directory to write')
    .option('--layer <m>', 'hf: the head exported as the classifier (default: the main head)')
    .action(async (modelDir: string, o: ExportOptions) => {
      if (o.format !== 'hf' && o.format !== 'web')
        throw new UserError(
          `export: --format is '${o.format}'; expected hf or web`,
          'msd export <modelDir> --format hf --out <dir>',
        );
      checkModelDir(modelDir);
      // The modules that load tfjs, after the checks (as every msd command: --help and usage errors stay fast).
      const { initBackend } = await import('../backend/init.js');
      const { exportHf } = await import('../model/export-hf.js');
      const { exportWeb } = await import('../web/export-web.js');
      await initBackend();
      if (o.format === 'hf') {
        let layer: number | undefined;
        if (o.layer !== undefined) {
          layer = Number(o.layer);
          if (!Number.isInteger(layer) || layer < 1)
            throw new UserError(`export: --layer is '${o.layer}'; expected a layer number >= 1`);
        }
        const r = exportHf(modelDir, o.out, { layer });
        console.log(
          `export: ${modelDir} -> ${r.outDir} (transformers BertForTokenClassification, head of layer ${r.layer} as the classifier, labels ${r.labels.join(' ')}; every head also in msd_heads.safetensors)`,
        );
        console.log(
          `  python: AutoModelForTokenClassification.from_pretrained('${r.outDir}'); pipeline('token-classification', model='${r.outDir}', aggregation_strategy='first')  # 'first' = a word's tag is its first sub-token's, as msd predict decodes`,
        );
      } else {
        if (o.layer !== undefined)
          throw new UserError('export: --layer applies to --format hf only (the page tags with the main head)');
        const r = exportWeb(modelDir, o.out);
        console.log(`export: ${modelDir} -> ${r.outDir} (static tagger page, ${(r.bytes / 1e6).toFixed(1)} MB)`);
        console.log(
          `  open it from any static host, e.g.: python3 -m http.server -d ${r.outDir} 8000  ->  http://127.0.0.1:8000/`,
        );
      }
    });
}
