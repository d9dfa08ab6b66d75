/**
 * `npm run bench -- tokenizer`: speed of tokenising + aligning CoNLL-2002 Dutch train against
 * `@huggingface/transformers`' BertTokenizer on the same words in the same run, padding efficiency on CoNLL-2002
 * Spanish train (batch 32) against the reference code's fixed padding to 128, and the words the reference's cut
 * at 128 sub-tokens would drop from each evaluation set.
 *
 * The reference pipeline is what the public reference code (and XTREME's `convert_examples_to_features`) does:
 * `tokenizer.tokenize(word)` for each word (here `encode(word)` without special tokens: tokenize + ids), the label on the first piece, a cut at 126 sub-tokens and
 * [CLS]/[SEP]; here with transformers.js' BertTokenizer over the same tokenizer.json. Ours runs with a cold
 * per-word cache in every repetition, so its cache is earned within the run like the reference's (it has none).
 */
import { join } from 'node:path';
import type { Bench, BenchRow } from './run.js';
import { availableDatasets, loadDataset } from '../src/data/index.js';
import type { LabelSchema, Sentence } from '../src/data/types.js';
import { encodeDataset } from '../src/tokenizer/dataset.js';
import { fixedPaddingEfficiency, makeBatches, paddingEfficiency } from '../src/tokenizer/batching.js';
import { loadTokenizer } from '../src/tokenizer/load.js';

interface RefTokenizer {
  encode(text: string, opts: { add_special_tokens: boolean }): number[];
  cls_token_id?: number;
  sep_token_id?: number;
}

/** The reference alignment: one call per word, label on the first piece, cut to maxLength. */
function referenceEncode(
  tok: RefTokenizer,
  sentences: readonly Sentence[],
  schema: LabelSchema,
  maxLength = 128,
): number {
  let total = 0;
  for (const s of sentences) {
    const ids: number[] = [];
    const labels: number[] = [];
    s.tokens.forEach((w, i) => {
      const pieces = tok.encode(w, { add_special_tokens: false }); // = convert_tokens_to_ids(tokenize(w))
      if (pieces.length === 0) return; // the reference drops such words
      ids.push(...pieces);
      labels.push(schema.tagToId.get(s.tags[i]!)!, ...pieces.slice(1).map(() => -100));
    });
    const cut = ids.slice(0, maxLength - 2);
    const input = Int32Array.from([tok.cls_token_id ?? 101, ...cut, tok.sep_token_id ?? 102]);
    const lab = Int32Array.from([-100, ...labels.slice(0, maxLength - 2), -100]);
    total += input.length + lab.length;
  }
  return total;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const bench: Bench = async (ctx) => {
  const modelDir = join(ctx.root, '..', 'shared', 'models', 'bert-base-multilingual-cased');
  const dataRoot = join(ctx.root, '..', 'shared', 'data');
  const rows: BenchRow[] = [];

  // Speed: CoNLL-2002 nl train.
  const nl = loadDataset('conll2002', 'nl', 'train', { root: dataRoot });
  ctx.log(
    `conll2002 nl train: ${nl.sentences.length} sentences, ${nl.sentences.reduce((n, s) => n + s.tokens.length, 0)} words`,
  );
  const ours = loadTokenizer(modelDir);
  const oursTimes: number[] = [];
  for (let rep = 0; rep < 5; rep++) {
    ours.clearCache();
    const t0 = performance.now();
    encodeDataset(ours, nl.sentences, { schema: nl.schema });
    oursTimes.push(performance.now() - t0);
  }
  const t0 = performance.now();
  encodeDataset(ours, nl.sentences, { schema: nl.schema });
  const warm = performance.now() - t0;

  const { env, AutoTokenizer } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  env.localModelPath = join(modelDir, '..');
  const ref = (await AutoTokenizer.from_pretrained('bert-base-multilingual-cased', {
    local_files_only: true,
  })) as unknown as RefTokenizer;
  const refTimes: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    const t1 = performance.now();
    referenceEncode(ref, nl.sentences, nl.schema);
    refTimes.push(performance.now() - t1);
  }
  const n = nl.sentences.length;
  rows.push({
    what: 'tokenise + align conll2002 nl train (cold cache)',
    value: n / (median(oursTimes) / 1000),
    unit: 'sentences/s',
    reference: { name: 'transformers.js BertTokenizer, per word', value: n / (median(refTimes) / 1000) },
    better: 'higher',
    target: { on: 'ratio', op: '>=', value: 1 },
    note: `median of ${oursTimes.length} / ${refTimes.length} runs; warm cache ${Math.round(n / (warm / 1000))} sentences/s`,
  });

  // Padding efficiency: CoNLL-2002 es train, batch 32.
  const es = loadDataset('conll2002', 'es', 'train', { root: dataRoot });
  const { encoded } = encodeDataset(ours, es.sentences, { schema: es.schema });
  const eff = paddingEfficiency(makeBatches(encoded, { batchSize: 32, seed: 0 }));
  const sentenceLengths = es.sentences.map((s) => s.tokens.reduce((k, w) => k + ours.tokenizeWord(w).ids.length, 2));
  const fixed = fixedPaddingEfficiency(sentenceLengths, 128);
  rows.push({
    what: 'padding efficiency conll2002 es train, batch 32 (real / padded tokens)',
    value: eff,
    unit: 'ratio',
    reference: { name: 'fixed padding to 128', value: fixed },
    better: 'higher',
    target: { on: 'ratio', op: '>=', value: 2 },
  });

  // Words the reference's cut at 128 would drop, per evaluation set (test where the corpus has one, else dev).
  const evalSets = availableDatasets(dataRoot).filter(
    (d) =>
      d.split === 'test' ||
      (d.split === 'dev' &&
        !availableDatasets(dataRoot).some((o) => o.name === d.name && o.lang === d.lang && o.split === 'test')),
  );
  for (const d of evalSets) {
    const ds = loadDataset(d.name, d.lang, d.split, { root: dataRoot });
    const { report } = encodeDataset(ours, ds.sentences, { schema: ds.schema });
    ctx.log(
      `${d.name}/${d.lang}/${d.split}: ${report.words} words, ${report.longSentences} sentences over 126 sub-tokens, ${report.droppedByTruncation} words dropped by a cut at 128 (kept here in ${report.windows - report.sentences} extra windows)`,
    );
    rows.push({
      what: `words a cut at 128 drops: ${d.name} ${d.lang} ${d.split}`,
      value: report.droppedByTruncation,
      unit: 'words',
      better: 'lower',
      note: `of ${report.words}`,
    });
  }
  return rows;
};

export default bench;
