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
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
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

export class RunDir {
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
   * Writes the resolved config, or, when the run exists, checks that the config is the same one (a resumed run
   * must not silently continue under other settings).
   */
  init(config: MsdConfig, { resume = false } = {}): void {
    mkdirSync(this.root, { recursive: true });
    if (existsSync(this.configPath)) {
      const saved = resolveConfig(readJson<MsdConfig>(this.configPath));
      if (configToJson(saved) !== configToJson(config)) {
        if (resume) {
          throw new Error(
            `${this.configPath}: the run was started with another config; resume with the saved one (msd ... --config ${this.configPath}) or use a new --out directory`,
          );
        }
      }
    }
    writeFileAtomic(this.configPath, configToJson(config));
  }
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
