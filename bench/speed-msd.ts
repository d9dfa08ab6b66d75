/**
 * One child process of `npm run bench -- speed`: a few real MSD training steps through the library's own pipeline
 * (`trainTeacher`, `distillStudent`: data, tokenizer, length-bucketed batches, the loss, clipping, AdamW), on real
 * CoNLL-2002 sentences, at mBERT size (random weights with mBERT's exact config and vocabulary: no weights can be
 * downloaded here) or at the tiny preset's size. Prints one JSON line:
 *
 *   { tokensPerSec, stepSec, steps, realTokens, paddedTokens, peakRssBytes, wasmHeapBytes, backend }
 *
 *   node --import tsx bench/speed-msd.ts <teacher|student> <paper|tiny> <workDir> <steps> [batchesFile] [warmup]
 *
 * `warmup` steps (default 1) run first and are left out of the timing: the first pays for kernel set-up and heap
 * growth; at the tiny size V8 also needs a few steps to compile the host-side loops (bench/tiny-speed.ts takes 10).
 *
 * The work dir keeps the random "pretrained" checkpoint and the teacher between calls, so the student run reuses
 * the teacher trained by the teacher run. `batchesFile` receives the token ids and labels of the batches used, so
 * the PyTorch reference (bench/reference/torch_msd.py) trains on exactly the same sentences.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { resolveConfig, type MsdConfig } from '../src/config.js';
import { initBackend } from '../src/backend/init.js';
import { tf } from '../src/tf.js';
import { trainTeacher } from '../src/train/teacher.js';
import { distillStudent } from '../src/train/student.js';
import { pretrainedDir } from '../src/train/models.js';
import { loadDataset } from '../src/data/registry.js';
import { unlabelled } from '../src/data/unlabelled.js';
import type { UnlabelledSentence } from '../src/data/types.js';
import { loadTokenizer } from '../src/tokenizer/load.js';
import { encodeDataset } from '../src/tokenizer/dataset.js';
import { makeBatches } from '../src/tokenizer/batching.js';
import { profileReport, startProfile } from './profile.js';
import { mbertRandom } from './mbert-random.js';
import { streamSeed } from '../src/rng.js';

const [task, size, workDirArg, stepsArg, batchesFile, warmupArg] = process.argv.slice(2);
if ((task !== 'teacher' && task !== 'student') || (size !== 'paper' && size !== 'tiny') || !workDirArg || !stepsArg) {
  throw new Error('usage: speed-msd.ts <teacher|student> <paper|tiny> <workDir> <steps> [batchesFile] [warmup]');
}
const workDir = resolve(workDirArg);
const steps = Number(stepsArg);
const warmup = Number(warmupArg || 1);
const shared = resolve(process.env.MSD_DATA_ROOT ?? join(import.meta.dirname, '..', '..', 'shared', 'data'));
const mbert = resolve(join(shared, '..', 'models', 'bert-base-multilingual-cased'));

/** The batch size of the timed task (paper: 32 for both; tiny: the teacher's 16, the student's 64). */
const batchSize = resolveConfig(size)[task].batchSize;
/** Enough sentences for the warm-up and timed batches, few enough to tokenise and cache quickly. */
const sentences = batchSize * (steps + warmup + 1);
/**
 * The student's teacher trains one epoch on this many source sentences (its quality does not matter for speed); they
 * are also the source text of the MMD terms, so one source batch is as full as the student's batches.
 */
const teacherSentences = Math.max(32, batchSize);

function config(): MsdConfig {
  const common = {
    // The teacher bench trains on `sentences`; the student's run trains its teacher on `teacherSentences` (one epoch),
    // and the student distils on `sentences` target sentences given explicitly (distillStudent's `target`).
    data: {
      root: shared,
      corpus: 'conll2002',
      source: 'es',
      targets: ['nl'],
      limit: { train: task === 'teacher' ? sentences : teacherSentences, dev: 16, test: 16 },
    },
    teacher: { epochs: 1 },
    run: { outDir: join(workDir, `run-${size}-${task}`), seed: 1, logEvery: 1, evalEvery: 0, checkpointEvery: 0 },
  };
  if (size === 'tiny') return resolveConfig('tiny', { ...common, model: { pretrained: mbert } });
  // mBERT's architecture with random weights, written once.
  return resolveConfig('paper', { ...common, model: { pretrained: mbertRandom(workDir, mbert) } });
}

/** The target text of the student bench: the first `sentences` Dutch training sentences, without their tags. */
function studentTarget(): UnlabelledSentence[] {
  return unlabelled(loadDataset('conll2002', 'nl', 'train', { root: shared })).slice(0, sentences);
}

function peakRss(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/** Writes the token ids/labels of the batches the run trains on (same seed, same order) for the PyTorch reference. */
function dumpBatches(cfg: MsdConfig, file: string, modelDir: string): void {
  // The tokenizer the run trained with (a pruned vocabulary renumbers the pieces): the ids PyTorch embeds.
  const tok = loadTokenizer(modelDir);
  const lang = task === 'teacher' ? cfg.data.source : cfg.data.targets[0]!;
  const ds = loadDataset('conll2002', lang, 'train', { root: shared });
  const { encoded } = encodeDataset(tok, ds.sentences.slice(0, sentences), {
    schema: ds.schema,
    maxLength: cfg.data.maxLength,
  });
  const src = loadDataset('conll2002', cfg.data.source, 'train', { root: shared });
  const srcEnc = encodeDataset(tok, src.sentences.slice(0, task === 'teacher' ? sentences : teacherSentences), {
    schema: src.schema,
    maxLength: cfg.data.maxLength,
  }).encoded;
  // The batches the run drew: the same batch size and seeded streams as trainTeacher / distillStudent.
  const bs = (task === 'teacher' ? cfg.teacher : cfg.student).batchSize;
  const stream = (name: string) =>
    streamSeed(cfg.run.seed, task === 'teacher' ? 'teacher/batches' : `student:${lang}/${name}`);
  const toJson = (e: typeof encoded, name: string) =>
    makeBatches(e, { batchSize: bs, seed: stream(name), epoch: 0, padId: tok.padId })
      .slice(0, steps + warmup)
      .map((b) => b.items.map((w) => ({ ids: Array.from(w.inputIds), labels: w.labels ? Array.from(w.labels) : [] })));
  writeFileSync(
    file,
    JSON.stringify({
      numLabels: ds.schema.tags.length,
      warmup,
      batches: toJson(encoded, 'target-batches'),
      source: toJson(srcEnc, 'source-batches'),
    }),
  );
}

async function main(): Promise<void> {
  mkdirSync(workDir, { recursive: true });
  const backend = await initBackend();
  // MSD_PROFILE=1: time every kernel and phase, printed after the JSON line (bench/profile.ts); MSD_PROFILE=shapes
  // splits each kernel's row by the shapes of its inputs.
  const profiling = process.env.MSD_PROFILE === '1' || process.env.MSD_PROFILE === 'shapes';
  if (profiling) startProfile();
  const cfg = config();
  // The tiny preset's vocabulary as the demo has it: pruned on all of es and nl train (21,588 pieces), not on the few
  // sentences trained on here, so the embedding rows AdamW updates are the demo's. Written before the run starts.
  rmSync(cfg.run.outDir, { recursive: true, force: true });
  if (size === 'tiny') await pretrainedDir({ ...cfg, data: { ...cfg.data, limit: { ...cfg.data.limit, train: 0 } } });
  // `warmup` extra steps first, left out of the timing.
  if (task === 'teacher') await trainTeacher(cfg, { maxSteps: steps + warmup });
  else {
    await trainTeacher(cfg); // one epoch on `teacherSentences`, selected on dev: the student's teacher
    await distillStudent(cfg, cfg.data.targets[0]!, { maxSteps: steps + warmup, target: studentTarget() });
  }
  const metricsFile = join(
    cfg.run.outDir,
    task === 'teacher' ? 'teacher' : join('students', cfg.data.targets[0]!),
    'metrics.jsonl',
  );
  const rows = readFileSync(metricsFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { kind: string; step: number; tokens: number; ms: number })
    .filter((r) => r.kind === 'step' && r.step > warmup);
  // All timed tokens over all timed time, as the PyTorch reference computes it (a mean of per-step rates would
  // weigh a short batch's high rate as much as a long batch's low one).
  const tokensPerSec =
    (1000 * rows.reduce((s, r) => s + r.tokens, 0)) /
    Math.max(
      1,
      rows.reduce((s, r) => s + r.ms, 0),
    );
  const heap = (tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } }).wasm?.HEAPU8?.length;
  // The vocabulary the model trained with (the tiny preset prunes mBERT's to the run's text): PyTorch gets the same.
  const modelDir = [
    join(cfg.run.outDir, 'pretrained-pruned'),
    join(cfg.run.outDir, 'pretrained'),
    cfg.model.pretrained,
  ].find((d) => existsSync(join(d, 'config.json')))!;
  if (batchesFile) dumpBatches(cfg, batchesFile, modelDir);
  const vocabSize = (JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')) as { vocab_size: number })
    .vocab_size;
  console.log(
    JSON.stringify({
      task,
      size,
      tokensPerSec,
      steps: rows.length,
      vocabSize,
      peakRssBytes: peakRss(),
      wasmHeapBytes: heap ?? null,
      backend: backend.summary,
    }),
  );
  if (profiling)
    console.error(
      profileReport(
        rows.reduce((s, r) => s + r.ms, 0),
        rows.length,
      ),
    );
}

await main();
