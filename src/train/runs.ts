/**
 * The run directory: one per experiment, the same layout for the CLI and notebooks.
 *
 *   <run>/config.json                      resolved MsdConfig
 *   <run>/teacher/metrics.jsonl            one line per logged step / evaluation
 *   <run>/teacher/checkpoints/last.safetensors   resumable (weights + optimizer + trainer state)
 *   <run>/teacher/best/                    the selected model (source dev), a loadable model directory
 *   <run>/teacher/results/<lang>-<split>.json    per-layer P/R/F1
 *   <run>/students/<lang>/...              the same for each student
 *   <run>/cache/<key>/...                  teacher outputs the students read (probabilities, [CLS] vectors)
 *   <run>/results/summary.json             every language, split and layer in one table
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { writeFileAtomic } from '../model/atomic.js';
import { dirname, join } from 'node:path';
import { configToJson, resolveConfig, type MsdConfig } from '../config.js';

export function readJson<T>(path: string): T {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (err) {
    throw new Error(`${path}: could not read JSON: ${(err as Error).message}`);
  }
}

/** Paths of one trained model (teacher or a student) inside a run. */
export interface ModelPaths {
  dir: string;
  metrics: string;
  last: string;
  /** Directory of the selected model (saveNerModel / loadNerModel). */
  best: string;
  results: string;
}

/** Everything a run writes into its directory (what `RunDir.clean` deletes). */
export const RUN_ENTRIES = [
  'config.json',
  'teacher',
  'students',
  'results',
  'cache',
  'pretrained',
  'pretrained-pruned',
] as const;

export class RunDir {
  /** The run directory of a config (`run.outDir`; the teacher from `run.teacherDir` when it names a shared one). */
  static of(cfg: MsdConfig): RunDir {
    return new RunDir(cfg.run.outDir, cfg.run.teacherDir || undefined);
  }

  /** `teacherRoot`: another run whose trained teacher this run reuses (`run.teacherDir`); its results stay here. */
  constructor(
    readonly root: string,
    readonly teacherRoot?: string,
  ) {}

  get configPath(): string {
    return join(this.root, 'config.json');
  }

  teacher(): ModelPaths {
    if (!this.teacherRoot) return this.paths(join(this.root, 'teacher'));
    return { ...this.paths(join(this.teacherRoot, 'teacher')), results: join(this.root, 'teacher', 'results') };
  }

  student(lang: string): ModelPaths {
    return this.paths(join(this.root, 'students', lang));
  }

  cacheDir(key: string): string {
    return join(this.root, 'cache', key);
  }

  get summaryPath(): string {
    return join(this.root, 'results', 'summary.json');
  }

  private paths(dir: string): ModelPaths {
    return {
      dir,
      metrics: join(dir, 'metrics.jsonl'),
      last: join(dir, 'checkpoints', 'last.safetensors'),
      best: join(dir, 'best'),
      results: join(dir, 'results'),
    };
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
   * Deletes what a run writes here (RUN_ENTRIES) and nothing else, so `--force` on a directory that also holds
   * other files (or on `.`) removes only the run.
   */
  clean(): void {
    for (const entry of RUN_ENTRIES) rmSync(join(this.root, entry), { recursive: true, force: true });
  }
}

/** The run directory of a config (RunDir.of). */
export function runDir(cfg: MsdConfig): RunDir {
  return RunDir.of(cfg);
}

/** Appends one JSON line (metrics log). Lines are small, so an append is effectively atomic. */
export function appendJsonl(path: string, record: Record<string, unknown>): void {
  mkdirSync(dirname(path), { recursive: true });
  appendFileSync(path, `${JSON.stringify(record)}\n`);
}

/** Reads a JSONL log, naming the file and line of a corrupt entry. */
export function readJsonl<T = Record<string, unknown>>(path: string): T[] {
  if (!existsSync(path)) return [];
  const out: T[] = [];
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '') return;
      try {
        out.push(JSON.parse(line) as T);
      } catch {
        throw new Error(`${path}:${i + 1}: not a JSON line: ${line.slice(0, 80)}`);
      }
    });
  return out;
}
