// loadPretrained with quantization: 'nf4': which layers are quantized, that the forward pass is
// the fp32 model's with those weights replaced by their NF4 round trip (lib/nf4.ts), and that no
// fp32 copy of a quantized weight stays on the device.
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { useBackend, BackendName } from '../../../lib/backends/select';
import { loadPretrained } from '../../../lib/models/distilbert/loading';
import { DistilBertForSequenceClassification } from '../../../lib/models/distilbert/modeling';
import { DenseLinear } from '../../../lib/models/linear';
import { NF4Linear } from '../../../lib/quantization/nf4-linear';
import { dequantizeNF4, quantizeNF4 } from '../../../lib/quantization/nf4';
import { SafetensorsFile } from '../../../lib/io/safetensors';
import { FIXTURE_DIR, referenceCases, writeTinyCheckpoint, cleanupTempDirs } from '../../helpers/checkpoint';

const TINY_DIR = path.join(FIXTURE_DIR, 'tiny');
const quiet = { log: () => undefined };
const QUANTIZED = /\.(q_lin|k_lin|v_lin|out_lin|lin1|lin2)$/;

afterAll(cleanupTempDirs);

/** The fp32 model with every q/k/v/out_lin, lin1, lin2 weight replaced by dequantize(quantize(W)). */
async function roundTripReference(dir: string, opts: { blockSize: number; doubleQuant: boolean }): Promise<DistilBertForSequenceClassification> {
  const model = await loadPretrained(dir, quiet);
  const st = SafetensorsFile.open(path.join(dir, 'model.safetensors'));
  for (const [p, layer] of [...model.linears]) {
    if (!QUANTIZED.test(p)) continue;
    const w = st.readFloat32(`${p}.weight`).data;
    const q = quantizeNF4(w, { blockSize: opts.blockSize, doubleQuant: opts.doubleQuant, shape: [layer.outFeatures, layer.inFeatures] });
    const weight = tf.tensor2d(dequantizeNF4(q), [layer.outFeatures, layer.inFeatures]);
    const bias = tf.tensor1d(st.readFloat32(`${p}.bias`).data);
    model.replaceLinear(p, new DenseLinear(weight, bias)).dispose();
    tf.dispose([weight, bias]);
  }
  return model;
}

function maxAbsDiff(a: number[][], b: number[][]): number {
  return Math.max(...a.flatMap((row, i) => row.map((v, j) => Math.abs(v - b[i][j]))));
}

for (const backend of ['cpu', 'wasm'] as BackendName[]) {
  describe(`NF4 model on ${backend}`, () => {
    beforeAll(() => useBackend(backend));

    for (const doubleQuant of [true, false]) {
      it(`equals the fp32 model with NF4 round-tripped weights (doubleQuant ${doubleQuant})`, async () => {
        const nf4 = await loadPretrained(TINY_DIR, { quantization: 'nf4', doubleQuant, blockSize: 64, ...quiet });
        const reference = await roundTripReference(TINY_DIR, { blockSize: 64, doubleQuant });
        for (const c of referenceCases('tiny')) {
          const got = nf4.logits(c.input_ids, c.attention_mask);
          const want = reference.logits(c.input_ids, c.attention_mask);
          expect(maxAbsDiff(got.arraySync(), want.arraySync())).toBeLessThan(1e-5);
          // ... and quantization really happened: the fp32 logits are measurably different.
          expect(maxAbsDiff(got.arraySync(), c.logits)).toBeGreaterThan(1e-4);
          tf.dispose([got, want]);
        }
        nf4.dispose();
        reference.dispose();
      });
    }
  });
}

describe('NF4 loading', () => {
  beforeAll(() => useBackend('cpu'));

  it('quantizes exactly the attention and feed-forward linears; embeddings, LayerNorms and the head stay fp32', async () => {
    const model = await loadPretrained(TINY_DIR, { quantization: 'nf4', ...quiet });
    for (const [p, layer] of model.linears) {
      expect(layer instanceof NF4Linear).toBe(QUANTIZED.test(p));
      if (!QUANTIZED.test(p)) expect(layer instanceof DenseLinear).toBe(true);
    }
    for (const v of model.params.values()) expect(v.dtype).toBe('float32');
    expect(model.trainableVariables()).toEqual([]);
    // Same parameter count as the fp32 model (21379 by hand, see distilbert.test.ts).
    expect(model.numParameters()).toBe(21379);
    model.dispose();
  });

  it('uses double quantization by default (smaller than without)', async () => {
    const dq = await loadPretrained(TINY_DIR, { quantization: 'nf4', ...quiet });
    const plain = await loadPretrained(TINY_DIR, { quantization: 'nf4', doubleQuant: false, ...quiet });
    const p = 'distilbert.transformer.layer.0.ffn.lin1';
    const n = 64 * 32;
    // 4 bits per weight + one fp32 absmax per 64 weights = 4.5 bits; double quantization ≈ 4.127.
    expect(plain.linears.get(p)!.weightBytes()).toBeLessThanOrEqual((n * 4.5) / 8 + 16);
    expect(dq.linears.get(p)!.weightBytes()).toBeLessThan(plain.linears.get(p)!.weightBytes());
    dq.dispose();
    plain.dispose();
  });

  it('keeps no fp32 copy of a quantized weight on the device', async () => {
    // A model big enough that the quantized weights dominate: dim 64, hidden 256, 2 layers.
    const C = 64, H = 256, L = 2, V = 64, P = 32, K = 2;
    const dir = writeTinyCheckpoint({ vocabSize: V, dim: C, hiddenDim: H, nLayers: L, nHeads: 4, maxPositions: P, seed: 9 });
    const quantizedParams = L * (4 * C * C + 2 * C * H);
    const otherParams = V * C + P * C + 2 * C + L * (4 * C + 2 * C + H + C + 2 * C) + (C * C + C) + (K * C + K);

    const before = tf.memory();
    const fp32 = await loadPretrained(dir, { numLabels: K, ...quiet });
    const fp32Bytes = tf.memory().numBytes - before.numBytes;
    // The fp32 model holds exactly its parameters, nothing else (no leftover upload buffers).
    expect(fp32Bytes).toBe(4 * (quantizedParams + otherParams));
    fp32.dispose();
    expect(tf.memory().numBytes).toBe(before.numBytes);

    const nf4 = await loadPretrained(dir, { numLabels: K, quantization: 'nf4', doubleQuant: false, ...quiet });
    const nf4Bytes = tf.memory().numBytes - before.numBytes;
    // fp32 for everything else, at most 4.5 bits (+ word padding) per quantized weight.
    expect(nf4Bytes).toBeLessThanOrEqual(4 * otherParams + (quantizedParams * 4.5) / 8 + 12 * 64);
    expect(nf4Bytes).toBeGreaterThan(4 * otherParams + (quantizedParams * 4) / 8);
    // A forward pass creates the fp32 weights only transiently.
    tf.dispose(nf4.logits([[2, 5, 6, 3]], [[1, 1, 1, 1]]));
    expect(tf.memory().numBytes - before.numBytes).toBe(nf4Bytes);
    nf4.dispose();
    expect(tf.memory().numTensors).toBe(before.numTensors);
  });
});
