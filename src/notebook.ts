/**
 * What a notebook's first code cells used to spell out by hand: from its choices (preset, languages, seed, ...) to a
 * resolved config and a run directory, or to a finished run (or sweep) opened instead of trained. A notebook's first
 * code cell holds only its choices; the next calls `notebookRun(choices)` (or `notebookSweep` in 04_ablations).
 *
 * Paths (the run directory, `runDir`, a local `data.root`) are relative to the project root, as for the `msd` CLI:
 * `root` when given, else the nearest directory above the kernel's working directory that holds a package.json
 * (Jupyter starts a kernel in its notebook's folder: notebooks/, or a copy's runs/notebooks/, both find the
 * checkout). The kernel's working directory is then set to that root, so relative paths read the same in later cells.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { resolveConfig, type DeepPartial, type MsdConfig } from './config.js';
import { readJson } from './run/io.js';
import { runDir, type RunDir } from './run/dir.js';
import { VARIANT_NAMES } from './run/variants.js';
import { backendFor } from './train/backend.js';
import { ensureRunData } from './train/data.js';
import { formatPlan, planSweep, readPlan, writePlan, type SweepPlan } from './sweep/plan.js';

/** What the training notebooks let a reader choose (the first code cell). Plain values, checked by resolveConfig. */
export interface NotebookChoices {
  /** `''`: train here (reusing finished parts). A finished run (or, in 04, a sweep) directory: open it, train nothing. */
  runDir?: string;
  /** `'tiny'` (default) or `'paper'`. */
  preset?: string;
  corpus?: string;
  source?: string;
  targets?: string[];
  /** `''` = automatic, or one of BACKEND_NAMES. */
  backend?: string;
  seed?: number;
  /** Any other config keys, as overrides. */
  set?: DeepPartial<MsdConfig>;
}

export interface NotebookOptions {
  /** The directory relative paths are relative to (default: the project root, see the file comment). */
  root?: string;
  /** The small setting CI runs (fewer sentences, one epoch, QUICK_RUN_DIR); default `MSD_NOTEBOOK_QUICK=1`. */
  quick?: boolean;
  /** Where the lines saying what the notebook does go (default console.log). */
  log?: (line: string) => void;
  /** Make sure the corpora are there (local folder, cache or one Hub download); default true. */
  ensureData?: boolean;
}

export interface NotebookRun {
  cfg: MsdConfig;
  run: RunDir;
  /** True when this notebook trains (runDir was ''), false when it opened a finished run. */
  training: boolean;
  quick: boolean;
  /** The absolute project root paths are relative to (and the kernel's working directory). */
  root: string;
}

/** Where the notebooks train with `quick` (run-notebooks.ts empties it first); relative to the root. */
export const QUICK_RUN_DIR = 'runs/notebooks-quick';

/** The quick setting's overrides (the training notebooks; 04's grid takes QUICK_SWEEP_SET). */
const QUICK_SET: DeepPartial<MsdConfig> = {
  data: { limit: { train: 200, dev: 100, test: 200 } },
  teacher: { epochs: 1 },
  student: { epochs: 1 },
};
/** 04's quick grid: 5 students and a teacher on even less data. */
const QUICK_SWEEP_SET: DeepPartial<MsdConfig> = {
  data: { limit: { train: 64, dev: 32, test: 64 } },
  teacher: { epochs: 1 },
  student: { epochs: 1 },
};

/** The nearest directory at or above `from` holding a package.json (the project a notebook belongs to). */
export function projectRoot(from: string): string {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir)
      throw new Error(
        `notebookRun: no package.json at or above ${resolve(from)}; pass { root } (the directory runs/ is under)`,
      );
  }
}

interface Setting {
  root: string;
  quick: boolean;
  log: (line: string) => void;
  opening: string;
}

function setting(choices: NotebookChoices, opts: NotebookOptions): Setting {
  const root = resolve(opts.root ?? projectRoot(process.cwd()));
  process.chdir(root);
  return {
    root,
    quick: opts.quick ?? process.env.MSD_NOTEBOOK_QUICK === '1',
    log: opts.log ?? ((line) => console.log(line)),
    opening: choices.runDir ?? '',
  };
}

/** The config the choices describe (before the run directory is chosen). */
function choicesConfig(choices: NotebookChoices, quickSet: DeepPartial<MsdConfig> | undefined): MsdConfig {
  const data: DeepPartial<MsdConfig['data']> = {};
  if (choices.corpus !== undefined) data.corpus = choices.corpus;
  if (choices.source !== undefined) data.source = choices.source;
  if (choices.targets !== undefined) data.targets = choices.targets;
  const run: DeepPartial<MsdConfig['run']> = {};
  if (choices.backend !== undefined) run.backend = choices.backend as MsdConfig['run']['backend'];
  if (choices.seed !== undefined) run.seed = choices.seed;
  return resolveConfig(choices.preset ?? 'tiny', { data, run }, choices.set ?? {}, quickSet ?? {});
}

/**
 * Builds the config and run directory of a training notebook from its choices, says what the notebook will do
 * (train into `runs/notebooks-<preset>/`, or open the finished run `choices.runDir`) and on which backend, and makes
 * sure the corpora are there.
 */
export async function notebookRun(choices: NotebookChoices, opts: NotebookOptions = {}): Promise<NotebookRun> {
  const s = setting(choices, opts);
  let cfg: MsdConfig;
  if (s.opening) {
    const opened = runDir(s.opening);
    if (!existsSync(opened.configPath))
      throw new Error(`runDir '${s.opening}': ${resolve(opened.configPath)} not found (not a finished run directory)`);
    cfg = resolveConfig(readJson<MsdConfig>(opened.configPath), { run: { outDir: s.opening } });
  } else {
    const chosen = choicesConfig(choices, s.quick ? QUICK_SET : undefined);
    const outDir = s.quick ? QUICK_RUN_DIR : `runs/notebooks-${chosen.preset}`;
    cfg = resolveConfig(chosen, { run: { outDir } });
  }
  s.log(
    s.opening
      ? `Opens the finished run ${s.opening} (preset '${cfg.preset}'); nothing is trained.`
      : `Trains into ${cfg.run.outDir} (preset '${cfg.preset}'${s.quick ? ', quick' : ''}); finished parts are reused.`,
  );
  s.log(`${cfg.data.corpus}: ${cfg.data.source} -> ${cfg.data.targets.join(', ')}, seed ${cfg.run.seed}`);
  s.log((await backendFor(cfg)).summary);
  if (opts.ensureData ?? true) await ensureRunData(cfg);
  return { cfg, run: runDir(cfg), training: !s.opening, quick: s.quick, root: s.root };
}

/** 04_ablations' choices: those of notebookRun plus the seeds of the grid. */
export interface SweepChoices extends NotebookChoices {
  /** The grid's seeds (mean, std and the t-test need two or more; quick runs the first only). */
  seeds: number[];
}

export interface NotebookSweep {
  /** The config every cell starts from (the first cell's, when a sweep was opened). */
  base: MsdConfig;
  /** The plan, when this notebook trains the grid; absent when it opened a finished sweep. */
  plan?: SweepPlan;
  /** The sweep directory (`<runs/notebooks-<preset>>/ablations`, or the opened `runDir`). */
  dir: string;
  training: boolean;
  quick: boolean;
  root: string;
  seeds: number[];
}

/**
 * 04_ablations: plans (and writes) the grid of every variant x seed into `runs/notebooks-<preset>/ablations` (what
 * `msd sweep run` and `msd collect` read), or opens the sweep directory `choices.runDir`; says which, and on which
 * backend.
 */
export async function notebookSweep(choices: SweepChoices, opts: NotebookOptions = {}): Promise<NotebookSweep> {
  const s = setting(choices, opts);
  const seeds = s.quick ? choices.seeds.slice(0, 1) : choices.seeds;
  let base: MsdConfig;
  let plan: SweepPlan | undefined;
  let dir: string;
  if (s.opening) {
    dir = s.opening;
    const opened = readPlan(dir);
    base = resolveConfig(readJson<MsdConfig>(opened.cells[0]!.config));
    s.log(`Opens the sweep ${dir}: ${opened.cells.length} cells; nothing is trained.`);
  } else {
    base = choicesConfig(choices, s.quick ? QUICK_SWEEP_SET : undefined);
    dir = `${s.quick ? QUICK_RUN_DIR : `runs/notebooks-${base.preset}`}/ablations`;
    const { preset, ...set } = base;
    plan = planSweep({ name: 'ablations', preset, set, axes: { variant: VARIANT_NAMES, 'run.seed': seeds } }, dir);
    writePlan(plan); // plan.json and one config per cell: `msd sweep run` and `msd collect` read the same directory
    s.log(`Trains the grid into ${dir}${s.quick ? ' (quick)' : ''}; finished cells are reused.`);
    s.log(formatPlan(plan));
  }
  s.log((await backendFor(base)).summary);
  return { base, plan, dir, training: !s.opening, quick: s.quick, root: s.root, seeds };
}
