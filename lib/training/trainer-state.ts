// What a training checkpoint holds, as Hugging Face's Trainer lays it out (trainer.py
// `_save_checkpoint`), and how the Trainer writes and restores it. The folder and its atomic
// replacement are checkpointing.ts'. outputDir/checkpoint-<step>/ holds:
//   adapter_config.json, adapter_model.safetensors
//                           the PEFT adapter at the folder's root, when the model can save one, so
//                           that `PeftModel.from_pretrained(base, "out/checkpoint-40")` (and our
//                           loadAdapter) load the checkpoint as it is
//   trainer_state.json      HF's `TrainerState` (trainer_callback.py), its fields and nothing else,
//                           so that `TrainerState.load_from_json` reads it
//   training_args.json      HF: training_args.bin (a pickled TrainingArguments); here JSON with
//                           HF's snake_case names (`per_device_train_batch_size`, …)
//   optimizer.safetensors   HF: optimizer.pt (a torch pickle, which we cannot write). AdamW's
//                           moments under torch's state_dict names `state.<i>.exp_avg` and
//                           `state.<i>.exp_avg_sq` (i = position in trainableVariables()); the
//                           step count and param_groups in the safetensors metadata
//   scheduler.json          HF: scheduler.pt. LambdaLR's state_dict fields (base_lrs, last_epoch,
//                           _step_count, _last_lr) plus the schedule's own settings
//   rng_state.json          HF: rng_state.pth. Our dropout masks and data order are pure functions
//                           of (seed, step, micro-batch) and (seed, epoch), so the seed and the
//                           step are the whole generator state
//   trainable.safetensors   ours: every trainable variable, exactly, keyed p0, p1, … (what a resume
//                           restores; models without an adapter have nothing else)
//   resume_state.json       ours: the run's shape, checked before resuming, and the per-step history
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { AdamW, AdamWState } from './optimizer';
import { EvalEvent, StepEvent } from './callbacks';
import { TrainingArguments } from './training-args';
import { writeCheckpointDir } from './checkpointing';
import { writeFileAtomic } from '../util/atomic-write';
import { SafetensorsFile, TensorToWrite, readSafetensors, writeSafetensors } from '../io/safetensors';

export const STATE_FILE = 'trainer_state.json';
export const TRAINING_ARGS_FILE = 'training_args.json';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
export const SCHEDULER_FILE = 'scheduler.json';
export const RNG_STATE_FILE = 'rng_state.json';
export const TRAINABLE_FILE = 'trainable.safetensors';
export const RESUME_STATE_FILE = 'resume_state.json';

/** One entry of log_history: HF's names (`loss`, `grad_norm`, `learning_rate`, `eval_loss`, `eval_accuracy`, …, `epoch`, `step`). */
export type LogEntry = Record<string, number>;

/** trainer_state.json: HF `TrainerState`, field for field. */
export interface HfTrainerState {
  epoch: number | null;
  global_step: number;
  max_steps: number;
  logging_steps: number;
  eval_steps: number;
  save_steps: number;
  train_batch_size: number;
  num_train_epochs: number;
  num_input_tokens_seen: number;
  total_flos: number;
  log_history: LogEntry[];
  best_metric: number | null;
  best_global_step: number | null;
  best_model_checkpoint: string | null;
  is_local_process_zero: boolean;
  is_world_process_zero: boolean;
  is_hyper_param_search: boolean;
  trial_name: string | null;
  trial_params: Record<string, unknown> | null;
  stateful_callbacks: Record<string, unknown>;
}

/** resume_state.json: what an exact resume checks and needs beyond HF's file. */
export interface ResumeState {
  globalStep: number;
  seed: number;
  numExamples: number;
  perDeviceTrainBatchSize: number;
  gradientAccumulationSteps: number;
  stepsPerEpoch: number;
  totalSteps: number;
  warmupSteps: number;
  trainableNames: string[];
  trainableShapes: number[][];
  history: { steps: StepEvent[]; evals: EvalEvent[] };
}

/** Everything a checkpoint is written from. */
export interface CheckpointContents {
  state: HfTrainerState;
  resume: ResumeState;
  args: TrainingArguments;
  /** The learning rate of the next update, and the schedule's settings (for scheduler.json). */
  scheduler: { nextLearningRate: number; warmupSteps: number; totalSteps: number };
}

/** `perDeviceTrainBatchSize` → `per_device_train_batch_size` (TrainingArguments' names in HF). */
export function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** TrainingArguments under HF's names, as training_args.json holds them. */
export function hfTrainingArguments(args: TrainingArguments): Record<string, unknown> {
  return Object.fromEntries(Object.entries(args).map(([k, v]) => [snakeCase(k), v]));
}

/** HF's TrainerState from the Trainer's position and records (fields HF tracks and we do not: their defaults). */
export function hfTrainerState(
  args: TrainingArguments,
  now: {
    epoch: number;
    globalStep: number;
    maxSteps: number;
    numTrainEpochs: number;
    logHistory: LogEntry[];
    bestMetric: number | null;
    bestGlobalStep: number | null;
    bestModelCheckpoint: string | null;
  },
): HfTrainerState {
  return {
    epoch: now.epoch,
    global_step: now.globalStep,
    max_steps: now.maxSteps,
    logging_steps: args.loggingSteps,
    // HF: eval_steps falls back to logging_steps under the 'steps' strategy, else keeps TrainerState's 500.
    eval_steps: args.evalSteps ?? (args.evalStrategy === 'steps' ? args.loggingSteps : 500),
    save_steps: args.saveSteps,
    train_batch_size: args.perDeviceTrainBatchSize,
    num_train_epochs: now.numTrainEpochs,
    num_input_tokens_seen: 0,
    total_flos: 0,
    log_history: now.logHistory,
    best_metric: now.bestMetric,
    best_global_step: now.bestGlobalStep,
    best_model_checkpoint: now.bestModelCheckpoint,
    is_local_process_zero: true,
    is_world_process_zero: true,
    is_hyper_param_search: false,
    trial_name: null,
    trial_params: null,
    stateful_callbacks: {},
  };
}

/**
 * Writes outputDir/checkpoint-<step> atomically: the adapter (if `saveAdapter`), the states, the
 * optimizer's moments and every trainable variable. Returns the folder.
 */
export async function writeTrainerCheckpoint(
  outputDir: string,
  contents: CheckpointContents,
  params: tf.Variable[],
  optimizer: AdamW,
  saveAdapter?: (dir: string) => unknown,
): Promise<string> {
  const { state, resume, args, scheduler } = contents;
  const trainable: Record<string, TensorToWrite> = {};
  for (let i = 0; i < params.length; i++) {
    trainable[`p${i}`] = { dtype: 'F32', shape: [...params[i].shape], data: (await params[i].data()) as Float32Array };
  }
  const opt = await optimizer.getState();
  const moments: Record<string, TensorToWrite> = {};
  opt.shapes.forEach((shape, i) => {
    moments[`state.${i}.exp_avg`] = { dtype: 'F32', shape, data: opt.m[i] };
    moments[`state.${i}.exp_avg_sq`] = { dtype: 'F32', shape, data: opt.v[i] };
  });
  const paramGroup = {
    lr: scheduler.nextLearningRate,
    betas: [args.adamBeta1, args.adamBeta2],
    eps: args.adamEpsilon,
    weight_decay: args.weightDecay,
    initial_lr: args.learningRate,
    params: opt.names.map((_, i) => i),
  };
  const optimizerMetadata = { format: 'pt', step: String(opt.step), param_groups: JSON.stringify([paramGroup]), param_names: JSON.stringify(opt.names) };
  // torch's LambdaLR.state_dict() after `global_step` calls of scheduler.step().
  const schedulerState = {
    base_lrs: [args.learningRate],
    last_epoch: state.global_step,
    _step_count: state.global_step + 1,
    _last_lr: [scheduler.nextLearningRate],
    lr_scheduler_type: args.lrSchedulerType,
    num_warmup_steps: scheduler.warmupSteps,
    num_training_steps: scheduler.totalSteps,
  };
  const rngState = {
    seed: args.seed,
    global_step: state.global_step,
    note: 'dropout masks and the data order are pure functions of (seed, step, micro-batch) and (seed, epoch): nothing else to save',
  };
  const json = (value: unknown) => JSON.stringify(value, null, 2) + '\n';
  return writeCheckpointDir(outputDir, state.global_step, async (tmp) => {
    if (saveAdapter) await saveAdapter(tmp);
    writeSafetensors(path.join(tmp, TRAINABLE_FILE), trainable, { format: 'pt' });
    writeSafetensors(path.join(tmp, OPTIMIZER_FILE), moments, optimizerMetadata);
    writeFileAtomic(path.join(tmp, SCHEDULER_FILE), json(schedulerState));
    writeFileAtomic(path.join(tmp, RNG_STATE_FILE), json(rngState));
    writeFileAtomic(path.join(tmp, TRAINING_ARGS_FILE), json(hfTrainingArguments(args)));
    writeFileAtomic(path.join(tmp, RESUME_STATE_FILE), json({ ...resume, optimizerStep: opt.step }));
    writeFileAtomic(path.join(tmp, STATE_FILE), json(state));
  });
}

/** The run a checkpoint must match to be resumed exactly. */
export interface RunShape {
  seed: number;
  numExamples: number;
  perDeviceTrainBatchSize: number;
  gradientAccumulationSteps: number;
  totalSteps: number;
  warmupSteps: number;
}

/**
 * Reads a checkpoint folder, checks that it belongs to a run of the same shape (else throws,
 * listing every difference), and restores the variables' values and the optimizer's state.
 * Returns HF's state (log history, best metric) and ours (position, per-step history).
 */
export function restoreTrainerCheckpoint(
  dir: string,
  run: RunShape,
  params: tf.Variable[],
  optimizer: AdamW,
): { state: HfTrainerState; resume: ResumeState } {
  const readJson = <T>(name: string): T => {
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) throw new Error(`${file} not found: ${dir} is not a complete checkpoint of this Trainer (it writes ${name} in every checkpoint-<step> folder)`);
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  };
  const state = readJson<HfTrainerState>(STATE_FILE);
  const resume = readJson<ResumeState & { optimizerStep: number }>(RESUME_STATE_FILE);
  const mismatch: string[] = [];
  const expect = (what: string, saved: unknown, now: unknown) => {
    if (saved !== now) mismatch.push(`${what}: checkpoint ${saved}, now ${now}`);
  };
  expect('seed', resume.seed, run.seed);
  expect('number of training examples', resume.numExamples, run.numExamples);
  expect('perDeviceTrainBatchSize', resume.perDeviceTrainBatchSize, run.perDeviceTrainBatchSize);
  expect('gradientAccumulationSteps', resume.gradientAccumulationSteps, run.gradientAccumulationSteps);
  expect('total optimizer steps', resume.totalSteps, run.totalSteps);
  expect('warm-up steps', resume.warmupSteps, run.warmupSteps);
  expect('number of trainable variables', resume.trainableNames.length, params.length);
  if (mismatch.length) {
    throw new Error(`Cannot resume exactly from ${dir}; the run differs from the one that saved it:\n  ${mismatch.join('\n  ')}`);
  }
  const tensors = readSafetensors(path.join(dir, TRAINABLE_FILE));
  params.forEach((p, i) => {
    const saved = tensors.get(`p${i}`);
    if (!saved || saved.dtype !== 'F32' || saved.data.length !== p.size) {
      throw new Error(
        `${dir}/${TRAINABLE_FILE}: variable ${i} ('${resume.trainableNames[i]}') has ` +
          `${saved ? `shape [${saved.shape}]` : 'no entry'}, the model's '${p.name}' is [${p.shape}]`,
      );
    }
  });
  const optimizerFile = path.join(dir, OPTIMIZER_FILE);
  const moments = SafetensorsFile.open(optimizerFile);
  const momentOf = (key: string): Float32Array => {
    if (!moments.names().includes(key)) throw new Error(`${optimizerFile}: missing tensor '${key}' (written by an older version? train again without resuming)`);
    return moments.readFloat32(key).data;
  };
  const opt: AdamWState = {
    step: resume.optimizerStep,
    names: resume.trainableNames,
    shapes: resume.trainableShapes,
    m: params.map((_, i) => momentOf(`state.${i}.exp_avg`)),
    v: params.map((_, i) => momentOf(`state.${i}.exp_avg_sq`)),
  };
  params.forEach((p, i) => {
    const t = tf.tensor(tensors.get(`p${i}`)!.data as Float32Array, p.shape, 'float32');
    p.assign(t);
    t.dispose();
  });
  optimizer.setState(opt);
  return { state, resume };
}

/** The files of a tokenizer folder that `save_pretrained` writes, where they exist. */
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'vocab.txt', 'special_tokens_map.json'];

/** Copies the tokenizer's files from `from` into `to` (HF save_model saves the tokenizer beside the model). Returns the names copied. */
export function copyTokenizerFiles(from: string, to: string): string[] {
  const copied = TOKENIZER_FILES.filter((name) => fs.existsSync(path.join(from, name)));
  if (!copied.some((n) => n === 'tokenizer.json' || n === 'vocab.txt')) {
    throw new Error(`copyTokenizerFiles: ${from} has neither tokenizer.json nor vocab.txt; pass the tokenizer loaded with loadTokenizer`);
  }
  for (const name of copied) writeFileAtomic(path.join(to, name), fs.readFileSync(path.join(from, name)));
  return copied;
}

/**
 * `Trainer.save_model(dir)` for a PEFT model: adapter_config.json + adapter_model.safetensors, the
 * tokenizer's files (when given) and training_args.json, in `dir`. Throws when the model cannot
 * save an adapter.
 */
export function saveModelFolder(
  dir: string,
  model: { saveAdapter?(dir: string, opts?: { baseModelNameOrPath?: string | null }): unknown },
  args: TrainingArguments,
  tokenizer?: { folder: string },
  baseModelNameOrPath: string | null = null,
): string {
  if (typeof model.saveAdapter !== 'function') {
    throw new Error('Trainer.saveModel: the model has no saveAdapter (train a PeftModel from getPeftModel to save an adapter)');
  }
  fs.mkdirSync(dir, { recursive: true });
  model.saveAdapter(dir, { baseModelNameOrPath });
  if (tokenizer) copyTokenizerFiles(tokenizer.folder, dir);
  writeFileAtomic(path.join(dir, TRAINING_ARGS_FILE), JSON.stringify(hfTrainingArguments(args), null, 2) + '\n');
  return dir;
}
