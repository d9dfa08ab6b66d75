/**
 * A trained model as a Hugging Face `BertForTokenClassification` directory that transformers loads with no missing
 * or unexpected keys (`AutoModelForTokenClassification.from_pretrained(dir)`), and that this library re-imports
 * without loss (`loadNerModel(dir)` gives back every head, bit for bit):
 *
 *   model.safetensors       `bert.*` (the encoder, up to the exported head's layer) + `classifier.weight/bias`
 *   msd_heads.safetensors   every per-layer head (`classifier.layer_{m}.*`) and, when `layer` < L, the encoder
 *                           layers above it (`bert.encoder.layer.{k}.*`): transformers never opens this file
 *   config.json             architectures [BertForTokenClassification], id2label/label2id, num_hidden_layers = the
 *                           head's layer, and `msd_heads` { layers, num_labels, dropout, classifier_layer, file,
 *                           num_hidden_layers (the full depth) }
 *   tokenizer files, training_config.json (the window length)   copied
 *
 * The classifier is the main head by default; `layer: m` exports head m instead. transformers applies its classifier
 * to the last layer it has, so head m goes out with the first m layers (the model it was trained on); the layers
 * above travel in the side file so the re-import is the whole model.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../run/io.js';
import { toHfConfig } from './bert-config.js';
import { HEADS_FILE, toHfTensors } from './hf-tensors.js';
import { loadNerModel, disposeNerModel } from './ner-model.js';
import { serializeSafetensors } from './safetensors-format.js';
import { TOKENIZER_FILES } from './save.js';

export interface ExportHfOptions {
  /** The head exported as transformers' `classifier` (default: the main head, the last layer with a head). */
  layer?: number;
}

export interface ExportHfResult {
  outDir: string;
  /** The head that became `classifier`. */
  layer: number;
  labels: string[];
  files: string[];
}

/** Writes `modelDir` (a saved NerModel, e.g. a run's `best/`) as a transformers token-classification directory. */
export function exportHf(modelDir: string, outDir: string, opts: ExportHfOptions = {}): ExportHfResult {
  const model = loadNerModel(modelDir);
  try {
    const { heads, encoder, schema } = model;
    const L = encoder.config.numLayers;
    const layer = opts.layer ?? heads.mainLayer;
    if (!heads.layers.includes(layer))
      throw new Error(`--layer ${layer}: ${modelDir} has heads on layers ${heads.layers.join(', ')} only`);
    mkdirSync(outDir, { recursive: true });
    const shapes = new Map<string, number[]>();
    const inModel = new Map<string, Float32Array>();
    const inSide = new Map<string, Float32Array>();
    for (const { name, variable } of encoder.variables()) {
      shapes.set(name, variable.shape);
      const k = /^layer\.(\d+)\./.exec(name);
      (k && Number(k[1]) >= layer ? inSide : inModel).set(name, variable.dataSync() as Float32Array);
    }
    for (const { name, variable } of heads.variables()) {
      shapes.set(name, variable.shape);
      inSide.set(name, variable.dataSync() as Float32Array);
    }
    const main = toHfTensors(inModel, shapes);
    const H = encoder.config.hiddenSize;
    const C = heads.numLabels;
    const kernel = inSide.get(`classifier.layer_${layer}.kernel`)!;
    const weight = new Float32Array(C * H); // [labels, hidden], PyTorch's Linear layout
    for (let h = 0; h < H; h++) for (let c = 0; c < C; c++) weight[c * H + h] = kernel[h * C + c]!;
    main.push(['classifier.weight', { shape: [C, H], data: weight }]);
    main.push(['classifier.bias', { shape: [C], data: inSide.get(`classifier.layer_${layer}.bias`)! }]);

    const files: string[] = [];
    const copy = (name: string) => {
      const src = join(modelDir, name);
      if (!existsSync(src)) return;
      writeFileAtomic(join(outDir, name), readFileSync(src)); // not copyFile: some tokenizer files are read-only
      files.push(name);
    };
    for (const f of TOKENIZER_FILES) copy(f);
    copy('training_config.json');
    writeFileAtomic(join(outDir, HEADS_FILE), serializeSafetensors(toHfTensors(inSide, shapes), { format: 'pt' }));
    writeFileAtomic(join(outDir, 'model.safetensors'), serializeSafetensors(main, { format: 'pt' }));
    files.push(HEADS_FILE, 'model.safetensors');
    const labels = [...schema.tags];
    const config: Record<string, unknown> = {
      ...toHfConfig(encoder.config),
      architectures: ['BertForTokenClassification'],
      num_hidden_layers: layer,
      id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
      label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
      msd_heads: {
        layers: heads.layers,
        num_labels: C,
        dropout: heads.dropout,
        classifier_layer: layer,
        num_hidden_layers: L,
        file: HEADS_FILE,
      },
    };
    writeJsonAtomic(join(outDir, 'config.json'), config);
    files.push('config.json');
    return { outDir, layer, labels, files };
  } finally {
    disposeNerModel(model);
  }
}
