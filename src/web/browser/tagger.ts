/**
 * The browser tagger's model: the files an export wrote (config.json, model.safetensors, the tokenizer files,
 * training_config.json), fetched by the page and turned into the same `NerModel` that `loadNerModel` builds in Node,
 * with the library's own modules (safetensors parsing, the HF name mapping, WordPiece, windows, decoding, `predict`).
 * So the page's tags are `msd predict`'s. TensorFlow.js runs on its cpu backend here (exact float32, no GPU driver
 * differences). Nothing in this file or what it imports may use Node's modules: esbuild bundles it for the browser
 * (kernel-setup/build-web.ts).
 */
import { predict, pretokenize, wordOffsets, type Prediction } from '../../eval/predict.js';
import { labelsFromId2label, schemaFromLabels } from '../../model/classifier-labels.js';
import { parseBertConfig } from '../../model/bert-config.js';
import { bertFromTensors, checkpointTensors } from '../../model/hf-tensors.js';
import type { NerModel } from '../../model/ner-model-type.js';
import { parseSafetensors } from '../../model/safetensors-format.js';
import { tf } from '../../tf.js';
import { encodeDataset } from '../../tokenizer/dataset.js';
import { wordPieceConfigFromTokenizerJson, wordPieceConfigFromVocab } from '../../tokenizer/wordpiece-config.js';
import { WordPieceTokenizer } from '../../tokenizer/wordpiece.js';

/** What `msd export --format web` writes next to the page as `meta.json`. */
export interface WebMeta {
  title: string;
  /** One line under the title: what the model is. */
  description: string;
  /** The model directory it was exported from. */
  source: string;
  /** Languages named by the training config (source, targets), for the page's heading. */
  languages: string[];
  tokenizer: 'tokenizer.json' | 'vocab.txt';
  maxLength: number;
  exportedAt: string;
}

export interface LoadedTagger {
  model: NerModel;
  meta: WebMeta;
}

async function fetchOk(base: string, file: string): Promise<Response> {
  const res = await fetch(new URL(file, base));
  if (!res.ok) throw new Error(`${file}: HTTP ${res.status} ${res.statusText}`);
  return res;
}

/** Loads the exported model from the folder at `base` (the page's own URL). */
export async function loadTagger(base: string, onStatus: (msg: string) => void = () => {}): Promise<LoadedTagger> {
  await tf.setBackend('cpu');
  await tf.ready();
  const meta = (await (await fetchOk(base, 'meta.json')).json()) as WebMeta;
  onStatus('loading the model weights...');
  const configJson: unknown = await (await fetchOk(base, 'config.json')).json();
  const config = parseBertConfig(configJson, 'config.json');
  const weights = parseSafetensors(
    new Uint8Array(await (await fetchOk(base, 'model.safetensors')).arrayBuffer()),
    'model.safetensors',
  );
  onStatus('loading the vocabulary...');
  const tokenizer = new WordPieceTokenizer(
    meta.tokenizer === 'tokenizer.json'
      ? wordPieceConfigFromTokenizerJson(await (await fetchOk(base, 'tokenizer.json')).json(), 'tokenizer.json')
      : wordPieceConfigFromVocab(
          await (await fetchOk(base, 'vocab.txt')).text(),
          await (await fetchOk(base, 'tokenizer_config.json')).json(),
          'vocab.txt',
          'tokenizer_config.json',
        ),
  );
  const built = bertFromTensors(config, checkpointTensors([weights]), 'model.safetensors');
  if (!built.heads) throw new Error('model.safetensors: no per-layer heads (classifier.layer_{m}.*)');
  const schema = schemaFromLabels(
    labelsFromId2label((configJson as { id2label?: unknown }).id2label, 'config.json'),
    'config.json',
  );
  return {
    meta,
    model: {
      name: meta.title,
      encoder: built.encoder,
      heads: built.heads,
      tokenizer,
      schema,
      maxLength: meta.maxLength,
    },
  };
}

export interface TaggedLine {
  text: string;
  prediction: Prediction;
  /** Character offsets [start, end) of each word of `prediction.tokens` in `text`. */
  offsets: [number, number][];
  /** Sub-tokens of the line (without [CLS]/[SEP]) and the windows it was read in. */
  subTokens: number;
  windows: number;
}

/** Tags each non-empty line of `text` as one sentence, exactly as `msd predict "line1" "line2" ...` does. */
export function tagText(model: NerModel, text: string): TaggedLine[] {
  const lines = text.split(/\r?\n/).filter((l) => pretokenize(l).length > 0);
  if (lines.length === 0) return [];
  const predictions = predict(model, lines);
  const { encoded } = encodeDataset(
    model.tokenizer,
    predictions.map((p) => ({
      id: p.id,
      lang: 'und',
      tokens: [...p.tokens],
      tags: p.tokens.map(() => 'O'),
      source: { file: '<page>', line: 0 },
    })),
    { maxLength: model.maxLength },
  );
  return lines.map((line, i) => {
    const p = predictions[i]!;
    const windows = encoded.filter((e) => e.sentenceId === p.id).length;
    const subTokens = p.tokens.reduce((n, t) => n + model.tokenizer.tokenizeWord(t).ids.length, 0);
    return { text: line, prediction: p, offsets: wordOffsets(line, p.tokens), subTokens, windows };
  });
}
