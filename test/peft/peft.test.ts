// getPeftModel / saveAdapter / loadAdapter / mergeAndUnload against an independent PyTorch
// reference (scripts/reference/lora_reference.py): a tiny DistilBERT checkpoint, an adapter folder
// laid out as PEFT writes it, and the logits, loss and gradient norms the reference computed.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { useBackend, BackendName } from '../../lib/backends/select';
import { DenseLinear, Linear } from '../../lib/models/linear';
import { LoraLinear } from '../../lib/peft/lora-linear';
import { loadPretrained } from '../../lib/models/distilbert/loading';
import { DistilBertForSequenceClassification, linearShapes, parameterShapes } from '../../lib/models/distilbert/modeling';
import { readDistilBertConfig } from '../../lib/models/distilbert/config';
import { asset } from '../helpers/assets';
import { maxRelErr } from '../helpers/compare';
import { getPeftModel, loadAdapter, PeftModel, formatTrainableParameters } from '../../lib/peft/model';
import { LoraConfig } from '../../lib/peft/config';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'lora');
const CHECKPOINT = path.join(FIXTURES, 'tiny-distilbert');
const PEFT_ADAPTER = path.join(FIXTURES, 'peft-adapter');

interface ModelFixture {
  num_labels: number;
  r: number;
  input_ids: number[][];
  attention_mask: number[][];
  labels: number[];
  logits: number[][];
  loss: number;
  grad_norms: Record<string, number>;
  global_grad_norm: number;
  logits_with_zero_B: number[][];
  saved_keys: Record<string, number[]>;
  saved_keys_with_word_embeddings: Record<string, number[]>;
  safetensors_metadata: Record<string, string>;
  adapter_config_keys: string[];
}
const ref = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'model.json'), 'utf8')) as ModelFixture;
const ALL_SIX = ['q_lin', 'k_lin', 'v_lin', 'out_lin', 'lin1', 'lin2'];

function loadTiny(): Promise<DistilBertForSequenceClassification> {
  return loadPretrained(CHECKPOINT, { numLabels: ref.num_labels, log: () => {} });
}

/** The safetensors header, parsed by hand (independent of lib/safetensors.ts). */
function readHeader(file: string): Record<string, any> {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  return JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
}

const tmpDirs: string[] = [];
function tmpDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peft-test-'));
  tmpDirs.push(dir);
  return dir;
}
afterAll(() => tmpDirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** Mean cross-entropy of logits [B, C] against integer labels. */
function crossEntropy(logits: tf.Tensor2D, labels: number[]): tf.Scalar {
  return tf.tidy(() => tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(labels, logits.shape[1]), tf.logSoftmax(logits)), 1))) as tf.Scalar);
}

/** Every adapter variable of a PeftModel by the key name the reference uses (no base_model.model. prefix). */
function variablesByKey(peft: PeftModel): Map<string, tf.Variable> {
  const vars = new Map<string, tf.Variable>();
  for (const [p, lora] of peft.loraLayers()) {
    vars.set(`${p}.lora_A.weight`, lora.loraA);
    vars.set(`${p}.lora_B.weight`, lora.loraB);
  }
  for (const head of ['pre_classifier', 'classifier']) {
    const layer = peft.model.linears.get(head) as DenseLinear;
    vars.set(`${head}.weight`, layer.weightVar);
    vars.set(`${head}.bias`, layer.bias!);
  }
  return vars;
}

for (const backend of ['cpu', 'wasm'] as BackendName[]) {
  describe(`a PEFT-saved adapter on the tiny DistilBERT, ${backend}`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });

    it('loads, and reproduces the reference logits, loss and gradient norms (per tensor and global)', async () => {
      const peft = await loadAdapter(await loadTiny(), PEFT_ADAPTER, { isTrainable: true });
      expect(peft.config).toMatchObject({ r: 4, loraAlpha: 8, loraDropout: 0, modulesToSave: ['classifier', 'score'] });
      expect(peft.loraLayers().size).toBe(12);

      const logits = peft.logits(ref.input_ids, ref.attention_mask);
      expect(maxRelErr(logits.arraySync(), ref.logits)).toBeLessThan(1e-5);
      logits.dispose();

      const vars = variablesByKey(peft);
      expect([...vars.keys()].sort()).toEqual(Object.keys(ref.grad_norms).sort());
      // Gradients of every trainable variable: they must be exactly the adapters and the head.
      // (Eval mode: the reference has dropout off; gradients flow all the same.)
      const before = tf.memory().numTensors;
      const { value, grads } = tf.variableGrads(() => crossEntropy(peft.logits(ref.input_ids, ref.attention_mask), ref.labels));
      expect(Math.abs(value.arraySync() - ref.loss) / ref.loss).toBeLessThan(1e-5);
      expect(Object.keys(grads).sort()).toEqual([...vars.values()].map((v) => v.name).sort());
      let globalSq = 0;
      for (const [key, v] of vars) {
        const normT = tf.norm(grads[v.name]);
        const norm = normT.arraySync() as number;
        normT.dispose();
        globalSq += norm * norm;
        expect(Math.abs(norm - ref.grad_norms[key]) / ref.grad_norms[key]).toBeLessThan(1e-5);
      }
      expect(Math.abs(Math.sqrt(globalSq) - ref.global_grad_norm) / ref.global_grad_norm).toBeLessThan(1e-5);
      tf.dispose([value, ...Object.values(grads)]);
      expect(tf.memory().numTensors).toBe(before); // forward + backward leave nothing behind
      peft.dispose();
    });

    it('mergeAndUnload gives a plain model with the same logits', async () => {
      const peft = await loadAdapter(await loadTiny(), PEFT_ADAPTER);
      const unmerged = peft.logits(ref.input_ids, ref.attention_mask);
      const model = peft.mergeAndUnload();
      for (const layer of model.linears.values()) expect(layer).toBeInstanceOf(DenseLinear);
      const merged = model.logits(ref.input_ids, ref.attention_mask);
      expect(maxRelErr(merged.arraySync(), unmerged.arraySync())).toBeLessThan(1e-5);
      expect(maxRelErr(merged.arraySync(), ref.logits)).toBeLessThan(1e-5);
      expect(() => peft.logits(ref.input_ids, ref.attention_mask)).toThrow(/merged and unloaded/);
      tf.dispose([unmerged, merged]);
      model.dispose();
    });
  });
}

describe('getPeftModel (cpu)', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it('wraps the targeted linears, freezes the base and trains only A/B and the whole head', async () => {
    const model = await loadTiny();
    const baseLogits = model.logits(ref.input_ids, ref.attention_mask);
    const peft = getPeftModel(model, { r: 4, loraAlpha: 8, targetModules: ['q_lin', 'ffn.lin1'] });
    // 'q_lin' matches by dotted suffix; 'ffn.lin1' is a dotted suffix too. The head is not adapted.
    expect([...peft.loraLayers().keys()]).toEqual([
      'distilbert.transformer.layer.0.attention.q_lin',
      'distilbert.transformer.layer.0.ffn.lin1',
      'distilbert.transformer.layer.1.attention.q_lin',
      'distilbert.transformer.layer.1.ffn.lin1',
    ]);
    // SEQ_CLS: 'classifier' (suffix match, no dot) catches pre_classifier as well.
    expect(peft.config.modulesToSave).toEqual(['classifier', 'score']);
    const head = ['pre_classifier', 'classifier'].map((h) => peft.model.linears.get(h) as DenseLinear);
    const expected = [
      ...[...peft.loraLayers().values()].flatMap((l) => [l.loraA, l.loraB]),
      ...head.flatMap((h) => [h.weightVar, h.bias!]),
    ];
    expect(peft.trainableVariables().map((v) => v.name).sort()).toEqual(expected.map((v) => v.name).sort());
    for (const v of peft.model.params.values()) expect(v.trainable).toBe(false);

    // B starts at zero: the adapted model computes exactly what the base model did.
    const logits = peft.logits(ref.input_ids, ref.attention_mask);
    expect(logits.arraySync()).toEqual(baseLogits.arraySync());
    // Gradients (no variable list: every trainable variable) reach exactly those variables.
    const { value, grads } = tf.variableGrads(() => crossEntropy(peft.logits(ref.input_ids, ref.attention_mask), ref.labels));
    expect(Object.keys(grads).sort()).toEqual(expected.map((v) => v.name).sort());
    // With B = 0, A gets no gradient (dL/dA = scaling·Bᵀ·…) while B does.
    const lora = [...peft.loraLayers().values()][0];
    expect(tf.max(tf.abs(grads[lora.loraA.name])).arraySync()).toBe(0);
    expect(tf.max(tf.abs(grads[lora.loraB.name])).arraySync()).toBeGreaterThan(0);
    tf.dispose([baseLogits, logits, value, ...Object.values(grads)]);
    peft.dispose();
  });

  it('reproduces the reference model with zero B (fresh adapter on the same head)', async () => {
    // Load the PEFT adapter, then zero every B: the reference computed these logits independently.
    const peft = await loadAdapter(await loadTiny(), PEFT_ADAPTER);
    for (const lora of peft.loraLayers().values()) lora.loraB.assign(tf.zerosLike(lora.loraB));
    const logits = peft.logits(ref.input_ids, ref.attention_mask);
    expect(maxRelErr(logits.arraySync(), ref.logits_with_zero_B)).toBeLessThan(1e-5);
    logits.dispose();
    peft.dispose();
  });

  it('makes modulesToSave params trainable and saves them ("word_embeddings")', async () => {
    const peft = getPeftModel(await loadTiny(), { r: 4, loraAlpha: 8, targetModules: ALL_SIX, modulesToSave: ['word_embeddings'] });
    expect(peft.config.modulesToSave).toEqual(['word_embeddings', 'classifier', 'score']);
    const emb = peft.model.params.get('distilbert.embeddings.word_embeddings.weight')!;
    expect(emb.trainable).toBe(true);
    expect(peft.model.params.get('distilbert.embeddings.position_embeddings.weight')!.trainable).toBe(false);
    const shapes = Object.fromEntries(peft.adapterTensorShapes());
    expect(shapes).toEqual(ref.saved_keys_with_word_embeddings);
    const { value, grads } = tf.variableGrads(() => crossEntropy(peft.logits(ref.input_ids, ref.attention_mask), ref.labels));
    expect(grads[emb.name]).toBeDefined();
    tf.dispose([value, ...Object.values(grads)]);
    peft.dispose();
  });

  it('counts parameters as PEFT does, and prints its exact line', async () => {
    // PEFT's published line for distilbert-base-uncased, SEQ_CLS, r=8 on q_lin and v_lin.
    expect(formatTrainableParameters(739_586, 67_694_596)).toBe('trainable params: 739,586 || all params: 67,694,596 || trainable%: 1.0925');

    // Tiny model (dim 8, hidden 16, 2 layers, vocab 40, 12 positions, 3 labels), by hand:
    //   embeddings 40·8 + 12·8 + 2·8 = 432; per layer 4·(8·8+8) + (16·8+16) + (8·16+8) + 2·(2·8) = 600 → 1200;
    //   head pre_classifier 8·8+8 = 72, classifier 3·8+3 = 27 → 99. Base total 432 + 1200 + 99 = 1731.
    //   LoRA r=4 on all six kinds, per layer 4·(4·8+8·4) + (4·8+16·4) + (4·16+8·4) = 256+96+96 = 448 → 896.
    //   trainable = 896 + 99 = 995; all = 1731 + 896 + 99 (PEFT's frozen head originals) = 2726.
    const peft = getPeftModel(await loadTiny(), { r: 4, loraAlpha: 8, targetModules: ALL_SIX });
    expect(peft.parameterCounts()).toEqual({ trainable: 995, all: 2726 });
    const log = jest.spyOn(console, 'log').mockImplementation(() => {});
    const line = peft.printTrainableParameters();
    expect(line).toBe('trainable params: 995 || all params: 2,726 || trainable%: 36.5004');
    expect(log).toHaveBeenCalledWith(line);
    log.mockRestore();
    peft.dispose();
  });

  it('matches PEFT\'s published count on DistilBERT-base shapes (r=8, q_lin + v_lin)', () => {
    // A zero-filled model with the real distilbert-base-uncased config.json's shapes and a 2-label
    // head (66,955,010 parameters); no weights are needed to count.
    const full = readDistilBertConfig(asset('distilbert-base-uncased', 'config.json'), { numLabels: 2 });
    const params = new Map<string, tf.Variable>();
    for (const [name, shape] of parameterShapes(full)) params.set(name, tf.variable(tf.zeros(shape), false));
    const linears = new Map<string, Linear>();
    for (const [p, [out, inp]] of linearShapes(full)) {
      linears.set(p, new DenseLinear(tf.zeros([out, inp]) as tf.Tensor2D, tf.zeros([out]) as tf.Tensor1D));
    }
    const model = new DistilBertForSequenceClassification(full, params, linears);
    const peft = getPeftModel(model, { r: 8, loraAlpha: 16, loraDropout: 0.1, targetModules: ['q_lin', 'v_lin'] });
    const log = jest.spyOn(console, 'log').mockImplementation(() => {});
    expect(peft.printTrainableParameters()).toBe('trainable params: 739,586 || all params: 67,694,596 || trainable%: 1.0925');
    log.mockRestore();
    peft.dispose();
  });

  it('initialises A reproducibly from the seed, differently per layer', async () => {
    const a = getPeftModel(await loadTiny(), { targetModules: ['q_lin'], seed: 7 });
    const b = getPeftModel(await loadTiny(), { targetModules: ['q_lin'], seed: 7 });
    const [a0, a1] = [...a.loraLayers().values()];
    const [b0] = [...b.loraLayers().values()];
    expect(a0.r).toBe(8); // PEFT's defaults: r 8, alpha 8 → scaling 1
    expect(a0.scaling).toBe(1);
    expect(a0.loraA.dataSync()).toEqual(b0.loraA.dataSync());
    expect(a0.loraA.dataSync()).not.toEqual(a1.loraA.dataSync());
    a.dispose();
    b.dispose();
  });

  it('rejects bad configs with messages that say what is available', async () => {
    const model = await loadTiny();
    expect(() => getPeftModel(model, { targetModules: ['query', 'value'] })).toThrow(
      /match no linear layer.*q_lin, k_lin, v_lin, out_lin, lin1, lin2/,
    );
    expect(() => getPeftModel(model, { targetModules: ['attention'] })).toThrow(/not a linear layer/);
    expect(() => getPeftModel(model, { r: 0, targetModules: ['q_lin'] })).toThrow(/r must be an integer ≥ 1, got 0/);
    expect(() => getPeftModel(model, { r: 2.5, targetModules: ['q_lin'] })).toThrow(/r must be an integer/);
    expect(() => getPeftModel(model, { targetModules: [] })).toThrow(/non-empty list/);
    expect(() => getPeftModel(model, { targetModules: ['q_lin'], modulesToSave: ['word_embedding_typo'] })).toThrow(
      /match no module.*word_embeddings/,
    );
    expect(() => getPeftModel(model, { targetModules: ['q_lin'], bias: 'some' as 'none' })).toThrow(/bias "some" is not one of 'none', 'all', 'lora_only'/);
    // Nothing was changed by the failed calls.
    for (const layer of model.linears.values()) expect(layer).not.toBeInstanceOf(LoraLinear);
    const peft = getPeftModel(model, { targetModules: ['q_lin'] });
    expect(() => getPeftModel(model, { targetModules: ['q_lin'] })).toThrow(/already has a LoRA adapter/);
    peft.dispose();
  });
});

describe('saveAdapter / loadAdapter (cpu)', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  async function trainedPeft(config: Partial<LoraConfig> = {}): Promise<PeftModel> {
    const peft = getPeftModel(await loadTiny(), { r: 4, loraAlpha: 8, targetModules: ALL_SIX, seed: 3, ...config });
    // Give B non-zero values, as after training, so that the adapter changes the output.
    peft.loraLayers().forEach((l, p) => l.loraB.assign(tf.randomNormal(l.loraB.shape, 0, 0.2, 'float32', p.length)));
    return peft;
  }

  it('writes exactly the keys, shapes, dtypes and metadata PEFT writes', async () => {
    const peft = await trainedPeft();
    const dir = path.join(tmpDir(), 'nested', 'adapter');
    peft.saveAdapter(dir, { baseModelNameOrPath: 'tiny-distilbert' });
    expect(fs.readdirSync(dir).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']); // no temp files left
    const header = readHeader(path.join(dir, 'adapter_model.safetensors'));
    const { __metadata__, ...tensors } = header;
    expect(__metadata__).toEqual(ref.safetensors_metadata);
    expect(Object.fromEntries(Object.entries(tensors).map(([k, v]) => [k, v.shape]))).toEqual(ref.saved_keys);
    for (const info of Object.values(tensors)) expect(info.dtype).toBe('F32');

    const text = fs.readFileSync(path.join(dir, 'adapter_config.json'), 'utf8');
    const json = JSON.parse(text);
    expect(Object.keys(json)).toEqual(ref.adapter_config_keys); // every key, sorted, as PEFT
    expect(json).toMatchObject({
      peft_type: 'LORA',
      task_type: 'SEQ_CLS',
      base_model_name_or_path: 'tiny-distilbert',
      r: 4,
      lora_alpha: 8,
      lora_dropout: 0,
      bias: 'none',
      fan_in_fan_out: false,
      inference_mode: true,
      use_rslora: false,
      modules_to_save: ['classifier', 'score'],
    });
    expect([...json.target_modules].sort()).toEqual([...ALL_SIX].sort());
    // The same text layout as the reference's json.dumps(indent=2, sort_keys=True).
    expect(text).toBe(JSON.stringify(json, null, 2));
    peft.dispose();
  });

  it('round-trips: save, load into a fresh model, identical logits (NaN-free, exact)', async () => {
    const peft = await trainedPeft({ useRslora: true, loraDropout: 0.1, modulesToSave: ['word_embeddings'] });
    const dir = tmpDir();
    peft.saveAdapter(dir);
    const expected = peft.logits(ref.input_ids, ref.attention_mask);
    const loaded = await loadAdapter(await loadTiny(), dir);
    expect(loaded.config).toMatchObject({ useRslora: true, loraDropout: 0.1, modulesToSave: ['word_embeddings', 'classifier', 'score'] });
    expect(loaded.trainableVariables()).toEqual([]); // PEFT's default: is_trainable=False
    const got = loaded.logits(ref.input_ids, ref.attention_mask);
    expect(got.arraySync()).toEqual(expected.arraySync());
    tf.dispose([expected, got]);
    const trainable = await loadAdapter(await loadTiny(), dir, { isTrainable: true });
    expect(trainable.trainableVariables().length).toBe(12 * 2 + 4 + 1);
    [peft, loaded, trainable].forEach((p) => p.dispose());
  });

  it('fails clearly on a missing folder, a missing or corrupt file, and mismatched shapes', async () => {
    const model = await loadTiny();
    await expect(loadAdapter(model, path.join(tmpDir(), 'nope'))).rejects.toThrow(/adapter_config.json not found/);

    const dir = tmpDir();
    fs.copyFileSync(path.join(PEFT_ADAPTER, 'adapter_config.json'), path.join(dir, 'adapter_config.json'));
    await expect(loadAdapter(model, dir)).rejects.toThrow(/adapter_model.safetensors not found/);

    const bytes = fs.readFileSync(path.join(PEFT_ADAPTER, 'adapter_model.safetensors'));
    fs.writeFileSync(path.join(dir, 'adapter_model.safetensors'), bytes.subarray(0, 100)); // truncated
    await expect(loadAdapter(model, dir)).rejects.toThrow(/adapter_model.safetensors/);

    fs.writeFileSync(path.join(dir, 'adapter_config.json'), '{"peft_type": "LORA", "r": ');
    await expect(loadAdapter(model, dir)).rejects.toThrow(/adapter_config.json: not valid JSON/);

    // An adapter of rank 4 described as rank 8: every lora_A / lora_B has the wrong shape.
    const config = JSON.parse(fs.readFileSync(path.join(PEFT_ADAPTER, 'adapter_config.json'), 'utf8'));
    fs.writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify({ ...config, r: 8 }));
    fs.writeFileSync(path.join(dir, 'adapter_model.safetensors'), bytes);
    await expect(loadAdapter(model, dir)).rejects.toThrow(
      /adapter_model\.safetensors: 'base_model.model.distilbert.transformer.layer.0.attention.k_lin.lora_A.weight' has shape \[4,8\] in the file but the model needs \[8,8\]/,
    );
    fs.writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify({ ...config, use_dora: true }));
    await expect(loadAdapter(model, dir)).rejects.toThrow(/adapter_config\.json: use_dora = true: not implemented by this loader: DoRA/);

    // None of the failures touched the model.
    for (const layer of model.linears.values()) expect(layer).not.toBeInstanceOf(LoraLinear);
    model.dispose();
  });
});

describe("getPeftModel with PEFT's other LoraConfig fields (cpu)", () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });

  it("bias 'all' trains every bias; the count is PEFT's; saved under PEFT's keys and reloaded exactly", async () => {
    const peft = getPeftModel(await loadTiny(), { targetModules: ['q_lin'], bias: 'all', seed: 1 });
    // Hand count (dim 8, hidden 16, 3 labels, r 8): A/B 2 layers × (8·8 + 8·8) = 256; head 8·8+8 + 3·8+3 = 99;
    // biases outside the head: per layer q/k/v/out 4·8 + lin1 16 + lin2 8 = 56, × 2 = 112; 5 LayerNorms × 8 = 40.
    expect(peft.parameterCounts().trainable).toBe(256 + 99 + 112 + 40);
    // Gradients reach every bias, the 4-bit-capable LayerNorm and linear biases included.
    const vars = peft.trainableVariables();
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(peft.logits(ref.input_ids, ref.attention_mask))) as tf.Scalar, vars);
    const lnBias = peft.model.params.get('distilbert.embeddings.LayerNorm.bias')!;
    expect(grads[lnBias.name]).toBeDefined();
    expect(tf.norm(grads[lnBias.name]).arraySync()).toBeGreaterThan(0);
    tf.dispose([value, ...Object.values(grads)]);
    lnBias.assign(tf.fill([8], 0.5)); // "trained"
    const dir = tmpDir();
    peft.saveAdapter(dir);
    const keys = Object.keys(readHeader(path.join(dir, 'adapter_model.safetensors')));
    expect(keys).toContain('base_model.model.distilbert.transformer.layer.0.attention.q_lin.base_layer.bias');
    expect(keys).toContain('base_model.model.distilbert.transformer.layer.0.attention.k_lin.bias');
    expect(keys).toContain('base_model.model.distilbert.embeddings.LayerNorm.bias');
    expect(keys).not.toContain('base_model.model.distilbert.transformer.layer.0.attention.q_lin.bias');
    const want = peft.logits(ref.input_ids, ref.attention_mask);
    const loaded = await loadAdapter(await loadTiny(), dir, { warn: () => {} });
    const got = loaded.logits(ref.input_ids, ref.attention_mask);
    expect(got.arraySync()).toEqual(want.arraySync());
    tf.dispose([want, got]);
    [peft, loaded].forEach((p) => p.dispose());
  });

  it('writes the pattern fields to adapter_config.json as PEFT does, and reads them back', async () => {
    const config: LoraConfig = {
      targetModules: '.*\\.(q_lin|lin2)',
      rankPattern: { lin2: 2 },
      alphaPattern: { q_lin: 4 },
      excludeModules: ['layer.1.ffn.lin2'],
      initLoraWeights: 'gaussian',
      bias: 'lora_only',
    };
    const peft = getPeftModel(await loadTiny(), config);
    expect([...peft.loraLayers()].map(([p, l]) => [p.replace('distilbert.transformer.', ''), l.r, l.scaling])).toEqual([
      ['layer.0.attention.q_lin', 8, 4 / 8],
      ['layer.0.ffn.lin2', 2, 8 / 2],
      ['layer.1.attention.q_lin', 8, 4 / 8],
    ]);
    const dir = tmpDir();
    peft.saveAdapter(dir);
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'adapter_config.json'), 'utf8'));
    expect(json).toMatchObject({
      target_modules: '.*\\.(q_lin|lin2)', rank_pattern: { lin2: 2 }, alpha_pattern: { q_lin: 4 },
      exclude_modules: ['layer.1.ffn.lin2'], init_lora_weights: 'gaussian', bias: 'lora_only', layers_to_transform: null,
    });
    const loaded = await loadAdapter(await loadTiny(), dir);
    expect([...loaded.loraLayers().values()].map((l) => [l.r, l.scaling])).toEqual([[8, 0.5], [2, 4], [8, 0.5]]);
    [peft, loaded].forEach((p) => p.dispose());
  });
});
