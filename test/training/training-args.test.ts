// TrainingArguments: HF's names and defaults (transformers 4.4x training_args.py: num_train_epochs
// 3.0, max_steps -1, per_device_train/eval_batch_size 8, gradient_accumulation_steps 1,
// learning_rate 5e-5, weight_decay 0.0, adam_beta1 0.9, adam_beta2 0.999, adam_epsilon 1e-8,
// max_grad_norm 1.0, lr_scheduler_type "linear", warmup_ratio 0.0, warmup_steps 0,
// logging_steps 500, eval_strategy "no", eval_steps None, save_strategy "steps", save_steps 500,
// save_total_limit None, seed 42), and the checks.
import { DEFAULT_TRAINING_ARGUMENTS, isDue, resolveTrainingArguments } from '../../lib/training/training-args';

test("the defaults are HF's (outputDir aside: null = never save)", () => {
  expect(DEFAULT_TRAINING_ARGUMENTS).toEqual({
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
    metricForBestModel: null, // HF: None unless load_best_model_at_end
    greaterIsBetter: null, // HF: None, then derived from the metric's name
    seed: 42,
    shuffle: true,
  });
});

test('resolveTrainingArguments overrides the defaults and refuses old or misspelt names', () => {
  expect(resolveTrainingArguments({ numTrainEpochs: 1, learningRate: 2e-4 })).toMatchObject({ numTrainEpochs: 1, learningRate: 2e-4, perDeviceTrainBatchSize: 8 });
  expect(() => resolveTrainingArguments({ batchSize: 4, epochs: 2 } as never)).toThrow(
    "TrainingArguments: unknown arguments batchSize, epochs. The names are HF's in camelCase: outputDir, numTrainEpochs,",
  );
});

test.each([
  [{ perDeviceTrainBatchSize: 0 }, 'TrainingArguments.perDeviceTrainBatchSize must be a positive integer, got 0'],
  [{ numTrainEpochs: 1.5 }, 'numTrainEpochs must be a whole number ≥ 1 (got 1.5); use maxSteps for a partial epoch'],
  [{ evalStrategy: 'always' }, "TrainingArguments.evalStrategy must be 'no', 'steps' or 'epoch', got always"],
  [{ evalSteps: 0 }, 'TrainingArguments.evalSteps must be a positive integer or null (= loggingSteps), got 0'],
  [{ warmupRatio: 1.5 }, 'TrainingArguments.warmupRatio must be in [0, 1], got 1.5'],
  [{ saveTotalLimit: 0 }, 'TrainingArguments.saveTotalLimit must be a positive integer or null (keep all), got 0'],
])('%j is refused', (args, message) => {
  expect(() => resolveTrainingArguments(args as never)).toThrow(message);
});

test('a partial epoch is fine with maxSteps (HF: max_steps > 0 overrides num_train_epochs)', () => {
  expect(resolveTrainingArguments({ numTrainEpochs: 0.5, maxSteps: 7 }).maxSteps).toBe(7);
});

test('isDue: never, every N steps, or at epoch ends', () => {
  expect([1, 2, 3, 4, 5, 6].filter((s) => isDue('steps', 3, s, false))).toEqual([3, 6]);
  expect(isDue('no', 1, 5, true)).toBe(false);
  expect(isDue('epoch', 3, 5, true)).toBe(true);
  expect(isDue('epoch', 5, 5, false)).toBe(false);
});
