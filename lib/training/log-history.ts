// The Trainer's records under Hugging Face's names: the entries of `TrainerState.log_history`,
// the dict `Trainer.evaluate()` returns, the metrics of `train()`'s TrainOutput, and the best
// metric (trainer.py `_maybe_log_save_evaluate`, `evaluate`, `_determine_best_metric`,
// `speed_metrics` in trainer_utils.py). Numbers are rounded where HF rounds them.
import * as fs from 'fs';
import * as path from 'path';
import type { EvalEvent, StepEvent } from './callbacks';
import type { TrainingArguments } from './training-args';
import type { HfTrainerState, LogEntry } from './trainer-state';

/** What `Trainer.evaluate()` returns: HF's keys, `eval_` + the metric, plus the speed metrics and the epoch. */
export interface EvalMetrics {
  eval_loss: number;
  eval_accuracy: number;
  /** Binary: F1 of the positive class; more classes: macro F1 (compute_metrics' "f1"). */
  eval_f1: number;
  eval_macro_f1: number;
  /** Seconds (HF rounds to 4 decimals). */
  eval_runtime: number;
  eval_samples_per_second: number;
  eval_steps_per_second: number;
  epoch: number;
}

/** TrainOutput.metrics of HF's `train()`. `total_flos` is not counted here: always 0. */
export interface TrainMetrics {
  train_runtime: number;
  train_samples_per_second: number;
  train_steps_per_second: number;
  total_flos: number;
  train_loss: number;
  epoch: number;
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * The log_history entry HF writes at a logging step: the mean loss of the optimizer steps since
 * the last log (rounded to 4 decimals, as HF does), the gradient norm and learning rate of this
 * step (HF reads the learning rate before the scheduler advances, so it is the one this update
 * used), the fractional epoch and the step.
 */
export function trainLogEntry(steps: StepEvent[], loggingSteps: number, epoch: number): LogEntry {
  const last = steps[steps.length - 1];
  // Every step's loss is kept, so a resumed run averages the same steps as an uninterrupted one
  // (HF restarts the average at the resume point).
  const since = steps.filter((s) => s.step > last.step - loggingSteps);
  const loss = since.reduce((a, s) => a + s.loss, 0) / since.length;
  return { loss: round(loss, 4), grad_norm: last.gradNorm, learning_rate: last.lr, epoch, step: last.step };
}

/** `Trainer.evaluate()`'s dict for an evaluation of `numExamples` examples in `batches` batches. */
export function evalMetrics(e: Omit<EvalEvent, 'metrics'>, seconds: number, batches: number): EvalMetrics {
  return {
    eval_loss: e.loss,
    eval_accuracy: e.accuracy,
    eval_f1: e.f1,
    eval_macro_f1: e.macroF1,
    eval_runtime: round(seconds, 4),
    eval_samples_per_second: seconds > 0 ? round(e.numExamples / seconds, 3) : 0,
    eval_steps_per_second: seconds > 0 ? round(batches / seconds, 3) : 0,
    epoch: e.epoch,
  };
}

/** HF's metric names: `accuracy` and `eval_accuracy` both name `eval_accuracy`. */
export function metricKey(name: string): string {
  return name.startsWith('eval_') ? name : `eval_${name}`;
}

/** HF's default for greater_is_better: true unless the metric is a loss. */
export function greaterIsBetter(args: TrainingArguments): boolean {
  return args.greaterIsBetter ?? !(args.metricForBestModel ?? '').endsWith('loss');
}

/**
 * HF `_determine_best_metric`: with metricForBestModel set, whether `metrics` beats `best`
 * (strictly). Throws, listing the metrics there are, when the metric is not among them.
 */
export function isNewBest(metrics: Record<string, number>, best: number | null, args: TrainingArguments): boolean {
  if (!args.metricForBestModel) return false;
  const key = metricKey(args.metricForBestModel);
  const value = metrics[key];
  if (value === undefined) {
    throw new Error(
      `TrainingArguments.metricForBestModel is '${args.metricForBestModel}', but the evaluation has no '${key}'; ` +
        `it has ${Object.keys(metrics).join(', ')}`,
    );
  }
  if (best === null) return true;
  return greaterIsBetter(args) ? value > best : value < best;
}

/** The final entry HF logs after training (`speed_metrics('train', …)` + train_loss). */
export function trainMetrics(seconds: number, samples: number, steps: number, trainLoss: number, epoch: number): TrainMetrics {
  return {
    train_runtime: round(seconds, 4),
    train_samples_per_second: seconds > 0 ? round(samples / seconds, 3) : 0,
    train_steps_per_second: seconds > 0 ? round(steps / seconds, 3) : 0,
    total_flos: 0,
    train_loss: trainLoss,
    epoch,
  };
}

/**
 * HF's records of a run, as trainer_state.json keeps them: log_history, best_metric,
 * best_global_step and best_model_checkpoint.
 */
export class TrainerRecords {
  logHistory: LogEntry[] = [];
  bestMetric: number | null = null;
  bestGlobalStep: number | null = null;
  bestModelCheckpoint: string | null = null;

  constructor(private readonly args: TrainingArguments) {}

  /** After optimizer step `steps[last].step`: HF's training log entry on every loggingSteps-th step. */
  onStep(steps: StepEvent[], epoch: number): void {
    const step = steps[steps.length - 1].step;
    if (step % this.args.loggingSteps === 0) this.logHistory.push(trainLogEntry(steps, this.args.loggingSteps, epoch));
  }

  /** After an evaluation at `step`: its entry, and HF's `_determine_best_metric`. */
  onEvaluate(metrics: EvalMetrics, step: number): void {
    this.logHistory.push({ ...metrics, step });
    const values = metrics as unknown as Record<string, number>;
    if (isNewBest(values, this.bestMetric, this.args)) {
      this.bestMetric = values[metricKey(this.args.metricForBestModel!)];
      // HF remembers the step only when it saves checkpoints (to name best_model_checkpoint).
      if (this.args.saveStrategy !== 'no') this.bestGlobalStep = step;
    }
  }

  /** Before saving checkpoint-<step> in outputDir: HF names the best checkpoint once its folder exists (or is this one). */
  onSave(outputDir: string, step: number): void {
    if (this.bestGlobalStep === null) return;
    const best = path.join(outputDir, `checkpoint-${this.bestGlobalStep}`);
    if (this.bestGlobalStep === step || fs.existsSync(best)) this.bestModelCheckpoint = best;
  }

  /** Restores the records of a checkpoint's trainer_state.json. */
  restore(state: HfTrainerState): void {
    this.logHistory = state.log_history;
    this.bestMetric = state.best_metric;
    this.bestGlobalStep = state.best_global_step;
    this.bestModelCheckpoint = state.best_model_checkpoint;
  }
}
