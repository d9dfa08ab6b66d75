/**
 * Pre-flight: what about a run can be checked before any work starts and before anything is written, so that a bad
 * name or a missing file fails in a second, not after the backend has started or a teacher has trained:
 *
 *   - corpus and language names, against the data registry's list (data/registry.ts, checkCorpus);
 *   - the data files the stage reads (each language's splits, found locally or downloadable from the Hub);
 *   - the model: `model.pretrained` must be a local directory, a cached Hub id, or a Hub id that may be downloaded
 *     (the tiny preset: its tokenizer files, from a local folder, the cache or the Hub);
 *     a local or cached checkpoint's layer count is checked against model.headLayers, student.clsLayer and the
 *     frozen layers (the tiny preset's count is checked by resolveConfig);
 *   - what the stage continues from: the trained teacher for `distill`, the teacher and students for `eval`,
 *     `run.teacherDir`'s finished teacher; the `distill` language must be one of data.targets.
 *
 * `msd ... --print-config` and every training command run it first (src/cli/common.ts, prepare); notebooks may too.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { checkLayerCount, resolveConfig, teacherConfigView, type MsdConfig } from '../config.js';
import { hubCorpus } from '../data/hub-corpora.js';
import { checkCorpus, locateDataset, missingDatasetMessage, type DatasetName, type Split } from '../data/registry.js';
import { UserError } from '../errors.js';
import { hubSettings } from '../hub/client.js';
import { modelConfigPath, readBertConfig } from '../model/config.js';
import { runDir } from '../run/dir.js';
import { readJson } from '../run/io.js';
import type { locateTokenizer as LocateTokenizer } from '../model/hub.js';

export type Stage = 'teacher' | 'distill' | 'eval' | 'run';

export interface PreflightOptions {
  /** What is about to run (`run` = teacher + students + evaluation; `msd demo` is a `run`). */
  stage: Stage;
  /** `distill`: the target language. */
  lang?: string;
  /** A sweep cell: its shared teacher (`run.teacherDir`) is trained by the sweep itself, so it need not exist yet. */
  teacherPending?: boolean;
}

/**
 * Runs every check; the first failure is thrown as a UserError naming the key or path and how to fix it. Async only
 * so that the model check loads the model modules (and tfjs) when it gets that far: a misspelt name fails at once.
 */
export async function preflight(cfg: MsdConfig, opts: PreflightOptions): Promise<void> {
  checkNames(cfg, opts);
  checkDataFiles(cfg, opts);
  checkInputs(cfg, opts);
  if (opts.stage !== 'eval') await checkModel(cfg); // eval reads the trained models, not model.pretrained
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

/**
 * Each split the stage reads must resolve locally (data.root, MSD_DATA_ROOT, the cache) or be downloadable: on the
 * Hub (the corpus table) with downloads allowed. What is missing is fetched at the start of the run (ensureRunData).
 */
function checkDataFiles(cfg: MsdConfig, opts: PreflightOptions): void {
  const corpus = cfg.data.corpus as DatasetName;
  const root = cfg.data.root || undefined;
  if (root !== undefined && !existsSync(root))
    throw new UserError(
      `data.root: ${resolve(root)} does not exist`,
      `set data.root to the folder that holds ${corpus}/, or leave it empty ('') for MSD_DATA_ROOT, the cache and the Hub`,
    );
  const offline = hubSettings().offline;
  const hint = `set data.root (or MSD_DATA_ROOT) to a folder that holds ${corpus}/, or run msd data pull ${corpus} on a connected machine`;
  for (const { lang, splits } of neededSplits(cfg, opts)) {
    const evalPair = splits.length === 2 && splits[0] === 'test';
    const found = splits.map((s) => locateDataset(corpus, lang, s, root));
    const missing = evalPair ? (found.some((f) => f.path) ? [] : [0]) : found.flatMap((f, i) => (f.path ? [] : [i]));
    if (missing.length === 0) continue;
    const i = missing[0]!;
    const downloadable = !!hubCorpus(corpus, lang)?.repo && !offline;
    if (downloadable) continue;
    const why = offline && hubCorpus(corpus, lang)?.repo ? 'the Hub: HF_HUB_OFFLINE is set' : undefined;
    throw new UserError(`data: ${missingDatasetMessage(corpus, lang, splits[i]!, found[i]!.tried, why)}`, hint);
  }
}

async function checkModel(cfg: MsdConfig): Promise<void> {
  // The model modules load tfjs: imported only when the cheaper checks have passed.
  const { localModelDir, locateTokenizer } = await import('../model/hub.js');
  // A path (not a Hub id) must exist: no environment variable or cache stands in for a folder the user named.
  const p = cfg.model.pretrained;
  if ((isAbsolute(p) || /^[.~]/.test(p)) && !existsSync(p))
    throw new UserError(
      `model.pretrained: ${p} does not exist`,
      'set model.pretrained to a model folder, or to a Hub id such as bert-base-multilingual-cased',
    );
  if (cfg.model.tiny.enabled) return checkTinyTokenizer(cfg, locateTokenizer);
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
  const path = modelConfigPath(dir);
  let layers: number;
  try {
    layers = readBertConfig(path).numLayers;
  } catch (err) {
    throw new UserError(`model.pretrained: ${(err as Error).message}`);
  }
  checkLayerCount(cfg, layers, path);
}

/** The tiny preset needs only `model.pretrained`'s tokenizer files: local, cached, or downloadable. */
function checkTinyTokenizer(cfg: MsdConfig, locateTokenizer: typeof LocateTokenizer): void {
  const found = locateTokenizer(cfg.model.pretrained, { cacheDir: cfg.model.cacheDir || undefined });
  if (!found.dir) {
    if (cfg.model.allowRemote && !hubSettings().offline) return; // downloaded at the start of the run
    throw new UserError(
      `model.pretrained: the tokenizer of ${cfg.model.pretrained} is not local (tried ${found.tried.join(', ')}) and downloads are off (${cfg.model.allowRemote ? 'HF_HUB_OFFLINE is set' : 'model.allowRemote is false'})`,
      'set MSD_TOKENIZER_DIR to a folder with vocab.txt, or run msd data pull tokenizer on a connected machine',
    );
  }
  const vocab = join(resolve(found.dir), 'vocab.txt');
  if (!existsSync(vocab))
    throw new UserError(
      `model.pretrained: ${vocab} not found; the tiny preset takes the vocabulary (vocab.txt) of ${found.dir}`,
      'set MSD_TOKENIZER_DIR (or model.pretrained) to a BERT tokenizer folder with vocab.txt',
    );
}

function checkInputs(cfg: MsdConfig, opts: PreflightOptions): void {
  const run = runDir(cfg);
  if (cfg.run.teacherDir && !opts.teacherPending) checkSharedTeacher(cfg);
  const needTeacher = opts.stage === 'distill' || opts.stage === 'eval';
  const teacher = run.teacher().best;
  if (needTeacher && !existsSync(modelConfigPath(teacher)))
    throw new UserError(
      `${teacher}: no trained teacher in the run directory ${cfg.run.outDir}`,
      `train it first with msd teacher and the same options, or point --out at a run that has one`,
    );
  if (opts.stage === 'eval')
    for (const lang of cfg.data.targets) {
      const best = run.student(lang).best;
      if (!existsSync(modelConfigPath(best)))
        throw new UserError(
          `${best}: no trained student for ${lang} in the run directory ${cfg.run.outDir}`,
          `distil it first (msd distill --lang ${lang} and the same options), or drop ${lang} from data.targets`,
        );
    }
}

/**
 * A run with `run.teacherDir` reuses that run's finished teacher: it must exist and have been trained under the same
 * teacher-relevant settings (teacherConfigView), else the error names the keys that differ.
 */
export function checkSharedTeacher(cfg: MsdConfig): void {
  const dir = cfg.run.teacherDir;
  const paths = runDir(cfg).teacher();
  const shared = runDir(dir);
  if (!existsSync(paths.trainReport) || !existsSync(paths.best)) {
    throw new Error(
      `run.teacherDir: ${dir} holds no finished teacher (${paths.trainReport} missing); train it first (msd teacher --config ${shared.configPath} --resume)`,
    );
  }
  const mine = teacherConfigView(cfg);
  const theirs = teacherConfigView(resolveConfig(readJson<MsdConfig>(shared.configPath)));
  const differ = Object.keys(mine).filter((k) => JSON.stringify(mine[k]) !== JSON.stringify(theirs[k]));
  if (differ.length)
    throw new Error(
      `run.teacherDir: the teacher in ${dir} was trained with other settings (${differ.join(', ')} differ); it cannot be shared with this run`,
    );
}
