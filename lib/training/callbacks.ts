// What the Trainer tells the outside world while it runs: the events its callbacks receive
// (HF `TrainerCallback`'s on_step_end / on_evaluate / on_save / on_train_end), what train()
// returns, the error it stops with when training diverges, and the default reporter that shows
// them on a terminal.
import { formatDuration } from '../util/format';
import { ProgressStream, progressLine, progressText } from '../util/progress';
import type { EvalMetrics, TrainMetrics } from './log-history';
import type { LogEntry } from './trainer-state';

/**
 * Thrown when the loss or gradient norm stops being finite (found at the next logging step); no
 * update was applied from that step on and nothing saved.
 */
export class TrainingDivergedError extends Error {
  constructor(
    readonly step: number,
    readonly loss: number,
    readonly gradNorm: number,
    readonly lastCheckpoint: string | null,
  ) {
    super(
      `Training stopped at optimizer step ${step}: the ${Number.isFinite(loss) ? 'gradient norm' : 'loss'} is ` +
        `${Number.isFinite(loss) ? gradNorm : loss} (loss ${loss}, grad norm ${gradNorm}). The weights were not ` +
        `updated with it; ` +
        (lastCheckpoint ? `the last good checkpoint is ${lastCheckpoint}. ` : 'no checkpoint was written. ') +
        `Lower learningRate, add warm-up, or check the inputs.`,
    );
    this.name = 'TrainingDivergedError';
  }
}

export interface StepEvent {
  /** Optimizer steps completed (1 after the first update). */
  step: number;
  totalSteps: number;
  /** Fractional epoch, e.g. 1.5 halfway through the second epoch. */
  epoch: number;
  /** Mean training loss of this step's micro-batches. */
  loss: number;
  /** Learning rate used by this update. */
  lr: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  samplesPerSecond: number;
  /** Seconds since train() started (this process; a resumed run starts again at 0). */
  elapsedSeconds: number;
  etaSeconds: number;
}

export interface EvalEvent {
  step: number;
  epoch: number;
  loss: number;
  accuracy: number;
  /** Binary: F1 of the positive class (label 1); more classes: macro F1. */
  f1: number;
  macroF1: number;
  /** [true label][predicted label]. */
  confusion: number[][];
  numExamples: number;
  /** The same evaluation under HF's names, as `Trainer.evaluate()` returns it (eval_loss, eval_accuracy, …). */
  metrics: EvalMetrics;
}

export interface CheckpointEvent {
  step: number;
  epoch: number;
  dir: string;
}

export interface EndEvent {
  step: number;
  epoch: number;
  /** Mean loss over all optimizer steps of the run (resumed runs included). */
  trainingLoss: number;
  seconds: number;
  lastEval: EvalEvent | null;
  lastCheckpoint: string | null;
}

/** Callbacks; each may return a promise, which the loop awaits (e.g. to redraw a chart). */
export interface TrainerCallbacks {
  /**
   * Every step, in order, but delivered when its loss is read back: every `loggingSteps`, before
   * an evaluation or checkpoint, and at the end (several at once in between).
   */
  onStep?(e: StepEvent): unknown;
  onEvaluate?(e: EvalEvent): unknown;
  onCheckpoint?(e: CheckpointEvent): unknown;
  onEnd?(e: EndEvent): unknown;
}

export interface TrainOutput {
  globalStep: number;
  trainingLoss: number;
  /** Mean training loss of each epoch (over its optimizer steps). */
  epochLosses: number[];
  lastEval: EvalEvent | null;
  history: { steps: StepEvent[]; evals: EvalEvent[] };
  lastCheckpoint: string | null;
  /** HF's TrainOutput.metrics: train_runtime, train_samples_per_second, …, train_loss, epoch. */
  metrics: TrainMetrics;
  /** trainer_state.json's log_history, with the final train_* entry HF appends. */
  logHistory: LogEntry[];
}

/**
 * The default reporter, like HF's tqdm bar plus its log lines: on a terminal, a progress line
 * (lib/util/progress.ts) rewritten as steps are reported (every `loggingSteps`, see
 * TrainerCallbacks.onStep); elsewhere a line every `loggingSteps`
 * steps and after the last. Evaluations, checkpoints and the end get lines of their own.
 */
export function terminalProgress(loggingSteps: number, stream: ProgressStream = process.stderr): TrainerCallbacks {
  const line = progressLine(stream);
  const tty = stream.isTTY === true;
  return {
    onStep(e) {
      const last = e.step === e.totalSteps;
      if (!tty && e.step % loggingSteps !== 0 && !last) return;
      const text = progressText({
        label: 'training',
        done: e.step,
        total: e.totalSteps,
        elapsedSeconds: e.elapsedSeconds,
        info: `epoch ${e.epoch.toFixed(2)} · loss ${e.loss.toFixed(4)} · lr ${e.lr.toExponential(2)} · grad norm ${e.gradNorm.toFixed(3)} · ${e.samplesPerSecond.toFixed(1)} samples/s`,
      });
      if (last) line.end(text);
      else line.update(text);
    },
    onEvaluate(e) {
      line.note(`eval @ step ${e.step}: loss ${e.loss.toFixed(4)} · accuracy ${e.accuracy.toFixed(4)} · F1 ${e.f1.toFixed(4)}`);
    },
    onCheckpoint(e) {
      line.note(`saved ${e.dir}`);
    },
    onEnd(e) {
      line.note(`done: ${e.step} steps in ${formatDuration(e.seconds)}, mean training loss ${e.trainingLoss.toFixed(4)}`);
    },
  };
}
