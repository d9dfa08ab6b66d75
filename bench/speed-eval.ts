/**
 * One child process of `npm run bench -- speed` (part `eval`): evaluation speed at mBERT size through the library's
 * own path, `runHeads` (eval/predict.ts: windowing, the one batched inference loop of model/inference.ts, every
 * head's argmax, words merged back), as `evaluateRows` runs it after training: every head (layers 4-12), the default
 * batch size (32; the paper preset sets no other for evaluation), no dropout. The model is mBERT's architecture and
 * vocabulary with random weights (bench/mbert-random.ts) and fresh heads; the sentences are the first `n` of
 * CoNLL-2002 nl test. Prints one JSON line:
 *
 *   { sentencesPerSec, tokensPerSec, sentences, windows, realTokens, batches, sec, byWorker, backend }
 *
 *   node --import tsx bench/speed-eval.ts <workDir> <n> [windowsFile]
 *
 * A warm-up call on the sentences of the longest two batches runs first (kernel set-up, heap growth, and the start of
 * the inference worker thread, model/inference-pool.ts), left out of the timing; the timed call then runs as
 * evaluation after a first evaluation does, on both cores. `windowsFile` receives the token ids of the batches, in the order and composition the loop runs them
 * (`inferenceBatches`), warm-up batch first, so the PyTorch reference (bench/reference/torch_msd.py eval) runs
 * exactly the same batches.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { resolveConfig } from '../src/config.js';
import { initBackend } from '../src/backend/init.js';
import { loadDataset } from '../src/data/registry.js';
import { newModel } from '../src/train/models.js';
import { disposeNerModel } from '../src/model/ner-model.js';
import { inferenceBatches } from '../src/model/inference.js';
import { encodeDataset } from '../src/tokenizer/dataset.js';
import { runHeads } from '../src/eval/predict.js';
import { lastPoolJob, startInferenceWorker } from '../src/model/inference-pool.js';
import { mbertRandom } from './mbert-random.js';

const [workDirArg, nArg, windowsFile] = process.argv.slice(2);
if (!workDirArg || !nArg || !(Number(nArg) > 0))
  throw new Error('usage: speed-eval.ts <workDir> <sentences> [windowsFile]');
const workDir = resolve(workDirArg);
const n = Number(nArg);
const shared = resolve(process.env.MSD_DATA_ROOT ?? join(import.meta.dirname, '..', '..', 'shared', 'data'));
const mbert = resolve(join(shared, '..', 'models', 'bert-base-multilingual-cased'));

async function main(): Promise<void> {
  const backend = await initBackend();
  const ds = loadDataset('conll2002', 'nl', 'test', { root: shared });
  const sentences = ds.sentences.slice(0, n);
  const cfg = resolveConfig('paper', { model: { pretrained: mbertRandom(workDir, mbert) } });
  const model = newModel('eval-bench', cfg.model.pretrained, ds.schema, cfg, 1);
  try {
    // The windows and batches runHeads will run (the same encoding call as runHeads makes).
    const { encoded } = encodeDataset(model.tokenizer, sentences, { maxLength: model.maxLength });
    const batches = inferenceBatches(encoded, model.tokenizer.padId);
    const longest = batches[batches.length - 1]!;
    // Warm-up: the longest two batches, on both threads when inference shares jobs with its worker
    // (model/inference-pool.ts), so that the worker has started, built its copy of the model and grown its heap.
    const warmIds = new Set(batches.slice(-2).flatMap((b) => b.items.map((w) => w.sentenceId)));
    const pooled = await startInferenceWorker();
    runHeads(
      model,
      sentences.filter((s) => warmIds.has(s.id)),
      pooled ? { threads: 2 } : {},
    );
    const t0 = performance.now();
    const out = runHeads(model, sentences);
    const sec = (performance.now() - t0) / 1000;
    if (out.labels.size !== model.heads.layers.length) throw new Error('speed-eval: not every head was decoded');
    const realTokens = encoded.reduce((a, w) => a + w.inputIds.length, 0);
    if (windowsFile)
      writeFileSync(
        windowsFile,
        JSON.stringify({
          numLabels: ds.schema.tags.length,
          sentences: sentences.length,
          warmup: 1,
          batches: [longest, ...batches].map((b) => b.items.map((w) => ({ ids: Array.from(w.inputIds), labels: [] }))),
        }),
      );
    console.log(
      JSON.stringify({
        sentencesPerSec: sentences.length / sec,
        tokensPerSec: realTokens / sec,
        sentences: sentences.length,
        windows: encoded.length,
        realTokens,
        batches: batches.length,
        sec,
        // Batches the worker thread read (0 when inference ran on this thread alone).
        byWorker: lastPoolJob()?.byWorker ?? 0,
        backend: backend.summary,
      }),
    );
  } finally {
    disposeNerModel(model);
  }
}

await main();
