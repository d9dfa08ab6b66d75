/** src/model: the BERT encoder, per-layer heads, safetensors and Hugging Face checkpoints. */
export { BertEncoder, gelu, MASK_BIAS } from './bert.js';
export type { BertInput, BertOutput, ForwardOptions, NamedVariable } from './bert.js';
export { parseBertConfig, readBertConfig, toHfConfig, bertConfig } from './config.js';
export type { BertConfig } from './config.js';
export { LayerHeads, resolveHeadLayers, headParamName, DEFAULT_FIRST_HEAD_LAYER } from './heads.js';
export type { LayerHeadsOptions, HeadLogitsOptions } from './heads.js';
export { encoderParamSpecs, countParameters, isFrozen } from './params.js';
export type { ParamSpec, FreezeOptions } from './params.js';
export {
  parseSafetensors,
  readSafetensors,
  serializeSafetensors,
  writeSafetensors,
  halfToFloat,
} from './safetensors.js';
export type { SafetensorsFile, TensorInfo, TensorToWrite } from './safetensors.js';
export {
  loadBert,
  openCheckpointTensors,
  toHfName,
  canonicalHfName,
  toHfTensors,
  transpose2d,
  bertFromTensors,
  checkpointTensors,
  HEADS_FILE,
} from './checkpoint.js';
export type {
  LoadBertOptions,
  LoadedBert,
  LoadReport as CheckpointLoadReport,
  CheckpointTensors,
  HfClassifier,
  BertWeights,
} from './checkpoint.js';
export { exportHf, type ExportHfOptions, type ExportHfResult } from './export-hf.js';
export { mapClassifier, labelsFromId2label, normalizeLabel, type MappedClassifier } from './classifier-labels.js';
export { fromPretrained, resolveModelDir, resolveTokenizerDir, cachePathFor, defaultCacheDir } from './hub.js';
export type { FromPretrainedOptions, DownloadProgress } from './hub.js';
export { saveModel, TOKENIZER_FILES } from './save.js';
export type { SaveModelOptions } from './save.js';
export { writeTinyCheckpoint, defaultTinyVocab } from './tiny.js';
export type { TinyCheckpointOptions } from './tiny.js';
export { saveNerModel, loadNerModel, disposeNerModel, schemaFromLabels, type NerModel } from './ner-model.js';
