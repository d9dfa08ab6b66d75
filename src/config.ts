/**
 * Run configuration: plain typed objects with documented defaults (nanoGPT style), two presets and overrides that
 * reject unknown keys and wrong types. The resolved config is saved beside every checkpoint and result.
 *
 *   const cfg = resolveConfig('tiny', { student: { lr: 1e-4 } });
 *   const cfg2 = resolveConfig('paper', parseSets(['teacher.epochs=2', 'data.targets=nl,de']));
 */

import { closestMatch, didYouMean, UserError } from './errors.js';
import { FORBIDDEN_KEYS, readJsonFile } from './json.js';
import type { LambdaMode } from './losses/lambda.js';
import { BACKEND_NAMES, type BackendName } from './backend/names.js';

export interface ModelConfig {
  /**
   * A local Hugging Face model directory or a Hub id (e.g. `bert-base-multilingual-cased`, downloaded once into the
   * cache). The tiny preset takes only its tokenizer files (`$MSD_TOKENIZER_DIR`, a local folder, comes first).
   */
  pretrained: string;
  /** Whether a Hub id may be downloaded; false: only a local directory or the cache is used. */
  allowRemote: boolean;
  /** Download cache for Hub ids (default: `$MSD_CACHE` or `~/.cache/msd-ner`). */
  cacheDir: string;
  /** Build a small random BERT instead of loading `pretrained` weights (the `tiny` preset), keeping its vocab. */
  tiny: {
    enabled: boolean;
    hiddenSize: number;
    numLayers: number;
    numHeads: number;
    intermediateSize: number;
    dropout: number;
  };
  /**
   * Keep only the vocabulary pieces the run's training text uses (source train + every target's train), with the
   * embedding rows remapped (src/model/prune.ts): the same tokens on that text, a much smaller embedding matrix.
   */
  pruneVocab: boolean;
  /** Layers that get a classifier: [first, last]; the last is the main head (paper: 4..12). */
  headLayers: [number, number];
  /** Dropout before every classifier. */
  classifierDropout: number;
}

export interface DataConfig {
  /**
   * A local data root holding `conll2002/`, `wikiann/`, `multiconer/` ..., looked at first; then `$MSD_DATA_ROOT`,
   * the user cache (`$MSD_CACHE/data`, else `~/.cache/msd-ner/data`) and a download from the Hugging Face Hub.
   */
  root: string;
  /** Corpus of the source and target languages (a name `loadDataset` knows). */
  corpus: string;
  /** Labelled source language (paper: en). */
  source: string;
  /** Target languages, one student each. */
  targets: string[];
  /** Sub-tokens per window including [CLS]/[SEP] (paper: 128). Longer sentences are split, never truncated. */
  maxLength: number;
  /** Label every sub-token (B- becomes I- on continuations) instead of the first one only. */
  labelAllSubtokens: boolean;
  /** Cap on sentences per split, for demos and tests (0 = all). */
  limit: { train: number; dev: number; test: number };
}

export interface OptimConfig {
  batchSize: number;
  epochs: number;
  lr: number;
  /** AdamW: eps 1e-8, decoupled weight decay 0.01, none on bias and LayerNorm. */
  weightDecay: number;
  eps: number;
  /** Linear warmup over this fraction of all steps, then linear decay to 0. */
  warmupRatio: number;
  /** Global gradient-norm clipping. */
  maxGradNorm: number;
  /** Freeze the embeddings and layers 1..freezeLayers (paper: embeddings + layers 1-3). */
  freezeEmbeddings: boolean;
  freezeLayers: number;
}

export interface TeacherConfig extends OptimConfig {
  /** L_tea = L_main + alpha * sum_m lambda_m L_aux_m. */
  alpha: number;
  lambda: LambdaMode;
}

export interface StudentConfig extends OptimConfig {
  /** L_stu = L_12^KD + beta * sum_m lambda'_m L_m^KD (paper: beta = 1). */
  beta: number;
  lambda: LambdaMode;
  /** L_final = L_stu + alphaPrime * MMD_M + betaPrime * MMD_L. */
  alphaPrime: number;
  betaPrime: number;
  /** Hidden layer whose [CLS] vector enters the MMD terms; -1 (default) = the last, 0 = the embeddings. */
  clsLayer: number;
  /** Student initialisation: the pretrained encoder (paper) or the trained teacher. */
  initFrom: 'pretrained' | 'teacher';
  /** Checkpoint selection: source dev (zero-shot) or target dev (paper protocol; not zero-shot). */
  selectOn: 'source-dev' | 'target-dev';
  /** Ablations, one flag each. */
  ablation: { noAux: boolean; noMmdM: boolean; noMmdL: boolean };
}

export interface RunConfig {
  seed: number;
  /** Run directory; every artefact of the run lands under it. */
  outDir: string;
  /** Evaluate on dev (and checkpoint if best) every N steps; 0 = at the end of each epoch only. */
  evalEvery: number;
  /** Write a resumable checkpoint every N steps (0 = end of each epoch). */
  checkpointEvery: number;
  /** Log a metrics line every N steps. */
  logEvery: number;
  /** Backend request (`''` = automatic, see initBackend). */
  backend: '' | BackendName;
  /** Heads evaluated per layer (F1 per layer); [first, last]. */
  evalLayers: [number, number];
  /**
   * Reuse the trained teacher of another run (that run's directory, its `run.outDir`) instead of training one: `runMsd`
   * skips the teacher and the students distil from `<teacherDir>/teacher/best`. Sweeps set it so that cells which
   * differ only in student settings share one teacher. `''` = train this run's own teacher.
   */
  teacherDir: string;
  /**
   * Memory bound of one forward/backward pass, in padded tokens (rows x longest row). A batch larger than this is cut
   * into micro-batches whose gradients are accumulated: the same update as one pass (gradient accumulation; see
   * train/loop.ts), with one micro-batch's activations in memory at a time. 0 = never cut. A student pass runs its
   * target rows and (for MMD_M) its source rows on one tape, each side within the bound (as one encoder batch when a
   * side is small: train/student-pass.ts). The paper preset's 512
   * keeps an mBERT step (embeddings + layers 1-3 frozen) inside the 4 GiB wasm heap (1024 peaked at 4.08 GB for the
   * teacher); on a GPU, raise it or set 0.
   */
  microBatchTokens: number;
  /**
   * A student step cut into micro-batches (`microBatchTokens`) keeps the backward tapes of its first micro-batches,
   * up to this many padded tokens (target + source rows, the first micro-batch always), until its whole-batch MMD
   * gradient is known; each micro-batch past them runs its forward twice instead (train/student-micro-batches.ts).
   * Memory against time: kept tapes hold their saved activations at once (at mBERT size about 0.5 MB a token, more
   * for longer rows); a second forward costs a forward of the trained layers. 0 = keep only the first. The paper
   * preset's 3072 keeps a batch of 128-token rows at a 2.4 GiB wasm heap (2048 2.15 GiB, 4096 3.2 GiB of the 4 GiB
   * heap; README, Backends, "Gradient accumulation"); on a GPU, or with short rows, raise it.
   */
  keptTapeTokens: number;
}

export interface MsdConfig {
  preset: string;
  model: ModelConfig;
  data: DataConfig;
  teacher: TeacherConfig;
  student: StudentConfig;
  run: RunConfig;
}

export type DeepPartial<T> = T extends unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

const baseOptim: OptimConfig = {
  batchSize: 32,
  epochs: 3,
  lr: 5e-5,
  weightDecay: 0.01,
  eps: 1e-8,
  warmupRatio: 0.1,
  maxGradNorm: 1.0,
  freezeEmbeddings: true,
  freezeLayers: 3,
};

/** The paper's setting: mBERT cased, CoNLL-style source en, the reference code's hyper-parameters. */
export const PAPER: MsdConfig = {
  preset: 'paper',
  model: {
    pretrained: 'bert-base-multilingual-cased',
    allowRemote: true,
    cacheDir: '',
    tiny: { enabled: false, hiddenSize: 768, numLayers: 12, numHeads: 12, intermediateSize: 3072, dropout: 0.1 },
    pruneVocab: false,
    headLayers: [4, 12],
    classifierDropout: 0.1,
  },
  data: {
    root: '',
    corpus: 'wikiann',
    source: 'en',
    targets: ['ar', 'hi', 'zh'],
    maxLength: 128,
    labelAllSubtokens: false,
    limit: { train: 0, dev: 0, test: 0 },
  },
  teacher: { ...baseOptim, lr: 5e-5, alpha: 0.1, lambda: 'learned' },
  student: {
    ...baseOptim,
    lr: 2e-5,
    beta: 1,
    lambda: 'learned',
    alphaPrime: 0.001,
    betaPrime: 0.001,
    clsLayer: -1,
    initFrom: 'pretrained',
    selectOn: 'source-dev',
    ablation: { noAux: false, noMmdM: false, noMmdL: false },
  },
  run: {
    seed: 42,
    outDir: 'runs/paper',
    evalEvery: 0,
    checkpointEvery: 0,
    logEvery: 10,
    backend: '',
    evalLayers: [4, 12],
    teacherDir: '',
    microBatchTokens: 512,
    keptTapeTokens: 3072,
  },
};

/**
 * The demo's model: a small random BERT (no pretrained weights) with mBERT's vocabulary pruned to the pieces of the
 * run's training text (model.pruneVocab), trained from scratch on all of CoNLL-2002 es train, a student distilled on
 * all of nl train, and every head evaluated on the full test sets, in about five minutes on two cores.
 *
 * Measured choices (PyTorch calibration, bench/reference/torch_tiny.py, and the demo itself; README "The demo"):
 * - 2 layers, not 4 or 12: from scratch, a 4-layer 64-wide post-LayerNorm BERT sits on the all-O plateau (F1 0)
 *   for a whole epoch at lr 1e-3..3e-3, while a 2-layer one reaches es test F1 0.30-0.33 after 130 steps.
 * - 64 wide, batch 16, lr 3e-3 with 10% warmup, eight epochs: es test F1 0.46 after one, 0.48 after two, 0.546-0.555
 *   after six, 0.563-0.567 after eight over seeds 42, 1, 2 (about 245 s of an idle 2-core machine's 300).
 * - No dropout: dropout 0.1 scored no better over six epochs in PyTorch (0.558 against 0.570).
 * - Heads on layers 1 and 2 (main = 2): the auxiliary head is MSD's short channel at this depth.
 * Nothing is frozen: freezing exists to keep pretrained knowledge, and this encoder has none.
 */
export const TINY: MsdConfig = {
  preset: 'tiny',
  model: {
    ...PAPER.model,
    pretrained: 'bert-base-multilingual-cased', // only its tokenizer files: from MSD_TOKENIZER_DIR, the cache or the Hub
    tiny: { enabled: true, hiddenSize: 64, numLayers: 2, numHeads: 2, intermediateSize: 256, dropout: 0 },
    pruneVocab: true,
    headLayers: [1, 2],
    classifierDropout: 0,
  },
  data: {
    ...PAPER.data,
    corpus: 'conll2002',
    source: 'es',
    targets: ['nl'],
    maxLength: 64,
    limit: { train: 0, dev: 500, test: 0 },
  },
  teacher: { ...PAPER.teacher, batchSize: 16, epochs: 8, lr: 3e-3, freezeEmbeddings: false, freezeLayers: 0 },
  student: { ...PAPER.student, batchSize: 64, epochs: 1, lr: 3e-3, freezeEmbeddings: false, freezeLayers: 0 },
  run: { ...PAPER.run, outDir: 'runs/demo', logEvery: 5, microBatchTokens: 0, evalLayers: [1, 2] },
};

export const PRESETS: Record<string, MsdConfig> = { paper: PAPER, tiny: TINY };

/** Keys whose values are restricted to a set of strings. */
const ENUMS: Record<string, readonly string[]> = {
  'student.initFrom': ['pretrained', 'teacher'],
  'student.selectOn': ['source-dev', 'target-dev'],
  'run.backend': ['', ...BACKEND_NAMES],
};
const LAMBDA_KEYS = new Set(['teacher.lambda', 'student.lambda']);

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

function kind(v: unknown): string {
  return Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v;
}

/** `a number`, `an object`, ... for messages. */
function aKind(k: string): string {
  return `${/^[aeiou]/.test(k) ? 'an' : 'a'} ${k}`;
}

function shown(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** One layer of a config: override values and where they came from (a file, `--set 'k=v'`, `config`), for errors. */
export interface ConfigLayer {
  from: string;
  values: DeepPartial<MsdConfig>;
}

/** Every key path of the config (leaves and sections), e.g. `run.seed`, `student.ablation.noAux`. */
export function configKeyPaths(): string[] {
  return keyPaths(PAPER as unknown as Record<string, unknown>).filter((p) => p !== 'preset');
}

function keyPaths(obj: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(obj).flatMap(([k, v]) => {
    const p = prefix ? `${prefix}.${k}` : k;
    return kind(v) === 'object' ? [p, ...keyPaths(v as Record<string, unknown>, p)] : [p];
  });
}

/**
 * One step of the one key-path walk (overrides, `--set`, config files, sweep files): `key` must be an own key of the
 * config section at `sectionPath`, and never `__proto__`, `constructor` or `prototype`. Errors name `from`, the dotted
 * key and the keys expected there, with the closest match (a sibling, else any key path with a close last part).
 */
function childKey(section: Record<string, unknown>, sectionPath: string, key: string, from: string): unknown {
  const path = sectionPath ? `${sectionPath}.${key}` : key;
  if (FORBIDDEN_KEYS.has(key))
    throw new UserError(
      `${from}: key '${path}' is not allowed ('__proto__', 'constructor' and 'prototype' are never config keys)`,
      'remove it; `msd run --print-config` lists every key',
    );
  if (Object.hasOwn(section, key)) return section[key];
  const siblings = Object.keys(section);
  let guess = closestMatch(key, siblings);
  if (guess !== undefined) guess = sectionPath ? `${sectionPath}.${guess}` : guess;
  else {
    const paths = keyPaths(PAPER as unknown as Record<string, unknown>);
    const byLast = closestMatch(key, new Set(paths.map((p) => p.split('.').pop()!)));
    guess = byLast === undefined ? closestMatch(path, paths) : paths.find((p) => p.split('.').pop() === byLast);
  }
  throw new UserError(
    `${from}: unknown key '${path}'${guess ? `; did you mean '${guess}'?` : ''} Known keys ${sectionPath ? `in ${sectionPath}` : 'at the top'}: ${siblings.join(', ')}`,
    '`msd run --print-config` prints every key with its value',
  );
}

/**
 * The walk of a dotted key path (`student.ablation.noAux`) through the typed config: every part checked by childKey.
 * Returns the parts and the paper preset's value there (its type: how `--set` parses the value).
 */
export function configKeyPath(path: string, from = 'config'): { keys: string[]; value: unknown } {
  const keys = path.split('.');
  let ref: unknown = PAPER;
  keys.forEach((k, i) => {
    if (kind(ref) !== 'object')
      throw new UserError(
        `${from}: unknown key '${path}': '${keys.slice(0, i).join('.')}' is ${aKind(kind(ref))}, not a section`,
      );
    ref = childKey(ref as Record<string, unknown>, keys.slice(0, i).join('.'), k, from);
  });
  return { keys, value: ref };
}

/** Whether a dotted path is a key of the typed config (a leaf or a whole section; `preset` is not). */
export function isConfigKey(path: string): boolean {
  if (path === 'preset') return false;
  try {
    configKeyPath(path);
    return true;
  } catch {
    return false;
  }
}

/** Dotted keys as one override object, each path checked by configKeyPath: `{'a.b': 1, 'a.c': 2}` -> `{a: {b: 1, c: 2}}`. */
export function nestKeys(flat: Record<string, unknown>, from = 'config'): DeepPartial<MsdConfig> {
  const out: Record<string, unknown> = {};
  for (const [path, value] of Object.entries(flat)) {
    const { keys } = configKeyPath(path, from);
    let t = out;
    keys.forEach((k, i) => {
      if (i === keys.length - 1) {
        if (Object.hasOwn(t, k)) throw new UserError(`${from}: '${path}' is given twice (or with its section)`);
        t[k] = value;
      } else {
        const next = Object.hasOwn(t, k) ? t[k] : (t[k] = {});
        if (kind(next) !== 'object') throw new UserError(`${from}: '${path}' conflicts with another key`);
        t = next as Record<string, unknown>;
      }
    });
  }
  return out as DeepPartial<MsdConfig>;
}

/** An override object must be plain: one built with `{__proto__: ...}` (a prototype of its own) is refused. */
function checkPlain(value: object, path: string, from: string): void {
  const proto = Object.getPrototypeOf(value) as object | null;
  if (proto !== null && Object.getPrototypeOf(proto) !== null)
    throw new UserError(
      `${from}: ${path || 'the overrides'}: expected a plain object; this one has a prototype of its own (was it written with __proto__?)`,
    );
}

function checkLambda(value: unknown, path: string, from: string): LambdaMode {
  if (value === 'learned' || value === 'uniform') return value;
  if (Array.isArray(value) && value.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0))
    return value as number[];
  throw new UserError(
    `${from}: ${path}: expected 'learned', 'uniform' or a list of non-negative numbers, got ${shown(value)}`,
  );
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>, prefix: string, from: string): void {
  checkPlain(over, prefix, from);
  for (const [key, value] of Object.entries(over)) {
    const current = childKey(base, prefix, key, from);
    const path = prefix ? `${prefix}.${key}` : key;
    const at = `${from}: ${path}`;
    if (LAMBDA_KEYS.has(path)) {
      base[key] = checkLambda(value, path, from);
      continue;
    }
    if (kind(current) === 'object') {
      if (kind(value) !== 'object')
        throw new UserError(
          `${at}: expected an object (a section of keys), got ${aKind(kind(value))} (${shown(value)})`,
        );
      merge(current as Record<string, unknown>, value as Record<string, unknown>, path, from);
      continue;
    }
    if (kind(value) !== kind(current)) {
      throw new UserError(`${at}: expected ${aKind(kind(current))}, got ${aKind(kind(value))} (${shown(value)})`);
    }
    if (typeof value === 'number' && !Number.isFinite(value))
      throw new UserError(`${at}: expected a finite number, got ${value}`);
    if (Array.isArray(current)) {
      const want = kind(current[0]);
      const arr = value as unknown[];
      if (current.length > 0 && arr.some((x) => kind(x) !== want)) {
        throw new UserError(`${at}: expected an array of ${want}s, got ${shown(value)}`);
      }
      if (path.endsWith('Layers') && (arr.length !== 2 || (arr[0] as number) > (arr[1] as number))) {
        throw new UserError(`${at}: expected [first, last] with first <= last, got ${shown(value)}`);
      }
    }
    if (ENUMS[path] && !ENUMS[path].includes(value as string)) {
      throw new UserError(
        `${at}: expected one of ${ENUMS[path].map((e) => `'${e}'`).join(', ')}, got '${String(value)}'${didYouMean(String(value), ENUMS[path].filter(Boolean))}`,
      );
    }
    base[key] = value;
  }
}

function presetNamed(name: string, from: string): MsdConfig {
  const p = Object.hasOwn(PRESETS, name) ? PRESETS[name] : undefined;
  if (!p)
    throw new UserError(
      `${from}: unknown preset '${name}'${didYouMean(name, Object.keys(PRESETS))}; expected one of ${Object.keys(PRESETS).join(', ')}`,
    );
  return p;
}

/**
 * A preset (by name or object) with layers of overrides applied in order (later layers win); errors name the layer's
 * `from`. A layer may name the preset (`preset`, as a run's config.json does) only when it is the one started from.
 */
export function resolveLayers(preset: string | MsdConfig, layers: readonly ConfigLayer[]): MsdConfig {
  const base = typeof preset === 'string' ? presetNamed(preset, 'config') : preset;
  const out = clone(base);
  for (const { from, values } of layers) {
    if (kind(values) !== 'object')
      throw new UserError(`${from}: expected an object of config keys, got ${aKind(kind(values))}`);
    checkPlain(values, '', from);
    const { preset: named, ...rest } = values as Record<string, unknown>;
    if (named !== undefined && named !== out.preset)
      throw new UserError(
        `${from}: preset ${shown(named)} differs from the preset this config starts from ('${out.preset}')`,
        typeof named === 'string' && Object.hasOwn(PRESETS, named)
          ? `start from it (--preset ${named}), or remove "preset" from the overrides`
          : `remove "preset"; the presets are ${Object.keys(PRESETS).join(', ')}`,
      );
    merge(out as unknown as Record<string, unknown>, rest, '', from);
  }
  validate(out);
  return out;
}

/** A preset (by name or object) with overrides applied; throws on unknown keys and wrong types. */
export function resolveConfig(preset: string | MsdConfig = 'paper', ...overrides: DeepPartial<MsdConfig>[]): MsdConfig {
  return resolveLayers(
    preset,
    overrides.map((values) => ({ from: 'config', values })),
  );
}

/**
 * A config file (a run's `config.json`, or any subset of its keys written by hand) as one layer: nested sections
 * (`{"run": {"seed": 3}}`) or dotted keys (`{"run.seed": 3}`), and optionally `"preset"` (the preset it starts
 * from). Errors name the file; `__proto__` & co. are refused.
 */
export function readConfigFile(path: string): ConfigLayer & { preset?: string } {
  const raw = readJsonFile(path, 'config file');
  if (kind(raw) !== 'object')
    throw new UserError(
      `${path}: expected a JSON object of config keys (e.g. {"run": {"seed": 3}}), got ${aKind(kind(raw))}`,
    );
  const { preset, ...rest } = raw as Record<string, unknown>;
  if (preset !== undefined) {
    if (typeof preset !== 'string') throw new UserError(`${path}: preset: expected a string, got ${shown(preset)}`);
    presetNamed(preset, path);
  }
  const nested: Record<string, unknown> = {};
  const dotted: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rest)) (k.includes('.') ? dotted : nested)[k] = v;
  // Dotted keys join the nested sections of the same file; a key given both ways is an error.
  const values = Object.keys(dotted).length
    ? mergeNested(nested, nestKeys(dotted, path) as Record<string, unknown>, path)
    : nested;
  return { from: path, preset: preset as string | undefined, values: values as DeepPartial<MsdConfig> };
}

function mergeNested(a: Record<string, unknown>, b: Record<string, unknown>, from: string, prefix = ''): object {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const p = prefix ? `${prefix}.${k}` : k;
    if (kind(out[k]) === 'object' && kind(v) === 'object')
      out[k] = mergeNested(out[k] as Record<string, unknown>, v as Record<string, unknown>, from, p);
    else if (Object.hasOwn(out, k)) throw new UserError(`${from}: '${p}' is given twice (nested and dotted)`);
    else out[k] = v;
  }
  return out;
}

/** The layers with a classifier, `model.headLayers` [first, last] as a list; the last is the main head. */
export function headLayerList(model: Pick<ModelConfig, 'headLayers'>): number[] {
  const [first, last] = model.headLayers;
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

/**
 * The checks that need the encoder's layer count: head, [CLS] and frozen layers must exist in it. resolveConfig
 * runs them for the tiny preset (its count is in the config); for a pretrained checkpoint the count is in the
 * checkpoint's config.json, so they run when the model is built (newModel), with `from` naming that file.
 */
export function checkLayerCount(c: MsdConfig, layers: number, from = 'model.tiny.numLayers'): void {
  const [h0, h1] = c.model.headLayers;
  const has = `the encoder has ${layers} layers (${from})`;
  if (h1 > layers) throw new Error(`config model.headLayers: [${h0}, ${h1}] must lie within 1..${layers}; ${has}`);
  if (c.student.clsLayer > layers)
    throw new Error(
      `config student.clsLayer: ${c.student.clsLayer} must be -1 (last) or lie within 0..${layers}; ${has}`,
    );
  for (const [name, o] of [
    ['teacher', c.teacher],
    ['student', c.student],
  ] as const) {
    if (o.freezeLayers > layers)
      throw new Error(`config ${name}.freezeLayers: expected 0..${layers}, got ${o.freezeLayers}; ${has}`);
  }
}

/** Cross-field checks that single-key overrides cannot make. */
function validate(c: MsdConfig): void {
  const [h0, h1] = c.model.headLayers;
  if (h0 < 1) throw new Error(`config model.headLayers: [${h0}, ${h1}] must start at layer 1 or later`);
  if (c.model.tiny.enabled) checkLayerCount(c, c.model.tiny.numLayers);
  const [e0, e1] = c.run.evalLayers;
  if (e0 < h0 || e1 > h1)
    throw new Error(`config run.evalLayers: [${e0}, ${e1}] must lie within model.headLayers [${h0}, ${h1}]`);
  if (!Number.isInteger(c.run.microBatchTokens) || c.run.microBatchTokens < 0) {
    throw new Error(
      `config run.microBatchTokens: expected an integer >= 0 (0 = never cut a batch), got ${c.run.microBatchTokens}`,
    );
  }
  if (!Number.isInteger(c.student.clsLayer) || c.student.clsLayer < -1)
    throw new Error(`config student.clsLayer: ${c.student.clsLayer} must be -1 (last) or a layer >= 0`);
  for (const [name, o] of [
    ['teacher', c.teacher],
    ['student', c.student],
  ] as const) {
    if (o.batchSize < 1 || !Number.isInteger(o.batchSize))
      throw new Error(`config ${name}.batchSize: expected a positive integer, got ${o.batchSize}`);
    if (o.epochs < 0 || !Number.isInteger(o.epochs))
      throw new Error(`config ${name}.epochs: expected an integer >= 0, got ${o.epochs}`);
    if (o.freezeLayers < 0 || !Number.isInteger(o.freezeLayers))
      throw new Error(`config ${name}.freezeLayers: expected an integer >= 0, got ${o.freezeLayers}`);
    const aux = h1 - h0;
    if (Array.isArray(o.lambda) && o.lambda.length !== aux) {
      throw new Error(
        `config ${name}.lambda: expected ${aux} weights (one per auxiliary layer ${h0}..${h1 - 1}), got ${o.lambda.length}`,
      );
    }
  }
  if (c.data.maxLength < 8) throw new Error(`config data.maxLength: expected >= 8, got ${c.data.maxLength}`);
  if (c.data.targets.length === 0) throw new Error('config data.targets: expected at least one target language');
  checkRanges(c);
}

/** Numbers whose range is known: a negative learning rate or a zero batch would otherwise train silently wrong. */
const RANGES: [path: string, rule: 'int>=0' | 'int>=1' | '>0' | '>=0' | '[0,1]' | '[0,1)'][] = [
  ['model.tiny.hiddenSize', 'int>=1'],
  ['model.tiny.numLayers', 'int>=1'],
  ['model.tiny.numHeads', 'int>=1'],
  ['model.tiny.intermediateSize', 'int>=1'],
  ['model.tiny.dropout', '[0,1)'],
  ['model.classifierDropout', '[0,1)'],
  ['data.maxLength', 'int>=1'],
  ['data.limit.train', 'int>=0'],
  ['data.limit.dev', 'int>=0'],
  ['data.limit.test', 'int>=0'],
  ...(['teacher', 'student'] as const).flatMap(
    (m) =>
      [
        [`${m}.lr`, '>0'],
        [`${m}.weightDecay`, '>=0'],
        [`${m}.eps`, '>0'],
        [`${m}.warmupRatio`, '[0,1]'],
        [`${m}.maxGradNorm`, '>0'],
      ] as [string, '>0' | '>=0' | '[0,1]'][],
  ),
  ['teacher.alpha', '>=0'],
  ['student.beta', '>=0'],
  ['student.alphaPrime', '>=0'],
  ['student.betaPrime', '>=0'],
  ['run.seed', 'int>=0'],
  ['run.evalEvery', 'int>=0'],
  ['run.checkpointEvery', 'int>=0'],
  ['run.logEvery', 'int>=1'],
  ['run.keptTapeTokens', 'int>=0'],
];

const RANGE_TEXT = {
  'int>=0': 'an integer >= 0',
  'int>=1': 'an integer >= 1',
  '>0': 'a number > 0',
  '>=0': 'a number >= 0',
  '[0,1]': 'a number from 0 to 1',
  '[0,1)': 'a number from 0 to below 1',
};

function checkRanges(c: MsdConfig): void {
  for (const [path, rule] of RANGES) {
    const v = path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], c) as number;
    const ok =
      rule === 'int>=0'
        ? Number.isInteger(v) && v >= 0
        : rule === 'int>=1'
          ? Number.isInteger(v) && v >= 1
          : rule === '>0'
            ? v > 0
            : rule === '>=0'
              ? v >= 0
              : rule === '[0,1]'
                ? v >= 0 && v <= 1
                : v >= 0 && v < 1;
    if (!ok) throw new UserError(`config ${path}: expected ${RANGE_TEXT[rule]}, got ${v}`);
  }
  const t = c.model.tiny;
  if (t.enabled && t.hiddenSize % t.numHeads !== 0)
    throw new UserError(
      `config model.tiny.hiddenSize: ${t.hiddenSize} is not a multiple of model.tiny.numHeads (${t.numHeads})`,
    );
}

/** Parses a `--set` value: JSON when it parses (numbers, booleans, arrays), else a comma list or a plain string. */
function parseValue(raw: string, current: unknown): unknown {
  if (typeof current === 'string') return raw;
  try {
    return JSON.parse(raw);
  } catch {
    if (Array.isArray(current)) {
      return raw.split(',').map((s) => (typeof current[0] === 'number' ? Number(s) : s.trim()));
    }
    return raw;
  }
}

/**
 * One `--set key.path=value` as a config layer (its `from` is `--set 'key.path=value'`), the value typed by the paper
 * preset's value at that key: `data.targets=nl,de` is an array, `teacher.lr=1e-4` a number.
 */
export function parseSet(s: string): ConfigLayer {
  const { from, path, value } = splitSet(s);
  return { from, values: nestKeys({ [path]: value }, from) };
}

function splitSet(s: string): { from: string; path: string; value: unknown } {
  const from = `--set '${s}'`;
  const eq = s.indexOf('=');
  if (eq <= 0) throw new UserError(`${from}: expected key.path=value`, 'e.g. --set student.lr=1e-5');
  const path = s.slice(0, eq).trim();
  return { from, path, value: parseValue(s.slice(eq + 1), configKeyPath(path, from).value) };
}

/** `key.path=value` strings as one override object (a later string wins on the same key). */
export function parseSets(sets: string[]): DeepPartial<MsdConfig> {
  const flat = new Map<string, unknown>();
  for (const s of sets) {
    const { path, value } = splitSet(s);
    flat.delete(path);
    flat.set(path, value);
  }
  return nestKeys(Object.fromEntries(flat), '--set');
}

/** Stable JSON of a config (what is written to `config.json` beside checkpoints and results). */
export function configToJson(c: MsdConfig): string {
  return `${JSON.stringify(c, null, 2)}\n`;
}

/**
 * The parts of a config that decide the teacher (what it trains on and how): two runs whose views are equal can share
 * one trained teacher (`run.teacherDir`). Student settings, target languages, the test limit and logging are left out.
 */
export function teacherConfigView(c: MsdConfig): Record<string, unknown> {
  const { targets: _targets, limit, ...data } = c.data;
  return {
    model: c.model,
    data: { ...data, limit: { train: limit.train, dev: limit.dev } },
    teacher: c.teacher,
    seed: c.run.seed,
    backend: c.run.backend,
    evalEvery: c.run.evalEvery,
  };
}
