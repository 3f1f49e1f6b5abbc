// What one optimizer step asks of the device, counted on the cpu and wasm backends (the same
// code path as on webgpu, where these counts are what costs time): kernels, tensors made from
// JavaScript values (uploads), and read-backs. Budgets from issue 9:
//   - no read-back inside a step except every loggingSteps (one, for all unread steps);
//   - AdamW + clipping: one sum-of-squares kernel per gradient, one stats kernel, one fused
//     AdamW kernel per parameter; no scalar uploaded (before: 17 kernels and 9 uploads per
//     tensor and 2 read-backs per step, measured with this helper on the old optimizer);
//   - a NaN is caught at the next logging step, with the weights of the last good step.
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../../lib/backends/select';
import { registerWasmTrainingKernels } from '../../lib/backends/wasm-kernels';
import { AdamW, globalNormStats } from '../../lib/training/optimizer';
import { Trainer, TrainingDivergedError } from '../../lib/training/trainer';
import { TrainableModel } from '../../lib/training/trainable-model';
import { TinyClassifier, countingTask } from '../helpers/tiny-classifier';
import { countDeviceTraffic, dispatches } from '../helpers/device-traffic';

const SHAPES = [[8, 48], [48, 8], [48], [2, 48], [2], [30, 16], [16], [1]];

describe.each(['cpu', 'wasm'] as const)('optimizer step on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });

  test('clip + AdamW: 2 kernels per tensor + 1, no upload, no read-back', async () => {
    const params = SHAPES.map((s, i) => tf.variable(tf.randomNormal(s, 0, 1, 'float32', i + 1), true, `budget-${backend}/p${i}.weight`));
    const opt = new AdamW(params, { weightDecay: 0.01 });
    let prev: tf.Tensor | null = null;
    for (let step = 1; step <= 3; step++) {
      const grads = SHAPES.map((s, i) => tf.randomNormal(s, 0, 1, 'float32', 100 * step + i));
      const loss = tf.scalar(0.7);
      const before = tf.memory().numTensors;
      const { result: stats, traffic } = await countDeviceTraffic(() => {
        const stats = globalNormStats(grads, loss, 1.0, prev);
        opt.step(grads, 1e-3, stats);
        return stats;
      });
      const T = SHAPES.length;
      // Step 1 also creates the moments (two ZerosLike per parameter), as torch does lazily.
      const moments = step === 1 ? 2 * T : 0;
      expect({ dispatches: dispatches(traffic), uploads: traffic.uploads, readBacks: traffic.readBacks }).toEqual({
        dispatches: 2 * T + 1 + moments,
        uploads: 0,
        readBacks: 0,
      });
      expect(tf.memory().numTensors - before).toBe(1 + moments); // the stats tensor (+ moments)
      // The norm and the clip coefficient equal a direct computation.
      const all = await Promise.all(grads.map((g) => g.data()));
      let sumSq = 0;
      all.forEach((a) => a.forEach((x) => (sumSq += x * x)));
      const [l, norm, coef, ok] = await stats.data();
      expect(l).toBeCloseTo(0.7, 6);
      expect(norm).toBeCloseTo(Math.sqrt(sumSq), 4);
      expect(coef).toBeCloseTo(1 / (Math.sqrt(sumSq) + 1e-6), 7);
      expect(ok).toBe(1);
      prev?.dispose();
      prev = stats;
      tf.dispose([...grads, loss]);
    }
    prev?.dispose();
    opt.dispose();
    params.forEach((p) => p.dispose());
  });
});

describe.each(['cpu', 'wasm'] as const)('the Trainer on %s reads back once per loggingSteps', (backend) => {
  beforeAll(async () => {
    registerWasmTrainingKernels(); // the embedding's gradient on wasm
    await useBackend(backend);
  });

  test('8 steps of 2 micro-batches, loggingSteps 4: read-backs only at steps 4 and 8; the optimizer uploads nothing', async () => {
    const sizes = { vocab: 10, dim: 8, hidden: 8, labels: 2 };
    const inner = TinyClassifier.random(sizes, 41, { dropout: 0.1 });
    // Every training forward marks where its micro-batch starts in the event log.
    const log: string[] = [];
    const model: TrainableModel = {
      logits: (ids, mask, opts) => {
        if (opts?.training) log.push('forward');
        return inner.logits(ids, mask, opts);
      },
      trainableVariables: () => inner.trainableVariables(),
    };
    const trainer = new Trainer({
      model,
      trainData: countingTask(64, 6, sizes.vocab, 42),
      args: { perDeviceTrainBatchSize: 4, gradientAccumulationSteps: 2, maxSteps: 8, loggingSteps: 4, maxGradNorm: 1, weightDecay: 0.01, saveStrategy: 'no', outputDir: null },
      progress: false,
    });
    const seen: number[] = [];
    trainer.addCallbacks({ onStep: (e) => void seen.push(e.step) });
    const { result: out } = await countDeviceTraffic(() => trainer.train(), (e) => {
      if (e.kind === 'kernel') log.push(e.name);
      else log.push(e.kind);
    });
    // Split the log into steps: a step starts at its first micro-batch's forward.
    const steps: string[][] = [];
    let forwards = 0;
    for (const entry of log) {
      if (entry === 'forward' && forwards++ % 2 === 0) steps.push([]);
      steps[steps.length - 1]?.push(entry);
    }
    expect(steps).toHaveLength(8);
    const count = (step: string[], what: string) => step.filter((e) => e === what).length;
    const readBacks = steps.map((s) => count(s, 'readBack'));
    // The optimizer's part of a step: from the first sum-of-squares kernel to the last AdamW one.
    const optimizerPart = steps.map((s) => s.slice(s.indexOf('QloraSumOfSquares'), s.lastIndexOf('QloraFusedAdamW') + 1));
    const T = inner.trainableVariables().length;
    console.log(
      `${backend}, per step: read-backs ${readBacks}; uploads ${steps.map((s) => count(s, 'upload'))}; ` +
        `optimizer kernels ${optimizerPart.map((s) => s.length)} (T = ${T})`,
    );
    expect(readBacks).toEqual([0, 0, 0, 1, 0, 0, 0, 1]);
    // T sums of squares, 1 stats kernel, T AdamW kernels (+ 2T ZerosLike for the moments at step 1).
    expect(optimizerPart.map((s) => s.length)).toEqual([4 * T + 1, ...new Array(7).fill(2 * T + 1)]);
    expect(optimizerPart.map((s) => count(s, 'upload') + count(s, 'readBack'))).toEqual(new Array(8).fill(0));
    expect(optimizerPart.map((s) => count(s, 'QloraFusedAdamW'))).toEqual(new Array(8).fill(T));
    // The rest (forward, backward: the model's own and tfjs' gradient scalars) is the same every step.
    expect(new Set(steps.slice(1, 7).map((s) => count(s, 'upload'))).size).toBe(1);
    // Events come in order, each step once, with the numbers read at the logging steps.
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(out.history.steps.every((s) => Number.isFinite(s.loss) && s.gradNorm > 0)).toBe(true);
    trainer.dispose();
    inner.dispose();
  });
});

describe('the NaN guard at logging steps', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  test('a NaN at step 3 is reported at logging step 5, naming step 3, with the weights of step 2', async () => {
    const sizes = { vocab: 10, dim: 8, hidden: 8, labels: 2 };
    const data = countingTask(40, 6, sizes.vocab, 43);
    const args = { perDeviceTrainBatchSize: 4, learningRate: 1e-2, lrSchedulerType: 'constant', loggingSteps: 5, saveStrategy: 'no', outputDir: null } as const;

    // The reference: the same run stopped cleanly after 2 steps.
    const clean = TinyClassifier.random(sizes, 44);
    const reference = new Trainer({ model: clean, trainData: data, args: { ...args, maxSteps: 2 }, progress: false });
    await reference.train();
    const expected = await clean.values();

    const inner = TinyClassifier.random(sizes, 44);
    let trainingCalls = 0;
    const model: TrainableModel = {
      logits: (ids, mask, opts) => {
        const y = inner.logits(ids, mask, opts);
        if (!opts?.training || ++trainingCalls !== 3) return y;
        return tf.tidy(() => tf.mul(y, NaN)) as tf.Tensor2D;
      },
      trainableVariables: () => inner.trainableVariables(),
    };
    const trainer = new Trainer({ model, trainData: data, args: { ...args, maxSteps: 10 }, progress: false });
    const seen: number[] = [];
    trainer.addCallbacks({ onStep: (e) => void seen.push(e.step) });
    const error = await trainer.train().then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(TrainingDivergedError);
    expect((error as TrainingDivergedError).step).toBe(3);
    expect((error as Error).message).toMatch(/step 3: the loss is NaN/);
    expect(trainingCalls).toBe(5); // steps 4 and 5 ran (on the device) before the guard looked
    expect(seen).toEqual([1, 2]);
    expect(trainer.globalStep).toBe(2);
    expect(trainer.optimizer.stepCount).toBe(2);
    const now = await inner.values();
    for (const [name, v] of Object.entries(expected)) expect(Array.from(now[name])).toEqual(Array.from(v));
    // And the moments too: one more clean step from here equals the reference's third step.
    const state = await trainer.optimizer.getState();
    const refState = await reference.optimizer.getState();
    state.m.forEach((m, i) => expect(Array.from(m)).toEqual(Array.from(refState.m[i])));
    state.v.forEach((v, i) => expect(Array.from(v)).toEqual(Array.from(refState.v[i])));
    [trainer, reference].forEach((t) => t.dispose());
    [inner, clean].forEach((m) => m.dispose());
  });
});
