// Device-side NF4: the registered kernels (cpu, wasm) and the composite fallback must give
// exactly the host `dequantizeNF4` values; NF4Linear must compute x·Wᵀ + b with W dequantized,
// pass gradients to x, and leak no tensors. References: the host quantizer (itself checked
// against the numpy bitsandbytes re-implementation in nf4.test.ts) and float64 host math.
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../../lib/backends/select';
import { DenseLinear } from '../../lib/models/linear';
import { NF4Quantized, createDynamicMap, dequantizeAbsmax, dequantizeNF4, quantizeNF4 } from '../../lib/quantization/nf4';
import {
  NF4Tensor,
  dequantizeAbsmaxOp,
  dequantizeBlockwise8Composite,
  dequantizeNF4Composite,
  dequantizeNF4Op,
  packBytesToInt32,
} from '../../lib/quantization/nf4-op';
import { NF4Linear } from '../../lib/quantization/nf4-linear';
import { fixtureInputs, loadNF4Fixture } from '../fixtures/nf4/load';
import { randomValues } from '../helpers/random-values';

function transposeHost(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c];
  return out;
}

/** float64 reference of x·Wᵀ + b. */
function linearHost(x: Float32Array, n: number, w: Float32Array, out: number, inp: number, b: Float32Array | null): Float64Array {
  const y = new Float64Array(n * out);
  for (let i = 0; i < n; i++) {
    for (let o = 0; o < out; o++) {
      let sum = b ? b[o] : 0;
      for (let k = 0; k < inp; k++) sum += x[i * inp + k] * w[o * inp + k];
      y[i * out + o] = sum;
    }
  }
  return y;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / (1 + Math.abs(expected[i])));
  expect(worst).toBeLessThan(tol);
}

/** Uploads q's pieces as the op's raw inputs (packed words + fp32 absmax). */
function opInputs(q: NF4Quantized): { packed: tf.Tensor1D; absmax: tf.Tensor1D } {
  return {
    packed: tf.tensor1d(packBytesToInt32(q.packed), 'int32'),
    absmax: tf.tensor1d(dequantizeAbsmax(q)),
  };
}

const CASES: { name: string; shape: number[]; blockSize: number; doubleQuant: boolean }[] = [
  { name: 'odd length, partial last block', shape: [3001], blockSize: 64, doubleQuant: false },
  { name: '2-D, rows not a multiple of 8', shape: [37, 29], blockSize: 32, doubleQuant: false },
  { name: '2-D double quant, >256 blocks', shape: [96, 200], blockSize: 64, doubleQuant: true },
  { name: 'fewer than 8 values', shape: [5], blockSize: 64, doubleQuant: false },
  { name: 'block 4096', shape: [70, 100], blockSize: 4096, doubleQuant: true },
];

describe.each(['cpu', 'wasm'] as const)('NF4 on the %s backend', (backendName) => {
  beforeAll(async () => {
    await useBackend(backendName);
  });

  it('uses the registered kernels (not the composite fallback)', () => {
    expect(tf.getBackend()).toBe(backendName);
    expect(tf.getKernel('DequantizeNF4', backendName)).toBeDefined();
    expect(tf.getKernel('DequantizeBlockwise8', backendName)).toBeDefined();
  });

  for (const c of CASES) {
    it(`dequantizeNF4Op equals the host dequantizeNF4 bit for bit: ${c.name}`, async () => {
      const n = c.shape.reduce((a, b) => a * b, 1);
      const q = quantizeNF4(randomValues(n, n), { blockSize: c.blockSize, doubleQuant: c.doubleQuant, shape: c.shape });
      const host = dequantizeNF4(q);
      const { packed, absmax } = opInputs(q);
      const kernel = dequantizeNF4Op(packed, absmax, c.shape, c.blockSize);
      expect(kernel.shape).toEqual(c.shape);
      expect(Array.from(await kernel.data())).toEqual(Array.from(host));
      if (c.shape.length === 2) {
        const [rows, cols] = c.shape;
        const kernelT = dequantizeNF4Op(packed, absmax, c.shape, c.blockSize, { transpose: true });
        expect(kernelT.shape).toEqual([cols, rows]);
        expect(Array.from(await kernelT.data())).toEqual(Array.from(transposeHost(host, rows, cols)));
        kernelT.dispose();
      }
      tf.dispose([packed, absmax, kernel]);
    });
  }

  // The composite fallback (for backends without the kernels) needs exact int32 floorDiv/mod:
  // the cpu backend's are exact, like TensorFlow's; wasm's go through float32.
  for (const c of backendName === 'cpu' ? CASES : []) {
    it(`the composite fallback gives the same bits: ${c.name}`, async () => {
      const n = c.shape.reduce((a, b) => a * b, 1);
      const q = quantizeNF4(randomValues(n, n), { blockSize: c.blockSize, doubleQuant: c.doubleQuant, shape: c.shape });
      const host = dequantizeNF4(q);
      const { packed, absmax } = opInputs(q);
      const composite = dequantizeNF4Composite(packed, absmax, c.shape, c.blockSize);
      expect(Array.from(await composite.data())).toEqual(Array.from(host));
      if (c.shape.length === 2) {
        const compositeT = dequantizeNF4Composite(packed, absmax, c.shape, c.blockSize, { transpose: true });
        expect(Array.from(await compositeT.data())).toEqual(Array.from(transposeHost(host, c.shape[0], c.shape[1])));
        compositeT.dispose();
      }
      if (q.doubleQuant) {
        const dq = q.doubleQuant;
        const words = tf.tensor1d(packBytesToInt32(dq.codes), 'int32');
        const scales = tf.tensor1d(dq.scales);
        const scaled = dequantizeBlockwise8Composite(words, scales, dq.codes.length, dq.blockSize);
        const map = createDynamicMap();
        const expected = Array.from(dq.codes, (code, i) => Math.fround(map[code] * dq.scales[Math.floor(i / dq.blockSize)]));
        expect(Array.from(await scaled.data())).toEqual(expected);
        tf.dispose([words, scales, scaled]);
      }
      tf.dispose([packed, absmax, composite]);
    });
  }

  it('rebuilds double-quantized absmax on the device bit for bit (dequantizeAbsmaxOp)', async () => {
    const q = quantizeNF4(randomValues(64 * 700, 7), { doubleQuant: true });
    const dq = q.doubleQuant!;
    const words = tf.tensor1d(packBytesToInt32(dq.codes), 'int32');
    const scales = tf.tensor1d(dq.scales);
    const absmax = dequantizeAbsmaxOp(words, scales, dq.offset, dq.codes.length, dq.blockSize);
    expect(Array.from(await absmax.data())).toEqual(Array.from(dequantizeAbsmax(q)));
    tf.dispose([words, scales, absmax]);
  });

  it('NF4Tensor matches the numpy-reference fixture values and holds only codes + statistics', async () => {
    for (const c of loadNF4Fixture().cases) {
      const q = quantizeNF4(fixtureInputs(c), { blockSize: c.blockSize, doubleQuant: c.doubleQuant });
      const t = NF4Tensor.upload(q);
      const back = t.dequantize();
      expect(Array.from(await back.data())).toEqual(Array.from(dequantizeNF4(q)));
      back.dispose();
      t.dispose();
    }
    // 768×768 in blocks of 64: 4 bits + 32/64 bits per weight = 4.5; with double quant
    // 4 bits + 8/64 (codes, 4 per int32) + 32 bits per 256 blocks.
    const w = randomValues(768 * 768, 3);
    const plain = NF4Tensor.upload(quantizeNF4(w, { shape: [768, 768] }));
    expect(plain.residentBytes()).toBe((768 * 768) / 2 + (768 * 768 / 64) * 4);
    const dq = NF4Tensor.upload(quantizeNF4(w, { shape: [768, 768], doubleQuant: true }));
    expect(dq.residentBytes()).toBe((768 * 768) / 2 + 768 * 768 / 64 + Math.ceil(768 * 768 / 64 / 256) * 4);
    plain.dispose();
    dq.dispose();
  });

  it('NF4Linear.apply = x·dequant(W)ᵀ + b (DenseLinear with the dequantized weight, and float64 math)', async () => {
    const [out, inp, n] = [48, 40, 6];
    const w = randomValues(out * inp, 11);
    const b = randomValues(out, 12);
    const x = randomValues(n * inp, 13);
    for (const doubleQuant of [false, true]) {
      const layer = NF4Linear.fromWeights(w, out, inp, b, { blockSize: 32, doubleQuant, name: 'test.lin' });
      const wq = dequantizeNF4(quantizeNF4(w, { blockSize: 32, doubleQuant, shape: [out, inp] }));
      const dense = new DenseLinear(tf.tensor2d(wq, [out, inp]), tf.tensor1d(b));
      const xt = tf.tensor2d(x, [n, inp]);
      const y = layer.apply(xt, false);
      const yDense = dense.apply(xt, false);
      expect(y.shape).toEqual([n, out]);
      expectClose(await y.data(), await yDense.data(), 1e-6);
      expectClose(await y.data(), linearHost(x, n, wq, out, inp, b), 1e-5);
      const wBack = layer.weight();
      expect(Array.from(await wBack.data())).toEqual(Array.from(wq));
      expect(layer.trainableVariables()).toEqual([]);
      expect(layer.bias!.trainable).toBe(false);
      tf.dispose([xt, y, yDense, wBack]);
      layer.dispose();
      dense.dispose();
    }
  });

  it('passes the gradient to x: d/dx Σ(R ⊙ (x·Wᵀ + b)) = R·W', async () => {
    const [out, inp, n] = [24, 40, 5];
    const w = randomValues(out * inp, 21);
    const layer = NF4Linear.fromWeights(w, out, inp, randomValues(out, 22), { blockSize: 64 });
    const wq = dequantizeNF4(quantizeNF4(w, { blockSize: 64, shape: [out, inp] }));
    const r = randomValues(n * out, 23);
    const expected = new Float64Array(n * inp);
    for (let i = 0; i < n; i++) for (let k = 0; k < inp; k++) for (let o = 0; o < out; o++) expected[i * inp + k] += r[i * out + o] * wq[o * inp + k];

    const x = tf.tensor2d(randomValues(n * inp, 24), [n, inp]);
    const R = tf.tensor2d(r, [n, out]);
    const grad = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(layer.apply(xx as tf.Tensor2D, true), R)))(x);
    expect(grad.shape).toEqual([n, inp]);
    expectClose(await grad.data(), expected, 1e-5);

    // Also straight through the raw op, as other code may use it: matMul(x, dequant(W)ᵀ).
    const q = quantizeNF4(w, { blockSize: 64, shape: [out, inp] });
    const { packed, absmax } = opInputs(q);
    const grad2 = tf.grad((xx: tf.Tensor) =>
      tf.sum(tf.mul(tf.matMul(xx as tf.Tensor2D, dequantizeNF4Op(packed, absmax, [out, inp], 64, { transpose: true }) as tf.Tensor2D), R)),
    )(x);
    expectClose(await grad2.data(), expected, 1e-5);
    tf.dispose([x, R, grad, grad2, packed, absmax]);
    layer.dispose();
  });

  it('leaks no tensors: apply, grad, weight() and dispose keep tf.memory().numTensors flat', () => {
    const before = tf.memory().numTensors;
    const layer = NF4Linear.fromWeights(randomValues(32 * 64, 31), 32, 64, randomValues(32, 32), { doubleQuant: true });
    const resident = tf.memory().numTensors;
    // codes + codes8 + scales + bias variable
    expect(resident - before).toBe(4);
    const x = tf.tensor2d(randomValues(3 * 64, 33), [3, 64]);
    for (let step = 0; step < 3; step++) {
      tf.dispose(layer.apply(x, true));
      tf.dispose(tf.grad((xx: tf.Tensor) => tf.sum(layer.apply(xx as tf.Tensor2D, true)))(x));
      tf.dispose(layer.weight());
      expect(tf.memory().numTensors).toBe(resident + 1); // + x
    }
    x.dispose();
    layer.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('fromDense quantizes a DenseLinear without disposing it', async () => {
    const w = randomValues(16 * 32, 41);
    const dense = new DenseLinear(tf.tensor2d(w, [16, 32]), tf.tensor1d(randomValues(16, 42)));
    const layer = NF4Linear.fromDense(dense, { blockSize: 32 });
    const fromWeights = NF4Linear.fromWeights(w, 16, 32, await dense.bias!.data() as Float32Array, { blockSize: 32 });
    const [a, b] = [layer.weight(), fromWeights.weight()];
    expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
    expect(dense.weightVar.isDisposed).toBe(false);
    expect(layer.weightBytes()).toBe((16 * 32) / 2 + (16 * 32 / 32) * 4);
    tf.dispose([a, b]);
    layer.dispose();
    fromWeights.dispose();
    dense.dispose();
  });

  it('rejects mismatched sizes with errors naming the layer and the fix', () => {
    expect(() => NF4Linear.fromWeights(new Float32Array(10), 4, 4, null, { name: 'layer.0.q_lin' })).toThrow(/layer.0.q_lin: weight has 10 values, expected 4×4/);
    expect(() => NF4Linear.fromWeights(new Float32Array(16), 4, 4, new Float32Array(3), { name: 'l' })).toThrow(/l: bias has 3 values/);
    expect(() => NF4Linear.fromWeights(new Float32Array(64), 8, 8, null, { blockSize: 48, name: 'l' })).toThrow(/l: NF4 blockSize 48/);
    const layer = NF4Linear.fromWeights(new Float32Array(64).fill(1), 8, 8, null);
    const x = tf.zeros([2, 5]) as tf.Tensor2D;
    expect(() => layer.apply(x, false)).toThrow(/input has shape \[2,5\], expected \[N, 8\]/);
    const p = tf.zeros([3], 'float32');
    const a = tf.zeros([1]);
    expect(() => dequantizeNF4Op(p, a, [24], 64)).toThrow(/packed must be int32/);
    tf.dispose([x, p, a]);
    layer.dispose();
  });
});
