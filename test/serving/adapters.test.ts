// Adapters on views of one shared base: the base stays untouched, views are independent, bad
// folders fail at startup naming the adapter, and class names are found where the docs say.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { LoraLinear, loadAdapter, loadPretrained, useBackend } from '../../lib/index';
import { adapterLabelNames, disposeServedAdapter, loadServedAdapter } from '../../lib/serving/adapters';
import { InferenceServer } from '../../lib/serving/server';
import { asset } from '../helpers/assets';
import { cleanupTempDirs, tempDir } from '../helpers/checkpoint';

const LORA = path.join(__dirname, '..', 'fixtures', 'lora');
const CKPT = path.join(LORA, 'tiny-distilbert'); // dim 8, 2 layers
const ADAPTER = path.join(LORA, 'peft-adapter'); // saved by PEFT for CKPT, 3 classes: the base's 2-class head does not matter
const OTHER_ADAPTER = path.join(__dirname, '..', 'fixtures', 'hf', 'peft-adapter'); // dim 64: does not fit CKPT
const IDS = [[1, 5, 9, 3, 2], [1, 7, 2, 0, 0]];
const MASK = [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]];

beforeAll(() => useBackend('cpu'));
afterAll(() => cleanupTempDirs());

test('two views of one NF4 base give what loadAdapter on a fresh base gives, and leave the base as it was', async () => {
  const base = await loadPretrained(CKPT, { quantization: 'nf4', log: () => {} });
  const headBefore = base.linears.get('classifier')!.weight();
  const layersBefore = new Map(base.linears);
  const tensorsBefore = tf.memory().numTensors;

  const a = await loadServedAdapter(base, 'a', ADAPTER);
  const b = await loadServedAdapter(base, 'b', ADAPTER);
  // The views wrap the very same frozen layers: the 4-bit weights exist once.
  const q = 'distilbert.transformer.layer.0.attention.q_lin';
  expect((a.peft.model.linears.get(q) as LoraLinear).base).toBe(layersBefore.get(q));
  expect((b.peft.model.linears.get(q) as LoraLinear).base).toBe(layersBefore.get(q));
  expect(a.peft.model.linears.get('classifier')).not.toBe(b.peft.model.linears.get('classifier'));
  // Changing one view's head does not reach the other or the base.
  const headA = a.peft.model.linears.get('classifier')!.bias!;
  headA.assign(tf.add(headA, 1) as tf.Tensor1D);

  const fresh = await loadAdapter(await loadPretrained(CKPT, { numLabels: 3, quantization: 'nf4', log: () => {} }), ADAPTER);
  const expected = tf.tidy(() => fresh.logits(IDS, MASK).arraySync());
  const fromB = tf.tidy(() => b.peft.logits(IDS, MASK).arraySync());
  const fromA = tf.tidy(() => a.peft.logits(IDS, MASK).arraySync());
  fresh.dispose();
  fromB.flat().forEach((v, i) => expect(Math.abs(v - expected.flat()[i])).toBeLessThan(1e-6));
  fromA.flat().forEach((v, i) => expect(Math.abs(v - (expected.flat()[i] + 1))).toBeLessThan(1e-5));

  expect([...base.linears.entries()]).toEqual([...layersBefore.entries()]);
  const headAfter = base.linears.get('classifier')!.weight();
  expect(Array.from(headAfter.dataSync())).toEqual(Array.from(headBefore.dataSync()));
  tf.dispose([headBefore, headAfter]);

  disposeServedAdapter(a);
  disposeServedAdapter(b);
  expect(tf.memory().numTensors).toBe(tensorsBefore);
  base.dispose();
});

test('a folder that is not an adapter, or one made for another model, fails naming the adapter, and leaks nothing', async () => {
  const base = await loadPretrained(CKPT, { quantization: 'nf4', log: () => {} });
  const before = tf.memory().numTensors;
  await expect(loadServedAdapter(base, 'typo', path.join(LORA, 'no-such-folder'))).rejects.toThrow(
    /adapter 'typo': .*no-such-folder is not an adapter folder: it needs adapter_config.json and adapter_model.safetensors/,
  );
  await expect(loadServedAdapter(base, 'big', OTHER_ADAPTER)).rejects.toThrow(/adapter 'big' \(.*hf\/peft-adapter\): .*has shape \[\d+,64\] in the file but the model needs \[\d+,8\]/);
  // Class names that do not fit are found only after the weights are loaded: those are freed too.
  const misnamed = tempDir('qlora-misnamed-');
  for (const f of fs.readdirSync(ADAPTER)) fs.copyFileSync(path.join(ADAPTER, f), path.join(misnamed, f));
  fs.writeFileSync(path.join(misnamed, 'config.json'), JSON.stringify({ id2label: { 0: 'neg', 1: 'pos' } }));
  await expect(loadServedAdapter(base, 'misnamed', misnamed)).rejects.toThrow(/adapter 'misnamed' .*names 2 classes but the adapter's classifier has 3/);
  expect(tf.memory().numTensors).toBe(before);
  base.dispose();
});

test('the server refuses two adapters of one name, and an adapter that does not fit, before listening', async () => {
  const model = tempDir('qlora-serve-model-');
  for (const f of ['config.json', 'model.safetensors']) fs.copyFileSync(path.join(CKPT, f), path.join(model, f));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) fs.copyFileSync(asset('distilbert-base-uncased', f), path.join(model, f));
  const before = tf.memory().numTensors;
  await expect(InferenceServer.load({ model: CKPT, adapters: [{ name: 'x', dir: ADAPTER }, { name: 'x', dir: ADAPTER }] })).rejects.toThrow(
    /two adapters are named 'x'/,
  );
  await expect(
    InferenceServer.load({ model, adapters: [{ name: 'ok', dir: ADAPTER }, { name: 'big', dir: OTHER_ADAPTER }], log: () => {} }),
  ).rejects.toThrow(/adapter 'big'/);
  expect(tf.memory().numTensors).toBe(before);
});

describe('adapterLabelNames', () => {
  const base = { id2label: { 0: 'LABEL_0', 1: 'LABEL_1' } } as never;
  const dirWith = (file: string, json: object) => {
    const dir = tempDir('qlora-labels-');
    fs.writeFileSync(path.join(dir, file), JSON.stringify(json));
    return dir;
  };

  it('reads id2label from a config.json beside the adapter, then from adapter_config.json', () => {
    expect(adapterLabelNames(dirWith('config.json', { id2label: { 0: 'neg', 1: 'pos' } }), base, 2)).toEqual({
      names: ['neg', 'pos'],
      source: expect.stringMatching(/config\.json$/),
    });
    expect(adapterLabelNames(dirWith('adapter_config.json', { id2label: { 1: 'b', 0: 'a', 2: 'c' } }), base, 3).names).toEqual(['a', 'b', 'c']);
  });

  it("then the base's names, then negative/positive for two classes; LABEL_i placeholders count as no names", () => {
    const empty = tempDir('qlora-labels-');
    expect(adapterLabelNames(empty, { id2label: { 0: 'bad', 1: 'good' } } as never, 2)).toEqual({ names: ['bad', 'good'], source: "the base model's config.json" });
    expect(adapterLabelNames(dirWith('config.json', { id2label: { 0: 'LABEL_0', 1: 'LABEL_1' } }), base, 2)).toEqual({ names: ['negative', 'positive'], source: 'default' });
    expect(adapterLabelNames(empty, base, 4).names).toEqual(['LABEL_0', 'LABEL_1', 'LABEL_2', 'LABEL_3']);
  });

  it('refuses names that do not fit the head, or that repeat', () => {
    expect(() => adapterLabelNames(dirWith('config.json', { id2label: { 0: 'a', 1: 'b' } }), base, 3)).toThrow(/names 2 classes but the adapter's classifier has 3/);
    expect(() => adapterLabelNames(dirWith('config.json', { id2label: { 0: 'a', 1: 'a' } }), base, 2)).toThrow(/two classes 'a'/);
  });
});
