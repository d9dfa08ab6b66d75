/**
 * Pre-flight: what about a run can be checked before any work starts and before anything is written, so that a bad
 * name or a missing file fails in a second, not after the backend has started or a teacher has trained:
 *
 *   - corpus and language names, against the data registry's list (data/registry.ts, checkCorpus);
 *   - the data files the stage reads (each language's splits under the data root);
 *   - the model: `model.pretrained` must be a local directory, a cached Hub id, or a Hub id that may be downloaded;
 *     a local or cached checkpoint's layer count is checked against model.headLayers, student.clsLayer and the
 *     frozen layers (the tiny preset's count is checked by resolveConfig);
 *   - what the stage continues from: the trained teacher for `distill`, the teacher and students for `eval`,
 *     `run.teacherDir`'s finished teacher; the `distill` language must be one of data.targets.
 *
 * `msd ... --print-config` and every training command run it first (src/cli/common.ts, prepare); notebooks may too.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { checkLayerCount, type MsdConfig } from '../config.js';
import { checkCorpus, datasetPath, defaultDataRoot, type Split } from '../data/registry.js';
import { UserError } from '../errors.js';
import { readBertConfig } from '../model/config.js';
import { localModelDir } from '../model/hub.js';
import { checkSharedTeacher } from './pipeline.js';
import { runDir } from './runs.js';

export type Stage = 'teacher' | 'distill' | 'eval' | 'run';

export interface PreflightOptions {
  /** What is about to run (`run` = teacher + students + evaluation; `msd demo` is a `run`). */
  stage: Stage;
  /** `distill`: the target language. */
  lang?: string;
  /** A sweep cell: its shared teacher (`run.teacherDir`) is trained by the sweep itself, so it need not exist yet. */
  teacherPending?: boolean;
}

/** Runs every check; the first failure is thrown as a UserError naming the key or path and how to fix it. */
export function preflight(cfg: MsdConfig, opts: PreflightOptions): void {
  checkNames(cfg, opts);
  checkDataFiles(cfg, opts);
  checkModel(cfg);
  checkInputs(cfg, opts);
}

function checkNames(cfg: MsdConfig, opts: PreflightOptions): void {
  const { corpus, source, targets } = cfg.data;
  checkCorpus(corpus, undefined, 'data.corpus');
  checkCorpus(corpus, source, 'data.source');
  for (const t of targets) checkCorpus(corpus, t, 'data.targets');
  const dup = targets.find((t, i) => targets.indexOf(t) !== i);
  if (dup !== undefined)
    throw new UserError(`data.targets: '${dup}' is listed twice (${JSON.stringify(targets)}); list each target once`);
  if (opts.lang !== undefined) {
    checkCorpus(corpus, opts.lang, '--lang');
    if (!targets.includes(opts.lang))
      throw new UserError(
        `--lang ${opts.lang}: not one of the run's targets (data.targets: ${targets.join(', ')})`,
        `add it: --set data.targets=${[...targets, opts.lang].join(',')}`,
      );
  }
}

/** The (language, split) pairs a stage reads; an evaluation reads test where present, else dev. */
function neededSplits(cfg: MsdConfig, opts: PreflightOptions): { lang: string; splits: Split[] }[] {
  const { source, targets } = cfg.data;
  const evalOf = (lang: string) => ({ lang, splits: ['test', 'dev'] as Split[] }); // either one
  const train: { lang: string; splits: Split[] }[] = [{ lang: source, splits: ['train', 'dev'] }];
  // The vocabulary of a pruned model is that of every training text (source and all targets).
  const studentTargets = opts.stage === 'distill' && !cfg.model.pruneVocab ? [opts.lang!] : targets;
  const student = studentTargets.map((lang) => ({
    lang,
    splits: (cfg.student.selectOn === 'target-dev' ? ['train', 'dev'] : ['train']) as Split[],
  }));
  switch (opts.stage) {
    case 'teacher':
      return cfg.model.pruneVocab
        ? [...train, ...targets.map((lang) => ({ lang, splits: ['train'] as Split[] }))]
        : train;
    case 'distill':
      return [...train, ...student];
    case 'eval':
      return [source, ...targets].map(evalOf);
    case 'run':
      return [...train, ...student, ...[source, ...targets].map(evalOf)];
  }
}

function checkDataFiles(cfg: MsdConfig, opts: PreflightOptions): void {
  const corpus = cfg.data.corpus as Parameters<typeof datasetPath>[0];
  const root = cfg.data.root || defaultDataRoot();
  const hint = `set data.root (or MSD_DATA_ROOT) to the folder that holds ${corpus}/`;
  if (!existsSync(root))
    throw new UserError(
      `data.root: the data folder ${resolve(root)} does not exist${cfg.data.root ? '' : ' (the default: $MSD_DATA_ROOT, else ../shared/data)'}`,
      hint,
    );
  for (const { lang, splits } of neededSplits(cfg, opts)) {
    const evalPair = splits.length === 2 && splits[0] === 'test';
    const paths = splits.map((s) => datasetPath(corpus, lang, s, root));
    const missing = evalPair
      ? paths.some((p) => existsSync(p))
        ? []
        : [paths[0]!]
      : paths.filter((p) => !existsSync(p));
    if (missing.length) {
      const dir = join(missing[0]!, '..');
      const holds = existsSync(dir) ? readdirSync(dir).sort().join(', ') || 'nothing' : 'does not exist';
      const what = evalPair ? `no test or dev split of ${corpus} ${lang}` : `${corpus} ${lang}`;
      throw new UserError(`data: ${what}: no file ${missing[0]}; the folder ${dir} holds: ${holds}`, hint);
    }
  }
}

function checkModel(cfg: MsdConfig): void {
  let dir: string | undefined;
  try {
    dir = localModelDir(cfg.model.pretrained, {
      cacheDir: cfg.model.cacheDir || undefined,
      allowRemote: cfg.model.allowRemote,
    });
  } catch (err) {
    throw new UserError(
      `model.pretrained: ${(err as Error).message}`,
      'set model.pretrained to a model directory or a Hub id (and model.allowRemote=true to download it)',
    );
  }
  if (dir === undefined) return; // downloaded at the start of the run; checked there
  if (cfg.model.tiny.enabled) {
    const vocab = join(resolve(dir), 'vocab.txt');
    if (!existsSync(vocab))
      throw new UserError(
        `model.pretrained: ${vocab} not found; the tiny preset takes the vocabulary of a local model directory`,
        'set model.pretrained to a BERT directory with vocab.txt (e.g. ../shared/models/bert-base-multilingual-cased)',
      );
    return;
  }
  const path = join(dir, 'config.json');
  let layers: number;
  try {
    layers = readBertConfig(path).numLayers;
  } catch (err) {
    throw new UserError(`model.pretrained: ${(err as Error).message}`);
  }
  checkLayerCount(cfg, layers, path);
}

function checkInputs(cfg: MsdConfig, opts: PreflightOptions): void {
  const run = runDir(cfg);
  if (cfg.run.teacherDir && !opts.teacherPending) checkSharedTeacher(cfg);
  const needTeacher = opts.stage === 'distill' || opts.stage === 'eval';
  const teacher = run.teacher().best;
  if (needTeacher && !existsSync(join(teacher, 'config.json')))
    throw new UserError(
      `${teacher}: no trained teacher in the run directory ${cfg.run.outDir}`,
      `train it first with msd teacher and the same options, or point --out at a run that has one`,
    );
  if (opts.stage === 'eval')
    for (const lang of cfg.data.targets) {
      const best = run.student(lang).best;
      if (!existsSync(join(best, 'config.json')))
        throw new UserError(
          `${best}: no trained student for ${lang} in the run directory ${cfg.run.outDir}`,
          `distil it first (msd distill --lang ${lang} and the same options), or drop ${lang} from data.targets`,
        );
    }
}
