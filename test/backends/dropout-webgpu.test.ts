// The WGSL dropout kernel (lib/dropout.ts) on tfjs' webgpu backend: the same masks as the
// Python reference and as the cpu kernel, bit for bit, and the same gradient.
//
// Runs on any WebGPU adapter Dawn finds; with no GPU on Mesa's software OpenGL (llvmpipe), set up
// as in test/helpers/webgpu.ts. EGL_PLATFORM=surfaceless must be in the environment jest starts with:
//   EGL_PLATFORM=surfaceless npx jest test/dropout-webgpu.test.ts
// It FAILS, saying so, when no adapter loads: it never passes without running the kernel.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../../lib/backends/select';
import { dropout, dropoutMask } from '../../lib/backends/dropout';
import { useWebGPUForTests } from '../helpers/webgpu';


const FIXTURE = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'dropout', 'hash.json'), 'utf8')).dropout as {
  rate: number; seed: number; shape: number[]; x: number[]; out: number[];
};

function testValues(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return new Float32Array(n).map(() => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 4294967296) * 4 - 2 || 0.5;
  });
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

// Attention-probability shape [B, H, T, T] (small B) and an FFN-like [rows, 3072] one.
const CASES: { shape: number[]; rate: number; seed: number }[] = [
  { shape: [2, 12, 128, 128], rate: 0.1, seed: 0x9e3779b9 },
  { shape: [200, 3072], rate: 0.2, seed: 42 },
  { shape: [3, 5, 7], rate: 0.5, seed: 1 },
];

describe('seeded dropout on the webgpu backend', () => {
  const onCpu: Float32Array[] = [];

  beforeAll(async () => {
    // The cpu kernel's outputs first, then the same calls on webgpu.
    await useBackend('cpu');
    for (const c of CASES) {
      const x = tf.tensor(testValues(c.shape.reduce((p, q) => p * q, 1), c.seed), c.shape);
      const out = dropout(x, c.rate, c.seed);
      onCpu.push(out.dataSync() as Float32Array);
      tf.dispose([x, out]);
    }
    await useWebGPUForTests('the WGSL dropout kernel');
  }, 60000);

  it('equals the Python reference dropout bit for bit', async () => {
    expect(tf.getBackend()).toBe('webgpu');
    const x = tf.tensor(FIXTURE.x, FIXTURE.shape);
    const out = dropout(x, FIXTURE.rate, FIXTURE.seed);
    expect(Array.from(await out.data())).toEqual(FIXTURE.out);
    tf.dispose([x, out]);
  });

  it('gives the same outputs as the cpu kernel, bit for bit', async () => {
    expect(tf.getBackend()).toBe('webgpu');
    for (let k = 0; k < CASES.length; k++) {
      const c = CASES[k];
      const x = tf.tensor(testValues(c.shape.reduce((p, q) => p * q, 1), c.seed), c.shape);
      const out = dropout(x, c.rate, c.seed);
      const values = (await out.data()) as Float32Array;
      expect(sameBits(values, onCpu[k])).toBe(true);
      tf.dispose([x, out]);
    }
  });

  it('has gradient w·mask·scale, and leaks no tensors', async () => {
    const shape = [33, 70];
    const n = shape[0] * shape[1];
    const wv = testValues(n, 2);
    const x = tf.tensor2d(testValues(n, 1), [33, 70]);
    const w = tf.tensor2d(wv, [33, 70]);
    const before = tf.memory().numTensors;
    const mask = dropoutMask(shape, 0.3, 2024);
    const grad = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(dropout(xx, 0.3, 2024), w)))(x);
    const [m, g] = [await mask.data(), await grad.data()];
    let wrong = 0;
    for (let i = 0; i < n; i++) if (g[i] !== (m[i] === 0 ? 0 : Math.fround(wv[i] * Math.fround(1 / 0.7)))) wrong++;
    expect(wrong).toBe(0);
    tf.dispose([mask, grad]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, w]);
  });
});
