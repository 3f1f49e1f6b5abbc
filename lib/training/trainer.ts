// The training loop: Hugging Face `Trainer` semantics on tfjs.
//
// One optimizer step = `gradientAccumulationSteps` micro-batches of `batchSize` examples; their
// gradients are summed with each loss scaled by 1/(micro-batches in the step), clipped by global
// norm, and applied by AdamW with a warm-up + linear-decay learning rate. Everything that decides
// the numbers is a pure function of the arguments: the data order of an epoch depends on
// (seed, epoch) only and dropout masks on (seed, step), so a run resumed from a checkpoint
// computes exactly what the uninterrupted run would have.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { AdamW, AdamWState, appliesWeightDecay, clipByGlobalNorm } from './optimizer';
import { LrSchedulerType, learningRateAt, warmupStepsFor } from './schedule';
import { argmaxRows, classificationReport, crossEntropy } from './metrics';
import { latestCheckpoint, pruneCheckpoints, removeStaleTemporaries, writeCheckpointDir } from './checkpointing';
import { writeFileAtomic } from '../util/atomic-write';
import { TensorToWrite, readSafetensors, writeSafetensors } from '../io/safetensors';
import { mixSeed, permutation } from '../util/random';

/** What the Trainer needs from a model; `PeftModel` and `DistilBertForSequenceClassification` have it. */
export interface TrainableModel {
  /** Class scores [B, numLabels] for int32 token ids and attention mask [B, T]. */
  logits(inputIds: tf.Tensor2D, attentionMask: tf.Tensor2D, opts?: { training?: boolean; dropoutSeed?: number }): tf.Tensor2D;
  trainableVariables(): tf.Variable[];
  /** Optional: trainable variables by HF parameter name (for the no-decay rule and messages). */
  namedTrainableVariables?(): Map<string, tf.Variable>;
  /** Optional: writes a PEFT adapter folder, included in every checkpoint. */
  saveAdapter?(dir: string): unknown;
}

/** Tokenized examples, row-major: example i is inputIds[i*seqLength .. (i+1)*seqLength). */
export interface EncodedDataset {
  inputIds: Int32Array;
  attentionMask: Int32Array;
  labels: ArrayLike<number>;
  seqLength: number;
}

/** The part of the tokenizer (lib/tokenizer.ts) used here. */
export interface BatchEncoder {
  encodeBatch(
    texts: string[],
    opts: { maxLength?: number; padding?: 'max_length' | 'longest'; truncation?: boolean },
  ): { inputIds: Int32Array; attentionMask: Int32Array; batchSize: number; seqLength: number };
}

/** Tokenizes texts once, padded to `maxLength`, for the Trainer. */
export function encodeDataset(
  tokenizer: BatchEncoder,
  texts: string[],
  labels: ArrayLike<number>,
  opts: { maxLength: number },
): EncodedDataset {
  if (texts.length !== labels.length) throw new Error(`encodeDataset: ${texts.length} texts but ${labels.length} labels`);
  const enc = tokenizer.encodeBatch(texts, { maxLength: opts.maxLength, padding: 'max_length', truncation: true });
  return { inputIds: enc.inputIds, attentionMask: enc.attentionMask, labels: Int32Array.from(labels), seqLength: enc.seqLength };
}

/** Hugging Face `TrainingArguments`, the subset that matters here, with the same defaults. */
export interface TrainingArguments {
  /** Where checkpoints go (outputDir/checkpoint-<step>); null: never save. */
  outputDir: string | null;
  epochs: number; // 1
  /** If > 0, train exactly this many optimizer steps (overrides epochs, like HF `max_steps`). */
  maxSteps: number; // 0
  batchSize: number; // 8
  evalBatchSize: number; // 8
  gradientAccumulationSteps: number; // 1
  learningRate: number; // 5e-5
  weightDecay: number; // 0
  warmupSteps: number; // 0
  warmupRatio: number; // 0
  lrScheduler: LrSchedulerType; // 'linear'
  /** Clip gradients to this global 2-norm; 0 or null: no clipping. */
  maxGradNorm: number | null; // 1.0
  adamBeta1: number; // 0.9
  adamBeta2: number; // 0.999
  adamEpsilon: number; // 1e-8
  seed: number; // 42
  /** Evaluate every N optimizer steps, at the end of each epoch, or only at the end ('no'). */
  evalSteps: number | 'epoch' | 'no'; // 'epoch'
  /** Save a checkpoint every N optimizer steps, at each epoch end, or only at the end ('no'). */
  saveSteps: number | 'epoch' | 'no'; // 'epoch'
  /** Keep at most this many checkpoints (HF `save_total_limit`); null: keep all. */
  saveTotalLimit: number | null; // null
  /** Progress line every N steps (the callbacks see every step). */
  logSteps: number; // 10
  /** Shuffle the training data each epoch (HF always does; off only for reference tests). */
  shuffle: boolean; // true
}

export const DEFAULT_TRAINING_ARGUMENTS: TrainingArguments = {
  outputDir: null,
  epochs: 1,
  maxSteps: 0,
  batchSize: 8,
  evalBatchSize: 8,
  gradientAccumulationSteps: 1,
  learningRate: 5e-5,
  weightDecay: 0,
  warmupSteps: 0,
  warmupRatio: 0,
  lrScheduler: 'linear',
  maxGradNorm: 1.0,
  adamBeta1: 0.9,
  adamBeta2: 0.999,
  adamEpsilon: 1e-8,
  seed: 42,
  evalSteps: 'epoch',
  saveSteps: 'epoch',
  saveTotalLimit: null,
  logSteps: 10,
  shuffle: true,
};

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
}

/** Thrown when the loss or gradient norm stops being finite; no update was applied and nothing saved. */
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

interface TrainerState {
  globalStep: number;
  epoch: number;
  stepInEpoch: number;
  seed: number;
  numExamples: number;
  stepsPerEpoch: number;
  totalSteps: number;
  warmupSteps: number;
  optimizerStep: number;
  args: TrainingArguments;
  trainableNames: string[];
  trainableShapes: number[][];
  history: { steps: StepEvent[]; evals: EvalEvent[] };
}

const STATE_FILE = 'trainer_state.json';
const TRAINABLE_FILE = 'trainable.safetensors';
const OPTIMIZER_FILE = 'optimizer.safetensors';

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
  globalStep = 0;
  private history: { steps: StepEvent[]; evals: EvalEvent[] } = { steps: [], evals: [] };
  private lastCheckpoint: string | null = null;

  constructor(options: TrainerOptions) {
    this.model = options.model;
    this.args = { ...DEFAULT_TRAINING_ARGUMENTS, ...(options.args ?? {}) };
    validateArgs(this.args);
    this.trainData = options.trainData;
    this.evalData = options.evalData;
    checkDataset(this.trainData, 'trainData');
    if (this.evalData) checkDataset(this.evalData, 'evalData');
    this.callbacks = Array.isArray(options.callbacks) ? [...options.callbacks] : options.callbacks ? [options.callbacks] : [];
    const progress = options.progress ?? 'auto';
    if (progress === true || (progress === 'auto' && process.stderr.isTTY)) this.callbacks.push(terminalProgress(this.args.logSteps));

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
    this.microBatchesPerEpoch = Math.ceil(this.numExamples / a.batchSize);
    // A last, shorter group of micro-batches still makes an optimizer step (HF does the same).
    this.stepsPerEpoch = Math.ceil(this.microBatchesPerEpoch / a.gradientAccumulationSteps);
    this.totalSteps = a.maxSteps > 0 ? a.maxSteps : this.stepsPerEpoch * a.epochs;
    this.numEpochs = Math.ceil(this.totalSteps / this.stepsPerEpoch);
    this.warmupSteps = warmupStepsFor(this.totalSteps, a.warmupSteps, a.warmupRatio);
  }

  /** Adds callbacks (e.g. a live chart) after construction. */
  addCallbacks(callbacks: TrainerCallbacks): void {
    this.callbacks.push(callbacks);
  }

  /**
   * Runs the training loop to the end. `resumeFrom`: 'latest' (the checkpoint outputDir/latest
   * names; an error if there is none) or a checkpoint folder.
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
        batches.push(order.slice(mb * a.batchSize, Math.min((mb + 1) * a.batchSize, this.numExamples)));
      }

      const { loss, gradNorm, lr } = await this.optimizerStep(batches);
      this.globalStep += 1;
      const samples = batches.reduce((n, b) => n + b.length, 0);
      const elapsed = (Date.now() - started) / 1000;
      const stepsDone = this.globalStep - startStep;
      const event: StepEvent = {
        step: this.globalStep,
        totalSteps: this.totalSteps,
        epoch: this.epochAt(this.globalStep),
        loss,
        lr,
        gradNorm,
        samplesPerSecond: elapsed > 0 ? (stepsDone * samples) / elapsed : 0,
        etaSeconds: stepsDone > 0 ? (elapsed / stepsDone) * (this.totalSteps - this.globalStep) : 0,
      };
      this.history.steps.push(event);
      await this.emit('onStep', event);

      const epochEnded = this.globalStep % this.stepsPerEpoch === 0;
      const isLast = this.globalStep === this.totalSteps;
      if (this.evalData && (isLast || due(a.evalSteps, this.globalStep, epochEnded))) {
        lastEval = await this.evaluate();
        evaluatedAtStep = this.globalStep;
      }
      if (a.outputDir && (isLast || due(a.saveSteps, this.globalStep, epochEnded))) {
        await this.saveCheckpoint();
        savedAtStep = this.globalStep;
      }
      await yieldToEventLoop(); // lets a notebook redraw between steps
    }
    // A run resumed from its final checkpoint has nothing left to do but report.
    if (this.evalData && evaluatedAtStep !== this.globalStep) lastEval = await this.evaluate();
    if (a.outputDir && savedAtStep !== this.globalStep) await this.saveCheckpoint();

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

  /** Forward + backward over the micro-batches, clip, guard, AdamW update. */
  private async optimizerStep(batches: number[][]): Promise<{ loss: number; gradNorm: number; lr: number }> {
    const a = this.args;
    const scale = 1 / batches.length;
    let summed: (tf.Tensor | null)[] = this.params.map(() => null);
    let lossTensor: tf.Scalar = tf.scalar(0);
    for (let micro = 0; micro < batches.length; micro++) {
      const dropoutSeed = dropoutSeedFor(a.seed, this.globalStep, micro);
      const { value, grads } = tf.tidy(() => {
        const { inputIds, attentionMask, labels } = gatherBatch(this.trainData, batches[micro]);
        return tf.variableGrads(() => {
          const logits = this.model.logits(inputIds, attentionMask, { training: true, dropoutSeed }); // [B, C]
          return tf.mul(crossEntropy(logits, labels), scale) as tf.Scalar;
        }, this.params);
      });
      const next = this.params.map((p, i) => {
        const g = grads[p.name] ?? null;
        const s = summed[i];
        if (!g) return s;
        if (!s) return g;
        const total = tf.add(s, g);
        s.dispose();
        g.dispose();
        return total;
      });
      summed = next;
      const newLoss = tf.add(lossTensor, value) as tf.Scalar;
      lossTensor.dispose();
      value.dispose();
      lossTensor = newLoss;
    }
    const loss = (await lossTensor.data())[0];
    lossTensor.dispose();
    const present = summed.filter((g): g is tf.Tensor => g !== null);
    const { grads: clipped, norm } = await clipByGlobalNorm(present, a.maxGradNorm);
    present.forEach((g) => g.dispose());
    if (!Number.isFinite(loss) || !Number.isFinite(norm)) {
      clipped.forEach((g) => g.dispose());
      throw new TrainingDivergedError(this.globalStep + 1, loss, norm, this.lastCheckpoint);
    }
    let k = 0;
    const aligned = summed.map((g) => (g === null ? null : clipped[k++]));
    const lr = learningRateAt(a.lrScheduler, a.learningRate, this.globalStep, this.warmupSteps, this.totalSteps);
    this.optimizer.step(aligned, lr);
    clipped.forEach((g) => g.dispose());
    return { loss, gradNorm: norm, lr };
  }

  /** Loss, accuracy, F1 and confusion matrix on `data` (default: evalData), in eval mode (no dropout). */
  async evaluate(data?: EncodedDataset): Promise<EvalEvent> {
    const evalData = data ?? this.evalData;
    if (!evalData) throw new Error('Trainer.evaluate: no evalData given to the Trainer or to evaluate()');
    checkDataset(evalData, 'evalData');
    const n = evalData.labels.length;
    const predictions: number[] = [];
    let lossSum = 0;
    let numLabels = 2;
    for (let start = 0; start < n; start += this.args.evalBatchSize) {
      const rows = range(start, Math.min(start + this.args.evalBatchSize, n));
      const [logitsTensor, lossTensor] = tf.tidy(() => {
        const { inputIds, attentionMask, labels } = gatherBatch(evalData, rows);
        const logits = this.model.logits(inputIds, attentionMask, { training: false });
        return [logits, tf.mul(crossEntropy(logits, labels), rows.length)];
      });
      const logits = await logitsTensor.data();
      lossSum += (await lossTensor.data())[0];
      numLabels = logitsTensor.shape[1];
      predictions.push(...argmaxRows(logits, numLabels));
      logitsTensor.dispose();
      lossTensor.dispose();
    }
    const report = classificationReport(evalData.labels, predictions, numLabels);
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
    // Keys are positions in trainableVariables() (tfjs variable names may differ between processes).
    const trainable: Record<string, TensorToWrite> = {};
    for (let i = 0; i < this.params.length; i++) {
      const p = this.params[i];
      trainable[`p${i}`] = { dtype: 'F32', shape: [...p.shape], data: (await p.data()) as Float32Array };
    }
    const opt = await this.optimizer.getState();
    const moments: Record<string, TensorToWrite> = {};
    opt.shapes.forEach((shape, i) => {
      moments[`m.${i}`] = { dtype: 'F32', shape, data: opt.m[i] };
      moments[`v.${i}`] = { dtype: 'F32', shape, data: opt.v[i] };
    });
    const state: TrainerState = {
      globalStep: this.globalStep,
      epoch: Math.floor(this.globalStep / this.stepsPerEpoch),
      stepInEpoch: this.globalStep % this.stepsPerEpoch,
      seed: this.args.seed,
      numExamples: this.numExamples,
      stepsPerEpoch: this.stepsPerEpoch,
      totalSteps: this.totalSteps,
      warmupSteps: this.warmupSteps,
      optimizerStep: opt.step,
      args: this.args,
      trainableNames: this.params.map((p) => this.paramNames.get(p) ?? p.name),
      trainableShapes: this.params.map((p) => [...p.shape]),
      history: this.history,
    };
    const dir = await writeCheckpointDir(outputDir, this.globalStep, async (tmp) => {
      writeSafetensors(path.join(tmp, TRAINABLE_FILE), trainable, { format: 'pt' });
      writeSafetensors(path.join(tmp, OPTIMIZER_FILE), moments, { format: 'pt' });
      if (typeof this.model.saveAdapter === 'function') await this.model.saveAdapter(path.join(tmp, 'adapter'));
      writeFileAtomic(path.join(tmp, STATE_FILE), JSON.stringify(state, null, 1));
    });
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
    const state = JSON.parse(fs.readFileSync(path.join(dir, STATE_FILE), 'utf8')) as TrainerState;
    const mismatch: string[] = [];
    const expect = (what: string, saved: unknown, now: unknown) => {
      if (saved !== now) mismatch.push(`${what}: checkpoint ${saved}, now ${now}`);
    };
    expect('seed', state.seed, this.args.seed);
    expect('number of training examples', state.numExamples, this.numExamples);
    expect('batchSize', state.args.batchSize, this.args.batchSize);
    expect('gradientAccumulationSteps', state.args.gradientAccumulationSteps, this.args.gradientAccumulationSteps);
    expect('total optimizer steps', state.totalSteps, this.totalSteps);
    expect('warm-up steps', state.warmupSteps, this.warmupSteps);
    expect('number of trainable variables', state.trainableNames.length, this.params.length);
    if (mismatch.length) {
      throw new Error(`Cannot resume exactly from ${dir}; the run differs from the one that saved it:\n  ${mismatch.join('\n  ')}`);
    }
    const tensors = readSafetensors(path.join(dir, TRAINABLE_FILE));
    this.params.forEach((p, i) => {
      const saved = tensors.get(`p${i}`);
      if (!saved || saved.dtype !== 'F32' || saved.data.length !== p.size) {
        throw new Error(
          `${dir}/${TRAINABLE_FILE}: variable ${i} ('${state.trainableNames[i]}') has ` +
            `${saved ? `shape [${saved.shape}]` : 'no entry'}, the model's '${p.name}' is [${p.shape}]`,
        );
      }
    });
    const moments = readSafetensors(path.join(dir, OPTIMIZER_FILE));
    const momentOf = (key: string): Float32Array => {
      const t = moments.get(key);
      if (!t || t.dtype !== 'F32') throw new Error(`${dir}/${OPTIMIZER_FILE}: missing F32 tensor '${key}'`);
      return t.data as Float32Array;
    };
    const opt: AdamWState = {
      step: state.optimizerStep,
      names: state.trainableNames,
      shapes: state.trainableShapes,
      m: this.params.map((_, i) => momentOf(`m.${i}`)),
      v: this.params.map((_, i) => momentOf(`v.${i}`)),
    };
    this.params.forEach((p, i) => {
      const t = tf.tensor(tensors.get(`p${i}`)!.data as Float32Array, p.shape, 'float32');
      p.assign(t);
      t.dispose();
    });
    this.optimizer.setState(opt);
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
  }
}

// ---- data order and seeds: pure functions, so that resuming is exact ----

/** The order of the training examples in `epoch`: a permutation depending only on (n, seed, epoch). */
export function epochOrder(n: number, seed: number, epoch: number, shuffle = true): number[] {
  return shuffle ? permutation(n, mixSeed(seed, epoch, 0x5eed)) : range(0, n);
}

/** The dropout seed of micro-batch `micro` of the update after `step` completed steps. */
export function dropoutSeedFor(seed: number, step: number, micro: number): number {
  return mixSeed(seed, step, micro, 0xd50);
}

// ---- helpers ----

/**
 * HF names of the trainable variables: from `namedTrainableVariables()` when the model has it,
 * else read off a DistilBERT-shaped model (`params` and `linears` maps, possibly wrapped in a
 * PeftModel's `.model`), else the tfjs variable names.
 */
export function parameterNames(model: TrainableModel, params: tf.Variable[]): Map<tf.Variable, string> {
  const names = new Map<tf.Variable, string>();
  if (typeof model.namedTrainableVariables === 'function') {
    for (const [name, v] of model.namedTrainableVariables()) names.set(v, name);
  } else {
    const inner = ((model as { model?: unknown }).model ?? model) as { params?: unknown; linears?: unknown };
    if (inner.params instanceof Map && inner.linears instanceof Map) {
      for (const [name, v] of inner.params as Map<string, tf.Variable>) names.set(v, name);
      for (const [path, layer] of inner.linears as Map<string, Record<string, unknown>>) {
        const fields: [string, string][] = [['weightVar', 'weight'], ['bias', 'bias'], ['loraA', 'lora_A.weight'], ['loraB', 'lora_B.weight']];
        for (const [field, suffix] of fields) {
          const v = layer[field];
          if (v instanceof tf.Variable) names.set(v, `${path}.${suffix}`);
        }
      }
    }
  }
  return new Map(params.map((p) => [p, names.get(p) ?? p.name]));
}

/** Rows of a dataset as int32 tensors: ids and mask [B, T], labels [B]. */
function gatherBatch(data: EncodedDataset, rows: number[]): { inputIds: tf.Tensor2D; attentionMask: tf.Tensor2D; labels: tf.Tensor1D } {
  const T = data.seqLength;
  const ids = new Int32Array(rows.length * T);
  const mask = new Int32Array(rows.length * T);
  const labels = new Int32Array(rows.length);
  rows.forEach((r, i) => {
    ids.set(data.inputIds.subarray(r * T, (r + 1) * T), i * T);
    mask.set(data.attentionMask.subarray(r * T, (r + 1) * T), i * T);
    labels[i] = data.labels[r];
  });
  return {
    inputIds: tf.tensor2d(ids, [rows.length, T], 'int32'),
    attentionMask: tf.tensor2d(mask, [rows.length, T], 'int32'),
    labels: tf.tensor1d(labels, 'int32'),
  };
}

function checkDataset(data: EncodedDataset, what: string): void {
  const n = data.labels.length;
  if (n === 0) throw new Error(`${what} is empty`);
  if (!(data.seqLength > 0)) throw new Error(`${what}.seqLength must be > 0, got ${data.seqLength}`);
  if (data.inputIds.length !== n * data.seqLength || data.attentionMask.length !== n * data.seqLength) {
    throw new Error(
      `${what}: ${n} labels × seqLength ${data.seqLength} needs ${n * data.seqLength} ids and mask values, ` +
        `got ${data.inputIds.length} and ${data.attentionMask.length}`,
    );
  }
  for (let i = 0; i < n; i++) {
    const l = data.labels[i];
    if (!Number.isInteger(l) || l < 0) throw new Error(`${what}: label ${i} is ${l}; labels must be integers 0..numLabels-1`);
  }
}

function validateArgs(a: TrainingArguments): void {
  const positiveInt = ['batchSize', 'evalBatchSize', 'gradientAccumulationSteps', 'logSteps'] as const;
  for (const k of positiveInt) {
    if (!Number.isInteger(a[k]) || a[k] < 1) throw new Error(`TrainingArguments.${k} must be a positive integer, got ${a[k]}`);
  }
  if (!(a.epochs > 0) && !(a.maxSteps > 0)) throw new Error(`TrainingArguments.epochs must be > 0, got ${a.epochs}`);
  if (!(a.learningRate >= 0)) throw new Error(`TrainingArguments.learningRate must be ≥ 0, got ${a.learningRate}`);
  if (!Number.isInteger(a.epochs) && a.maxSteps <= 0) {
    throw new Error(`TrainingArguments.epochs must be a whole number (got ${a.epochs}); use maxSteps for a partial epoch`);
  }
  for (const k of ['evalSteps', 'saveSteps'] as const) {
    const v = a[k];
    if (v !== 'epoch' && v !== 'no' && !(Number.isInteger(v) && v > 0)) {
      throw new Error(`TrainingArguments.${k} must be a positive integer, 'epoch' or 'no', got ${v}`);
    }
  }
}

function due(every: number | 'epoch' | 'no', step: number, epochEnded: boolean): boolean {
  if (every === 'no') return false;
  if (every === 'epoch') return epochEnded;
  return step % every === 0;
}

function range(start: number, end: number): number[] {
  return Array.from({ length: end - start }, (_, i) => start + i);
}

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${s.toFixed(0)}s`;
}

/** The default reporter: one progress line on stderr, rewritten in place on a terminal. */
export function terminalProgress(logSteps = 10, stream: NodeJS.WriteStream = process.stderr): TrainerCallbacks {
  const tty = Boolean(stream.isTTY);
  return {
    onStep(e) {
      if (e.step % logSteps !== 0 && e.step !== e.totalSteps) return;
      const pct = ((100 * e.step) / e.totalSteps).toFixed(0).padStart(3);
      const line =
        `step ${e.step}/${e.totalSteps} ${pct}% | epoch ${e.epoch.toFixed(2)} | loss ${e.loss.toFixed(4)} | ` +
        `lr ${e.lr.toExponential(2)} | grad ${e.gradNorm.toFixed(3)} | ${e.samplesPerSecond.toFixed(1)} samples/s | ` +
        `eta ${formatSeconds(e.etaSeconds)}`;
      stream.write(tty ? `\r${line}\x1b[K` : line + '\n');
    },
    onEvaluate(e) {
      stream.write(
        `${tty ? '\n' : ''}eval @ step ${e.step}: loss ${e.loss.toFixed(4)} | accuracy ${e.accuracy.toFixed(4)} | F1 ${e.f1.toFixed(4)}\n`,
      );
    },
    onCheckpoint(e) {
      stream.write(`${tty ? '\n' : ''}saved ${e.dir}\n`);
    },
    onEnd(e) {
      stream.write(`${tty ? '\n' : ''}done: ${e.step} steps in ${formatSeconds(e.seconds)}, mean training loss ${e.trainingLoss.toFixed(4)}\n`);
    },
  };
}
