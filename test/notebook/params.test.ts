// The notebook's parameters: presets by backend, QLORA_* parsing, clear errors, and the LoRA and
// Trainer settings made from them. Expected values are the original notebook's (its LoraConfig and
// TrainingArguments, see docs/original-notebook.md) and step counts derived by hand.
import * as fs from 'fs';
import * as path from 'path';
import { DEFAULT_TRAINING_ARGUMENTS, resolveTrainingArguments } from '../../lib/training/training-args';
import {
  DEFAULT_TARGET_MODULES,
  PARAMETERS,
  checkParameters,
  loraConfig,
  notebookParameters,
  parameterRows,
  presetFor,
  taskLabels,
  totalOptimizerSteps,
  trainingArguments,
} from '../../lib/notebook/params';

const quiet = () => jest.spyOn(console, 'warn').mockImplementation(() => undefined);
afterEach(() => jest.restoreAllMocks());

describe('presets', () => {
  test('GPU backends get the original notebook’s settings', () => {
    const p = notebookParameters({ name: 'tensorflow-gpu', device: 'NVIDIA H100' }, {});
    expect(p).toMatchObject({
      preset: 'gpu',
      model: 'distilbert-base-uncased',
      data: 'stanfordnlp/imdb',
      cacheDir: 'data/',
      sampleFrac: 0.1,
      maxLength: 512,
      r: 8,
      alpha: 32,
      dropout: 0.1,
      numTrainEpochs: 1,
      perDeviceTrainBatchSize: 8,
      gradientAccumulationSteps: 2,
      learningRate: 5e-5,
      warmupRatio: 0.1,
      warmupSteps: 0,
      weightDecay: 0.01,
      quant: 'nf4',
      doubleQuant: true,
      seed: 42,
    });
    expect(p.targetModules).toEqual(['q_lin', 'k_lin', 'v_lin', 'out_lin', 'ffn.lin1', 'ffn.lin2']);
    expect(presetFor({ name: 'webgpu', device: 'NVIDIA GeForce RTX 4090 (vulkan)' })).toBe('gpu');
  });

  test('CPU backends, and WebGPU on a software adapter, get the small preset', () => {
    for (const backend of ['cpu', 'wasm', 'tensorflow', { name: 'webgpu', device: 'llvmpipe (LLVM 15.0.6, 256 bits)' }]) {
      expect(presetFor(backend)).toBe('cpu');
    }
    const p = notebookParameters('wasm', {});
    expect(p).toMatchObject({ preset: 'cpu', sampleFrac: 0.1, maxLength: 128, perDeviceTrainBatchSize: 4, gradientAccumulationSteps: 2, learningRate: 5e-4, r: 8, alpha: 32 });
  });

  test('QLORA_PRESET overrides the backend’s choice', () => {
    expect(notebookParameters('cpu', { QLORA_PRESET: 'gpu' }).maxLength).toBe(512);
    expect(notebookParameters('tensorflow-gpu', { QLORA_PRESET: 'CPU' }).maxLength).toBe(128);
  });
});

describe('task', () => {
  test("binary by default; QLORA_TASK=stars4 asks the loader for the 'stars4' grouping; anything else is refused", () => {
    const binary = notebookParameters('cpu', {});
    expect(binary.task).toBe('binary');
    expect(taskLabels(binary)).toBe('sentiment');
    const stars = notebookParameters('cpu', { QLORA_TASK: 'Stars4' });
    expect(stars.task).toBe('stars4');
    expect(taskLabels(stars)).toBe('stars4');
    expect(parameterRows(stars).find((row) => row.parameter === 'task')).toEqual({ parameter: 'task', value: 'stars4', from: 'environment', variable: 'QLORA_TASK' });
    expect(() => notebookParameters('cpu', { QLORA_TASK: 'stars5' })).toThrow(
      /QLORA_TASK must be 'binary' \(negative \/ positive\) or 'stars4' .*, got 'stars5' \(unset QLORA_TASK to use "binary"\)/,
    );
  });
});

describe('reading QLORA_* variables', () => {
  test('every kind of value is parsed', () => {
    const p = notebookParameters('cpu', {
      QLORA_MODEL: '/models/distilbert',
      QLORA_DATA: 'IMDB Dataset.csv',
      QLORA_CACHE_DIR: '/tmp/cache',
      QLORA_BACKEND: 'wasm',
      QLORA_SAMPLE_FRAC: '0.25',
      QLORA_MAX_LENGTH: '256',
      QLORA_R: '16',
      QLORA_ALPHA: '64',
      QLORA_DROPOUT: '0',
      QLORA_QUANT: 'NONE',
      QLORA_DOUBLE_QUANT: 'no',
      QLORA_TARGET_MODULES: ' q_lin, v_lin ,',
      QLORA_EPOCHS: '3',
      QLORA_BATCH_SIZE: '16',
      QLORA_GRAD_ACCUM: '4',
      QLORA_LR: '2e-4',
      QLORA_WARMUP_RATIO: '0.05',
      QLORA_WARMUP_STEPS: '50',
      QLORA_EVAL_BATCH_SIZE: '32',
      QLORA_MAX_STEPS: '100',
      QLORA_WEIGHT_DECAY: '0',
      QLORA_TEST_SIZE: '0.1',
      QLORA_VALIDATION_SIZE: '0.3',
      QLORA_EVAL_STEPS: '25',
      QLORA_EVAL_SIZE: '500',
      QLORA_SEED: '7',
      QLORA_OUTPUT_DIR: 'out/ckpt',
      QLORA_ADAPTER_DIR: 'out/adapter',
    });
    expect(p).toMatchObject({
      model: '/models/distilbert',
      data: 'IMDB Dataset.csv',
      cacheDir: '/tmp/cache',
      backend: 'wasm',
      sampleFrac: 0.25,
      maxLength: 256,
      r: 16,
      alpha: 64,
      dropout: 0,
      quant: 'none',
      doubleQuant: false,
      targetModules: ['q_lin', 'v_lin'],
      numTrainEpochs: 3,
      perDeviceTrainBatchSize: 16,
      gradientAccumulationSteps: 4,
      learningRate: 2e-4,
      warmupRatio: 0.05,
      warmupSteps: 50,
      perDeviceEvalBatchSize: 32,
      maxSteps: 100,
      weightDecay: 0,
      testSize: 0.1,
      validationSize: 0.3,
      evalSteps: 25,
      evalSize: 500,
      seed: 7,
      outputDir: 'out/ckpt',
      adapterDir: 'out/adapter',
    });
  });

  test('an empty variable means unset', () => {
    expect(notebookParameters('cpu', { QLORA_R: '', QLORA_LR: '  ' })).toMatchObject({ r: 8, learningRate: 5e-4 });
  });

  test.each([
    ['QLORA_R', 'abc', "QLORA_R must be a whole number ≥ 1, got 'abc' (unset QLORA_R to use 8)"],
    ['QLORA_R', '2.5', 'QLORA_R must be a whole number ≥ 1, got'],
    ['QLORA_SAMPLE_FRAC', '0', 'QLORA_SAMPLE_FRAC must be a number in (0, 1], got'],
    ['QLORA_SAMPLE_FRAC', '10%', "QLORA_SAMPLE_FRAC must be a number in (0, 1], got '10%' (unset QLORA_SAMPLE_FRAC to use 0.1)"],
    ['QLORA_DROPOUT', '1', 'QLORA_DROPOUT must be a number in [0, 1), got'],
    ['QLORA_LR', '-1e-4', 'QLORA_LR must be a number > 0, got'],
    ['QLORA_LR', 'Infinity', 'QLORA_LR must be a number > 0, got'],
    ['QLORA_WARMUP_RATIO', '1.5', "QLORA_WARMUP_RATIO must be a number in [0, 1], got '1.5' (unset QLORA_WARMUP_RATIO to use 0.1)"],
    ['QLORA_WARMUP_STEPS', '2.5', 'QLORA_WARMUP_STEPS must be a whole number ≥ 0, got'],
    ['QLORA_MAX_STEPS', '-2', "QLORA_MAX_STEPS must be a whole number ≥ -1, got '-2' (unset QLORA_MAX_STEPS to use -1)"],
    ['QLORA_QUANT', 'int8', "QLORA_QUANT must be 'nf4' (4-bit base, QLoRA) or 'none' (fp32 base, plain LoRA), got 'int8'"],
    ['QLORA_DOUBLE_QUANT', 'maybe', "QLORA_DOUBLE_QUANT must be true or false (1/0, yes/no, on/off), got 'maybe' (unset QLORA_DOUBLE_QUANT to use true)"],
    ['QLORA_TARGET_MODULES', ' , ', 'QLORA_TARGET_MODULES must be a non-empty list of module names'],
    ['QLORA_PRESET', 'tpu', "QLORA_PRESET must be 'gpu' (the original notebook's settings) or 'cpu' (a small run), got 'tpu'"],
  ])('%s=%s is refused, naming the variable', (name, value, message) => {
    expect(() => notebookParameters('cpu', { [name]: value })).toThrow(message);
  });

  test('an unknown QLORA_* variable (a typo) is reported; the project’s other variables are not', () => {
    const warn = quiet();
    notebookParameters('cpu', { QLORA_LEARNING_RATE: '1e-4', QLORA_ASSETS: '../shared/assets', QLORA_DAWN_FLAGS: 'x' });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0][0]).toContain('Unknown variable ignored: QLORA_LEARNING_RATE');
    expect(warn.mock.calls[0][0]).toContain('QLORA_LR');
  });
});

describe('the parameters table', () => {
  test('says where each value came from, also for values changed in the notebook', () => {
    const p = notebookParameters('cpu', { QLORA_R: '4' });
    p.alpha = 16;
    const rows = Object.fromEntries(parameterRows(p).map((r) => [r.parameter, r]));
    expect(rows.r).toEqual({ parameter: 'r', value: '4', from: 'environment', variable: 'QLORA_R' });
    expect(rows.alpha).toEqual({ parameter: 'alpha', value: '16', from: 'set in the notebook', variable: 'QLORA_ALPHA' });
    expect(rows.maxLength.from).toBe('cpu preset');
    expect(rows.model.from).toBe('default');
    expect(rows.preset.from).toBe('chosen for backend cpu');
    expect(rows.targetModules.value).toBe(DEFAULT_TARGET_MODULES.join(', '));
  });
});

describe('settings for the library', () => {
  test('loraConfig is PEFT’s LoraConfig of the original notebook', () => {
    const p = notebookParameters('tensorflow-gpu', {});
    expect(loraConfig(p)).toEqual({
      r: 8,
      loraAlpha: 32,
      loraDropout: 0.1,
      targetModules: ['q_lin', 'k_lin', 'v_lin', 'out_lin', 'ffn.lin1', 'ffn.lin2'],
      taskType: 'SEQ_CLS',
      seed: 42,
    });
  });

  test('GPU preset on the original’s 4,000 training reviews: 250 steps, 10% warm-up, HF defaults', () => {
    const p = notebookParameters('tensorflow-gpu', {});
    // 4,000 / 8 = 500 micro-batches, / 2 accumulation = 250 optimizer steps.
    expect(totalOptimizerSteps(p, 4000)).toBe(250);
    // The original's TrainingArguments(num_train_epochs=1, per_device_train_batch_size=8,
    // per_device_eval_batch_size=8, gradient_accumulation_steps=2, weight_decay=0.01), lr 5e-5
    // (HF's default), 10% warm-up (the original's 500 steps exceed its whole run).
    expect(trainingArguments(p, 4000)).toEqual({
      outputDir: 'reports/checkpoints',
      numTrainEpochs: 1,
      maxSteps: -1,
      perDeviceTrainBatchSize: 8,
      perDeviceEvalBatchSize: 8,
      gradientAccumulationSteps: 2,
      learningRate: 5e-5,
      weightDecay: 0.01,
      warmupRatio: 0.1,
      warmupSteps: 0,
      seed: 42,
      evalStrategy: 'steps',
      evalSteps: 63, // ceil(250 / 4): four evaluations
      saveStrategy: 'steps',
      saveSteps: 63,
      saveTotalLimit: 2,
      loggingSteps: 5, // ceil(250 / 50): about 50 points on the live loss chart
    });
  });

  test('CPU preset on 320 reviews: 40 steps; a whole-number warm-up is a step count; partial batches count', () => {
    const p = notebookParameters('cpu', {});
    expect(totalOptimizerSteps(p, 320)).toBe(40); // 80 micro-batches of 4, 2 per step
    expect(totalOptimizerSteps(p, 321)).toBe(41); // 81 micro-batches: the last step has one
    p.warmupSteps = 5;
    p.numTrainEpochs = 2;
    expect(trainingArguments(p, 320)).toMatchObject({ warmupSteps: 5, warmupRatio: 0.1, numTrainEpochs: 2, evalSteps: 20 });
    p.maxSteps = 7;
    expect(totalOptimizerSteps(p, 320)).toBe(7);
    p.evalSteps = 3;
    expect(trainingArguments(p, 320)).toMatchObject({ maxSteps: 7, evalSteps: 3, saveSteps: 3, loggingSteps: 1 }); // ceil(7 / 50)
  });

  test('values changed by hand are checked before use, naming the parameter', () => {
    const p = notebookParameters('cpu', {});
    p.r = 0;
    (p as { quant: string }).quant = 'nf8';
    expect(() => loraConfig(p)).toThrow(/params\.quant must be 'nf4' .*, got "nf8"\n {2}params\.r must be a whole number ≥ 1, got 0$/);
    p.r = 8;
    p.quant = 'nf4';
    expect(() => checkParameters(p)).not.toThrow();
    expect(() => trainingArguments(p, 0)).toThrow('numExamples must be a whole number ≥ 1, got 0 (is the training split empty?)');
  });
});

describe('one table of names', () => {
  test('every parameter marked as a Trainer argument is a TrainingArguments field of the same name', () => {
    const marked = Object.entries(PARAMETERS).filter(([, spec]) => spec.trainingArgument).map(([key]) => key);
    expect(marked.sort()).toEqual(
      ['gradientAccumulationSteps', 'learningRate', 'maxSteps', 'numTrainEpochs', 'outputDir', 'perDeviceEvalBatchSize',
        'perDeviceTrainBatchSize', 'seed', 'warmupRatio', 'warmupSteps', 'weightDecay'],
    );
    for (const key of marked) expect(Object.keys(DEFAULT_TRAINING_ARGUMENTS)).toContain(key);
    // And what trainingArguments makes is accepted as it is by the Trainer's own check.
    const p = notebookParameters('cpu', {});
    expect(resolveTrainingArguments(trainingArguments(p, 320))).toMatchObject({ numTrainEpochs: 1, perDeviceTrainBatchSize: 4, evalSteps: 10 });
  });

  test('every variable has its own parameter, and README’s settings table lists each one', () => {
    const variables = Object.values(PARAMETERS).map((spec) => spec.variable);
    expect(new Set(variables).size).toBe(variables.length);
    const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
    expect(variables.filter((v) => !readme.includes('`' + v + '`'))).toEqual([]);
  });
});
