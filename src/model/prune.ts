/**
 * Vocabulary pruning: a checkpoint that keeps only the WordPiece pieces a fixed set of corpora uses.
 *
 * mBERT's word embeddings are 119,547 x H: 92 M of its 177 M encoder parameters (52%), and the whole cost of a
 * step of a small model (the embedding gradient, AdamW's two moments and the clipping norm all span every row,
 * used or not). A run over a fixed set of languages touches a few tens of thousands of pieces, so
 *
 *   pruneVocabulary(checkpointDir, [esTrain, nlTrain], outDir)
 *
 * writes a checkpoint whose vocabulary is the pieces those sentences tokenise to, plus the special tokens, in
 * their original order, with the embedding rows (and an MLM head's output rows, if present) remapped to match.
 * Every other tensor is copied byte for byte, in its own dtype.
 *
 * Same tokens on covered text: WordPiece cuts a word greedily into the longest vocabulary entry at each position.
 * On a word of the corpora every chosen piece is kept, and no longer candidate existed in the full vocabulary
 * (it would have been chosen), so none exists in the pruned one: the pieces, and so the model's inputs, are the
 * same (ids renumbered). On other text a word is cut into the pieces that remain, and a word they cannot spell
 * becomes [UNK]: pieces outside the corpora map to [UNK] or to shorter kept pieces. (test/model/prune.test.ts
 * checks both on real data.)
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AnySentence } from '../data/types.js';
import { loadTokenizer } from '../tokenizer/load.js';
import { writeFileAtomic, writeJsonAtomic } from '../run/io.js';
import { DTYPE_SIZES, parseSafetensors } from './safetensors.js';
import { serializeRawSafetensors, type RawTensorToWrite } from './safetensors-format.js';

/** Sentences whose pieces are kept: any list of `{ tokens }` (Sentence[], UnlabelledSentence[]). */
export type PruneCorpus = readonly Pick<AnySentence, 'tokens'>[];

export interface PruneOptions {
  /** Extra tokens to keep even if no corpus uses them (e.g. a [MASK] for MLM is kept anyway as a special). */
  keep?: readonly string[];
}

export interface PruneReport {
  /** The checkpoint pruned and where the pruned copy is. */
  from: string;
  to: string;
  originalVocabSize: number;
  vocabSize: number;
  /** Sentences and words read, over all corpora. */
  sentences: number;
  words: number;
  /** Special tokens kept regardless of use. */
  specials: string[];
  /** Tensors whose rows were remapped, with their old and new shapes. */
  remapped: { name: string; from: number[]; to: number[] }[];
  /** Parameters before and after. */
  parameters: { before: number; after: number };
}

/** Tensors indexed by vocabulary id in their first dimension: the word embeddings and an MLM head's outputs. */
function isVocabTensor(name: string, shape: readonly number[], vocabSize: number): boolean {
  return (
    shape[0] === vocabSize && /word_embeddings|(^|\.)predictions\.(decoder\.weight|decoder\.bias|bias)$/.test(name)
  );
}

/** The ids a tokenizer gives every word of the corpora, as a set. */
function usedIds(dir: string, corpora: readonly PruneCorpus[]): { ids: Set<number>; sentences: number; words: number } {
  const tok = loadTokenizer(dir);
  const ids = new Set<number>();
  let sentences = 0;
  let words = 0;
  for (const corpus of corpora) {
    for (const s of corpus) {
      for (const id of tok.encodeWords(s.tokens).ids) ids.add(id);
      sentences++;
      words += s.tokens.length;
    }
  }
  for (const special of [tok.unkId, tok.clsId, tok.sepId, tok.padId]) ids.add(special);
  return { ids, sentences, words };
}

/** vocab.txt's tokens in id order (HF's reading: one per line, a trailing newline ends the file). */
function readVocabTxt(path: string): string[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => l.replace(/\r$/, ''));
}

/** The renumbering of the kept ids: old ids in order, old -> new, and a lookup that names what it maps on failure. */
interface Renumbering {
  kept: number[];
  newId: Map<number, number>;
  remap(old: number, what: string): number;
}

function renumbering(ids: Iterable<number>): Renumbering {
  const kept = [...ids].sort((a, b) => a - b);
  const newId = new Map(kept.map((old, i) => [old, i]));
  const remap = (old: number, what: string): number => {
    const id = newId.get(old);
    if (id === undefined)
      throw new Error(`pruneVocabulary: ${what} (id ${old}) is not kept; it must be a special token`);
    return id;
  };
  return { kept, newId, remap };
}

/** The checkpoint's three files that pruning needs, checked for presence and for agreeing on the vocabulary size. */
function readCheckpointFiles(from: string) {
  const weightsPath = join(from, 'model.safetensors');
  const configPath = join(from, 'config.json');
  const vocabPath = join(from, 'vocab.txt');
  for (const p of [weightsPath, configPath, vocabPath]) {
    if (!existsSync(p)) {
      const sharded = p === weightsPath && existsSync(join(from, 'model.safetensors.index.json'));
      throw new Error(
        `pruneVocabulary: ${p} not found${sharded ? ' (sharded checkpoints are not supported: merge the shards first)' : ''}`,
      );
    }
  }
  const vocab = readVocabTxt(vocabPath);
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as Record<string, unknown>;
  if (config.vocab_size !== vocab.length) {
    throw new Error(
      `pruneVocabulary: ${configPath} has vocab_size ${String(config.vocab_size)} but ${vocabPath} lists ${vocab.length} tokens`,
    );
  }
  return { weightsPath, configPath, vocabPath, vocab, config };
}

/**
 * The weights with the vocabulary rows gathered (`kept`, in order) and every other tensor copied as raw bytes in its
 * own dtype, serialized; with the tensors remapped and the parameter counts before and after.
 */
function prunedWeights(weightsPath: string, vocabSize: number, kept: readonly number[]) {
  const buf = readFileSync(weightsPath);
  const st = parseSafetensors(buf, weightsPath);
  const tensors: [string, RawTensorToWrite][] = [];
  const remapped: PruneReport['remapped'] = [];
  let before = 0;
  let after = 0;
  for (const name of st.names) {
    const info = st.info(name);
    const elems = info.shape.reduce((a, b) => a * b, 1);
    before += elems;
    let data: Uint8Array = buf.subarray(info.begin, info.end);
    let shape = info.shape;
    if (isVocabTensor(name, info.shape, vocabSize)) {
      const rowBytes = (info.end - info.begin) / vocabSize;
      const out = new Uint8Array(rowBytes * kept.length);
      kept.forEach((old, i) => out.set(data.subarray(old * rowBytes, (old + 1) * rowBytes), i * rowBytes));
      data = out;
      shape = [kept.length, ...info.shape.slice(1)];
      remapped.push({ name, from: info.shape, to: shape });
    }
    after += shape.reduce((a, b) => a * b, 1);
    if (!(info.dtype in DTYPE_SIZES))
      throw new Error(`pruneVocabulary: ${weightsPath}: tensor "${name}" has unsupported dtype ${info.dtype}`);
    tensors.push([name, { dtype: info.dtype, shape, bytes: data }]);
  }
  if (!remapped.some((r) => r.name.includes('word_embeddings'))) {
    throw new Error(`pruneVocabulary: ${weightsPath} has no word_embeddings tensor with ${vocabSize} rows`);
  }
  return { file: serializeRawSafetensors(tensors, st.metadata), remapped, parameters: { before, after } };
}

/** The files pruning rewrites; every other file of the checkpoint is copied as it is. */
const REWRITTEN = new Set([
  'model.safetensors',
  'config.json',
  'vocab.txt',
  'tokenizer.json',
  'tokenizer_config.json',
  'prune.json',
]);

/** Copies the files pruning does not rewrite (special_tokens_map.json, training_config.json, ...). */
function copyOtherFiles(from: string, to: string): void {
  for (const f of readdirSync(from)) {
    if (!REWRITTEN.has(f) && !f.startsWith('.') && statSync(join(from, f)).isFile())
      copyFileSync(join(from, f), join(to, f));
  }
}

/** vocab.txt, tokenizer.json and tokenizer_config.json (the last two where present), renumbered. */
function writeTokenizerFiles(from: string, to: string, vocab: readonly string[], ids: Renumbering): void {
  const { kept, newId, remap } = ids;
  writeFileAtomic(join(to, 'vocab.txt'), `${kept.map((id) => vocab[id]).join('\n')}\n`);
  const tjPath = join(from, 'tokenizer.json');
  if (existsSync(tjPath)) {
    const tj = JSON.parse(readFileSync(tjPath, 'utf8')) as {
      model: { vocab: Record<string, number> };
      added_tokens?: { id: number; content: string }[];
      post_processor?: { special_tokens?: Record<string, { ids?: number[] }> } | null;
    };
    const v: Record<string, number> = {};
    for (const [tokText, id] of Object.entries(tj.model.vocab)) if (newId.has(id)) v[tokText] = newId.get(id)!;
    tj.model.vocab = v;
    for (const t of tj.added_tokens ?? []) t.id = remap(t.id, `${tjPath}: added token '${t.content}'`);
    for (const [name, s] of Object.entries(tj.post_processor?.special_tokens ?? {})) {
      if (s.ids) s.ids = s.ids.map((id) => remap(id, `${tjPath}: post_processor token '${name}'`));
    }
    writeJsonAtomic(join(to, 'tokenizer.json'), tj);
  }
  const tcPath = join(from, 'tokenizer_config.json');
  if (existsSync(tcPath)) {
    const tc = JSON.parse(readFileSync(tcPath, 'utf8')) as {
      added_tokens_decoder?: Record<string, { content: string }>;
    };
    if (tc.added_tokens_decoder) {
      tc.added_tokens_decoder = Object.fromEntries(
        Object.entries(tc.added_tokens_decoder).map(([id, t]) => [
          String(remap(Number(id), `${tcPath}: added token '${t.content}'`)),
          t,
        ]),
      );
    }
    writeJsonAtomic(join(to, 'tokenizer_config.json'), tc);
  }
}

/**
 * Writes a pruned copy of the Hugging Face BERT directory `checkpointDir` into `outDir` (see the file comment):
 * model.safetensors, config.json (vocab_size, pad_token_id), vocab.txt, tokenizer.json and tokenizer_config.json
 * renumbered, every other file copied, plus `prune.json` (the report, returned too). Each file is written
 * atomically; config.json last.
 */
export function pruneVocabulary(
  checkpointDir: string,
  corpora: readonly PruneCorpus[],
  outDir: string,
  opts: PruneOptions = {},
): PruneReport {
  const from = resolve(checkpointDir);
  const to = resolve(outDir);
  if (from === to)
    throw new Error(`pruneVocabulary: outDir ${outDir} is the checkpoint itself; write the pruned copy elsewhere`);
  const { weightsPath, configPath, vocabPath, vocab, config } = readCheckpointFiles(from);

  // 1. The ids to keep, in their original order (so [PAD] stays 0 and the specials keep their relative order).
  const { ids, sentences, words } = usedIds(from, corpora);
  const tokConfig = loadTokenizer(from).config;
  const specials = [...new Set([...tokConfig.specialTokens, ...(opts.keep ?? [])])];
  for (const t of specials) {
    const id = tokConfig.vocab.get(t);
    if (id === undefined) throw new Error(`pruneVocabulary: token '${t}' to keep is not in ${vocabPath}`);
    ids.add(id);
  }
  const renumbered = renumbering(ids);
  const { kept, remap } = renumbered;

  // 2. Weights: vocabulary rows gathered, everything else copied as raw bytes in its own dtype.
  const { file, remapped, parameters } = prunedWeights(weightsPath, vocab.length, kept);
  mkdirSync(to, { recursive: true });
  copyOtherFiles(from, to);
  writeFileAtomic(join(to, 'model.safetensors'), file);

  // 3. Tokenizer files, renumbered.
  writeTokenizerFiles(from, to, vocab, renumbered);

  const report: PruneReport = {
    from,
    to,
    originalVocabSize: vocab.length,
    vocabSize: kept.length,
    sentences,
    words,
    specials,
    remapped,
    parameters,
  };
  writeJsonAtomic(join(to, 'prune.json'), report);
  // 4. config.json last: a directory with a config.json is complete (as save.ts).
  const padOld = typeof config.pad_token_id === 'number' ? config.pad_token_id : undefined;
  writeJsonAtomic(join(to, 'config.json'), {
    ...config,
    vocab_size: kept.length,
    ...(padOld !== undefined ? { pad_token_id: remap(padOld, `${configPath}: pad_token_id`) } : {}),
  });
  return report;
}
