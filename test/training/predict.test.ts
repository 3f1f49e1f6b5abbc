// predict(): batched, eval mode, no leaks, and padding-invariant with the real model class.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { asset } from '../helpers/assets';
import { loadPretrained } from '../../lib/models/distilbert/loading';
import { getPeftModel } from '../../lib/peft/model';
import { loadTokenizer } from '../../lib/tokenization/tokenizer';
import { predict } from '../../lib/training/predict';
import { writeRandomCheckpoint } from '../../scripts/make-random-checkpoint';

const REVIEWS = [
  'A wonderful film.',
  'This movie was a complete waste of two hours, with wooden acting, a plot full of holes and an ending that made no sense at all.',
  'Meh.',
  'I laughed, I cried, and then I watched it again the next day with my whole family.',
  'Not good.',
];

test('a review alone and padded inside a batch give the same logits; predict is batched, deterministic and leak-free', async () => {
  await tf.setBackend('cpu');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-predict-'));
  writeRandomCheckpoint(dir, { vocabSize: 30522, dim: 32, nLayers: 2, nHeads: 4, hiddenDim: 64, maxPositions: 512, seed: 5 });
  const base = await loadPretrained(dir, { numLabels: 2, quantization: 'none', seed: 6, log: () => {} });
  const model = getPeftModel(base, { r: 4, loraAlpha: 8, loraDropout: 0.5, targetModules: ['q_lin', 'v_lin'], seed: 7 });
  // Give the adapters non-zero B so they take part in the forward pass.
  for (const lora of model.loraLayers().values()) lora.loraB.assign(tf.randomNormal(lora.loraB.shape, 0, 0.5, 'float32', 8));
  const tokenizer = await loadTokenizer(asset('distilbert-base-uncased'));

  // Logits of the short review alone (no padding) vs in a batch padded to the longest review.
  const alone = tokenizer.encodeBatch([REVIEWS[0]], { maxLength: 128, padding: 'longest' });
  const batch = tokenizer.encodeBatch(REVIEWS, { maxLength: 128, padding: 'longest' });
  expect(batch.seqLength).toBeGreaterThan(alone.seqLength + 10);
  const logitsOf = (e: typeof batch) =>
    tf.tidy(() =>
      model.logits(tf.tensor2d(e.inputIds, [e.batchSize, e.seqLength], 'int32'), tf.tensor2d(e.attentionMask, [e.batchSize, e.seqLength], 'int32')),
    );
  const a = logitsOf(alone);
  const b = logitsOf(batch);
  const aValues = Array.from(await a.data());
  const bRow0 = Array.from(await b.data()).slice(0, 2);
  aValues.forEach((v, i) => expect(Math.abs(v - bRow0[i])).toBeLessThan(1e-5));
  a.dispose();
  b.dispose();

  const before = tf.memory().numTensors;
  const p1 = await predict(model, tokenizer, REVIEWS, { batchSize: 2, maxLength: 128 });
  const p2 = await predict(model, tokenizer, REVIEWS, { batchSize: 5, maxLength: 128 });
  expect(tf.memory().numTensors).toBe(before);
  expect(p1.labels).toHaveLength(5);
  expect(p1.labels).toEqual(p2.labels); // eval mode: dropout 0.5 on the adapters would change this otherwise
  p1.probabilities.forEach((row, i) => {
    expect(row[0] + row[1]).toBeCloseTo(1, 6);
    row.forEach((v, j) => expect(Math.abs(v - p2.probabilities[i][j])).toBeLessThan(1e-5));
    expect(p1.labels[i]).toBe(row[1] > row[0] ? 1 : 0);
    expect(p1.labelNames[i]).toBe(['negative', 'positive'][p1.labels[i]]);
  });
  // The probabilities are softmax of the logits computed directly.
  const direct = logitsOf(batch);
  const d = await direct.data();
  direct.dispose();
  for (let i = 0; i < 5; i++) {
    const e0 = Math.exp(d[2 * i]);
    const e1 = Math.exp(d[2 * i + 1]);
    expect(p1.probabilities[i][1]).toBeCloseTo(e1 / (e0 + e1), 5);
  }
  await expect(predict(model, tokenizer, REVIEWS, { labelNames: ['a', 'b', 'c'] })).rejects.toThrow(/3 labelNames given but the model has 2 classes/);
  model.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
});
