// The training loop: Hugging Face `Trainer` semantics on tfjs.
//
// One optimizer step = `gradientAccumulationSteps` micro-batches of `perDeviceTrainBatchSize`
// examples (the names are HF's TrainingArguments', see training-args.ts); their gradients are summed with each loss scaled by 1/(micro-batches in the step), clipped by global
// norm, and applied by AdamW with a warm-up + linear-decay learning rate. Everything that decides
// the numbers is a pure function of the arguments: the data order of an epoch depends on
// (seed, epoch) only and dropout masks on (seed, step), so a run resumed from a checkpoint
// computes exactly what the uninterrupted run would have.
//
// Nothing is read back from the device inside a step: losses and gradient norms are read every
// `loggingSteps` (and before evaluating or saving), where the NaN guard looks at them
// (device-step.ts; the fused optimizer kernels skip a diverged step on the device).
//
// Around the loop: collate.ts turns texts into batches, trainer-state.ts writes and restores
// checkpoints, callbacks.ts defines the events and the terminal reporter.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { AdamW, appliesWeightDecay, globalNormStats } from './optimizer';
import { learningRateAt, warmupStepsFor } from './schedule';
import { argmaxRows, classificationReport, crossEntropy } from './metrics';
import { latestCheckpoint, pruneCheckpoints, removeStaleTemporaries } from './checkpointing';
import { STATE_FILE, TrainerState, restoreTrainerCheckpoint, writeTrainerCheckpoint } from './trainer-state';
import { TrainingArguments, isDue, resolveTrainingArguments } from './training-args';
import { EncodedDataset, checkDataset, epochOrder, gatherBatch, range } from './collate';
import { UnreadSteps, accumulateGradients } from './device-step';
import { EvalEvent, StepEvent, TrainOutput, TrainerCallbacks, terminalProgress } from './callbacks';
import { mixSeed } from '../util/random';
import { TrainableModel, numLabelsOf, parameterNames } from './trainable-model';

export type { TrainableModel };

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

export interface TrainerOptions {
  model: TrainableModel;
  args?: Partial<TrainingArguments>;
  trainData: EncodedDataset;
  evalData?: EncodedDataset;
  callbacks?: TrainerCallbacks | TrainerCallbacks[];
  /** A progress line on stderr: true, false, or 'auto' (only when stderr is a terminal). */
  progress?: boolean | 'auto';
}

export class Trainer {
  readonly model: TrainableModel;
  readonly args: TrainingArguments;
  readonly trainData: EncodedDataset;
  readonly evalData: EncodedDataset | undefined;
  private readonly callbacks: TrainerCallbacks[];
  private readonly params: tf.Variable[];
  /** HF parameter names of the trainable variables, where the model tells them. */
  readonly paramNames: Map<tf.Variable, string>;
  readonly optimizer: AdamW;
  readonly numExamples: number;
  readonly microBatchesPerEpoch: number;
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  readonly numEpochs: number;
  readonly warmupSteps: number;
  /** Number of classes (the model's own count, else the width of its logits); every label must be below it. */
  readonly numLabels: number;
  globalStep = 0;
  private history: { steps: StepEvent[]; evals: EvalEvent[] } = { steps: [], evals: [] };
  private lastCheckpoint: string | null = null;
  /** Steps done on the device whose loss and norm are not read yet (see flushSteps). */
  private readonly unread = new UnreadSteps();
  private readonly lossScales = new Map<number, tf.Scalar>();

  constructor(options: TrainerOptions) {
    this.model = options.model;
    this.args = resolveTrainingArguments(options.args);
    this.trainData = options.trainData;
    this.evalData = options.evalData;
    checkDataset(this.trainData, 'trainData');
    if (this.evalData) checkDataset(this.evalData, 'evalData');
    // Every label is checked against the model's classes here, before any training step, as
    // PyTorch's cross_entropy would refuse the first batch holding a bad one.
    this.numLabels = numLabelsOf(this.model, this.trainData);
    checkDataset(this.trainData, 'trainData', this.numLabels);
    if (this.evalData) checkDataset(this.evalData, 'evalData', this.numLabels);
    this.callbacks = Array.isArray(options.callbacks) ? [...options.callbacks] : options.callbacks ? [options.callbacks] : [];
    const progress = options.progress ?? 'auto';
    if (progress === true || (progress === 'auto' && process.stderr.isTTY)) this.callbacks.push(terminalProgress(this.args.loggingSteps));

    this.params = this.model.trainableVariables();
    if (this.params.length === 0) {
      throw new Error('Trainer: the model has no trainable variables (did you forget getPeftModel, or freeze everything?)');
    }
    const a = this.args;
    this.paramNames = parameterNames(this.model, this.params);
    this.optimizer = new AdamW(this.params, {
      beta1: a.adamBeta1,
      beta2: a.adamBeta2,
      epsilon: a.adamEpsilon,
      weightDecay: a.weightDecay,
      decayFilter: (v) => appliesWeightDecay(this.paramNames.get(v) ?? v.name),
    });
    this.numExamples = this.trainData.labels.length;
    this.microBatchesPerEpoch = Math.ceil(this.numExamples / a.perDeviceTrainBatchSize);
    // A last, shorter group of micro-batches still makes an optimizer step (HF does the same).
    this.stepsPerEpoch = Math.ceil(this.microBatchesPerEpoch / a.gradientAccumulationSteps);
    this.totalSteps = a.maxSteps > 0 ? a.maxSteps : this.stepsPerEpoch * a.numTrainEpochs;
    this.numEpochs = Math.ceil(this.totalSteps / this.stepsPerEpoch);
    this.warmupSteps = warmupStepsFor(this.totalSteps, a.warmupSteps, a.warmupRatio);
    // Made now, so that the tensor count stays flat from the first step on.
    this.lossScale(Math.min(a.gradientAccumulationSteps, this.microBatchesPerEpoch));
    if (this.microBatchesPerEpoch % a.gradientAccumulationSteps) this.lossScale(this.microBatchesPerEpoch % a.gradientAccumulationSteps);
  }

  /** Adds callbacks (e.g. a live chart) after construction. */
  addCallbacks(callbacks: TrainerCallbacks): void {
    this.callbacks.push(callbacks);
  }

  /**
   * Runs the training loop to the end (HF `Trainer.train`). `resumeFrom`: 'latest' (the
   * checkpoint outputDir/latest names; an error if there is none) or a checkpoint folder.
   * Evaluates and saves as evalStrategy / saveStrategy say, and once more after the last step
   * (saving as HF does; evaluating is our addition, see the comment at the end of the loop).
   */
  async train(opts: { resumeFrom?: 'latest' | string } = {}): Promise<TrainOutput> {
    const a = this.args;
    const started = Date.now();
    if (a.outputDir) removeStaleTemporaries(a.outputDir);
    if (opts.resumeFrom) this.restore(this.resolveCheckpoint(opts.resumeFrom));
    const startStep = this.globalStep;
    let lastEval: EvalEvent | null = this.history.evals[this.history.evals.length - 1] ?? null;
    let savedAtStep = this.lastCheckpoint ? this.globalStep : -1;
    let evaluatedAtStep = lastEval ? lastEval.step : -1;

    while (this.globalStep < this.totalSteps) {
      const epoch = Math.floor(this.globalStep / this.stepsPerEpoch);
      const stepInEpoch = this.globalStep % this.stepsPerEpoch;
      const order = epochOrder(this.numExamples, a.seed, epoch, a.shuffle);
      const firstMicro = stepInEpoch * a.gradientAccumulationSteps;
      const lastMicro = Math.min(firstMicro + a.gradientAccumulationSteps, this.microBatchesPerEpoch);
      const batches: number[][] = [];
      for (let mb = firstMicro; mb < lastMicro; mb++) {
        const size = a.perDeviceTrainBatchSize;
        batches.push(order.slice(mb * size, Math.min((mb + 1) * size, this.numExamples)));
      }

      const { stats, lr } = this.optimizerStep(batches);
      this.globalStep += 1;
      const samples = batches.reduce((n, b) => n + b.length, 0);
      const elapsed = (Date.now() - started) / 1000;
      const stepsDone = this.globalStep - startStep;
      this.unread.push(stats, {
        step: this.globalStep,
        totalSteps: this.totalSteps,
        epoch: this.epochAt(this.globalStep),
        lr,
        samplesPerSecond: elapsed > 0 ? (stepsDone * samples) / elapsed : 0,
        elapsedSeconds: elapsed,
        etaSeconds: stepsDone > 0 ? (elapsed / stepsDone) * (this.totalSteps - this.globalStep) : 0,
      });

      const epochEnded = this.globalStep % this.stepsPerEpoch === 0;
      const isLast = this.globalStep === this.totalSteps;
      const evalDue = this.evalData !== undefined && isDue(a.evalStrategy, a.evalSteps ?? a.loggingSteps, this.globalStep, epochEnded);
      // HF's DefaultFlowCallback also saves after the last step whatever the interval.
      const saveDue = a.outputDir !== null && a.saveStrategy !== 'no' && (isLast || isDue(a.saveStrategy, a.saveSteps, this.globalStep, epochEnded));
      // Losses and norms are read (and the NaN guard looks at them) only here: before anything
      // that needs the weights (evaluation, a checkpoint), every loggingSteps, and at the end.
      if (evalDue || saveDue || isLast || this.globalStep % a.loggingSteps === 0) await this.flushSteps();
      if (evalDue) {
        lastEval = await this.evaluate();
        evaluatedAtStep = this.globalStep;
      }
      if (saveDue) {
        await this.saveCheckpoint();
        savedAtStep = this.globalStep;
      }
      await yieldToEventLoop(); // lets a notebook redraw between steps
    }
    // Not HF: when evaluation is on, the final weights are always evaluated, so that lastEval
    // (the notebook's final metrics) describes the trained model; HF leaves that to a separate
    // trainer.evaluate() call. A run resumed from its final checkpoint only reports.
    if (this.evalData && a.evalStrategy !== 'no' && evaluatedAtStep !== this.globalStep) lastEval = await this.evaluate();
    if (a.outputDir && a.saveStrategy !== 'no' && savedAtStep !== this.globalStep) await this.saveCheckpoint();

    const output: TrainOutput = {
      globalStep: this.globalStep,
      trainingLoss: mean(this.history.steps.map((s) => s.loss)),
      epochLosses: this.epochLosses(),
      lastEval,
      history: this.history,
      lastCheckpoint: this.lastCheckpoint,
    };
    await this.emit('onEnd', {
      step: this.globalStep,
      epoch: this.epochAt(this.globalStep),
      trainingLoss: output.trainingLoss,
      seconds: (Date.now() - started) / 1000,
      lastEval,
      lastCheckpoint: this.lastCheckpoint,
    });
    return output;
  }

  /**
   * Forward + backward over the micro-batches, clip, AdamW update, all queued on the device:
   * nothing is read back. Returns the step's [loss, norm, coef, ok] stats (fused-adamw.ts),
   * whose ok is 0 (and the update skipped) when this or an earlier unread step diverged.
   */
  private optimizerStep(batches: number[][]): { stats: tf.Tensor1D; lr: number } {
    const a = this.args;
    const seeds = batches.map((_, micro) => dropoutSeedFor(a.seed, this.globalStep, micro));
    const { grads, loss } = accumulateGradients(this.model, this.params, this.trainData, batches, seeds, this.lossScale(batches.length));
    const present = grads.filter((g): g is tf.Tensor => g !== null);
    const stats = globalNormStats(present, loss, a.maxGradNorm, this.unread.lastStats);
    const lr = learningRateAt(a.lrSchedulerType, a.learningRate, this.globalStep, this.warmupSteps, this.totalSteps);
    this.optimizer.step(grads, lr, stats);
    tf.dispose([loss, ...present]);
    return { stats, lr };
  }

  /**
   * 1 / (micro-batches in the step) as a tensor made once: a step has either
   * gradientAccumulationSteps micro-batches or, at the end of an epoch, the remainder.
   */
  private lossScale(microBatches: number): tf.Scalar {
    let scale = this.lossScales.get(microBatches);
    if (!scale) {
      scale = tf.keep(tf.scalar(1 / microBatches));
      this.lossScales.set(microBatches, scale);
    }
    return scale;
  }

  /**
   * Reads the unread steps' losses and norms (one read-back) and reports them (onStep) in order.
   * At the first diverged one it stops: that step and the ones after it were skipped on the
   * device, so the weights and optimizer are those of the step before it.
   */
  private async flushSteps(): Promise<void> {
    const { events, diverged } = await this.unread.read();
    if (diverged) {
      this.globalStep -= diverged.skipped;
      this.optimizer.stepCount -= diverged.skipped;
    }
    for (const event of events) {
      this.history.steps.push(event);
      await this.emit('onStep', event);
    }
    if (diverged) throw new TrainingDivergedError(diverged.step, diverged.loss, diverged.gradNorm, this.lastCheckpoint);
  }

  /** Loss, accuracy, F1 and confusion matrix on `data` (default: evalData), in eval mode (no dropout). */
  async evaluate(data?: EncodedDataset): Promise<EvalEvent> {
    const evalData = data ?? this.evalData;
    if (!evalData) throw new Error('Trainer.evaluate: no evalData given to the Trainer or to evaluate()');
    checkDataset(evalData, 'evalData', this.numLabels);
    const n = evalData.labels.length;
    const predictions: number[] = [];
    let lossSum = 0;
    const batchSize = this.args.perDeviceEvalBatchSize;
    for (let start = 0; start < n; start += batchSize) {
      const rows = range(start, Math.min(start + batchSize, n));
      const [logitsTensor, lossTensor] = tf.tidy(() => {
        const { inputIds, attentionMask, labels } = gatherBatch(evalData, rows);
        const logits = this.model.logits(inputIds, attentionMask, { training: false });
        return [logits, tf.mul(crossEntropy(logits, labels), rows.length)];
      });
      const logits = await logitsTensor.data();
      lossSum += (await lossTensor.data())[0];
      predictions.push(...argmaxRows(logits, this.numLabels));
      logitsTensor.dispose();
      lossTensor.dispose();
    }
    const report = classificationReport(evalData.labels, predictions, this.numLabels);
    const event: EvalEvent = {
      step: this.globalStep,
      epoch: this.epochAt(this.globalStep),
      loss: lossSum / n,
      accuracy: report.accuracy,
      f1: report.f1,
      macroF1: report.macroF1,
      confusion: report.confusion,
      numExamples: n,
    };
    this.history.evals.push(event);
    await this.emit('onEvaluate', event);
    return event;
  }

  /** Writes outputDir/checkpoint-<globalStep> (atomically) and points `latest` at it. */
  async saveCheckpoint(): Promise<string> {
    const outputDir = this.args.outputDir;
    if (!outputDir) throw new Error('Trainer.saveCheckpoint: set args.outputDir to save checkpoints');
    const state: Omit<TrainerState, 'optimizerStep'> = {
      globalStep: this.globalStep,
      epoch: Math.floor(this.globalStep / this.stepsPerEpoch),
      stepInEpoch: this.globalStep % this.stepsPerEpoch,
      seed: this.args.seed,
      numExamples: this.numExamples,
      stepsPerEpoch: this.stepsPerEpoch,
      totalSteps: this.totalSteps,
      warmupSteps: this.warmupSteps,
      args: this.args,
      trainableNames: this.params.map((p) => this.paramNames.get(p) ?? p.name),
      trainableShapes: this.params.map((p) => [...p.shape]),
      history: this.history,
    };
    const saveAdapter = typeof this.model.saveAdapter === 'function' ? (dir: string) => this.model.saveAdapter!(dir) : undefined;
    const dir = await writeTrainerCheckpoint(outputDir, state, this.params, this.optimizer, saveAdapter);
    this.lastCheckpoint = dir;
    if (this.args.saveTotalLimit !== null) pruneCheckpoints(outputDir, this.args.saveTotalLimit);
    await this.emit('onCheckpoint', { step: this.globalStep, epoch: this.epochAt(this.globalStep), dir });
    return dir;
  }

  private resolveCheckpoint(resumeFrom: string): string {
    if (resumeFrom === 'latest') {
      if (!this.args.outputDir) throw new Error("train({ resumeFrom: 'latest' }) needs args.outputDir");
      const dir = latestCheckpoint(this.args.outputDir);
      if (!dir) throw new Error(`No checkpoint to resume from in ${this.args.outputDir} (no 'latest' file); train without resumeFrom`);
      return dir;
    }
    if (!fs.existsSync(path.join(resumeFrom, STATE_FILE))) {
      throw new Error(`${resumeFrom} is not a training checkpoint (no ${STATE_FILE}); pass a checkpoint-<step> folder or 'latest'`);
    }
    return resumeFrom;
  }

  /** Restores weights, optimizer state, position and history from a checkpoint folder. */
  private restore(dir: string): void {
    const run = {
      seed: this.args.seed,
      numExamples: this.numExamples,
      perDeviceTrainBatchSize: this.args.perDeviceTrainBatchSize,
      gradientAccumulationSteps: this.args.gradientAccumulationSteps,
      totalSteps: this.totalSteps,
      warmupSteps: this.warmupSteps,
    };
    const state = restoreTrainerCheckpoint(dir, run, this.params, this.optimizer);
    this.globalStep = state.globalStep;
    this.history = state.history;
    this.lastCheckpoint = dir;
  }

  private epochAt(step: number): number {
    return step / this.stepsPerEpoch;
  }

  private epochLosses(): number[] {
    const byEpoch: number[][] = [];
    for (const s of this.history.steps) {
      const e = Math.ceil(s.step / this.stepsPerEpoch) - 1; // step k belongs to the epoch it ends in
      (byEpoch[e] ??= []).push(s.loss);
    }
    return byEpoch.map((losses) => mean(losses ?? []));
  }

  private async emit<K extends keyof TrainerCallbacks>(name: K, event: Parameters<NonNullable<TrainerCallbacks[K]>>[0]): Promise<void> {
    for (const cb of this.callbacks) {
      const fn = cb[name] as ((e: unknown) => unknown) | undefined;
      if (fn) await fn.call(cb, event);
    }
  }

  /** Frees the optimizer's state (the model is the caller's). */
  dispose(): void {
    this.optimizer.dispose();
    this.unread.dispose();
    tf.dispose([...this.lossScales.values()]);
    this.lossScales.clear();
  }
}

// ---- helpers ----

/**
 * The dropout seed of micro-batch `micro` of the update after `step` completed steps: a pure
 * function of the position, so that a resumed run draws the masks the uninterrupted one would.
 */
export function dropoutSeedFor(seed: number, step: number, micro: number): number {
  return mixSeed(seed, step, micro, 0xd50);
}

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
