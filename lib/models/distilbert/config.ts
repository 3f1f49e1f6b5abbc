// DistilBERT's config.json, as Hugging Face writes it, plus the classification head's labels.
import * as fs from 'fs';

/** The keys of Hugging Face's DistilBertConfig (snake_case, as in config.json) and the head's labels. */
export interface DistilBertConfig {
  vocab_size: number;
  dim: number;
  n_layers: number;
  n_heads: number;
  hidden_dim: number;
  max_position_embeddings: number;
  dropout: number;
  attention_dropout: number;
  seq_classif_dropout: number;
  activation: 'gelu';
  pad_token_id: number;
  initializer_range: number;
  sinusoidal_pos_embds: false;
  /** Number of classes of the classification head. */
  numLabels: number;
  /** Class index (as a string key, like config.json) → label name. */
  id2label: Record<string, string>;
  /** Label name → class index. */
  label2id: Record<string, number>;
}

/** distilbert-base-uncased's values, used for keys a config.json leaves out (as transformers does). */
export const DISTILBERT_DEFAULTS: Omit<DistilBertConfig, 'numLabels' | 'id2label' | 'label2id'> = {
  vocab_size: 30522,
  dim: 768,
  n_layers: 6,
  n_heads: 12,
  hidden_dim: 3072,
  max_position_embeddings: 512,
  dropout: 0.1,
  attention_dropout: 0.1,
  seq_classif_dropout: 0.2,
  activation: 'gelu',
  pad_token_id: 0,
  initializer_range: 0.02,
  sinusoidal_pos_embds: false,
};

function defaultLabels(numLabels: number): { id2label: Record<string, string>; label2id: Record<string, number> } {
  const id2label: Record<string, string> = {};
  const label2id: Record<string, number> = {};
  for (let i = 0; i < numLabels; i++) {
    id2label[String(i)] = `LABEL_${i}`;
    label2id[`LABEL_${i}`] = i;
  }
  return { id2label, label2id };
}

/**
 * id2label / label2id naming the classes in order, as transformers' `from_pretrained(...,
 * id2label=…, label2id=…)` sets them. Throws on an empty list or a repeated or empty name
 * (label2id and the server's probabilities are keyed by name).
 */
export function labelsFromNames(labelNames: readonly string[]): Pick<DistilBertConfig, 'numLabels' | 'id2label' | 'label2id'> {
  if (labelNames.length === 0) throw new Error('labelNames is empty; give one name per class, e.g. [\'negative\', \'positive\']');
  const id2label: Record<string, string> = {};
  const label2id: Record<string, number> = {};
  labelNames.forEach((name, id) => {
    if (typeof name !== 'string' || name === '') throw new Error(`labelNames[${id}] is ${JSON.stringify(name)}; class names must be non-empty strings`);
    if (name in label2id) throw new Error(`labelNames names two classes ${JSON.stringify(name)}; class names must differ`);
    id2label[String(id)] = name;
    label2id[name] = id;
  });
  return { numLabels: labelNames.length, id2label, label2id };
}

/** Options of parseDistilBertConfig / readDistilBertConfig. */
export interface ConfigLabelOptions {
  /** Number of classes; overrides the file's. */
  numLabels?: number;
  /** Class names in label-id order (sets numLabels, id2label and label2id), e.g. the data's labelNames. */
  labelNames?: readonly string[];
}

/**
 * Validates a parsed config.json. `labelNames` or `numLabels` override the classes (else they
 * come from the file's `id2label`, else 2, as in transformers; a numLabels that differs from the
 * file's gives LABEL_i names). `source` names the file in error messages.
 */
export function parseDistilBertConfig(json: Record<string, unknown>, source: string, opts: ConfigLabelOptions = {}): DistilBertConfig {
  if (json.model_type !== undefined && json.model_type !== 'distilbert') {
    throw new Error(`${source}: model_type is '${json.model_type}', not 'distilbert'; this loader only knows DistilBERT checkpoints.`);
  }
  const cfg = { ...DISTILBERT_DEFAULTS } as Record<string, unknown>;
  for (const key of Object.keys(DISTILBERT_DEFAULTS)) {
    if (json[key] !== undefined) cfg[key] = json[key];
  }
  const positiveInts = ['vocab_size', 'dim', 'n_layers', 'n_heads', 'hidden_dim', 'max_position_embeddings'];
  for (const key of positiveInts) {
    if (!Number.isInteger(cfg[key]) || (cfg[key] as number) <= 0) {
      throw new Error(`${source}: ${key} must be a positive integer, got ${JSON.stringify(cfg[key])}`);
    }
  }
  for (const key of ['dropout', 'attention_dropout', 'seq_classif_dropout']) {
    const p = cfg[key];
    if (typeof p !== 'number' || !(p >= 0 && p < 1)) throw new Error(`${source}: ${key} must be a probability in [0, 1), got ${JSON.stringify(p)}`);
  }
  if ((cfg.dim as number) % (cfg.n_heads as number) !== 0) {
    throw new Error(`${source}: dim ${cfg.dim} is not divisible by n_heads ${cfg.n_heads}`);
  }
  if (cfg.activation !== 'gelu') {
    throw new Error(`${source}: activation '${cfg.activation}' is not supported; only 'gelu' (exact, erf-based) is implemented.`);
  }
  if (cfg.sinusoidal_pos_embds !== false) {
    throw new Error(`${source}: sinusoidal_pos_embds is true; only learned position embeddings are supported.`);
  }

  let labels = defaultLabels(2);
  if (json.id2label && typeof json.id2label === 'object') {
    const id2label = json.id2label as Record<string, string>;
    labels = { id2label: { ...id2label }, label2id: {} };
    for (const [id, name] of Object.entries(id2label)) labels.label2id[name] = Number(id);
  }
  let numLabels = Object.keys(labels.id2label).length;
  if (opts.labelNames !== undefined) {
    if (opts.numLabels !== undefined && opts.numLabels !== opts.labelNames.length) {
      throw new Error(`numLabels ${opts.numLabels} but ${opts.labelNames.length} labelNames (${opts.labelNames.join(', ')}); give one or make them agree`);
    }
    const named = labelsFromNames(opts.labelNames);
    return { ...(cfg as Omit<DistilBertConfig, 'numLabels' | 'id2label' | 'label2id'>), ...named };
  }
  if (opts.numLabels !== undefined) {
    if (!Number.isInteger(opts.numLabels) || opts.numLabels < 1) {
      throw new Error(`numLabels must be a positive integer, got ${opts.numLabels}`);
    }
    if (opts.numLabels !== numLabels) labels = defaultLabels(opts.numLabels);
    numLabels = opts.numLabels;
  }
  return { ...(cfg as Omit<DistilBertConfig, 'numLabels' | 'id2label' | 'label2id'>), numLabels, ...labels };
}

export function readDistilBertConfig(file: string, opts: ConfigLabelOptions = {}): DistilBertConfig {
  if (!fs.existsSync(file)) throw new Error(`${file} not found: a checkpoint folder needs its config.json`);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message}); re-download it.`);
  }
  return parseDistilBertConfig(json, file, opts);
}

/** config.json content in transformers' format (sorted keys, 2-space indent) for a classifier. */
export function distilBertConfigJson(config: DistilBertConfig, extra: Record<string, unknown> = {}): string {
  const { numLabels: _n, id2label, label2id, ...hf } = config;
  const json: Record<string, unknown> = {
    ...hf,
    architectures: ['DistilBertForSequenceClassification'],
    model_type: 'distilbert',
    id2label,
    label2id,
    qa_dropout: 0.1,
    tie_weights_: true,
    ...extra,
  };
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(json).sort()) sorted[key] = json[key];
  return JSON.stringify(sorted, null, 2) + '\n';
}
