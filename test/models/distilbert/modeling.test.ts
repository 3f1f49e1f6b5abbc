// The forward pass against an independent PyTorch implementation (scripts/reference/distilbert_reference.py,
// float64) on the committed tiny checkpoint, on the cpu and wasm backends.
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { useBackend, BackendName } from '../../../lib/backends/select';
import { loadPretrained } from '../../../lib/models/distilbert/loading';
import { DistilBertForSequenceClassification } from '../../../lib/models/distilbert/modeling';
import { FIXTURE_DIR, referenceCases, cleanupTempDirs } from '../../helpers/checkpoint';

const TINY_DIR = path.join(FIXTURE_DIR, 'tiny');
const quiet = { log: () => undefined };

function expectClose(actual: number[][], expected: number[][], tol: number): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((row, i) => row.forEach((v, j) => expect(Math.abs(v - expected[i][j])).toBeLessThan(tol)));
}

afterAll(cleanupTempDirs);

for (const backend of ['cpu', 'wasm'] as BackendName[]) {
  describe(`logits on ${backend}`, () => {
    let model: DistilBertForSequenceClassification;
    beforeAll(async () => {
      await useBackend(backend);
      model = await loadPretrained(TINY_DIR, quiet);
    });
    afterAll(() => model.dispose());

    for (const c of referenceCases('tiny')) {
      it(`match PyTorch: ${c.name}`, () => {
        const logits = model.logits(c.input_ids, c.attention_mask);
        expect(logits.shape).toEqual([c.input_ids.length, 3]);
        expectClose(logits.arraySync(), c.logits, 1e-5);
        logits.dispose();
      });
    }

    it('accepts int32 tensors as well as arrays, and does not dispose them', () => {
      const c = referenceCases('tiny')[0];
      const ids = tf.tensor2d(c.input_ids, undefined, 'int32');
      const mask = tf.tensor2d(c.attention_mask, undefined, 'int32');
      const logits = model.logits(ids, mask);
      expectClose(logits.arraySync(), c.logits, 1e-5);
      expect(ids.isDisposed || mask.isDisposed).toBe(false);
      tf.dispose([ids, mask, logits]);
    });

    it('gives a review the same logits alone and padded inside a batch', () => {
      const alone = model.logits([[2, 40, 41, 42, 3]], [[1, 1, 1, 1, 1]]);
      const batch = model.logits(
        [
          [2, 10, 11, 12, 13, 14, 15, 16, 17, 3],
          [2, 40, 41, 42, 3, 0, 0, 0, 0, 0],
        ],
        [
          [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
          [1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
        ],
      );
      const b = batch.arraySync();
      expectClose([b[1]], alone.arraySync(), 1e-5);
      // ... and the padding really was ignored, not just near-equal by chance: another review differs.
      expect(Math.abs(b[0][0] - b[1][0]) + Math.abs(b[0][1] - b[1][1])).toBeGreaterThan(1e-3);
      tf.dispose([alone, batch]);
    });

    it('leaks no tensors over repeated calls, in eval and training mode', () => {
      const c = referenceCases('tiny')[0];
      tf.dispose(model.logits(c.input_ids, c.attention_mask)); // warm-up (backends cache constants)
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        tf.dispose(model.logits(c.input_ids, c.attention_mask));
        tf.dispose(model.logits(c.input_ids, c.attention_mask, { training: true, dropoutSeed: i }));
        tf.dispose(model.logits(c.input_ids, c.attention_mask, { training: true }));
      }
      expect(tf.memory().numTensors).toBe(before);
    });
  });
}

describe('dropout', () => {
  let model: DistilBertForSequenceClassification;
  const c = () => referenceCases('tiny')[0];
  beforeAll(async () => {
    await useBackend('cpu');
    model = await loadPretrained(TINY_DIR, quiet);
  });
  afterAll(() => model.dispose());

  const run = (opts: { training?: boolean; dropoutSeed?: number }) => {
    const t = model.logits(c().input_ids, c().attention_mask, opts);
    const v = t.arraySync();
    t.dispose();
    return v;
  };

  it('is off unless training, reproducible with a seed, different across seeds', () => {
    expectClose(run({ training: false, dropoutSeed: 1 }), c().logits, 1e-5);
    const a = run({ training: true, dropoutSeed: 1 });
    const b = run({ training: true, dropoutSeed: 1 });
    const other = run({ training: true, dropoutSeed: 2 });
    expect(a).toEqual(b);
    expect(a).not.toEqual(other);
    const diff = (x: number[][]) => Math.max(...x.flatMap((r, i) => r.map((v, j) => Math.abs(v - c().logits[i][j]))));
    expect(diff(a)).toBeGreaterThan(1e-3);
  });

  it('with every rate set to 0, training gives the eval logits', () => {
    const cfg = model.config as { dropout: number; attention_dropout: number; seq_classif_dropout: number };
    const saved = { ...cfg };
    Object.assign(cfg, { dropout: 0, attention_dropout: 0, seq_classif_dropout: 0 });
    try {
      expectClose(run({ training: true, dropoutSeed: 3 }), c().logits, 1e-5);
    } finally {
      Object.assign(cfg, { dropout: saved.dropout, attention_dropout: saved.attention_dropout, seq_classif_dropout: saved.seq_classif_dropout });
    }
  });

  it('keeps the expected fraction of activations (inverted dropout, p = 0.1 and 0.2)', () => {
    // Through the classifier head only: with dropout on pre_classifier's output at p = 0.2, the
    // mean of the dropped-and-rescaled features over many rows stays that of the undropped ones.
    const cfg = model.config as { dropout: number; attention_dropout: number; seq_classif_dropout: number };
    const saved = { ...cfg };
    Object.assign(cfg, { dropout: 0, attention_dropout: 0 });
    try {
      const ids = Array.from({ length: 64 }, (_, i) => [2, 4 + (i % 60), 3]);
      const mask = ids.map(() => [1, 1, 1]);
      const evalLogits = model.logits(ids, mask);
      const trainLogits = model.logits(ids, mask, { training: true, dropoutSeed: 11 });
      const meanAbsDiff = tf.tidy(() => tf.mean(tf.abs(tf.sub(trainLogits, evalLogits))).dataSync()[0]);
      const meanEval = tf.tidy(() => tf.mean(evalLogits).dataSync()[0]);
      const meanTrain = tf.tidy(() => tf.mean(trainLogits).dataSync()[0]);
      expect(meanAbsDiff).toBeGreaterThan(1e-3); // dropout changed things
      expect(Math.abs(meanTrain - meanEval)).toBeLessThan(0.1); // but rescaling keeps the expectation
      tf.dispose([evalLogits, trainLogits]);
    } finally {
      Object.assign(cfg, saved);
    }
  });
});

describe('model structure', () => {
  let model: DistilBertForSequenceClassification;
  beforeAll(async () => {
    await useBackend('cpu');
    model = await loadPretrained(TINY_DIR, quiet);
  });
  afterAll(() => model.dispose());

  it('names linears and params by HF module path, all frozen', () => {
    expect([...model.linears.keys()]).toEqual(
      [0, 1]
        .flatMap((i) => ['attention.q_lin', 'attention.k_lin', 'attention.v_lin', 'attention.out_lin', 'ffn.lin1', 'ffn.lin2'].map((m) => `distilbert.transformer.layer.${i}.${m}`))
        .concat(['pre_classifier', 'classifier']),
    );
    expect(model.params.has('distilbert.embeddings.word_embeddings.weight')).toBe(true);
    expect(model.params.has('distilbert.transformer.layer.1.sa_layer_norm.bias')).toBe(true);
    expect(model.params.size).toBe(4 + 2 * 2 * 2); // word, position, LayerNorm w+b; per layer two LayerNorms
    expect(model.trainableVariables()).toEqual([]);
  });

  it('counts parameters as transformers does', () => {
    // Hand count for vocab 64, dim 32, 2 layers, hidden 64, 32 positions, 3 labels:
    // embeddings 64·32 + 32·32 + 2·32 = 3136; per layer 4·(32·32+32) + 2·32 + (64·32+64) + (32·64+32) + 2·32 = 8544;
    // head (32·32+32) + (3·32+3) = 1155. Total 3136 + 2·8544 + 1155 = 21379.
    expect(model.numParameters()).toBe(21379);
    const norm = model.params.get('distilbert.embeddings.LayerNorm.weight')!;
    norm.trainable = true;
    expect(model.trainableVariables()).toEqual([norm]);
    expect(model.numParameters(true)).toBe(32);
    norm.trainable = false;
  });

  it('replaceLinear swaps a layer and returns the old one; shapes must match', () => {
    const path = 'distilbert.transformer.layer.0.attention.q_lin';
    const old = model.linears.get(path)!;
    const other = model.linears.get('distilbert.transformer.layer.0.attention.k_lin')!;
    expect(model.replaceLinear(path, other)).toBe(old);
    expect(model.linears.get(path)).toBe(other);
    expect(model.replaceLinear(path, old)).toBe(other);
    expect(() => model.replaceLinear(path, model.linears.get('distilbert.transformer.layer.0.ffn.lin1')!)).toThrow(
      /'distilbert.transformer.layer.0.attention.q_lin' is \[32, 32\] but the new layer is \[64, 32\]/,
    );
    expect(() => model.replaceLinear('nope', old)).toThrow(/no linear layer 'nope'/);
  });

  it('namedWeights returns every HF weight as a fresh tensor', () => {
    const weights = model.namedWeights();
    expect(weights.size).toBe(model.params.size + 2 * model.linears.size);
    expect(weights.get('classifier.weight')!.shape).toEqual([3, 32]);
    expect(weights.get('distilbert.transformer.layer.1.ffn.lin1.bias')!.shape).toEqual([64]);
    tf.dispose([...weights.values()]);
    expect(model.linears.get('classifier')!.bias!.isDisposed).toBe(false);
  });

  it('rejects bad inputs with a clear message', () => {
    expect(() => model.logits([[2, 3], [2]], [[1, 1], [1]])).toThrow(/inputIds: row 1 has 1 entries, row 0 has 2; pad the batch/);
    expect(() => model.logits([[2, 64]], [[1, 1]])).toThrow(/token id 64, outside the vocabulary \[0, 63\]/);
    expect(() => model.logits([[2, 3]], [[1, 1, 1]])).toThrow(/inputIds is \[1,2\] but attentionMask is \[1,3\]/);
    const long = [Array.from({ length: 33 }, () => 5)];
    expect(() => model.logits(long, long)).toThrow(/sequence length 33 exceeds max_position_embeddings 32/);
    expect(() => model.logits([], [])).toThrow(/inputIds is empty/);
  });

  it('gradients flow to a trainable head through the forward pass', () => {
    const cls = model.linears.get('classifier')!.bias!;
    cls.trainable = true;
    const c = referenceCases('tiny')[0];
    // d(sum of logits)/d(classifier bias) = batch size for every class.
    const { grads } = tf.variableGrads(() => tf.sum(model.logits(c.input_ids, c.attention_mask, { training: true, dropoutSeed: 0 })) as tf.Scalar, [cls]);
    expect([...grads[cls.name].dataSync()]).toEqual([4, 4, 4]);
    tf.dispose(grads);
    cls.trainable = false;
  });
});
