// A checkpoint's contents (lib/training/trainer-state.ts): HF Trainer's layout, checked on a small
// run whose numbers are derived by hand below, and the exact restore of what a resume needs.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { AdamW } from '../../lib/training/optimizer';
import { DEFAULT_TRAINING_ARGUMENTS } from '../../lib/training/training-args';
import { HfTrainerState, RunShape, restoreTrainerCheckpoint, writeTrainerCheckpoint } from '../../lib/training/trainer-state';
import { Trainer } from '../../lib/training/trainer';
import { loadPretrained } from '../../lib/models/distilbert/loading';
import { getPeftModel, loadAdapter } from '../../lib/peft/model';
import { SafetensorsFile } from '../../lib/io/safetensors';
import { countingTask } from '../helpers/tiny-classifier';

const CHECKPOINT = path.join(__dirname, '..', 'fixtures', 'lora', 'tiny-distilbert'); // 3 labels
const LORA = { r: 4, loraAlpha: 8, targetModules: ['q_lin', 'v_lin'], seed: 5 };
const tmp = (p: string) => fs.mkdtempSync(path.join(os.tmpdir(), p));
const readJson = (...p: string[]) => JSON.parse(fs.readFileSync(path.join(...p), 'utf8'));

beforeAll(async () => {
  await tf.setBackend('cpu');
});

test('variables and AdamW moments come back exactly, under torch state_dict names; another run shape is refused', async () => {
  const dir = tmp('qlora-state-');
  const w = tf.variable(tf.tensor2d([[1.5, -2], [0.25, 3]]), true, 'state-test-w');
  const opt = new AdamW([w], { weightDecay: 0.1 });
  const grad = tf.tensor2d([[0.1, 0.2], [-0.3, 0.4]]);
  opt.step([grad], 1e-2); // one update: moments m = 0.1·g, v = 0.001·g², step 1
  const run: RunShape = { seed: 42, numExamples: 10, perDeviceTrainBatchSize: 4, gradientAccumulationSteps: 1, totalSteps: 9, warmupSteps: 0 };
  const args = { ...DEFAULT_TRAINING_ARGUMENTS, perDeviceTrainBatchSize: 4 };
  const saved = await w.data();
  const state = { global_step: 1, log_history: [] } as unknown as HfTrainerState;
  const resume = {
    globalStep: 1, seed: 42, numExamples: 10, perDeviceTrainBatchSize: 4, gradientAccumulationSteps: 1, stepsPerEpoch: 3, totalSteps: 9,
    warmupSteps: 0, trainableNames: ['w'], trainableShapes: [[2, 2]], history: { steps: [], evals: [] },
  };
  const checkpoint = await writeTrainerCheckpoint(dir, { state, resume, args, scheduler: { nextLearningRate: 0.5, warmupSteps: 0, totalSteps: 9 } }, [w], opt);
  expect(checkpoint).toBe(path.join(dir, 'checkpoint-1'));
  const st = SafetensorsFile.open(path.join(checkpoint, 'optimizer.safetensors'));
  expect(st.names().sort()).toEqual(['state.0.exp_avg', 'state.0.exp_avg_sq']);
  expect(Array.from(st.readFloat32('state.0.exp_avg').data).map((x) => Number(x.toFixed(7)))).toEqual([0.01, 0.02, -0.03, 0.04]);

  const w2 = tf.variable(tf.zeros([2, 2]), true, 'state-test-w2');
  const opt2 = new AdamW([w2], { weightDecay: 0.1 });
  expect(restoreTrainerCheckpoint(checkpoint, run, [w2], opt2).resume.globalStep).toBe(1);
  expect(Array.from(await w2.data())).toEqual(Array.from(saved));
  const [a, b] = [await opt.getState(), await opt2.getState()];
  expect(b.step).toBe(1);
  expect(Array.from(b.m[0])).toEqual(Array.from(a.m[0]));
  expect(Array.from(b.v[0])).toEqual(Array.from(a.v[0]));

  expect(() => restoreTrainerCheckpoint(checkpoint, { ...run, seed: 7, perDeviceTrainBatchSize: 8 }, [w2], opt2)).toThrow(
    `Cannot resume exactly from ${checkpoint}; the run differs from the one that saved it:\n  seed: checkpoint 42, now 7\n  perDeviceTrainBatchSize: checkpoint 4, now 8`,
  );
  [w, w2, grad].forEach((t) => t.dispose());
  opt.dispose();
  opt2.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("HF Trainer's output layout on a small QLoRA run", () => {
  // 10 examples, micro-batches of 2 → 5 per epoch; 2 accumulated per step → 3 optimizer steps per
  // epoch (the third has one micro-batch), 2 epochs → 6 steps. HF's fractional epoch after step s
  // counts micro-batches: steps 1..6 end at epochs 0.4, 0.8, 1, 1.4, 1.8, 2. Linear decay from
  // 1e-3 without warm-up: the update after s completed steps uses 1e-3·(6 − s)/6.
  const data = countingTask(10, 6, 10, 41);
  const evalData = countingTask(6, 6, 10, 42);
  const args = {
    perDeviceTrainBatchSize: 2, gradientAccumulationSteps: 2, numTrainEpochs: 2, learningRate: 1e-3, loggingSteps: 2,
    evalStrategy: 'steps', evalSteps: 3, saveSteps: 3, metricForBestModel: 'loss', perDeviceEvalBatchSize: 4,
  } as const;
  const newModel = async () => getPeftModel(await loadPretrained(CHECKPOINT, { numLabels: 3, log: () => {}, quantization: 'nf4' }), LORA);

  test('checkpoint-<step>/ holds a PEFT adapter at its root and trainer_state.json has HF fields with the expected values', async () => {
    const out = tmp('qlora-hf-layout-');
    const model = await newModel();
    const tokenizerDir = tmp('qlora-tok-');
    fs.writeFileSync(path.join(tokenizerDir, 'vocab.txt'), '[PAD]\n[UNK]\n[CLS]\n[SEP]\n');
    fs.writeFileSync(path.join(tokenizerDir, 'tokenizer_config.json'), '{"do_lower_case": true}');
    const trainer = new Trainer({ model, trainData: data, evalData, args: { ...args, outputDir: out }, progress: false, tokenizer: { folder: tokenizerDir } });
    const result = await trainer.train();
    expect(fs.readdirSync(out).sort()).toEqual(['checkpoint-3', 'checkpoint-6']);

    const losses = result.history.steps.map((s) => s.loss);
    const gradNorms = result.history.steps.map((s) => s.gradNorm);
    const round4 = (x: number) => Math.round(x * 1e4) / 1e4;
    const evals = result.history.evals;
    expect(evals.map((e) => e.step)).toEqual([3, 6]);
    const evalEntry = (i: number) => expect.objectContaining({
      eval_loss: evals[i].loss, eval_accuracy: evals[i].accuracy, eval_f1: evals[i].f1, epoch: [1, 2][i], step: [3, 6][i],
      eval_runtime: expect.any(Number), eval_samples_per_second: expect.any(Number), eval_steps_per_second: expect.any(Number),
    });
    const lossEntry = (s: number, epoch: number) => ({
      loss: round4((losses[s - 2] + losses[s - 1]) / 2), grad_norm: gradNorms[s - 1], learning_rate: expect.closeTo((1e-3 * (6 - (s - 1))) / 6, 15), epoch, step: s,
    });
    const bestAt = evals[1].loss < evals[0].loss ? 6 : 3; // metricForBestModel 'loss': lower is better, strictly

    const state3 = readJson(out, 'checkpoint-3', 'trainer_state.json');
    expect(Object.keys(state3).sort()).toEqual([
      'best_global_step', 'best_metric', 'best_model_checkpoint', 'epoch', 'eval_steps', 'global_step', 'is_hyper_param_search',
      'is_local_process_zero', 'is_world_process_zero', 'log_history', 'logging_steps', 'max_steps', 'num_input_tokens_seen',
      'num_train_epochs', 'save_steps', 'stateful_callbacks', 'total_flos', 'train_batch_size', 'trial_name', 'trial_params',
    ]);
    expect(state3).toMatchObject({
      global_step: 3, epoch: 1, max_steps: 6, num_train_epochs: 2, logging_steps: 2, eval_steps: 3, save_steps: 3, train_batch_size: 2,
      best_metric: evals[0].loss, best_global_step: 3, best_model_checkpoint: path.join(out, 'checkpoint-3'),
    });
    expect(state3.log_history).toEqual([lossEntry(2, 0.8), evalEntry(0)]);

    const state6 = readJson(out, 'checkpoint-6', 'trainer_state.json');
    expect(state6).toMatchObject({ global_step: 6, epoch: 2, best_metric: Math.min(evals[0].loss, evals[1].loss), best_global_step: bestAt });
    expect(state6.best_model_checkpoint).toBe(path.join(out, `checkpoint-${bestAt}`));
    expect(state6.log_history).toEqual([lossEntry(2, 0.8), evalEntry(0), lossEntry(4, 1.4), lossEntry(6, 2), evalEntry(1)]);
    // train() appends HF's final train_* entry (not in the checkpoint, as in HF).
    expect(result.logHistory[result.logHistory.length - 1]).toMatchObject({ train_loss: losses.reduce((a, b) => a + b) / 6, epoch: 2, step: 6, total_flos: 0 });

    // PEFT's layout: adapter_config.json + adapter_model.safetensors at the root, PEFT keys.
    const ckpt = path.join(out, 'checkpoint-6');
    const config = readJson(ckpt, 'adapter_config.json');
    expect(config).toMatchObject({ peft_type: 'LORA', task_type: 'SEQ_CLS', r: 4, lora_alpha: 8 });
    const keys = SafetensorsFile.open(path.join(ckpt, 'adapter_model.safetensors')).names();
    expect(keys.every((k) => k.startsWith('base_model.model.'))).toBe(true);
    expect(keys.filter((k) => k.endsWith('lora_A.weight'))).toHaveLength(4); // q_lin, v_lin × 2 layers
    expect(readJson(ckpt, 'scheduler.json')).toMatchObject({ base_lrs: [1e-3], last_epoch: 6, _last_lr: [0] });
    expect(readJson(ckpt, 'training_args.json')).toMatchObject({ per_device_train_batch_size: 2, gradient_accumulation_steps: 2, metric_for_best_model: 'loss' });
    expect(readJson(ckpt, 'rng_state.json')).toMatchObject({ seed: 42, global_step: 6 });
    expect(SafetensorsFile.open(path.join(ckpt, 'optimizer.safetensors')).names()).toContain('state.0.exp_avg_sq');

    // The checkpoint folder loads as an adapter (PeftModel.from_pretrained) and holds the trained
    // weights: its eval loss and accuracy, computed here by hand from its logits, are the last evaluation's.
    const loaded = await loadAdapter(await loadPretrained(CHECKPOINT, { numLabels: 3, log: () => {}, quantization: 'nf4' }), ckpt);
    const logits = tf.tidy(() => loaded.logits(
      tf.tensor2d(evalData.inputIds, [6, 6], 'int32'), tf.tensor2d(evalData.attentionMask, [6, 6], 'int32'), { training: false },
    ).arraySync() as number[][]);
    let nll = 0;
    let correct = 0;
    logits.forEach((row, i) => {
      const max = Math.max(...row);
      const logSum = max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
      nll += logSum - row[evalData.labels[i]];
      if (row.indexOf(max) === evalData.labels[i]) correct += 1;
    });
    expect(nll / 6).toBeCloseTo(evals[1].loss, 5);
    expect(correct / 6).toBe(evals[1].accuracy);

    // Trainer.evaluate(): HF's metric names.
    const metrics = await trainer.evaluate();
    expect(Object.keys(metrics).sort()).toEqual([
      'epoch', 'eval_accuracy', 'eval_f1', 'eval_loss', 'eval_macro_f1', 'eval_runtime', 'eval_samples_per_second', 'eval_steps_per_second',
    ]);
    expect(metrics.eval_loss).toBeCloseTo(nll / 6, 5);

    // save_model: adapter, tokenizer files and training arguments side by side.
    const final = path.join(out, 'final');
    trainer.saveModel(final);
    expect(fs.readdirSync(final).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors', 'tokenizer_config.json', 'training_args.json', 'vocab.txt']);

    // resume_from_checkpoint=True picks the highest checkpoint; from 3 it ends where the straight run did.
    fs.rmSync(path.join(out, 'checkpoint-6'), { recursive: true });
    fs.rmSync(final, { recursive: true });
    const again = await newModel();
    const t2 = new Trainer({ model: again, trainData: data, evalData, args: { ...args, outputDir: out }, progress: false });
    const resumed = await t2.train({ resumeFromCheckpoint: true });
    expect(resumed.history.steps.map((s) => s.loss)).toEqual(losses);
    const noTimes = (h: Record<string, number>[]) => h.map(({ eval_runtime, eval_samples_per_second, eval_steps_per_second, ...rest }) => rest);
    expect(noTimes(readJson(out, 'checkpoint-6', 'trainer_state.json').log_history)).toEqual(noTimes(state6.log_history));

    [trainer, t2].forEach((t) => t.dispose());
    [model, again, loaded].forEach((m) => m.dispose());
    [out, tokenizerDir].forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
  });
});
