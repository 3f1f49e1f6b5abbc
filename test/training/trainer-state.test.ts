// A checkpoint's contents (lib/training/trainer-state.ts): written and restored exactly, and
// refused, listing every difference, by a run of another shape.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { AdamW } from '../../lib/training/optimizer';
import { DEFAULT_TRAINING_ARGUMENTS } from '../../lib/training/training-args';
import { RunShape, STATE_FILE, restoreTrainerCheckpoint, writeTrainerCheckpoint } from '../../lib/training/trainer-state';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

test('variables, AdamW moments and position come back exactly; another run shape is refused', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-state-'));
  const w = tf.variable(tf.tensor2d([[1.5, -2], [0.25, 3]]), true, 'state-test-w');
  const opt = new AdamW([w], { weightDecay: 0.1 });
  const grad = tf.tensor2d([[0.1, 0.2], [-0.3, 0.4]]);
  opt.step([grad], 1e-2); // one update: moments m = 0.1·g, v = 0.001·g², step 1
  const run: RunShape = { seed: 42, numExamples: 10, perDeviceTrainBatchSize: 4, gradientAccumulationSteps: 1, totalSteps: 9, warmupSteps: 0 };
  const saved = await w.data();
  const checkpoint = await writeTrainerCheckpoint(
    dir,
    {
      globalStep: 1, epoch: 0, stepInEpoch: 1, seed: 42, numExamples: 10, stepsPerEpoch: 3, totalSteps: 9, warmupSteps: 0,
      args: { ...DEFAULT_TRAINING_ARGUMENTS, perDeviceTrainBatchSize: 4 }, trainableNames: ['w'], trainableShapes: [[2, 2]],
      history: { steps: [], evals: [] },
    },
    [w],
    opt,
  );
  expect(checkpoint).toBe(path.join(dir, 'checkpoint-1'));
  expect(JSON.parse(fs.readFileSync(path.join(checkpoint, STATE_FILE), 'utf8')).optimizerStep).toBe(1);

  const w2 = tf.variable(tf.zeros([2, 2]), true, 'state-test-w2');
  const opt2 = new AdamW([w2], { weightDecay: 0.1 });
  const state = restoreTrainerCheckpoint(checkpoint, run, [w2], opt2);
  expect(state.globalStep).toBe(1);
  expect(Array.from(await w2.data())).toEqual(Array.from(saved));
  const [a, b] = [await opt.getState(), await opt2.getState()];
  expect(b.step).toBe(1);
  expect(Array.from(b.m[0])).toEqual(Array.from(a.m[0]));
  expect(Array.from(b.v[0])).toEqual(Array.from(a.v[0]));
  expect(Array.from(a.m[0]).map((x) => Number(x.toFixed(7)))).toEqual([0.01, 0.02, -0.03, 0.04]);

  expect(() => restoreTrainerCheckpoint(checkpoint, { ...run, seed: 7, perDeviceTrainBatchSize: 8 }, [w2], opt2)).toThrow(
    `Cannot resume exactly from ${checkpoint}; the run differs from the one that saved it:\n  seed: checkpoint 42, now 7\n  perDeviceTrainBatchSize: checkpoint 4, now 8`,
  );
  [w, w2, grad].forEach((t) => t.dispose());
  opt.dispose();
  opt2.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});
