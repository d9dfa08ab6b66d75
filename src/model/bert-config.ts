/**
 * The BERT configuration as read from a Hugging Face `config.json`, validated: anything this encoder cannot run
 * exactly (another activation, relative position embeddings, a decoder) is rejected with an error naming the file
 * and the field, rather than silently computing something else. Pure (no Node imports: the browser tagger uses it);
 * reading the file is config.ts.
 */

export interface BertConfig {
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  maxPositions: number;
  typeVocabSize: number;
  layerNormEps: number;
  hiddenDropout: number;
  attentionDropout: number;
  /** Std of the truncated normal used for fresh weights (HF `initializer_range`). */
  initializerRange: number;
  padTokenId: number;
  /**
   * The `config.json` object this was read from, kept so that saving writes back every field we do not model
   * (architectures, id2label, tokenizer hints) unchanged.
   */
  raw: Record<string, unknown>;
}

type Json = Record<string, unknown>;

function field(
  json: Json,
  key: string,
  source: string,
  kind: 'int' | 'posint' | 'prob' | 'posnum',
  dflt?: number,
): number {
  const v = json[key];
  if (v === undefined) {
    if (dflt !== undefined) return dflt;
    throw new Error(`${source}: missing required field "${key}"`);
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new Error(`${source}: field "${key}" must be a number, got ${JSON.stringify(v)}`);
  }
  const ok =
    kind === 'int'
      ? Number.isInteger(v) && v >= 0
      : kind === 'posint'
        ? Number.isInteger(v) && v > 0
        : kind === 'prob'
          ? v >= 0 && v < 1
          : v > 0;
  if (!ok) {
    const what = {
      int: 'a non-negative integer',
      posint: 'a positive integer',
      prob: 'a probability in [0, 1)',
      posnum: 'a positive number',
    }[kind];
    throw new Error(`${source}: field "${key}" must be ${what}, got ${v}`);
  }
  return v;
}

/** Parses and validates a `config.json` object. `source` names the file in errors. */
export function parseBertConfig(json: unknown, source = 'config.json'): BertConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new Error(`${source}: expected a JSON object`);
  }
  const j = json as Json;
  if (j.model_type !== undefined && j.model_type !== 'bert') {
    throw new Error(`${source}: model_type "${String(j.model_type)}" is not supported; this encoder runs "bert" only`);
  }
  const act = j.hidden_act ?? 'gelu';
  if (act !== 'gelu') {
    // HF "gelu" is the exact erf form; "gelu_new"/"gelu_pytorch_tanh" are the tanh approximation, "relu" differs.
    throw new Error(
      `${source}: hidden_act "${String(act)}" is not supported; only "gelu" (exact, erf-based) is implemented`,
    );
  }
  const pos = j.position_embedding_type ?? 'absolute';
  if (pos !== 'absolute') {
    throw new Error(
      `${source}: position_embedding_type "${String(pos)}" is not supported; only "absolute" is implemented`,
    );
  }
  if (j.is_decoder === true || j.add_cross_attention === true) {
    throw new Error(
      `${source}: decoder / cross-attention BERT configs are not supported (is_decoder or add_cross_attention is true)`,
    );
  }
  const cfg: BertConfig = {
    vocabSize: field(j, 'vocab_size', source, 'posint'),
    hiddenSize: field(j, 'hidden_size', source, 'posint'),
    numLayers: field(j, 'num_hidden_layers', source, 'posint'),
    numHeads: field(j, 'num_attention_heads', source, 'posint'),
    intermediateSize: field(j, 'intermediate_size', source, 'posint'),
    maxPositions: field(j, 'max_position_embeddings', source, 'posint', 512),
    typeVocabSize: field(j, 'type_vocab_size', source, 'posint', 2),
    layerNormEps: field(j, 'layer_norm_eps', source, 'posnum', 1e-12),
    hiddenDropout: field(j, 'hidden_dropout_prob', source, 'prob', 0.1),
    attentionDropout: field(j, 'attention_probs_dropout_prob', source, 'prob', 0.1),
    initializerRange: field(j, 'initializer_range', source, 'posnum', 0.02),
    padTokenId: field(j, 'pad_token_id', source, 'int', 0),
    raw: { ...j },
  };
  if (cfg.hiddenSize % cfg.numHeads !== 0) {
    throw new Error(`${source}: hidden_size ${cfg.hiddenSize} is not divisible by num_attention_heads ${cfg.numHeads}`);
  }
  return cfg;
}

/** A Hugging Face `config.json` object for this config (the raw fields first, ours on top). */
export function toHfConfig(cfg: BertConfig): Record<string, unknown> {
  return {
    ...cfg.raw,
    model_type: 'bert',
    hidden_act: 'gelu',
    position_embedding_type: 'absolute',
    vocab_size: cfg.vocabSize,
    hidden_size: cfg.hiddenSize,
    num_hidden_layers: cfg.numLayers,
    num_attention_heads: cfg.numHeads,
    intermediate_size: cfg.intermediateSize,
    max_position_embeddings: cfg.maxPositions,
    type_vocab_size: cfg.typeVocabSize,
    layer_norm_eps: cfg.layerNormEps,
    hidden_dropout_prob: cfg.hiddenDropout,
    attention_probs_dropout_prob: cfg.attentionDropout,
    initializer_range: cfg.initializerRange,
    pad_token_id: cfg.padTokenId,
  };
}

/** Builds a config from the fields that matter (for tiny models); the rest take BERT's defaults. */
export function bertConfig(
  fields: Partial<Omit<BertConfig, 'raw'>> &
    Pick<BertConfig, 'vocabSize' | 'hiddenSize' | 'numLayers' | 'numHeads' | 'intermediateSize'>,
): BertConfig {
  const json: Json = {
    model_type: 'bert',
    architectures: ['BertModel'],
    hidden_act: 'gelu',
    vocab_size: fields.vocabSize,
    hidden_size: fields.hiddenSize,
    num_hidden_layers: fields.numLayers,
    num_attention_heads: fields.numHeads,
    intermediate_size: fields.intermediateSize,
    max_position_embeddings: fields.maxPositions ?? 512,
    type_vocab_size: fields.typeVocabSize ?? 2,
    layer_norm_eps: fields.layerNormEps ?? 1e-12,
    hidden_dropout_prob: fields.hiddenDropout ?? 0.1,
    attention_probs_dropout_prob: fields.attentionDropout ?? 0.1,
    initializer_range: fields.initializerRange ?? 0.02,
    pad_token_id: fields.padTokenId ?? 0,
  };
  return parseBertConfig(json, 'bertConfig()');
}
