// What the Trainer reads off a model: HF parameter names and the number of classes.
import * as tf from '@tensorflow/tfjs';
import { numLabelsOf, parameterNames } from '../../lib/training/trainable-model';
import { TinyClassifier, countingTask } from '../helpers/tiny-classifier';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

test('parameterNames: the model’s own names when it gives them, else the tfjs names', () => {
  const tiny = TinyClassifier.random({ vocab: 5, dim: 4, hidden: 4, labels: 2 }, 1);
  const params = tiny.trainableVariables();
  const byTfjs = parameterNames({ logits: tiny.logits.bind(tiny), trainableVariables: () => params }, params);
  expect([...byTfjs.values()]).toEqual(params.map((p) => p.name));
  const named = parameterNames(
    { logits: tiny.logits.bind(tiny), trainableVariables: () => params, namedTrainableVariables: () => new Map([...tiny.vars.entries()]) },
    params,
  );
  expect([...named.values()].sort()).toEqual([...tiny.vars.keys()].sort());
  // A DistilBERT-shaped model: params and linears maps (LoRA factors get PEFT's suffixes).
  const w = tf.variable(tf.zeros([2, 2]), true, 'anon-w');
  const a = tf.variable(tf.zeros([1, 2]), true, 'anon-a');
  const shaped = { params: new Map([['classifier.bias', params[0]]]), linears: new Map([['layer.0.q_lin', { weightVar: w, loraA: a }]]) };
  const names = parameterNames({ ...shaped, logits: tiny.logits.bind(tiny), trainableVariables: () => [params[0], w, a] } as never, [params[0], w, a]);
  expect([...names.values()]).toEqual(['classifier.bias', 'layer.0.q_lin.weight', 'layer.0.q_lin.lora_A.weight']);
  [w, a].forEach((v) => v.dispose());
  tiny.dispose();
});

test('numLabelsOf: the declared count (model or config), else the logits’ width', () => {
  const tiny = TinyClassifier.random({ vocab: 5, dim: 4, hidden: 4, labels: 3 }, 2);
  const data = countingTask(2, 4, 5, 3);
  const base = { logits: tiny.logits.bind(tiny), trainableVariables: () => tiny.trainableVariables() };
  const before = tf.memory().numTensors;
  expect(numLabelsOf(base, data)).toBe(3);
  expect(tf.memory().numTensors).toBe(before); // the probe's tensors are freed
  expect(numLabelsOf({ ...base, config: { numLabels: 7 } } as never, data)).toBe(7);
  expect(numLabelsOf({ ...base, model: { config: { numLabels: 4 } } } as never, data)).toBe(4);
  tiny.dispose();
});
