/**
 * The whole method as one call (what `msd run` and the demo do): teacher, one student per target language, then
 * per-layer evaluation of every selected model on the test split of its languages, written to the run directory.
 *
 *   <run>/teacher/results/<lang>-<split>.json   <run>/students/<lang>/results/<lang>-<split>.json
 *   <run>/results/summary.json                  all rows (model, language, split, layer, P, R, F1, support)
 */
import { existsSync } from 'node:fs';
import { resolveConfig, teacherConfigView, type MsdConfig } from '../config.js';
import { evaluateRows } from '../eval/evaluate.js';
import type { ResultRow } from '../eval/table.js';
import { writeJsonAtomic } from '../run/io.js';
import { disposeNerModel, loadNerModel } from '../model/ner-model.js';
import type { ProgressCallback } from './progress.js';
import { backendFor } from './backend.js';
import { ensureRunData, evalSplit, loadSplit } from './data.js';
import { runDir } from '../run/dir.js';
import { readJson } from '../run/io.js';
import { distillStudent } from './student.js';
import type { TrainOptions } from './loop.js';
import { trainTeacher } from './teacher.js';
import { interruptible, throwIfInterrupted } from '../interrupt.js';
import { checkSharedTeacher } from './preflight.js';

export { checkSharedTeacher };

export interface EvalRunOptions {
  onProgress?: ProgressCallback;
  /** Which models to evaluate (default: the teacher and every target's student that exists). */
  models?: ('teacher' | string)[];
}

export interface RunSummary {
  rows: ResultRow[];
  /** Main-head F1 per model and language, for a quick look (read at each model's own main head layer). */
  main: Record<string, Record<string, number>>;
  /** The main head's layer of each model (its last head; evaluated even where `run.evalLayers` stops below it). */
  mainLayer: Record<string, number>;
  /** Whether every student was selected without target labels. */
  zeroShot: boolean;
}

/**
 * Per-layer evaluation of the selected teacher (on the source and every target) and of each student (on its
 * target), on each language's test split (dev where the corpus has no test split here). An interrupt stops it
 * before the next split (each finished split's results file is written).
 */
export function evaluateRun(cfg: MsdConfig, opts: EvalRunOptions = {}): Promise<RunSummary> {
  return interruptible('evaluation', () => evaluateModels(cfg, opts));
}

async function evaluateModels(cfg: MsdConfig, opts: EvalRunOptions): Promise<RunSummary> {
  await ensureRunData(cfg);
  await backendFor(cfg);
  const run = runDir(cfg);
  const [firstLayer, lastLayer] = cfg.run.evalLayers;
  const evalLayers = Array.from({ length: lastLayer - firstLayer + 1 }, (_, i) => firstLayer + i);
  const wanted = opts.models ?? ['teacher', ...cfg.data.targets.map((l) => `student:${l}`)];
  const rows: ResultRow[] = [];
  const main: Record<string, Record<string, number>> = {};
  const mainLayer: Record<string, number> = {};
  for (const name of wanted) {
    const isTeacher = name === 'teacher';
    const lang = isTeacher ? undefined : name.replace(/^student:/, '');
    const paths = isTeacher ? run.teacher() : run.student(lang!);
    const model = loadNerModel(paths.best, { name });
    mainLayer[name] = model.heads.mainLayer;
    const layers = evalLayers.includes(model.heads.mainLayer) ? evalLayers : [...evalLayers, model.heads.mainLayer];
    try {
      for (const l of isTeacher ? [cfg.data.source, ...cfg.data.targets] : [lang!]) {
        const split = evalSplit(cfg, l);
        await throwIfInterrupted(
          () =>
            `evaluation stopped before ${name} on ${l} ${split} (finished splits are in their results/ files); run it again to evaluate`,
        );
        const ds = loadSplit(cfg, l, split);
        opts.onProgress?.({
          task: `eval:${name}`,
          kind: 'info',
          step: 0,
          totalSteps: 0,
          message: `${l} ${split}: ${ds.sentences.length} sentences, layers ${layers.join(',')}`,
        });
        const r = evaluateRows(model, { sentences: ds.sentences, split, lang: l }, { layers, model: name });
        writeJsonAtomic(paths.resultFile(l, split), r);
        rows.push(...r);
        const m = r.find((x) => x.layer === model.heads.mainLayer);
        if (m) (main[name] ??= {})[l] = m.f1;
      }
    } finally {
      disposeNerModel(model);
    }
  }
  const summary: RunSummary = { rows, main, mainLayer, zeroShot: cfg.student.selectOn === 'source-dev' };
  writeJsonAtomic(run.summaryPath, {
    preset: cfg.preset,
    selectOn: cfg.student.selectOn,
    zeroShot: summary.zeroShot,
    main,
    mainLayer,
    rows,
  });
  return summary;
}

/**
 * Teacher + every student + evaluation. With `resume`, finished parts are skipped and a killed or interrupted part
 * continues from its checkpoint.
 */
export function runMsd(cfg: MsdConfig, opts: TrainOptions = {}): Promise<RunSummary> {
  return interruptible('the run', () => runStages(cfg, opts));
}

async function runStages(cfg: MsdConfig, opts: TrainOptions): Promise<RunSummary> {
  if (cfg.run.teacherDir) {
    checkSharedTeacher(cfg);
    runDir(cfg).init(cfg, { resume: opts.resume, force: opts.force }); // what trainTeacher does for a run of its own
  } else {
    await trainTeacher(cfg, opts);
  }
  for (const lang of cfg.data.targets) {
    await distillStudent(cfg, lang, { ...opts, resume: opts.resume });
  }
  return evaluateRun(cfg, { onProgress: opts.onProgress });
}
