// loadPretrained: key variants (prefix, gamma/beta), half-precision files, shards, a base
// checkpoint without a head, and the errors. Logits are checked against the PyTorch fixture.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../../../lib/backends/select';
import { loadPretrained, savePretrained, canonicalKey } from '../../../lib/models/distilbert/loading';
import { parseDistilBertConfig } from '../../../lib/models/distilbert/config';
import { SafetensorsFile } from '../../../lib/io/safetensors';
import { randomCheckpointConfig, writeRandomCheckpoint } from '../../../scripts/make-random-checkpoint';
import { asset } from '../../helpers/assets';
import { FIXTURE_DIR, referenceCases, rewriteCheckpoint, writeTinyCheckpoint, tempDir, cleanupTempDirs, TINY } from '../../helpers/checkpoint';

const TINY_DIR = path.join(FIXTURE_DIR, 'tiny');
const quiet = { log: () => undefined };

beforeAll(() => useBackend('cpu'));
afterAll(cleanupTempDirs);

/** Loads a checkpoint and checks its logits on every fixture case. */
async function expectReferenceLogits(dir: string, reference: 'tiny' | 'tiny-f16' | 'tiny-bf16' = 'tiny', tol = 1e-5): Promise<void> {
  const model = await loadPretrained(dir, quiet);
  try {
    for (const c of referenceCases(reference)) {
      const logits = model.logits(c.input_ids, c.attention_mask);
      const got = logits.arraySync();
      logits.dispose();
      got.forEach((row, i) => row.forEach((v, j) => expect(Math.abs(v - c.logits[i][j])).toBeLessThan(tol)));
    }
  } finally {
    model.dispose();
  }
}

describe('checkpoint variants give the PyTorch logits', () => {
  it('keys with the distilbert. prefix (the committed fixture)', () => expectReferenceLogits(TINY_DIR));

  it('keys without the prefix', async () => {
    const dir = rewriteCheckpoint(TINY_DIR, { renameKey: (k) => k.replace(/^distilbert\./, '') });
    expect(SafetensorsFile.open(path.join(dir, 'model.safetensors')).names()).toContain('embeddings.word_embeddings.weight');
    await expectReferenceLogits(dir);
  });

  it('old LayerNorm names gamma/beta', async () => {
    const dir = rewriteCheckpoint(TINY_DIR, { renameKey: (k) => (/(LayerNorm|layer_norm)\./.test(k) ? k.replace(/\.weight$/, '.gamma').replace(/\.bias$/, '.beta') : k) });
    expect(SafetensorsFile.open(path.join(dir, 'model.safetensors')).names()).toContain('distilbert.transformer.layer.1.sa_layer_norm.gamma');
    await expectReferenceLogits(dir);
  });

  it('F16 weights (rounded by torch; logits of that F16 model from PyTorch)', () => expectReferenceLogits(path.join(FIXTURE_DIR, 'tiny-f16'), 'tiny-f16'));

  it('BF16 weights', () => expectReferenceLogits(path.join(FIXTURE_DIR, 'tiny-bf16'), 'tiny-bf16'));

  it('three shards with model.safetensors.index.json', async () => {
    const dir = rewriteCheckpoint(TINY_DIR, { shards: 3 });
    expect(fs.existsSync(path.join(dir, 'model.safetensors'))).toBe(false);
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.safetensors')).length).toBe(3);
    await expectReferenceLogits(dir);
  });

  it('savePretrained writes a checkpoint that loads back to the same model', async () => {
    const model = await loadPretrained(TINY_DIR, quiet);
    const dir = tempDir();
    await savePretrained(model, dir);
    model.dispose();
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    expect(config.architectures).toEqual(['DistilBertForSequenceClassification']);
    expect(config.id2label).toEqual({ 0: 'LABEL_0', 1: 'LABEL_1', 2: 'LABEL_2' });
    expect(SafetensorsFile.open(path.join(dir, 'model.safetensors')).metadata).toEqual({ format: 'pt' });
    await expectReferenceLogits(dir);
  });
});

describe('a base (masked-LM) checkpoint, as distilbert-base-uncased on the Hub', () => {
  let dir: string;
  beforeAll(() => {
    dir = writeTinyCheckpoint({ seed: 5 });
  });

  it('has the Hub base checkpoint keys: distilbert.* plus the MLM head, no classifier', () => {
    const names = SafetensorsFile.open(path.join(dir, 'model.safetensors')).names();
    expect(names).toContain('distilbert.transformer.layer.0.attention.q_lin.weight');
    expect(names).toEqual(expect.arrayContaining(['vocab_transform.weight', 'vocab_transform.bias', 'vocab_layer_norm.weight', 'vocab_layer_norm.bias', 'vocab_projector.bias']));
    expect(names.filter((n) => /classifier/.test(n))).toEqual([]);
    // 4 embedding tensors + 16 per layer + 5 MLM head tensors, like the real file's 100 + 5 for 6 layers.
    expect(names.length).toBe(4 + 16 * TINY.nLayers + 5);
  });

  it('initialises the classification head as transformers does, and says so', async () => {
    const messages: string[] = [];
    const model = await loadPretrained(dir, { numLabels: 2, seed: 3, log: (m) => messages.push(m) });
    expect(messages.join('\n')).toContain(
      `Some weights of DistilBertForSequenceClassification were not initialized from the model checkpoint at ${dir} and are newly initialized: ` +
        `[classifier.bias, classifier.weight, pre_classifier.bias, pre_classifier.weight]`,
    );
    expect(messages.join('\n')).toMatch(/were not used when initializing DistilBertForSequenceClassification: \[vocab_layer_norm\.bias, vocab_layer_norm\.weight, vocab_projector\.bias, vocab_transform\.bias, vocab_transform\.weight\]/);
    const pre = model.linears.get('pre_classifier')!;
    const w = pre.weight();
    const { mean, variance } = tf.moments(w);
    // N(0, 0.02) over 32·32 = 1024 draws: mean within ~4σ/√n = 0.0025, std within a few percent.
    expect(Math.abs(mean.dataSync()[0])).toBeLessThan(0.003);
    expect(Math.sqrt(variance.dataSync()[0])).toBeGreaterThan(0.018);
    expect(Math.sqrt(variance.dataSync()[0])).toBeLessThan(0.022);
    expect([...pre.bias!.dataSync()].every((b) => b === 0)).toBe(true);
    expect(model.linears.get('classifier')!.outFeatures).toBe(2);
    expect(model.config.id2label).toEqual({ 0: 'LABEL_0', 1: 'LABEL_1' });
    // Seeded: same seed, same head; another seed, another head.
    const again = await loadPretrained(dir, { numLabels: 2, seed: 3, log: () => undefined });
    const other = await loadPretrained(dir, { numLabels: 2, seed: 4, log: () => undefined });
    const w2 = again.linears.get('pre_classifier')!.weight();
    const w3 = other.linears.get('pre_classifier')!.weight();
    expect([...w2.dataSync()]).toEqual([...w.dataSync()]);
    expect([...w3.dataSync()]).not.toEqual([...w.dataSync()]);
    tf.dispose([w, w2, w3, mean, variance]);
    [model, again, other].forEach((m) => m.dispose());
  });

  it('gives finite logits of the right shape, identical for fp32 and F16 storage up to rounding', async () => {
    const f16Dir = tempDir();
    writeRandomCheckpoint(f16Dir, { ...TINY, seed: 5, dtype: 'F16' });
    const a = await loadPretrained(dir, { numLabels: 4, ...quiet });
    const b = await loadPretrained(f16Dir, { numLabels: 4, ...quiet });
    const ids = [[2, 9, 8, 3, 0]];
    const mask = [[1, 1, 1, 1, 0]];
    const la = a.logits(ids, mask);
    const lb = b.logits(ids, mask);
    expect(la.shape).toEqual([1, 4]);
    expect(la.arraySync()[0].every(Number.isFinite)).toBe(true);
    la.arraySync()[0].forEach((v, j) => expect(Math.abs(v - lb.arraySync()[0][j])).toBeLessThan(1e-3));
    tf.dispose([la, lb]);
    a.dispose();
    b.dispose();
  });

  it('writeRandomCheckpoint is deterministic for a seed and writes config.json in the Hub format', () => {
    const again = writeTinyCheckpoint({ seed: 5 });
    expect(fs.readFileSync(path.join(again, 'model.safetensors')).equals(fs.readFileSync(path.join(dir, 'model.safetensors')))).toBe(true);
    const ours = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    const real = JSON.parse(fs.readFileSync(asset('distilbert-base-uncased', 'config.json'), 'utf8'));
    expect(Object.keys(ours)).toEqual(Object.keys(real));
    expect({ ...ours, dim: 768, hidden_dim: 3072, n_layers: 6, n_heads: 12, vocab_size: 30522, max_position_embeddings: 512 }).toEqual(real);
    expect(randomCheckpointConfig({ ...TINY, withHead: true }).architectures).toEqual(['DistilBertForSequenceClassification']);
  });

  it('copies the tokenizer files when asked', () => {
    const withTok = tempDir();
    writeRandomCheckpoint(withTok, { ...TINY, tokenizerDir: path.dirname(asset('distilbert-base-uncased', 'vocab.txt')) });
    for (const f of ['tokenizer.json', 'vocab.txt', 'tokenizer_config.json', 'special_tokens_map.json', 'config.json', 'model.safetensors']) {
      expect(fs.existsSync(path.join(withTok, f))).toBe(true);
    }
  });
});

describe('errors', () => {
  it('lists the missing base weights', async () => {
    const dir = rewriteCheckpoint(TINY_DIR, { renameKey: (k) => (/layer\.1\.ffn\.lin2|word_embeddings/.test(k) ? null : k) });
    await expect(loadPretrained(dir, quiet)).rejects.toThrow(
      /lacks 3 required DistilBERT weights: distilbert\.embeddings\.word_embeddings\.weight, distilbert\.transformer\.layer\.1\.ffn\.lin2\.weight, distilbert\.transformer\.layer\.1\.ffn\.lin2\.bias/,
    );
  });

  it('says how to fix a head with another number of labels', async () => {
    await expect(loadPretrained(TINY_DIR, { numLabels: 2, ...quiet })).rejects.toThrow(
      /'classifier.weight' has shape \[3,32\] but config.json implies \[2,32\] \(the checkpoint's head has 3 labels: pass numLabels: 3\)/,
    );
  });

  it('refuses weights that do not match config.json', async () => {
    const dir = rewriteCheckpoint(TINY_DIR);
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...config, hidden_dim: 128 }));
    await expect(loadPretrained(dir, quiet)).rejects.toThrow(/'distilbert.transformer.layer.0.ffn.lin1.weight' has shape \[64,32\] but config.json implies \[128,32\]/);
  });

  it('refuses unsupported configs and a missing folder', async () => {
    const base = JSON.parse(fs.readFileSync(path.join(TINY_DIR, 'config.json'), 'utf8'));
    expect(() => parseDistilBertConfig({ ...base, sinusoidal_pos_embds: true }, 'c.json')).toThrow(/c.json: sinusoidal_pos_embds is true/);
    expect(() => parseDistilBertConfig({ ...base, activation: 'relu' }, 'c.json')).toThrow(/activation 'relu' is not supported/);
    expect(() => parseDistilBertConfig({ ...base, model_type: 'bert' }, 'c.json')).toThrow(/model_type is 'bert', not 'distilbert'/);
    expect(() => parseDistilBertConfig({ ...base, dim: 30 }, 'c.json')).toThrow(/dim 30 is not divisible by n_heads 4/);
    await expect(loadPretrained(path.join(tempDir(), 'nope'), quiet)).rejects.toThrow(/nope does not exist/);
    const noWeights = tempDir();
    fs.copyFileSync(path.join(TINY_DIR, 'config.json'), path.join(noWeights, 'config.json'));
    await expect(loadPretrained(noWeights, quiet)).rejects.toThrow(/has no 'model.safetensors' or 'model.safetensors.index.json'/);
  });

  it('refuses a truncated weights file, naming it', async () => {
    const dir = rewriteCheckpoint(TINY_DIR);
    const file = path.join(dir, 'model.safetensors');
    fs.truncateSync(file, fs.statSync(file).size - 100);
    await expect(loadPretrained(dir, quiet)).rejects.toThrow(new RegExp(`${file}: tensor '.*' ends at byte \\d+ .* corrupt or truncated`));
  });

  it('leaves no tensors behind when loading fails half-way', async () => {
    const dir = rewriteCheckpoint(TINY_DIR);
    const file = path.join(dir, 'model.safetensors');
    const before = tf.memory().numTensors;
    // A float tensor stored as I32 passes the header checks but fails when read.
    const st = SafetensorsFile.open(file);
    const raw = fs.readFileSync(file);
    const n = Number(raw.readBigUInt64LE(0));
    const header = raw.subarray(8, 8 + n).toString('utf8').replace(/"classifier.weight":\{"dtype":"F32"/, '"classifier.weight":{"dtype":"I32"');
    fs.writeFileSync(file, Buffer.concat([raw.subarray(0, 8), Buffer.from(header), raw.subarray(8 + n)]));
    expect(st.info('classifier.weight').dtype).toBe('F32');
    await expect(loadPretrained(dir, quiet)).rejects.toThrow(/'classifier.weight' has dtype I32, expected a float dtype/);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('canonicalKey', () => {
  it('adds the prefix and renames gamma/beta', () => {
    expect(canonicalKey('embeddings.LayerNorm.gamma')).toBe('distilbert.embeddings.LayerNorm.weight');
    expect(canonicalKey('transformer.layer.3.output_layer_norm.beta')).toBe('distilbert.transformer.layer.3.output_layer_norm.bias');
    expect(canonicalKey('distilbert.transformer.layer.0.ffn.lin1.weight')).toBe('distilbert.transformer.layer.0.ffn.lin1.weight');
    expect(canonicalKey('classifier.bias')).toBe('classifier.bias');
  });
});
