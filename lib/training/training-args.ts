// The Trainer's settings: Hugging Face `TrainingArguments`, the subset that matters here, with
// HF's names in camelCase (`num_train_epochs` → `numTrainEpochs`) and HF's defaults
// (transformers 4.4x `training_args.py`). The notebook's parameters and the QLORA_* variables
// map onto these names in one table (lib/notebook/params.ts).
import { LrSchedulerType } from './schedule';

/** When to evaluate or save (HF `IntervalStrategy`): never, every `…Steps` optimizer steps, or at each epoch end. */
export type IntervalStrategy = 'no' | 'steps' | 'epoch';

export interface TrainingArguments {
  /**
   * Where checkpoints go (outputDir/checkpoint-<step>). HF requires a folder (or, in newer
   * versions, defaults to "trainer_output"); here null, the default, means "never save", so
   * that a Trainer made in a test or a notebook cell writes nothing unless asked to.
   */
  outputDir: string | null;
  /** HF `num_train_epochs`, default 3. Must be a whole number here (use maxSteps for part of an epoch). */
  numTrainEpochs: number;
  /** HF `max_steps`, default -1: if > 0, train exactly this many optimizer steps (overrides numTrainEpochs). */
  maxSteps: number;
  /** HF `per_device_train_batch_size`, default 8: examples per micro-batch. */
  perDeviceTrainBatchSize: number;
  /** HF `per_device_eval_batch_size`, default 8. */
  perDeviceEvalBatchSize: number;
  /** HF `gradient_accumulation_steps`, default 1: micro-batches per optimizer step. */
  gradientAccumulationSteps: number;
  /** HF `learning_rate`, default 5e-5: the peak AdamW learning rate. */
  learningRate: number;
  /** HF `weight_decay`, default 0 (decoupled, AdamW; never on biases and LayerNorm weights). */
  weightDecay: number;
  /** HF `adam_beta1` / `adam_beta2` / `adam_epsilon`: 0.9, 0.999, 1e-8. */
  adamBeta1: number;
  adamBeta2: number;
  adamEpsilon: number;
  /** HF `max_grad_norm`, default 1.0: clip gradients to this global 2-norm; 0 or null: no clipping. */
  maxGradNorm: number | null;
  /** HF `lr_scheduler_type`, default 'linear' (warm-up, then linear decay to 0). */
  lrSchedulerType: LrSchedulerType;
  /** HF `warmup_ratio`, default 0: a share of the total optimizer steps spent warming up. */
  warmupRatio: number;
  /** HF `warmup_steps`, default 0: warm-up steps; when > 0 it wins over warmupRatio. */
  warmupSteps: number;
  /**
   * HF `logging_steps`, default 500: a log line every N optimizer steps. Losses and gradient
   * norms stay on the device between logging steps (no GPU stall per step), so onStep events and
   * the NaN guard come every N steps, and before each evaluation and checkpoint, for all the
   * steps since; lower it for a livelier progress display.
   */
  loggingSteps: number;
  /** HF `eval_strategy`, default 'no'. */
  evalStrategy: IntervalStrategy;
  /** HF `eval_steps`, default null: with evalStrategy 'steps', evaluate every N steps; null means loggingSteps. */
  evalSteps: number | null;
  /** HF `save_strategy`, default 'steps'. */
  saveStrategy: IntervalStrategy;
  /** HF `save_steps`, default 500. */
  saveSteps: number;
  /** HF `save_total_limit`, default null: keep at most this many checkpoints; null keeps all. */
  saveTotalLimit: number | null;
  /**
   * HF `metric_for_best_model`, default null: the evaluation metric ('accuracy', 'f1', 'loss', or
   * with HF's `eval_` prefix) whose best value trainer_state.json keeps as `best_metric`, with
   * `best_model_checkpoint`; saveTotalLimit never deletes that checkpoint. null: no tracking.
   */
  metricForBestModel: string | null;
  /** HF `greater_is_better`, default null: true unless metricForBestModel ends in 'loss'. */
  greaterIsBetter: boolean | null;
  /** HF `seed`, default 42: data order, dropout and LoRA initialisation all derive from it. */
  seed: number;
  /**
   * Not an HF argument: HF always shuffles the training data each epoch (RandomSampler), as
   * this does by default; false keeps the data order, for tests that replay a reference run.
   */
  shuffle: boolean;
}

export const DEFAULT_TRAINING_ARGUMENTS: Readonly<TrainingArguments> = {
  outputDir: null,
  numTrainEpochs: 3,
  maxSteps: -1,
  perDeviceTrainBatchSize: 8,
  perDeviceEvalBatchSize: 8,
  gradientAccumulationSteps: 1,
  learningRate: 5e-5,
  weightDecay: 0,
  adamBeta1: 0.9,
  adamBeta2: 0.999,
  adamEpsilon: 1e-8,
  maxGradNorm: 1.0,
  lrSchedulerType: 'linear',
  warmupRatio: 0,
  warmupSteps: 0,
  loggingSteps: 500,
  evalStrategy: 'no',
  evalSteps: null,
  saveStrategy: 'steps',
  saveSteps: 500,
  saveTotalLimit: null,
  metricForBestModel: null,
  greaterIsBetter: null,
  seed: 42,
  shuffle: true,
};

/** The defaults overridden by `args`; throws on a value HF would refuse, naming the argument. */
export function resolveTrainingArguments(args: Partial<TrainingArguments> = {}): TrainingArguments {
  const known = new Set(Object.keys(DEFAULT_TRAINING_ARGUMENTS));
  const unknown = Object.keys(args).filter((k) => !known.has(k));
  if (unknown.length) {
    throw new Error(
      `TrainingArguments: unknown argument${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}. ` +
        `The names are HF's in camelCase: ${[...known].join(', ')}.`,
    );
  }
  const a: TrainingArguments = { ...DEFAULT_TRAINING_ARGUMENTS, ...args };
  validateTrainingArguments(a);
  return a;
}

function validateTrainingArguments(a: TrainingArguments): void {
  const positiveInt = ['perDeviceTrainBatchSize', 'perDeviceEvalBatchSize', 'gradientAccumulationSteps', 'loggingSteps', 'saveSteps'] as const;
  for (const k of positiveInt) {
    if (!Number.isInteger(a[k]) || a[k] < 1) throw new Error(`TrainingArguments.${k} must be a positive integer, got ${a[k]}`);
  }
  if (!Number.isInteger(a.maxSteps)) throw new Error(`TrainingArguments.maxSteps must be an integer (-1: not set), got ${a.maxSteps}`);
  if (a.maxSteps <= 0 && !(Number.isInteger(a.numTrainEpochs) && a.numTrainEpochs > 0)) {
    throw new Error(`TrainingArguments.numTrainEpochs must be a whole number ≥ 1 (got ${a.numTrainEpochs}); use maxSteps for a partial epoch`);
  }
  if (!(a.learningRate >= 0)) throw new Error(`TrainingArguments.learningRate must be ≥ 0, got ${a.learningRate}`);
  if (!(a.warmupRatio >= 0 && a.warmupRatio <= 1)) throw new Error(`TrainingArguments.warmupRatio must be in [0, 1], got ${a.warmupRatio}`);
  if (!(Number.isInteger(a.warmupSteps) && a.warmupSteps >= 0)) {
    throw new Error(`TrainingArguments.warmupSteps must be a whole number ≥ 0, got ${a.warmupSteps}`);
  }
  for (const k of ['evalStrategy', 'saveStrategy'] as const) {
    if (!['no', 'steps', 'epoch'].includes(a[k])) throw new Error(`TrainingArguments.${k} must be 'no', 'steps' or 'epoch', got ${a[k]}`);
  }
  if (a.evalSteps !== null && !(Number.isInteger(a.evalSteps) && a.evalSteps > 0)) {
    throw new Error(`TrainingArguments.evalSteps must be a positive integer or null (= loggingSteps), got ${a.evalSteps}`);
  }
  if (a.metricForBestModel !== null && !/^(eval_)?\w+$/.test(a.metricForBestModel)) {
    throw new Error(`TrainingArguments.metricForBestModel must be a metric name such as 'accuracy', 'f1' or 'loss', got ${a.metricForBestModel}`);
  }
  if (a.greaterIsBetter !== null && typeof a.greaterIsBetter !== 'boolean') {
    throw new Error(`TrainingArguments.greaterIsBetter must be true, false or null, got ${a.greaterIsBetter}`);
  }
  if (a.saveTotalLimit !== null && !(Number.isInteger(a.saveTotalLimit) && a.saveTotalLimit > 0)) {
    throw new Error(`TrainingArguments.saveTotalLimit must be a positive integer or null (keep all), got ${a.saveTotalLimit}`);
  }
}

/** Whether an evaluation or save falls on optimizer step `step` (HF's DefaultFlowCallback rule). */
export function isDue(strategy: IntervalStrategy, everySteps: number, step: number, epochEnded: boolean): boolean {
  if (strategy === 'no') return false;
  if (strategy === 'epoch') return epochEnded;
  return step % everySteps === 0;
}
