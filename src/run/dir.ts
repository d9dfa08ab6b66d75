/**
 * The run directory: one per experiment, the same layout for the CLI, notebooks, sweeps, diagnostics and the report.
 * Every path inside a run comes from here (test/run/paths.test.ts greps the tree for hand-built ones).
 *
 *   <run>/config.json                            resolved MsdConfig
 *   <run>/teacher/metrics.jsonl                  one line per logged step / evaluation
 *   <run>/teacher/checkpoints/last.safetensors   resumable (weights + optimizer + trainer state)
 *   <run>/teacher/best/                          the selected model (source dev), a loadable model directory
 *   <run>/teacher/train-report.json              written when training finished
 *   <run>/teacher/results/<lang>-<split>.json    per-layer P/R/F1
 *   <run>/students/<lang>/...                    the same for each student
 *   <run>/cache/<key>/...                        teacher outputs the students read (probabilities, [CLS] vectors)
 *   <run>/pretrained/, pretrained-pruned/        the tiny preset's random "pretrained" encoder; the pruned vocabulary
 *   <run>/results/summary.json                   every language, split and layer in one table
 *   <run>/results/demo-summary.json              `msd demo`'s summary
 *   <run>/diagnostics/mmd.json, projection.json  runDiagnostics (MMD per layer, Figure-2 points)
 *   <run>/figures/<name>.<ext>                   exported charts and tables (`msd report --figures`, notebook 05)
 *   <run>/report.html                            `msd report`
 *
 * A sweep cell that reuses a shared teacher (`run.teacherDir`) reads the teacher (and its pretrained encoder)
 * from that other run; its own results stay here. `runDir(cfg)` and `runDir(path)` (which reads the path's
 * config.json for `run.teacherDir`) are the one way to get a RunDir.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { configToJson, resolveConfig, type MsdConfig } from '../config.js';
import { readJson, writeFileAtomic } from './io.js';

/** Paths of one trained model (teacher or a student) inside a run. */
export interface ModelPaths {
  dir: string;
  metrics: string;
  /** The resumable checkpoint. */
  last: string;
  /** Directory of the selected model (saveNerModel / loadNerModel). */
  best: string;
  /** Written when training finished (the model is done). */
  trainReport: string;
  /** Directory of the per-split result files (`resultFile`). */
  results: string;
  /** The per-layer results of this model on one language's split. */
  resultFile(lang: string, split: string): string;
}

/** The top-level entries of a run directory, by role: what a run writes here, and all that `clean` deletes. */
const ENTRY = {
  config: 'config.json',
  teacher: 'teacher',
  students: 'students',
  results: 'results',
  cache: 'cache',
  pretrained: 'pretrained',
  prunedPretrained: 'pretrained-pruned',
  diagnostics: 'diagnostics',
  figures: 'figures',
  report: 'report.html',
} as const;

/** Everything a run writes into its directory (what `RunDir.clean` deletes). */
export const RUN_ENTRIES: readonly string[] = Object.values(ENTRY);

/** Only its type is exported: `runDir(cfg)` or `runDir(path)` is the one way to get one. */
class RunDir {
  /** `teacherRoot`: another run whose trained teacher this run reuses (`run.teacherDir`); its results stay here. */
  constructor(
    readonly root: string,
    readonly teacherRoot?: string,
  ) {}

  get configPath(): string {
    return join(this.root, ENTRY.config);
  }

  /** The teacher: this run's own, or the shared teacher's (`run.teacherDir`) with the results kept here. */
  teacher(): ModelPaths {
    if (!this.teacherRoot) return modelPaths(join(this.root, ENTRY.teacher));
    const shared = modelPaths(join(this.teacherRoot, ENTRY.teacher));
    const own = modelPaths(join(this.root, ENTRY.teacher));
    return { ...shared, results: own.results, resultFile: own.resultFile };
  }

  student(lang: string): ModelPaths {
    return modelPaths(join(this.root, ENTRY.students, lang));
  }

  /** The languages that have a student directory here, sorted. */
  studentLanguages(): string[] {
    const dir = join(this.root, ENTRY.students);
    return existsSync(dir) ? readdirSync(dir).sort() : [];
  }

  /** The models this run trains itself, named as in progress events: its teacher unless shared, each student on disk. */
  ownModels(): { task: string; paths: ModelPaths }[] {
    const teacher = this.teacherRoot ? [] : [{ task: 'teacher', paths: this.teacher() }];
    return [...teacher, ...this.studentLanguages().map((l) => ({ task: `student:${l}`, paths: this.student(l) }))];
  }

  /** Teacher outputs cached under one key (the teacher's weights and the settings they depend on). */
  cacheDir(key: string): string {
    return join(this.root, ENTRY.cache, key);
  }

  /** The cached teacher probabilities on a target language's training text. */
  cachedTargetProbs(key: string, lang: string): string {
    return join(this.cacheDir(key), `target-${lang}-train.safetensors`);
  }

  /** The cached teacher [CLS] vectors of the source training text at one layer. */
  cachedSourceCls(key: string, source: string, clsLayer: number): string {
    return join(this.cacheDir(key), `source-${source}-train-cls${clsLayer}.safetensors`);
  }

  /** The tiny preset's random "pretrained" encoder (in the shared teacher's run when there is one). */
  get pretrained(): string {
    return join(this.teacherRoot ?? this.root, ENTRY.pretrained);
  }

  /** The pretrained encoder with the run's vocabulary only (model.pruneVocab; the shared teacher's when there is one). */
  get prunedPretrained(): string {
    return join(this.teacherRoot ?? this.root, ENTRY.prunedPretrained);
  }

  get summaryPath(): string {
    return join(this.root, ENTRY.results, 'summary.json');
  }

  get demoSummaryPath(): string {
    return join(this.root, ENTRY.results, 'demo-summary.json');
  }

  get diagnosticsDir(): string {
    return join(this.root, ENTRY.diagnostics);
  }

  /** MmdRow[] written by runDiagnostics. */
  get mmdPath(): string {
    return join(this.diagnosticsDir, 'mmd.json');
  }

  /** ProjectionRow[] (Figure 2) written by runDiagnostics. */
  get projectionPath(): string {
    return join(this.diagnosticsDir, 'projection.json');
  }

  get figuresDir(): string {
    return join(this.root, ENTRY.figures);
  }

  /** An exported figure or table: `figures/<name>.<ext>` (ext without the dot: svg, png, csv, tex). */
  figure(name: string, ext: string): string {
    return join(this.figuresDir, `${name}.${ext}`);
  }

  get reportPath(): string {
    return join(this.root, ENTRY.report);
  }

  /**
   * Starts a run here or continues the one that is here. A directory that already holds a run (its `config.json`) is
   * continued only with `resume` (and only under the same config: a resumed run must not silently continue under
   * other settings), or deleted first with `force`; anything else is refused, so that the teacher, students and
   * results of two configs never end up side by side.
   */
  init(config: MsdConfig, { resume = false, force = false } = {}): void {
    if (resume && force)
      throw new Error(
        `${this.root}: resume and force both given; resume continues the run, force deletes it: choose one`,
      );
    if (force) this.clean();
    mkdirSync(this.root, { recursive: true });
    if (existsSync(this.configPath)) {
      const saved = resolveConfig(readJson<MsdConfig>(this.configPath));
      const same = configToJson(saved) === configToJson(config);
      if (!resume) {
        throw new Error(
          `${this.root} already holds a run${same ? '' : ' of another config'}; continue it with --resume (resume: true), ` +
            `delete it and start clean with --force (force: true), or use a new --out directory`,
        );
      }
      if (!same) {
        throw new Error(
          `${this.configPath}: the run was started with another config; resume with the saved one (msd ... --config ${this.configPath}), ` +
            `start clean with --force, or use a new --out directory`,
        );
      }
    }
    writeFileAtomic(this.configPath, configToJson(config));
  }

  /**
   * Deletes what a run writes here (RUN_ENTRIES: models, results, cache, diagnostics, figures, report) and nothing
   * else, so `--force` on a directory that also holds other files (or on `.`) removes only the run. A shared
   * teacher's run is never touched.
   */
  clean(): void {
    for (const entry of RUN_ENTRIES) rmSync(join(this.root, entry), { recursive: true, force: true });
  }
}

function modelPaths(dir: string): ModelPaths {
  const results = join(dir, 'results');
  return {
    dir,
    metrics: join(dir, 'metrics.jsonl'),
    last: join(dir, 'checkpoints', 'last.safetensors'),
    best: join(dir, 'best'),
    trainReport: join(dir, 'train-report.json'),
    results,
    resultFile: (lang, split) => join(results, `${lang}-${split}.json`),
  };
}

/**
 * The run directory of a config (`run.outDir`, the teacher from `run.teacherDir` when it names a shared one), or of
 * a directory on disk (its `config.json`, when there is one, says whether the teacher is shared).
 */
export function runDir(where: MsdConfig | string): RunDir {
  if (typeof where !== 'string') return new RunDir(where.run.outDir, where.run.teacherDir || undefined);
  const cfgPath = join(where, ENTRY.config);
  const saved = existsSync(cfgPath) ? readJson<{ run?: { teacherDir?: unknown } }>(cfgPath) : {};
  const teacherDir = saved.run?.teacherDir;
  return new RunDir(where, typeof teacherDir === 'string' && teacherDir !== '' ? teacherDir : undefined);
}

export type { RunDir };
