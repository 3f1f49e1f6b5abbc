// The notebook's parameters: one object read from the QLORA_* environment variables, with a preset
// chosen by the backend, and the LoRA and Trainer settings made from it.
//
//   const params = notebookParameters(backend);   // backend: what selectBackend() chose
//   params.r = 16;                                  // change anything, then re-run the cells below
//   getPeftModel(model, loraConfig(params));
//   new Trainer({ ..., args: trainingArguments(params, trainData.labels.length) });
//
// PARAMETERS is the one table of names: each parameter's environment variable, what it may be,
// and whether it is a Trainer argument, in which case it has TrainingArguments' name (HF's, in
// camelCase) and is passed on unchanged.
//
// Presets: 'gpu' is the original Python notebook's settings (10% of IMDB, 512 tokens, batch 8 ×
// 2 accumulation, lr 5e-5). 'cpu' keeps the original's 10% of IMDB at 128 tokens, batch 4 × 2
// accumulation and a larger learning rate (5e-4): 400 optimizer steps, ~15 minutes end to end on a
// 2-core machine with the native GEMM (README). Any QLORA_* variable overrides its preset value.
import type { LoraConfig } from '../peft/config';
import type { LabelScheme } from '../data/labels';
import type { TrainingArguments } from '../training/training-args';
import { envValue, parseBooleanEnv } from '../util/env';

export type PresetName = 'gpu' | 'cpu';
export type Quantization = 'nf4' | 'none';
/** 'binary': negative / positive; 'stars4': four classes from IMDB's star ratings (needs aclImdb's ratings). */
export type Task = 'binary' | 'stars4';

/** The parameters that are Trainer arguments: TrainingArguments' own fields, names and meanings. */
type TrainerParameters = Pick<
  TrainingArguments,
  | 'numTrainEpochs'
  | 'maxSteps'
  | 'perDeviceTrainBatchSize'
  | 'perDeviceEvalBatchSize'
  | 'gradientAccumulationSteps'
  | 'learningRate'
  | 'warmupRatio'
  | 'warmupSteps'
  | 'weightDecay'
  | 'seed'
>;

export interface NotebookParameters extends TrainerParameters {
  /** Hub repo id or local checkpoint folder (config.json, model.safetensors, tokenizer files). */
  model: string;
  /** Kaggle CSV, aclImdb folder or tarball, Parquet file, or Hub dataset id. */
  data: string;
  /** Which classes to learn: 'binary' (negative / positive) or 'stars4' (very negative 1–2 … very positive 9–10 stars). */
  task: Task;
  /** Where Hub downloads and the tokenized-data cache go. */
  cacheDir: string;
  /** The backend preference QLORA_BACKEND gave ('auto' when unset). */
  backend: string;
  preset: PresetName;
  /** Share of the reviews kept (pandas df.sample(frac)). */
  sampleFrac: number;
  /** Share of the sample held out as the test split. */
  testSize: number;
  /** Share of the remaining training rows held out for evaluation during training. */
  validationSize: number;
  /** Validation reviews evaluated during training; 0 = all of the validation split. */
  evalSize: number;
  /** Tokens per review after truncation and padding. */
  maxLength: number;
  quant: Quantization;
  doubleQuant: boolean;
  /** LoRA rank, LoraConfig.r. */
  r: number;
  /** LoraConfig.lora_alpha. */
  alpha: number;
  /** LoraConfig.lora_dropout. */
  dropout: number;
  targetModules: string[];
  /** Optimizer steps between evaluations (and checkpoints); 0 = about four per run. */
  evalSteps: number;
  /** Training checkpoints (checkpoint-<step>/, git-ignored under reports/); never null here. */
  outputDir: string;
  /** The trained adapter, in PEFT's format (git-ignored under reports/). */
  adapterDir: string;
}

type Rule =
  | { kind: 'int'; min: number }
  | { kind: 'number'; min: number; max?: number; minExclusive?: boolean; maxExclusive?: boolean }
  | { kind: 'string' }
  | { kind: 'boolean' }
  | { kind: 'list' }
  | { kind: 'choice'; values: string[]; meaning: string };

interface ParameterSpec {
  /** The environment variable that sets it. */
  variable: string;
  rule: Rule;
  /** True: a TrainingArguments field of the same name, passed to the Trainer as it is. */
  trainingArgument?: true;
}

const int = (min: number): Rule => ({ kind: 'int', min });
const STRING: Rule = { kind: 'string' };
const SHARE: Rule = { kind: 'number', min: 0, max: 1, minExclusive: true, maxExclusive: true };

/** Every parameter: its variable, what it may be, and whether it is a Trainer argument. */
export const PARAMETERS: { readonly [K in keyof NotebookParameters]: ParameterSpec } = {
  model: { variable: 'QLORA_MODEL', rule: STRING },
  data: { variable: 'QLORA_DATA', rule: STRING },
  task: {
    variable: 'QLORA_TASK',
    rule: { kind: 'choice', values: ['binary', 'stars4'], meaning: "'binary' (negative / positive) or 'stars4' (four classes from the star ratings of aclImdb_v1.tar.gz)" },
  },
  cacheDir: { variable: 'QLORA_CACHE_DIR', rule: STRING },
  backend: { variable: 'QLORA_BACKEND', rule: STRING },
  preset: { variable: 'QLORA_PRESET', rule: { kind: 'choice', values: ['gpu', 'cpu'], meaning: "'gpu' (the original notebook's settings) or 'cpu' (a small run)" } },
  sampleFrac: { variable: 'QLORA_SAMPLE_FRAC', rule: { kind: 'number', min: 0, max: 1, minExclusive: true } },
  testSize: { variable: 'QLORA_TEST_SIZE', rule: SHARE },
  validationSize: { variable: 'QLORA_VALIDATION_SIZE', rule: SHARE },
  evalSize: { variable: 'QLORA_EVAL_SIZE', rule: int(0) },
  maxLength: { variable: 'QLORA_MAX_LENGTH', rule: int(3) },
  quant: { variable: 'QLORA_QUANT', rule: { kind: 'choice', values: ['nf4', 'none'], meaning: "'nf4' (4-bit base, QLoRA) or 'none' (fp32 base, plain LoRA)" } },
  doubleQuant: { variable: 'QLORA_DOUBLE_QUANT', rule: { kind: 'boolean' } },
  r: { variable: 'QLORA_R', rule: int(1) },
  alpha: { variable: 'QLORA_ALPHA', rule: { kind: 'number', min: 0, minExclusive: true } },
  dropout: { variable: 'QLORA_DROPOUT', rule: { kind: 'number', min: 0, max: 1, maxExclusive: true } },
  targetModules: { variable: 'QLORA_TARGET_MODULES', rule: { kind: 'list' } },
  numTrainEpochs: { variable: 'QLORA_EPOCHS', rule: int(1), trainingArgument: true },
  maxSteps: { variable: 'QLORA_MAX_STEPS', rule: int(-1), trainingArgument: true },
  perDeviceTrainBatchSize: { variable: 'QLORA_BATCH_SIZE', rule: int(1), trainingArgument: true },
  perDeviceEvalBatchSize: { variable: 'QLORA_EVAL_BATCH_SIZE', rule: int(1), trainingArgument: true },
  gradientAccumulationSteps: { variable: 'QLORA_GRAD_ACCUM', rule: int(1), trainingArgument: true },
  learningRate: { variable: 'QLORA_LR', rule: { kind: 'number', min: 0, minExclusive: true }, trainingArgument: true },
  warmupRatio: { variable: 'QLORA_WARMUP_RATIO', rule: { kind: 'number', min: 0, max: 1 }, trainingArgument: true },
  warmupSteps: { variable: 'QLORA_WARMUP_STEPS', rule: int(0), trainingArgument: true },
  weightDecay: { variable: 'QLORA_WEIGHT_DECAY', rule: { kind: 'number', min: 0 }, trainingArgument: true },
  // Not passed as it is: 0 becomes a step count (trainingArguments), and it also sets saveSteps.
  evalSteps: { variable: 'QLORA_EVAL_STEPS', rule: int(0) },
  seed: { variable: 'QLORA_SEED', rule: int(0), trainingArgument: true },
  outputDir: { variable: 'QLORA_OUTPUT_DIR', rule: STRING, trainingArgument: true },
  adapterDir: { variable: 'QLORA_ADAPTER_DIR', rule: STRING },
};

const KEYS = Object.keys(PARAMETERS) as Array<keyof NotebookParameters>;

/** The original notebook's LoRA targets: every attention and feed-forward projection. */
export const DEFAULT_TARGET_MODULES = ['q_lin', 'k_lin', 'v_lin', 'out_lin', 'ffn.lin1', 'ffn.lin2'];

type PresetKey = 'sampleFrac' | 'maxLength' | 'perDeviceTrainBatchSize' | 'perDeviceEvalBatchSize' | 'gradientAccumulationSteps' | 'learningRate' | 'evalSize';

/** Values that are the same on every backend: the original notebook's LoraConfig and TrainingArguments. */
const COMMON: Omit<NotebookParameters, 'backend' | 'preset' | PresetKey> = {
  model: 'distilbert-base-uncased',
  data: 'stanfordnlp/imdb',
  task: 'binary',
  cacheDir: 'data/',
  testSize: 0.2,
  validationSize: 0.2,
  quant: 'nf4',
  doubleQuant: true,
  r: 8,
  alpha: 32,
  dropout: 0.1,
  targetModules: DEFAULT_TARGET_MODULES,
  // The original notebook trains one epoch (num_train_epochs=1), not HF's default of 3.
  numTrainEpochs: 1,
  maxSteps: -1,
  warmupRatio: 0.1,
  warmupSteps: 0,
  weightDecay: 0.01,
  evalSteps: 0,
  seed: 42,
  outputDir: 'reports/checkpoints',
  adapterDir: 'reports/trained_model',
};

export const PRESETS: Record<PresetName, Pick<NotebookParameters, PresetKey>> = {
  // The original notebook (transformers + PEFT on a T4): 10% sample, 512 tokens, batch 8, 2 accumulation steps, lr 5e-5.
  gpu: { sampleFrac: 0.1, maxLength: 512, perDeviceTrainBatchSize: 8, perDeviceEvalBatchSize: 8, gradientAccumulationSteps: 2, learningRate: 5e-5, evalSize: 0 },
  // The original's 10% sample (5,000 reviews → 3,200 train / 800 validation, 64 evaluated / 1,000 test) at
  // 128 tokens and batch 4 × 2: 400 optimizer steps, which the native GEMM makes a ~15-minute run on 2 cores.
  cpu: { sampleFrac: 0.1, maxLength: 128, perDeviceTrainBatchSize: 4, perDeviceEvalBatchSize: 8, gradientAccumulationSteps: 2, learningRate: 5e-4, evalSize: 64 },
};

/** QLORA_* variables that other parts of the project read (tests, benches, backends): not typos. */
const OTHER_KNOWN_VARIABLES = ['QLORA_ASSETS', 'QLORA_BENCH_N', 'QLORA_DATA_DIR', 'QLORA_DAWN_FLAGS', 'QLORA_WEBGPU_FEATURE_LEVEL'];

// ---- checking values ----

/** "a whole number ≥ 1", "a number in (0, 1]", … */
function describeRule(rule: Rule): string {
  switch (rule.kind) {
    case 'int':
      return `a whole number ≥ ${rule.min}`;
    case 'number':
      if (rule.max === undefined) return `a number ${rule.minExclusive ? '>' : '≥'} ${rule.min}`;
      return `a number in ${rule.minExclusive ? '(' : '['}${rule.min}, ${rule.max}${rule.maxExclusive ? ')' : ']'}`;
    case 'choice':
      return rule.meaning;
    case 'boolean':
      return 'true or false';
    case 'list':
      return `a non-empty list of module names, e.g. ${DEFAULT_TARGET_MODULES.join(',')}`;
    case 'string':
      return 'a non-empty string';
  }
}

function satisfies(value: unknown, rule: Rule): boolean {
  switch (rule.kind) {
    case 'int':
      return typeof value === 'number' && Number.isInteger(value) && value >= rule.min;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return false;
      if (rule.minExclusive ? value <= rule.min : value < rule.min) return false;
      return rule.max === undefined || (rule.maxExclusive ? value < rule.max : value <= rule.max);
    case 'choice':
      return typeof value === 'string' && rule.values.includes(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'list':
      return Array.isArray(value) && value.length > 0 && value.every((m) => typeof m === 'string' && m.trim() !== '');
    case 'string':
      return typeof value === 'string' && value.trim() !== '';
  }
}

/**
 * Throws, naming the parameter and what it should be, if any value is invalid: call it after
 * changing `params` by hand (loraConfig and trainingArguments call it too).
 */
export function checkParameters(params: NotebookParameters): void {
  const problems: string[] = [];
  for (const key of KEYS) {
    const { rule } = PARAMETERS[key];
    if (!satisfies(params[key], rule)) problems.push(`params.${key} must be ${describeRule(rule)}, got ${JSON.stringify(params[key])}`);
  }
  if (problems.length) throw new Error(`Invalid notebook parameters:\n  ${problems.join('\n  ')}`);
}

// ---- reading the environment ----

/** What selectBackend() returns, or just a backend name. */
export type BackendLike = string | { name: string; device?: string };

/** Software renderers that run WebGPU correctly but far slower than a CPU backend. */
const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|swiftshader|software/i;

/** 'gpu' for TensorFlow with CUDA or WebGPU on a real adapter; 'cpu' for everything else. */
export function presetFor(backend: BackendLike): PresetName {
  const name = typeof backend === 'string' ? backend : backend.name;
  const device = typeof backend === 'string' ? '' : backend.device ?? '';
  if (name === 'tensorflow-gpu') return 'gpu';
  if (name === 'webgpu' && !SOFTWARE_ADAPTER.test(device)) return 'gpu';
  return 'cpu';
}

type Env = Record<string, string | undefined>;

function parseValue(key: keyof NotebookParameters, raw: string, fallback: unknown): unknown {
  const { variable, rule } = PARAMETERS[key];
  let value: unknown = raw;
  if (rule.kind === 'int' || rule.kind === 'number') value = Number(raw);
  else if (rule.kind === 'boolean') value = parseBooleanEnv(variable, raw, fallback as boolean);
  else if (rule.kind === 'list') value = raw.split(',').map((m) => m.trim()).filter(Boolean);
  else if (rule.kind === 'choice') value = raw.toLowerCase();
  if (!satisfies(value, rule)) {
    throw new Error(`${variable} must be ${describeRule(rule)}, got '${raw}' (unset ${variable} to use ${JSON.stringify(fallback)})`);
  }
  return value;
}

// Where each value came from, kept off the object's own keys so the table and JSON stay clean.
const ORIGINS = new WeakMap<NotebookParameters, { values: NotebookParameters; from: Record<string, string> }>();

/**
 * The notebook's parameters: the preset for `backend` (QLORA_PRESET overrides the choice), then
 * every QLORA_* variable that is set. A variable that cannot be parsed throws an error naming it,
 * what it should be, and the value it would otherwise have. Unknown QLORA_* variables (typos)
 * are reported with console.warn.
 */
export function notebookParameters(backend: BackendLike = 'cpu', env: Env = process.env): NotebookParameters {
  const presetRaw = envValue(env, PARAMETERS.preset.variable);
  const preset = presetRaw === undefined ? presetFor(backend) : (parseValue('preset', presetRaw, presetFor(backend)) as PresetName);
  const defaults: NotebookParameters = { ...COMMON, ...PRESETS[preset], backend: 'auto', preset };
  const from: Record<string, string> = {};
  const params = { ...defaults, targetModules: [...defaults.targetModules] };
  for (const key of KEYS) {
    const raw = envValue(env, PARAMETERS[key].variable);
    from[key] = key in PRESETS[preset] ? `${preset} preset` : 'default';
    if (key === 'preset') {
      from[key] = presetRaw === undefined ? `chosen for backend ${typeof backend === 'string' ? backend : backend.name}` : 'environment';
    } else if (raw !== undefined) {
      (params as Record<string, unknown>)[key] = parseValue(key, raw, defaults[key]);
      from[key] = 'environment';
    }
  }
  const variables = KEYS.map((k) => PARAMETERS[k].variable);
  const known = new Set([...variables, ...OTHER_KNOWN_VARIABLES]);
  const unknown = Object.keys(env).filter((k) => k.startsWith('QLORA_') && !known.has(k));
  if (unknown.length) {
    console.warn(`Unknown variable${unknown.length > 1 ? 's' : ''} ignored: ${unknown.join(', ')}. The parameters are: ${variables.join(', ')}.`);
  }
  ORIGINS.set(params, { values: { ...params, targetModules: [...params.targetModules] }, from });
  return params;
}

/**
 * Rows for the parameters table: name, value, where it came from (an environment variable, the
 * preset, the default, or "set in the notebook" for a value changed since it was read).
 */
export function parameterRows(params: NotebookParameters): Array<{ parameter: string; value: string; from: string; variable: string }> {
  const origin = ORIGINS.get(params);
  return KEYS.map((key) => {
    const value = params[key];
    const shown = Array.isArray(value) ? value.join(', ') : String(value);
    const changed = origin && JSON.stringify(origin.values[key]) !== JSON.stringify(value);
    const from = !origin ? '' : changed ? 'set in the notebook' : origin.from[key];
    return { parameter: key, value: shown, from, variable: PARAMETERS[key].variable };
  });
}

// ---- settings for the library, made from the parameters ----

/** PEFT's LoraConfig(r, lora_alpha, lora_dropout, target_modules, task_type="SEQ_CLS"). */
export function loraConfig(params: NotebookParameters): LoraConfig {
  checkParameters(params);
  return { r: params.r, loraAlpha: params.alpha, loraDropout: params.dropout, targetModules: [...params.targetModules], taskType: 'SEQ_CLS', seed: params.seed };
}

/** loadSentimentData's `labels` for the task: 'sentiment' (binary) or the 'stars4' grouping. */
export function taskLabels(params: NotebookParameters): LabelScheme {
  checkParameters(params);
  return params.task === 'stars4' ? 'stars4' : 'sentiment';
}

/** Optimizer steps of a run over `numExamples` training examples (the Trainer's own count). */
export function totalOptimizerSteps(params: NotebookParameters, numExamples: number): number {
  if (params.maxSteps > 0) return params.maxSteps;
  const microBatches = Math.ceil(numExamples / params.perDeviceTrainBatchSize);
  return Math.ceil(microBatches / params.gradientAccumulationSteps) * params.numTrainEpochs;
}

/**
 * The Trainer's arguments for `numExamples` training examples: every parameter PARAMETERS marks
 * as a training argument, as it is, plus evaluation and checkpoints every `evalSteps` steps
 * (evalSteps 0: about four times per run; always once at the end), keeping the last two.
 */
export function trainingArguments(params: NotebookParameters, numExamples: number): Partial<TrainingArguments> {
  checkParameters(params);
  if (!(Number.isInteger(numExamples) && numExamples > 0)) {
    throw new Error(`trainingArguments: numExamples must be a whole number ≥ 1, got ${numExamples} (is the training split empty?)`);
  }
  const args: Record<string, unknown> = {};
  for (const key of KEYS) if (PARAMETERS[key].trainingArgument) args[key] = params[key];
  const total = totalOptimizerSteps(params, numExamples);
  const every = params.evalSteps > 0 ? params.evalSteps : Math.max(1, Math.ceil(total / 4));
  return {
    ...(args as Partial<TrainingArguments>),
    // The live loss chart gets a point per logging step. HF's default (500) would draw one point
    // in a short run; ~50 points per run keeps the chart alive while still leaving most steps free
    // of the GPU→CPU read-back that logging costs.
    loggingSteps: Math.max(1, Math.ceil(total / 50)),
    evalStrategy: 'steps',
    evalSteps: every,
    saveStrategy: 'steps',
    saveSteps: every,
    saveTotalLimit: 2,
  };
}
