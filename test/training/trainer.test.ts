// The training loop against PyTorch (torch.optim.AdamW + HF's linear warm-up schedule +
// clip_grad_norm_ + gradient accumulation), plus its guards: NaN stop, tensor flatness, resume.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { Trainer, TrainingDivergedError, dropoutSeedFor } from '../../lib/training/trainer';
import { EncodedDataset } from '../../lib/training/collate';
import { TrainableModel } from '../../lib/training/trainable-model';
import { TrainingArguments } from '../../lib/training/training-args';
import { TinyClassifier, NamedValues, countingTask } from '../helpers/tiny-classifier';

const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'train', 'mlp_reference.json'), 'utf8'));

/** The reference script's argument names (its own) as TrainingArguments (HF's, in camelCase). */
function fixtureArgs(): Partial<TrainingArguments> {
  const { batchSize, epochs, ...same } = fixture.args;
  return { ...same, perDeviceTrainBatchSize: batchSize, numTrainEpochs: epochs };
}

function fixtureData(): EncodedDataset {
  return {
    inputIds: Int32Array.from(fixture.data.inputIds.flat()),
    attentionMask: Int32Array.from(fixture.data.attentionMask.flat()),
    labels: Int32Array.from(fixture.data.labels),
    seqLength: fixture.sizes.seq,
  };
}

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-train-'));
}

function expectClose(actual: number, expected: number, rel: number, abs = 1e-7): void {
  if (Math.abs(actual - expected) > abs + rel * Math.abs(expected)) {
    throw new Error(`expected ${expected}, got ${actual} (diff ${Math.abs(actual - expected)})`);
  }
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('Trainer vs PyTorch (scripts/reference/train_step_reference.py)', () => {
  test('losses, gradient norms, learning rates and final weights match over 6 accumulated steps', async () => {
    const model = new TinyClassifier(fixture.initial as NamedValues);
    const trainer = new Trainer({
      model,
      trainData: fixtureData(),
      args: { ...fixtureArgs(), shuffle: false, outputDir: null },
      progress: false,
    });
    expect(trainer.totalSteps).toBe(fixture.steps.length);
    // HF's rule picks the same no-decay parameters as the reference.
    const decayed = trainer.optimizer.decayedParameterNames().map((n) => n.replace(/^tiny\d+\//, ''));
    expect(decayed.sort()).toEqual(Object.keys(fixture.initial).filter((n) => !fixture.noDecay.includes(n)).sort());

    const out = await trainer.train();
    expect(out.history.steps).toHaveLength(fixture.steps.length);
    out.history.steps.forEach((s, i) => {
      expectClose(s.loss, fixture.steps[i].loss, 1e-5);
      expectClose(s.gradNorm, fixture.steps[i].gradNorm, 1e-5);
      expectClose(s.lr, fixture.steps[i].lr, 1e-9);
    });
    const values = await model.values();
    for (const [name, ref] of Object.entries(fixture.final as NamedValues)) {
      const ours = values[name];
      expect(ours.length).toBe(ref.values.length);
      ref.values.forEach((v, i) => expectClose(ours[i], v, 1e-5, 2e-6));
      // And the weights did move (the test would be vacuous otherwise).
      const init = (fixture.initial as NamedValues)[name].values;
      expect(Math.max(...init.map((v, i) => Math.abs(v - ours[i])))).toBeGreaterThan(1e-3);
    }
    trainer.dispose();
    model.dispose();
  });
});

describe('dropout seeds', () => {
  test('depend only on (seed, step, micro-batch)', () => {
    expect(dropoutSeedFor(42, 7, 0)).toBe(dropoutSeedFor(42, 7, 0));
    expect(dropoutSeedFor(42, 7, 0)).not.toBe(dropoutSeedFor(42, 8, 0));
    expect(dropoutSeedFor(42, 7, 0)).not.toBe(dropoutSeedFor(42, 7, 1));
    expect(dropoutSeedFor(42, 7, 0)).not.toBe(dropoutSeedFor(43, 7, 0));
  });
});

describe('guards', () => {
  test('tf.memory().numTensors stays flat over 300 steps with accumulation, dropout and evaluation', async () => {
    const sizes = { vocab: 10, dim: 8, hidden: 8, labels: 2 };
    const model = TinyClassifier.random(sizes, 1, { dropout: 0.1 });
    const data = countingTask(40, 6, sizes.vocab, 2);
    const counts: number[] = [];
    const trainer = new Trainer({
      model,
      trainData: data,
      evalData: data,
      args: { perDeviceTrainBatchSize: 8, gradientAccumulationSteps: 2, maxSteps: 300, evalStrategy: 'steps', evalSteps: 50, learningRate: 1e-2, outputDir: null },
      callbacks: { onStep: () => void counts.push(tf.memory().numTensors) },
      progress: false,
    });
    await trainer.train();
    expect(counts).toHaveLength(300);
    // After the first step the optimizer's moments exist; from then on nothing may accumulate.
    expect(counts[299]).toBe(counts[1]);
    expect(new Set(counts.slice(1)).size).toBe(1);
    trainer.dispose();
    model.dispose();
  });

  test('a NaN loss stops the run with a clear error, applies no update and leaves the last checkpoint untouched', async () => {
    const sizes = { vocab: 10, dim: 8, hidden: 8, labels: 2 };
    const inner = TinyClassifier.random(sizes, 3);
    let trainingCalls = 0;
    // Poisons the logits of the third training forward pass (optimizer step 3).
    const model: TrainableModel = {
      logits: (ids, mask, opts) => {
        const y = inner.logits(ids, mask, opts);
        if (!opts?.training || ++trainingCalls !== 3) return y;
        return tf.tidy(() => tf.mul(y, NaN)) as tf.Tensor2D;
      },
      trainableVariables: () => inner.trainableVariables(),
    };
    const dir = tmpDir();
    const trainer = new Trainer({
      model,
      trainData: countingTask(16, 6, sizes.vocab, 4),
      args: { perDeviceTrainBatchSize: 4, numTrainEpochs: 2, saveSteps: 1, learningRate: 1e-2, outputDir: dir },
      progress: false,
    });
    const seen: number[] = [];
    trainer.addCallbacks({ onStep: (e) => void seen.push(e.step) });
    let afterStep2: Record<string, Float32Array> = {};
    trainer.addCallbacks({ onCheckpoint: async (e) => { if (e.step === 2) afterStep2 = await inner.values(); } });
    const snapshot = () => fs.readdirSync(path.join(dir, 'checkpoint-2')).map((f) => {
      const p = path.join(dir, 'checkpoint-2', f);
      return fs.statSync(p).isFile() ? fs.readFileSync(p).toString('base64') : f;
    });

    let error: unknown = null;
    const before = { files: [] as string[] };
    trainer.addCallbacks({ onCheckpoint: (e) => { if (e.step === 2) before.files = snapshot(); } });
    try {
      await trainer.train();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TrainingDivergedError);
    expect((error as Error).message).toMatch(/step 3: the loss is NaN/);
    expect((error as Error).message).toContain(path.join(dir, 'checkpoint-2'));
    expect(seen).toEqual([1, 2]);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('checkpoint-'))).toEqual(['checkpoint-1', 'checkpoint-2']);
    expect(snapshot()).toEqual(before.files);
    const now = await inner.values();
    for (const [name, v] of Object.entries(afterStep2)) expect(Array.from(now[name])).toEqual(Array.from(v));
    trainer.dispose();
    inner.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('checkpoints and resume (in process)', () => {
  test('resuming from a middle checkpoint reproduces the uninterrupted run exactly, dropout included', async () => {
    const sizes = { vocab: 10, dim: 8, hidden: 8, labels: 2 };
    const data = countingTask(30, 6, sizes.vocab, 5);
    const evalData = countingTask(12, 6, sizes.vocab, 6);
    const args = { perDeviceTrainBatchSize: 4, gradientAccumulationSteps: 2, numTrainEpochs: 3, warmupRatio: 0.2, weightDecay: 0.01, learningRate: 1e-2, saveSteps: 3, evalStrategy: 'steps', evalSteps: 4 } as const;

    const runDir = tmpDir();
    const full = TinyClassifier.random(sizes, 7, { dropout: 0.2 });
    const t1 = new Trainer({ model: full, trainData: data, evalData, args: { ...args, outputDir: runDir }, progress: false });
    const out1 = await t1.train();
    expect(out1.globalStep).toBe(12); // ceil(ceil(30/4)/2) = 4 steps per epoch × 3
    expect(fs.readdirSync(runDir).filter((f) => f.startsWith('checkpoint-')).sort()).toEqual(
      ['checkpoint-12', 'checkpoint-3', 'checkpoint-6', 'checkpoint-9'],
    );

    // A fresh model with other initial weights: everything must come from the checkpoint.
    const resumed = TinyClassifier.random(sizes, 99, { dropout: 0.2 });
    const t2 = new Trainer({ model: resumed, trainData: data, evalData, args: { ...args, outputDir: tmpDir() }, progress: false });
    const out2 = await t2.train({ resumeFromCheckpoint: path.join(runDir, 'checkpoint-6') });
    expect(out2.globalStep).toBe(12);
    expect(out2.history.steps.map((s) => s.loss)).toEqual(out1.history.steps.map((s) => s.loss));
    expect(out2.lastEval!.loss).toBe(out1.lastEval!.loss);
    const a = await full.values();
    const b = await resumed.values();
    for (const name of Object.keys(a)) expect(Array.from(b[name])).toEqual(Array.from(a[name]));

    // A mismatched run refuses to resume rather than silently diverging.
    const t3 = new Trainer({ model: resumed, trainData: data, args: { ...args, perDeviceTrainBatchSize: 5, outputDir: runDir }, progress: false });
    await expect(t3.train({ resumeFromCheckpoint: true })).rejects.toThrow(/perDeviceTrainBatchSize: checkpoint 4, now 5/);
    const t4 = new Trainer({ model: resumed, trainData: data, args: { ...args, outputDir: tmpDir() }, progress: false });
    await expect(t4.train({ resumeFromCheckpoint: true })).rejects.toThrow(/No valid checkpoint found in output directory/);
    [t1, t2, t3, t4].forEach((t) => t.dispose());
    full.dispose();
    resumed.dispose();
  });

  test('the synthetic task is learned (accuracy and loss events make sense)', async () => {
    const sizes = { vocab: 6, dim: 16, hidden: 16, labels: 2 };
    const model = TinyClassifier.random(sizes, 11);
    const evals: number[] = [];
    const trainer = new Trainer({
      model,
      trainData: countingTask(200, 8, sizes.vocab, 12),
      evalData: countingTask(100, 8, sizes.vocab, 13),
      args: { perDeviceTrainBatchSize: 16, numTrainEpochs: 15, evalStrategy: 'epoch', learningRate: 3e-2, outputDir: null },
      callbacks: { onEvaluate: (e) => void evals.push(e.accuracy) },
      progress: false,
    });
    const out = await trainer.train();
    expect(evals).toHaveLength(15);
    expect(out.lastEval!.accuracy).toBeGreaterThan(0.8);
    expect(out.epochLosses[14]).toBeLessThan(out.epochLosses[0]);
    const c = out.lastEval!.confusion;
    expect(c[0][0] + c[0][1] + c[1][0] + c[1][1]).toBe(100);
    trainer.dispose();
    model.dispose();
  });
});

describe('labels', () => {
  test('a label ≥ numLabels is refused before any training step, naming the label, its row and the number of labels', () => {
    const sizes = { vocab: 10, dim: 8, hidden: 8, labels: 2 };
    const inner = TinyClassifier.random(sizes, 31);
    let trainingCalls = 0;
    const model: TrainableModel = {
      logits: (ids, mask, opts) => {
        if (opts?.training) trainingCalls += 1;
        return inner.logits(ids, mask, opts);
      },
      trainableVariables: () => inner.trainableVariables(),
    };
    const data = countingTask(4, 6, sizes.vocab, 32);
    const bad = { ...data, labels: Int32Array.from([0, 1, 2, 1]) };
    // PyTorch: F.cross_entropy(logits[4×2], tensor([0, 1, 2, 1])) raises "Target 2 is out of bounds."
    expect(() => new Trainer({ model, trainData: bad, progress: false })).toThrow(
      'trainData: label 2 at row 2 is out of bounds; labels must be class ids 0..1 (the model has 2 labels)',
    );
    expect(() => new Trainer({ model, trainData: data, evalData: { ...data, labels: [1, 0, 0, -1] }, progress: false })).toThrow(
      'evalData: label -1 at row 3 is out of bounds',
    );
    expect(trainingCalls).toBe(0);
    inner.dispose();
  });

  test('a model that declares numLabels is checked against it, without a forward pass', () => {
    const sizes = { vocab: 10, dim: 8, hidden: 8, labels: 3 };
    const inner = TinyClassifier.random(sizes, 33);
    let calls = 0;
    const model = {
      config: { numLabels: 3 },
      logits: (ids: tf.Tensor2D, mask: tf.Tensor2D, opts?: { training?: boolean }) => {
        calls += 1;
        return inner.logits(ids, mask, opts);
      },
      trainableVariables: () => inner.trainableVariables(),
    };
    const data = countingTask(3, 6, sizes.vocab, 34);
    const t = new Trainer({ model, trainData: { ...data, labels: [2, 0, 1] }, progress: false });
    expect(t.numLabels).toBe(3);
    expect(calls).toBe(0);
    expect(() => new Trainer({ model, trainData: { ...data, labels: [0, 3, 1] }, progress: false })).toThrow('label 3 at row 1');
    t.dispose();
    inner.dispose();
  });
});

describe('evaluation and saving follow HF strategies', () => {
  test("evalStrategy 'no' (HF's default) never evaluates; saveStrategy 'steps' saves every saveSteps and after the last step", async () => {
    const sizes = { vocab: 10, dim: 8, hidden: 8, labels: 2 };
    const model = TinyClassifier.random(sizes, 35);
    const data = countingTask(20, 6, sizes.vocab, 36);
    const dir = tmpDir();
    const evals: number[] = [];
    const saves: number[] = [];
    // 20 examples / batch 4 = 5 steps per epoch × 2 epochs = 10 steps.
    const trainer = new Trainer({
      model,
      trainData: data,
      evalData: data,
      args: { perDeviceTrainBatchSize: 4, numTrainEpochs: 2, saveSteps: 4, learningRate: 1e-2, outputDir: dir },
      callbacks: { onEvaluate: (e) => void evals.push(e.step), onCheckpoint: (e) => void saves.push(e.step) },
      progress: false,
    });
    const out = await trainer.train();
    expect(out.globalStep).toBe(10);
    expect(evals).toEqual([]);
    expect(out.lastEval).toBeNull();
    expect(saves).toEqual([4, 8, 10]);
    trainer.dispose();
    model.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("evalStrategy 'steps' with evalSteps null evaluates every loggingSteps, and once more at the end", async () => {
    const sizes = { vocab: 10, dim: 8, hidden: 8, labels: 2 };
    const model = TinyClassifier.random(sizes, 37);
    const data = countingTask(20, 6, sizes.vocab, 38);
    const evals: number[] = [];
    const trainer = new Trainer({
      model,
      trainData: data,
      evalData: data,
      args: { perDeviceTrainBatchSize: 4, numTrainEpochs: 2, evalStrategy: 'steps', loggingSteps: 3, saveStrategy: 'no', outputDir: null },
      callbacks: { onEvaluate: (e) => void evals.push(e.step) },
      progress: false,
    });
    await trainer.train();
    expect(evals).toEqual([3, 6, 9, 10]);
    trainer.dispose();
    model.dispose();
  });
});
