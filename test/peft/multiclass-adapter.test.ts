// A 4-class adapter (issue 12 §2): the model takes its class names from the data
// (loadPretrained labelNames → id2label / label2id), saveAdapter writes PEFT's keys with a [4, dim]
// classifier under modules_to_save's name plus a transformers config.json naming the classes, and
// both loadAdapter and the server's loader read it back. The expected keys and shapes are those of
// the PyTorch/PEFT reference (test/fixtures/lora/model.json, a 3-class head) with the head's rows set to 4.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../../lib/backends/select';
import { loadPretrained } from '../../lib/models/distilbert/loading';
import { parseDistilBertConfig, readDistilBertConfig } from '../../lib/models/distilbert/config';
import { getPeftModel, loadAdapter } from '../../lib/peft/model';
import { loadServedAdapter, disposeServedAdapter } from '../../lib/serving/adapters';
import { cleanupTempDirs, rewriteCheckpoint, tempDir } from '../helpers/checkpoint';

const LORA = path.join(__dirname, '..', 'fixtures', 'lora');
const ref = JSON.parse(fs.readFileSync(path.join(LORA, 'model.json'), 'utf8')) as {
  input_ids: number[][];
  attention_mask: number[][];
  saved_keys: Record<string, number[]>;
};
const STARS4 = ['very negative', 'negative', 'positive', 'very positive'];
const ALL_SIX = ['q_lin', 'k_lin', 'v_lin', 'out_lin', 'lin1', 'lin2'];
const quiet = { log: () => {} };

// The reference checkpoint without its classification head, like distilbert-base-uncased on the Hub.
let headless: string;
beforeAll(async () => {
  await useBackend('cpu');
  headless = rewriteCheckpoint(path.join(LORA, 'tiny-distilbert'), { renameKey: (k) => (/^(pre_)?classifier\./.test(k) ? null : k) });
});
afterAll(() => cleanupTempDirs());

describe('class names in the model config', () => {
  it('labelNames set numLabels, id2label and label2id, as transformers id2label=…', async () => {
    const model = await loadPretrained(headless, { labelNames: STARS4, ...quiet });
    expect(model.config.numLabels).toBe(4);
    expect(model.config.id2label).toEqual({ 0: 'very negative', 1: 'negative', 2: 'positive', 3: 'very positive' });
    expect(model.config.label2id).toEqual({ 'very negative': 0, negative: 1, positive: 2, 'very positive': 3 });
    expect(model.linears.get('classifier')!.outFeatures).toBe(4);
    model.dispose();
  });

  it('rejects repeated or empty names, and a numLabels that disagrees', () => {
    expect(() => parseDistilBertConfig({}, 'c.json', { labelNames: ['a', 'a'] })).toThrow(/names two classes "a"; class names must differ/);
    expect(() => parseDistilBertConfig({}, 'c.json', { labelNames: [] })).toThrow(/labelNames is empty/);
    expect(() => parseDistilBertConfig({}, 'c.json', { labelNames: ['a', ''] })).toThrow(/labelNames\[1\] is ""/);
    expect(() => parseDistilBertConfig({}, 'c.json', { labelNames: ['a', 'b'], numLabels: 3 })).toThrow(/numLabels 3 but 2 labelNames/);
  });
});

describe('saving and loading a 4-class adapter', () => {
  it("writes PEFT's keys with a [4, dim] head, and a config.json naming the classes", async () => {
    const peft = getPeftModel(await loadPretrained(headless, { labelNames: STARS4, ...quiet }), { r: 4, loraAlpha: 8, targetModules: ALL_SIX, seed: 3 });
    peft.loraLayers().forEach((l, p) => l.loraB.assign(tf.randomNormal(l.loraB.shape, 0, 0.2, 'float32', p.length)));
    const dir = tempDir('qlora-stars-adapter-');
    peft.saveAdapter(dir, { baseModelNameOrPath: 'tiny-distilbert' });
    expect(fs.readdirSync(dir).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors', 'config.json']);

    const expectedKeys = { ...ref.saved_keys, 'base_model.model.classifier.weight': [4, 8], 'base_model.model.classifier.bias': [4] };
    expect(Object.fromEntries(peft.adapterTensorShapes())).toEqual(expectedKeys);
    const header = readHeader(path.join(dir, 'adapter_model.safetensors'));
    delete header.__metadata__;
    expect(Object.fromEntries(Object.entries(header).map(([k, v]) => [k, (v as { shape: number[] }).shape]))).toEqual(expectedKeys);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'adapter_config.json'), 'utf8')).modules_to_save).toEqual(['classifier', 'score']);

    // transformers reads num_labels from len(id2label); the keys are strings in the JSON, as it writes them.
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(config).toMatchObject({
      model_type: 'distilbert',
      architectures: ['DistilBertForSequenceClassification'],
      id2label: { '0': 'very negative', '1': 'negative', '2': 'positive', '3': 'very positive' },
      label2id: { 'very negative': 0, negative: 1, positive: 2, 'very positive': 3 },
      dim: 8,
    });
    expect(readDistilBertConfig(path.join(dir, 'config.json')).numLabels).toBe(4);

    // loadAdapter on a fresh 4-class base: the same logits [B, 4].
    const expected = tf.tidy(() => peft.logits(ref.input_ids, ref.attention_mask).arraySync());
    const loaded = await loadAdapter(await loadPretrained(headless, { numLabels: 4, ...quiet }), dir);
    expect(tf.tidy(() => loaded.logits(ref.input_ids, ref.attention_mask).arraySync())).toEqual(expected);
    expect(expected[0].length).toBe(4);
    loaded.dispose();

    // A 2-class base refuses it, naming the head's shapes.
    const twoClass = await loadPretrained(headless, { numLabels: 2, ...quiet });
    await expect(loadAdapter(twoClass, dir)).rejects.toThrow(/'base_model\.model\.classifier\.(weight|bias)' has shape \[4(,8)?\] in the file but the model needs \[2(,8)?\] \(the adapter's head has 4 classes: load the base with numLabels: 4 or its labelNames \(Python: num_labels=4\)\)/);
    twoClass.dispose();

    // The server's loader puts it on a 2-class base (the head comes from the file) and finds the names.
    const base = await loadPretrained(headless, { numLabels: 2, quantization: 'nf4', ...quiet });
    const served = await loadServedAdapter(base, 'stars4', dir);
    expect(served.labelNames).toEqual(STARS4);
    expect(served.labelSource).toBe(path.join(dir, 'config.json'));
    const got = tf.tidy(() => served.peft.logits(ref.input_ids, ref.attention_mask).arraySync());
    got.flat().forEach((v, i) => expect(v).toBeCloseTo(expected.flat()[i], 1)); // NF4 base vs fp32: close, not equal
    disposeServedAdapter(served);
    base.dispose();
    peft.dispose();
  });

  it('a head without names (LABEL_i) writes no config.json, as before (the server falls back to negative / positive)', async () => {
    const peft = getPeftModel(await loadPretrained(headless, { numLabels: 2, ...quiet }), { r: 2, targetModules: ['q_lin'], seed: 1 });
    const dir = tempDir('qlora-binary-adapter-');
    peft.saveAdapter(dir);
    expect(fs.readdirSync(dir).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    peft.dispose();
  });
});

/** The safetensors header, parsed by hand (independent of lib/io/safetensors.ts). */
function readHeader(file: string): Record<string, unknown> {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  return JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
}
