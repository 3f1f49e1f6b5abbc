// The WGSL NF4 kernels on tfjs' webgpu backend, against the host dequantizeNF4 (bit for bit).
//
// Setup, and what it needs without a GPU: test/helpers/webgpu.ts. It FAILS, saying so, when no
// adapter loads: it never passes without running the kernels.
import * as tf from '@tensorflow/tfjs';
import { NF4Linear } from '../../lib/quantization/nf4-linear';
import { dequantizeAbsmax, dequantizeNF4, quantizeNF4 } from '../../lib/quantization/nf4';
import { NF4Tensor, dequantizeAbsmaxOp, dequantizeNF4Op, packBytesToInt32 } from '../../lib/quantization/nf4-op';
import { useWebGPUForTests } from '../helpers/webgpu';
import { randomValues } from '../helpers/random-values';


describe('NF4 on the webgpu backend', () => {
  beforeAll(async () => {
    await useWebGPUForTests('the WGSL NF4 kernels');
  }, 60000);

  it('dequantizeNF4Op (plain and transposed) and dequantizeAbsmaxOp equal the host values bit for bit', async () => {
    expect(tf.getBackend()).toBe('webgpu');
    for (const [shape, blockSize, doubleQuant] of [
      [[3001], 64, false],
      [[37, 29], 32, false],
      [[96, 200], 64, true],
      [[300, 768], 64, true],
    ] as [number[], number, boolean][]) {
      const n = shape.reduce((a, b) => a * b, 1);
      const q = quantizeNF4(randomValues(n, n), { blockSize, doubleQuant, shape });
      const host = dequantizeNF4(q);
      const packed = tf.tensor1d(packBytesToInt32(q.packed), 'int32');
      const absmax = tf.tensor1d(dequantizeAbsmax(q));
      const out = dequantizeNF4Op(packed, absmax, shape, blockSize);
      expect(Array.from(await out.data())).toEqual(Array.from(host));
      if (shape.length === 2) {
        const [rows, cols] = shape;
        const hostT = new Float32Array(n);
        for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) hostT[c * rows + r] = host[r * cols + c];
        const outT = dequantizeNF4Op(packed, absmax, shape, blockSize, { transpose: true });
        expect(Array.from(await outT.data())).toEqual(Array.from(hostT));
        outT.dispose();
      }
      if (q.doubleQuant) {
        const dq = q.doubleQuant;
        const words = tf.tensor1d(packBytesToInt32(dq.codes), 'int32');
        const scales = tf.tensor1d(dq.scales);
        const rebuilt = dequantizeAbsmaxOp(words, scales, dq.offset, dq.codes.length, dq.blockSize);
        expect(Array.from(await rebuilt.data())).toEqual(Array.from(dequantizeAbsmax(q)));
        const t = NF4Tensor.upload(q);
        const viaTensor = t.dequantize();
        expect(Array.from(await viaTensor.data())).toEqual(Array.from(host));
        tf.dispose([words, scales, rebuilt, viaTensor]);
        t.dispose();
      }
      tf.dispose([packed, absmax, out]);
    }
  });

  it('NF4Linear computes x·Wᵀ + b and passes the gradient to x', async () => {
    const [out, inp, n] = [48, 64, 4];
    const w = randomValues(out * inp, 5);
    const b = randomValues(out, 6);
    const xv = randomValues(n * inp, 7);
    const layer = NF4Linear.fromWeights(w, out, inp, b, { doubleQuant: true });
    const wq = dequantizeNF4(quantizeNF4(w, { doubleQuant: true, shape: [out, inp] }));
    const x = tf.tensor2d(xv, [n, inp]);
    const y = await layer.apply(x, false).data();
    const grad = await tf.grad((xx: tf.Tensor) => tf.sum(layer.apply(xx as tf.Tensor2D, true)))(x).data();
    for (let i = 0; i < n; i++) {
      for (let o = 0; o < out; o++) {
        let sum = b[o];
        for (let k = 0; k < inp; k++) sum += xv[i * inp + k] * wq[o * inp + k];
        expect(Math.abs(y[i * out + o] - sum)).toBeLessThan(1e-4 * (1 + Math.abs(sum)));
      }
      // d/dx Σ y = Σ_o W[o, k]
      for (let k = 0; k < inp; k++) {
        let colSum = 0;
        for (let o = 0; o < out; o++) colSum += wq[o * inp + k];
        expect(Math.abs(grad[i * inp + k] - colSum)).toBeLessThan(1e-4 * (1 + Math.abs(colSum)));
      }
    }
    x.dispose();
    layer.dispose();
  });
});
