/**
 * Diagnostics of a finished run directory, written beside its results so the report can draw them:
 *
 *   <run>/diagnostics/mmd.json          MmdRow[]: per target language, source-target MMD^2 of the teacher and of
 *                                       that language's student at every layer, and teacher vs student on source
 *   <run>/diagnostics/projection.json   ProjectionPoint[]: Figure 2, t-SNE of `projectSample` source + target
 *                                       [CLS] vectors (the [CLS] layer the MMD terms use), teacher and student
 *
 * Sentences come from each language's evaluation split (test where the corpus has one), read with the run's own
 * config; the models are the selected ones (`teacher/best`, `students/<lang>/best`; the teacher is the shared
 * teacher's when the run reuses one, as a sweep cell does).
 */
import { existsSync } from 'node:fs';
import { resolveConfig, type MsdConfig } from '../config.js';
import { resolveLayer } from '../model/cls.js';
import { disposeNerModel, loadNerModel, type NerModel } from '../model/ner-model.js';
import { runDir } from '../run/dir.js';
import { readJson, writeJsonAtomic } from '../run/io.js';
import { clsByLayer, matrixRows } from './cls.js';
import { crossModelMmdRows, mmdByLayerRows, sampleSide, type MmdRow } from './mmd.js';
import { project2d, type ProjectionMethod } from './project.js';
import { interruptible, throwIfInterrupted } from '../interrupt.js';

export interface RunDiagnosticsOptions {
  /** Sentences per set for MMD (default 200). */
  sample?: number;
  /** Sentences per language for the projection (default 100, as the paper's Figure 2). */
  projectSample?: number;
  method?: ProjectionMethod;
  seed?: number;
  /** Target languages (default: every target with a trained student). */
  languages?: readonly string[];
  onProgress?: (message: string) => void;
}

export interface ProjectionRow {
  model: string;
  language: string;
  x: number;
  y: number;
  id: string;
}

type Diagnostics = { mmd: MmdRow[]; projection: ProjectionRow[]; paths: string[] };

/**
 * Computes and writes the run's diagnostics; returns what it wrote. An interrupt stops it between its parts (each
 * target language's MMD, the projection), before anything is written.
 */
export function runDiagnostics(dir: string, opts: RunDiagnosticsOptions = {}): Promise<Diagnostics> {
  return interruptible('diagnostics', () => computeDiagnostics(dir, opts));
}

async function computeDiagnostics(dir: string, opts: RunDiagnosticsOptions): Promise<Diagnostics> {
  const run = runDir(dir);
  if (!existsSync(run.configPath))
    throw new Error(
      `runDiagnostics: ${run.configPath} not found; expected a run directory written by msd run / runMsd`,
    );
  const cfg: MsdConfig = resolveConfig(readJson<MsdConfig>(run.configPath));
  // loaded here, not at module load: the figures half of the library does not pull in the training stack
  const { backendFor } = await import('../train/backend.js');
  const { ensureRunData, evalSplit, loadSplit } = await import('../train/data.js');
  await ensureRunData(cfg);
  await backendFor(cfg);
  const log = opts.onProgress ?? (() => {});
  const seed = opts.seed ?? 1;
  const teacherDir = run.teacher().best;
  if (!existsSync(teacherDir)) throw new Error(`runDiagnostics: ${teacherDir} not found; train the teacher first`);
  const langs = (opts.languages ?? cfg.data.targets).filter((l) => existsSync(run.student(l).best));
  const source = loadSplit(cfg, cfg.data.source, evalSplit(cfg, cfg.data.source)).sentences;
  const teacher = loadNerModel(teacherDir, { name: 'teacher' });
  const mmd: MmdRow[] = [];
  const projection: ProjectionRow[] = [];
  try {
    const clsLayer = resolveLayer(cfg.student.clsLayer, teacher.encoder.config.numLayers);
    const stop = (before: string) =>
      throwIfInterrupted(() => `diagnostics stopped before ${before}; nothing written; run them again`);
    for (const lang of langs) {
      await stop(`MMD of ${lang}`);
      const target = loadSplit(cfg, lang, evalSplit(cfg, lang)).sentences;
      let student: NerModel | undefined;
      try {
        student = loadNerModel(run.student(lang).best, { name: `student:${lang}` });
        log(`MMD per layer: teacher and student:${lang}, ${cfg.data.source} vs ${lang}`);
        const rows = mmdByLayerRows([teacher, student], source, target, { sample: opts.sample, seed });
        // the teacher's rows are per target language too: name them so two targets do not collide
        for (const r of rows)
          mmd.push(r.model === 'teacher' && langs.length > 1 ? { ...r, model: `teacher (${lang})` } : r);
        mmd.push(...crossModelMmdRows(teacher, student, source, { sample: opts.sample, seed }));
        if (lang === langs[0]) {
          await stop('the projection');
          log(`projection (${opts.method ?? 't-sne'}): ${cfg.data.source} + ${lang}, layer ${clsLayer}`);
          const n = opts.projectSample ?? 100;
          const src = sampleSide(source, n, seed, 'source');
          const tgt = sampleSide(target, n, seed, 'target');
          for (const model of [teacher, student]) {
            await stop(`the projection of ${model.name}`);
            const vectors = [
              ...matrixRows(clsByLayer(model, src, [clsLayer]).get(clsLayer)!),
              ...matrixRows(clsByLayer(model, tgt, [clsLayer]).get(clsLayer)!),
            ];
            const xy = project2d(vectors, { method: opts.method, seed });
            const sents = [...src, ...tgt];
            xy.forEach(([x, y], i) =>
              projection.push({ model: model.name, language: sents[i]!.lang, x, y, id: sents[i]!.id }),
            );
          }
        }
      } finally {
        if (student) disposeNerModel(student);
      }
    }
  } finally {
    disposeNerModel(teacher);
  }
  const paths = [run.mmdPath, run.projectionPath];
  writeJsonAtomic(paths[0]!, mmd);
  writeJsonAtomic(paths[1]!, projection);
  return { mmd, projection, paths };
}
