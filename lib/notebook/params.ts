// The notebook's parameters: one object read from the QLORA_* environment variables, with a preset
// chosen by the backend, plus the little glue the notebook's cells share (LoRA and Trainer
// settings made from the parameters, and safe re-running of cells).
//
//   const params = notebookParameters(backend);   // backend: what selectBackend() chose
//   params.r = 16;                                  // change anything, then re-run the cells below
//   getPeftModel(model, loraConfig(params));
//   new Trainer({ ..., args: trainingArguments(params, trainData.labels.length) });
//
// Presets: 'gpu' is the original Python notebook's settings (10% of IMDB, 512 tokens, batch 8 ×
// 2 accumulation, lr 5e-5). 'cpu' is a small run that finishes on a 2-core machine: 1% of IMDB,
// 128 tokens, batch 4 × 2 accumulation (the full model's batch of 8 × 128 does not fit the wasm
// backend's memory when training), and a larger learning rate (5e-4) to learn something in
// 40 optimizer steps. Any QLORA_* variable overrides its preset value.
import type { LoraConfig } from '../peft/config';
import type { TrainingArguments } from '../training/trainer';

export type PresetName = 'gpu' | 'cpu';
export type Quantization = 'nf4' | 'none';

export interface NotebookParameters {
  /** Hub repo id or local checkpoint folder (config.json, model.safetensors, tokenizer files). */
  model: string;
  /** Kaggle CSV, aclImdb folder or tarball, Parquet file, or Hub dataset id. */
  data: string;
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
  maxLength: number;
  quant: Quantization;
  doubleQuant: boolean;
  r: number;
  alpha: number;
  dropout: number;
  targetModules: string[];
  epochs: number;
  /** If > 0, train exactly this many optimizer steps instead of `epochs` (HF max_steps). */
  maxSteps: number;
  batchSize: number;
  evalBatchSize: number;
  gradAccum: number;
  lr: number;
  /** A fraction of the optimizer steps (< 1, e.g. 0.1) or a number of steps (a whole number ≥ 1). */
  warmup: number;
  weightDecay: number;
  /** Optimizer steps between evaluations; 0 = about four evaluations per run. */
  evalSteps: number;
  seed: number;
  /** Training checkpoints (checkpoint-<step>/, git-ignored under reports/). */
  outputDir: string;
  /** The trained adapter, in PEFT's format (git-ignored under reports/). */
  adapterDir: string;
}

/** The original notebook's LoRA targets: every attention and feed-forward projection. */
export const DEFAULT_TARGET_MODULES = ['q_lin', 'k_lin', 'v_lin', 'out_lin', 'ffn.lin1', 'ffn.lin2'];

/** Values that are the same on every backend. */
const COMMON: Omit<NotebookParameters, 'backend' | 'preset' | 'sampleFrac' | 'maxLength' | 'batchSize' | 'evalBatchSize' | 'gradAccum' | 'lr' | 'evalSize'> = {
  model: 'distilbert-base-uncased',
  data: 'stanfordnlp/imdb',
  cacheDir: 'data/',
  testSize: 0.2,
  validationSize: 0.2,
  quant: 'nf4',
  doubleQuant: true,
  r: 8,
  alpha: 32,
  dropout: 0.1,
  targetModules: DEFAULT_TARGET_MODULES,
  epochs: 1,
  maxSteps: 0,
  warmup: 0.1,
  weightDecay: 0.01,
  evalSteps: 0,
  seed: 42,
  outputDir: 'reports/checkpoints',
  adapterDir: 'reports/trained_model',
};

type PresetValues = Pick<NotebookParameters, 'sampleFrac' | 'maxLength' | 'batchSize' | 'evalBatchSize' | 'gradAccum' | 'lr' | 'evalSize'>;

export const PRESETS: Record<PresetName, PresetValues> = {
  // The original notebook (transformers + PEFT on a T4): 10% sample, 512 tokens, batch 8, 2 accumulation steps, lr 5e-5.
  gpu: { sampleFrac: 0.1, maxLength: 512, batchSize: 8, evalBatchSize: 8, gradAccum: 2, lr: 5e-5, evalSize: 0 },
  // 500 reviews → 320 train / 80 validation (64 evaluated) / 100 test; 128 tokens; 40 optimizer steps.
  cpu: { sampleFrac: 0.01, maxLength: 128, batchSize: 4, evalBatchSize: 8, gradAccum: 2, lr: 5e-4, evalSize: 64 },
};

/** Each parameter's environment variable. */
export const PARAMETER_VARIABLES: Record<keyof NotebookParameters, string> = {
  model: 'QLORA_MODEL',
  data: 'QLORA_DATA',
  cacheDir: 'QLORA_CACHE_DIR',
  backend: 'QLORA_BACKEND',
  preset: 'QLORA_PRESET',
  sampleFrac: 'QLORA_SAMPLE_FRAC',
  testSize: 'QLORA_TEST_SIZE',
  validationSize: 'QLORA_VALIDATION_SIZE',
  evalSize: 'QLORA_EVAL_SIZE',
  maxLength: 'QLORA_MAX_LENGTH',
  quant: 'QLORA_QUANT',
  doubleQuant: 'QLORA_DOUBLE_QUANT',
  r: 'QLORA_R',
  alpha: 'QLORA_ALPHA',
  dropout: 'QLORA_DROPOUT',
  targetModules: 'QLORA_TARGET_MODULES',
  epochs: 'QLORA_EPOCHS',
  maxSteps: 'QLORA_MAX_STEPS',
  batchSize: 'QLORA_BATCH_SIZE',
  evalBatchSize: 'QLORA_EVAL_BATCH_SIZE',
  gradAccum: 'QLORA_GRAD_ACCUM',
  lr: 'QLORA_LR',
  warmup: 'QLORA_WARMUP',
  weightDecay: 'QLORA_WEIGHT_DECAY',
  evalSteps: 'QLORA_EVAL_STEPS',
  seed: 'QLORA_SEED',
  outputDir: 'QLORA_OUTPUT_DIR',
  adapterDir: 'QLORA_ADAPTER_DIR',
};

/** QLORA_* variables that other parts of the project read (tests, benches, backends): not typos. */
const OTHER_KNOWN_VARIABLES = ['QLORA_ASSETS', 'QLORA_BENCH_N', 'QLORA_DATA_DIR', 'QLORA_DAWN_FLAGS', 'QLORA_WEBGPU_FEATURE_LEVEL'];

// ---------------------------------------------------------------------------------------------
// Checking values
// ---------------------------------------------------------------------------------------------

type Rule = { kind: 'int'; min: number } | { kind: 'number'; min: number; max?: number; minExclusive?: boolean; maxExclusive?: boolean };

/** What each numeric parameter may be. */
const NUMBER_RULES: Partial<Record<keyof NotebookParameters, Rule>> = {
  sampleFrac: { kind: 'number', min: 0, max: 1, minExclusive: true },
  testSize: { kind: 'number', min: 0, max: 1, minExclusive: true, maxExclusive: true },
  validationSize: { kind: 'number', min: 0, max: 1, minExclusive: true, maxExclusive: true },
  evalSize: { kind: 'int', min: 0 },
  maxLength: { kind: 'int', min: 3 },
  r: { kind: 'int', min: 1 },
  alpha: { kind: 'number', min: 0, minExclusive: true },
  dropout: { kind: 'number', min: 0, max: 1, maxExclusive: true },
  epochs: { kind: 'int', min: 1 },
  maxSteps: { kind: 'int', min: 0 },
  batchSize: { kind: 'int', min: 1 },
  evalBatchSize: { kind: 'int', min: 1 },
  gradAccum: { kind: 'int', min: 1 },
  lr: { kind: 'number', min: 0, minExclusive: true },
  warmup: { kind: 'number', min: 0 },
  weightDecay: { kind: 'number', min: 0 },
  evalSteps: { kind: 'int', min: 0 },
  seed: { kind: 'int', min: 0 },
};

/** "a whole number ≥ 1", "a number in (0, 1]", … */
function describeRule(rule: Rule): string {
  if (rule.kind === 'int') return `a whole number ≥ ${rule.min}`;
  if (rule.max === undefined) return `a number ${rule.minExclusive ? '>' : '≥'} ${rule.min}`;
  return `a number in ${rule.minExclusive ? '(' : '['}${rule.min}, ${rule.max}${rule.maxExclusive ? ')' : ']'}`;
}

function satisfies(value: number, rule: Rule): boolean {
  if (!Number.isFinite(value)) return false;
  if (rule.kind === 'int') return Number.isInteger(value) && value >= rule.min;
  if (rule.minExclusive ? value <= rule.min : value < rule.min) return false;
  if (rule.max !== undefined && (rule.maxExclusive ? value >= rule.max : value > rule.max)) return false;
  return true;
}

/** Why `value` is not a valid `key`, or null when it is. */
function problemWith(key: keyof NotebookParameters, value: unknown): string | null {
  const rule = NUMBER_RULES[key];
  if (rule) {
    if (typeof value !== 'number' || !satisfies(value, rule)) return `must be ${describeRule(rule)}`;
    if (key === 'warmup' && value >= 1 && !Number.isInteger(value)) {
      return 'must be a fraction of the steps below 1 (e.g. 0.1) or a whole number of steps (e.g. 50)';
    }
    return null;
  }
  switch (key) {
    case 'quant':
      return value === 'nf4' || value === 'none' ? null : "must be 'nf4' (4-bit base, QLoRA) or 'none' (fp32 base, plain LoRA)";
    case 'preset':
      return value === 'gpu' || value === 'cpu' ? null : "must be 'gpu' (the original notebook's settings) or 'cpu' (a small run)";
    case 'doubleQuant':
      return typeof value === 'boolean' ? null : 'must be true or false';
    case 'targetModules':
      return Array.isArray(value) && value.length > 0 && value.every((m) => typeof m === 'string' && m.trim() !== '')
        ? null
        : `must be a non-empty list of module names, e.g. ${DEFAULT_TARGET_MODULES.join(',')}`;
    default:
      return typeof value === 'string' && value.trim() !== '' ? null : 'must be a non-empty string';
  }
}

/**
 * Throws, naming the parameter and what it should be, if any value is invalid: call it after
 * changing `params` by hand (loraConfig and trainingArguments call it too).
 */
export function checkParameters(params: NotebookParameters): void {
  const problems: string[] = [];
  for (const key of Object.keys(PARAMETER_VARIABLES) as Array<keyof NotebookParameters>) {
    const problem = problemWith(key, params[key]);
    if (problem) problems.push(`params.${key} ${problem}, got ${JSON.stringify(params[key])}`);
  }
  if (problems.length) throw new Error(`Invalid notebook parameters:\n  ${problems.join('\n  ')}`);
}

// ---------------------------------------------------------------------------------------------
// Reading the environment
// ---------------------------------------------------------------------------------------------

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

/** The value of a variable, or undefined when unset or blank. */
function envValue(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
}

function parseValue(key: keyof NotebookParameters, name: string, raw: string, fallback: unknown): unknown {
  const fix = `(unset ${name} to use ${JSON.stringify(fallback)})`;
  if (NUMBER_RULES[key]) {
    const value = Number(raw);
    const problem = problemWith(key, value);
    if (problem) throw new Error(`${name} ${problem}, got '${raw}' ${fix}`);
    return value;
  }
  let value: unknown = raw;
  if (key === 'doubleQuant') {
    const lower = raw.toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(lower)) value = true;
    else if (['0', 'false', 'no', 'off'].includes(lower)) value = false;
    else throw new Error(`${name} must be true or false (1/0, yes/no), got '${raw}' ${fix}`);
  } else if (key === 'targetModules') {
    value = raw.split(',').map((m) => m.trim()).filter(Boolean);
  } else if (key === 'quant' || key === 'preset') {
    value = raw.toLowerCase();
  }
  const problem = problemWith(key, value);
  if (problem) throw new Error(`${name} ${problem}, got '${raw}' ${fix}`);
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
  const presetRaw = envValue(env, PARAMETER_VARIABLES.preset);
  const preset = presetRaw === undefined ? presetFor(backend) : (parseValue('preset', PARAMETER_VARIABLES.preset, presetRaw, presetFor(backend)) as PresetName);
  const defaults: NotebookParameters = { ...COMMON, ...PRESETS[preset], backend: 'auto', preset };
  const from: Record<string, string> = {};
  const params = { ...defaults, targetModules: [...defaults.targetModules] };
  for (const key of Object.keys(PARAMETER_VARIABLES) as Array<keyof NotebookParameters>) {
    const name = PARAMETER_VARIABLES[key];
    from[key] = key in PRESETS[preset] ? `${preset} preset` : 'default';
    const raw = envValue(env, name);
    if (raw === undefined || key === 'preset') {
      if (key === 'preset') from[key] = presetRaw === undefined ? `chosen for backend ${typeof backend === 'string' ? backend : backend.name}` : 'environment';
      continue;
    }
    (params as Record<string, unknown>)[key] = parseValue(key, name, raw, defaults[key]);
    from[key] = 'environment';
  }
  const known = new Set([...Object.values(PARAMETER_VARIABLES), ...OTHER_KNOWN_VARIABLES]);
  const unknown = Object.keys(env).filter((k) => k.startsWith('QLORA_') && !known.has(k));
  if (unknown.length) {
    console.warn(`Unknown variable${unknown.length > 1 ? 's' : ''} ignored: ${unknown.join(', ')}. The parameters are: ${Object.values(PARAMETER_VARIABLES).join(', ')}.`);
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
  return (Object.keys(PARAMETER_VARIABLES) as Array<keyof NotebookParameters>).map((key) => {
    const value = params[key];
    const shown = Array.isArray(value) ? value.join(', ') : String(value);
    const original = origin?.values[key];
    const changed = origin && JSON.stringify(original) !== JSON.stringify(value);
    const from = !origin ? '' : changed ? 'set in the notebook' : origin.from[key];
    return { parameter: key, value: shown, from, variable: PARAMETER_VARIABLES[key] };
  });
}

// ---------------------------------------------------------------------------------------------
// Settings for the library, made from the parameters
// ---------------------------------------------------------------------------------------------

/** PEFT's LoraConfig(r, lora_alpha, lora_dropout, target_modules, task_type="SEQ_CLS"). */
export function loraConfig(params: NotebookParameters): LoraConfig {
  checkParameters(params);
  return { r: params.r, loraAlpha: params.alpha, loraDropout: params.dropout, targetModules: [...params.targetModules], taskType: 'SEQ_CLS', seed: params.seed };
}

/** Optimizer steps of a run over `numExamples` training examples (the Trainer's own count). */
export function totalOptimizerSteps(params: NotebookParameters, numExamples: number): number {
  if (params.maxSteps > 0) return params.maxSteps;
  return Math.ceil(Math.ceil(numExamples / params.batchSize) / params.gradAccum) * params.epochs;
}

/**
 * The Trainer's arguments (HF TrainingArguments) for `numExamples` training examples. Warm-up:
 * a fraction below 1 becomes warmupRatio, a whole number warmupSteps. evalSteps 0 evaluates
 * about four times per run (and always at the end).
 */
export function trainingArguments(params: NotebookParameters, numExamples: number): Partial<TrainingArguments> {
  checkParameters(params);
  if (!(Number.isInteger(numExamples) && numExamples > 0)) {
    throw new Error(`trainingArguments: numExamples must be a whole number ≥ 1, got ${numExamples} (is the training split empty?)`);
  }
  const total = totalOptimizerSteps(params, numExamples);
  const evalSteps = params.evalSteps > 0 ? params.evalSteps : Math.max(1, Math.ceil(total / 4));
  return {
    outputDir: params.outputDir,
    epochs: params.epochs,
    maxSteps: params.maxSteps,
    batchSize: params.batchSize,
    evalBatchSize: params.evalBatchSize,
    gradientAccumulationSteps: params.gradAccum,
    learningRate: params.lr,
    weightDecay: params.weightDecay,
    warmupRatio: params.warmup < 1 ? params.warmup : 0,
    warmupSteps: params.warmup >= 1 ? params.warmup : 0,
    lrScheduler: 'linear',
    maxGradNorm: 1.0,
    seed: params.seed,
    evalSteps,
    saveSteps: evalSteps,
    saveTotalLimit: 2,
  };
}

// ---------------------------------------------------------------------------------------------
// Re-running cells
// ---------------------------------------------------------------------------------------------

/** Kept on globalThis: tslab reloads an imported file when a cell imports it again. */
const LATEST = '__qlora_latest__';

/**
 * Makes the object a cell keeps under `key`, disposing the one a previous run of that cell made
 * first, so that re-running the cell (say after `params.r = 16`) frees the old model's tensors
 * instead of leaking them. If `make` throws, nothing is kept.
 */
export async function keepLatest<T extends { dispose(): void }>(key: string, make: () => T | Promise<T>): Promise<T> {
  const store = ((globalThis as Record<string, unknown>)[LATEST] ??= new Map<string, { dispose(): void }>()) as Map<string, { dispose(): void }>;
  const previous = store.get(key);
  store.delete(key);
  previous?.dispose();
  const value = await make();
  store.set(key, value);
  return value;
}

/** What the setup cells need to know when a file is missing: where to get it and which variable to set. */
export function withSetupHint(error: unknown, what: 'model' | 'data'): Error {
  const message = error instanceof Error ? error.message : String(error);
  const hint =
    what === 'model'
      ? 'The model cell needs a DistilBERT checkpoint: on a machine with internet it is downloaded from the Hub on the first run ' +
        '(distilbert-base-uncased, into QLORA_CACHE_DIR). Offline, download config.json, model.safetensors, tokenizer.json, vocab.txt ' +
        'and tokenizer_config.json from https://huggingface.co/distilbert-base-uncased into one folder and set QLORA_MODEL to it. ' +
        'For a dry run without pretrained weights: npx ts-node --transpile-only scripts/make-random-checkpoint.ts --out data/tiny-distilbert ' +
        '--vocab-size 30522 --max-positions 512 --tokenizer <folder with tokenizer.json and vocab.txt>, then QLORA_MODEL=data/tiny-distilbert.'
      : 'The data cell needs IMDB: on a machine with internet stanfordnlp/imdb is downloaded from the Hub on the first run. Offline, ' +
        'set QLORA_DATA to the Kaggle CSV ("IMDB Dataset.csv"), to aclImdb_v1.tar.gz or to its unpacked aclImdb folder.';
  const wrapped = new Error(`${message}\n\n${hint}`);
  (wrapped as Error & { cause?: unknown }).cause = error;
  return wrapped;
}
