// The native GEMM under tfjs' wasm matmul kernels must give what tfjs' own wasm kernel gives,
// for every shape tfjs accepts. Reference: the original kernel (QLORA_GEMM=wasm), same inputs.
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../../lib/backends/select';
import { installGemm } from '../../lib/backends/gemm/select';
import { openblasCoreType } from '../../lib/backends/gemm/openblas';
import { randomValues } from '../helpers/random-values';

let seed = 1;
const rand = (shape: number[]): tf.Tensor => tf.tensor(randomValues(shape.reduce((a, b) => a * b, 1), seed++), shape);

/** Runs `f` with the native engine and with tfjs' own kernel; returns both results as arrays. */
function both(f: () => tf.Tensor | tf.Tensor[]): { native: Float32Array[]; plain: Float32Array[]; shapes: number[][] } {
  const run = () => tf.tidy(() => [f()].flat().map((t) => ({ values: t.dataSync() as Float32Array, shape: t.shape })));
  installGemm(ENGINE);
  const native = run();
  installGemm('wasm');
  const plain = run();
  installGemm(ENGINE);
  expect(native.map((r) => r.shape)).toEqual(plain.map((r) => r.shape));
  return { native: native.map((r) => r.values), plain: plain.map((r) => r.values), shapes: native.map((r) => r.shape) };
}

function expectClose(actual: Float32Array, expected: Float32Array, tol = 2e-5): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]) / (1 + Math.abs(expected[i])));
  }
  expect(worst).toBeLessThanOrEqual(tol);
}

const ENGINES = ['openblas', 'onnxruntime'] as const;
let ENGINE: (typeof ENGINES)[number] = 'openblas';

for (const engine of ENGINES) describe(`native GEMM under tfjs matmul (wasm backend): ${engine}`, () => {
  let available = false;
  beforeAll(async () => {
    await useBackend('wasm');
    ENGINE = engine;
    available = installGemm(engine).name === engine;
    // OpenBLAS (Debian) and onnxruntime-node (optional dependency) are both present here; on a
    // machine without one, its block has nothing to compare.
    if (!available) console.warn(`${engine} not available here: ${installGemm(engine).summary}`);
  });
  afterAll(() => {
    installGemm('auto');
  });
  const maybe = (name: string, fn: () => void) => it(name, () => (available ? fn() : undefined));

  it('loads on this machine when OpenBLAS is installed, with the CPU-appropriate kernels', () => {
    if (engine !== 'openblas') return;
    const hasOpenBlas = ['/usr/lib/x86_64-linux-gnu/libopenblas.so.0', '/usr/lib/aarch64-linux-gnu/libopenblas.so.0'].some((f) => require('fs').existsSync(f));
    if (!hasOpenBlas) return;
    const choice = installGemm(ENGINE);
    expect(choice.name).toBe('openblas');
    // OpenBLAS names the core it runs: never the SSE3 fallback on a CPU with AVX2 or AVX-512.
    const core = openblasCoreType();
    if (core) expect(choice.detail).toMatch(core === 'SkylakeX' ? /core (SkylakeX|Cooperlake|SapphireRapids)/ : /core (Haswell|Zen|SkylakeX)/);
    expect(tf.getBackend()).toBe('wasm');
  });

  it('derives OPENBLAS_CORETYPE from cpuinfo flags', () => {
    if (process.arch !== 'x64' || engine !== 'openblas') return;
    expect(openblasCoreType('flags\t\t: fpu sse2 avx2 fma avx512f avx512dq avx512bw avx512vl\n')).toBe('SkylakeX');
    expect(openblasCoreType('flags\t\t: fpu sse2 avx avx2 fma\n')).toBe('Haswell');
    expect(openblasCoreType('flags\t\t: fpu sse2 sse3\n')).toBeNull();
  });

  maybe('2-D with both transpose flags, odd shapes', () => {
    for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]]) {
      const a = rand(ta ? [13, 7] : [7, 13]);
      const b = rand(tb ? [5, 13] : [13, 5]);
      const r = both(() => tf.matMul(a, b, ta, tb));
      expect(r.shapes[0]).toEqual([7, 5]);
      expectClose(r.native[0], r.plain[0]);
      tf.dispose([a, b]);
    }
  });

  maybe('a large product (GEMM blocking paths), with and without transposes', () => {
    const a = rand([257, 300]);
    const b = rand([300, 129]);
    const bt = tf.transpose(b);
    const r = both(() => [tf.matMul(a, b), tf.matMul(a, bt, false, true), tf.matMul(tf.transpose(a), b, true, false)]);
    for (let i = 0; i < 3; i++) expectClose(r.native[i], r.plain[i], 1e-4);
    tf.dispose([a, b, bt]);
  });

  maybe("attention's batched shapes: [B, H, T, D] × [B, H, D, T] and transposed", () => {
    const q = rand([2, 3, 9, 4]);
    const k = rand([2, 3, 9, 4]);
    const r = both(() => [tf.matMul(q, k, false, true), tf.matMul(q, k, true, false), tf.matMul(tf.softmax(tf.matMul(q, k, false, true)), k)]);
    expect(r.shapes).toEqual([[2, 3, 9, 9], [2, 3, 4, 4], [2, 3, 9, 4]]);
    for (let i = 0; i < 3; i++) expectClose(r.native[i], r.plain[i]);
    tf.dispose([q, k]);
  });

  maybe('batch broadcasting: one side repeated', () => {
    const cases: [number[], number[]][] = [
      [[4, 5, 6], [6, 3]],
      [[5, 6], [4, 6, 3]],
      [[1, 5, 6], [4, 6, 3]],
    ];
    for (const [sa, sb] of cases) {
      const a = rand(sa);
      const b = rand(sb);
      const r = both(() => tf.matMul(a, b));
      expect(r.shapes[0]).toEqual([4, 5, 3]);
      expectClose(r.native[0], r.plain[0]);
      tf.dispose([a, b]);
    }
  });

  maybe('mixed batch broadcasting, [2, 1] × [3] and [2, 1] × [1, 3], equals matrix-by-matrix products', () => {
    // tfjs' own wasm kernel gets these wrong (it computes max(batchA, batchB) matrices only), so
    // the reference is each output matrix as a 2-D product of the plain kernel.
    const a = rand([2, 1, 5, 6]);
    const b = rand([3, 6, 4]);
    const b4 = tf.reshape(b, [1, 3, 6, 4]);
    const perMatrix = () =>
      tf.stack([0, 1].map((i) => tf.stack([0, 1, 2].map((j) => tf.matMul(tf.reshape(tf.slice(a, [i, 0, 0, 0], [1, 1, 5, 6]), [5, 6]), tf.reshape(tf.slice(b, [j, 0, 0], [1, 6, 4]), [6, 4]))))));
    installGemm('wasm');
    const expected = tf.tidy(() => perMatrix().dataSync() as Float32Array);
    installGemm(ENGINE);
    for (const y of [b, b4]) {
      const out = tf.matMul(a, y);
      expect(out.shape).toEqual([2, 3, 5, 4]);
      expectClose(out.dataSync() as Float32Array, expected);
      out.dispose();
    }
    tf.dispose([a, b, b4]);
  });

  maybe('zero-size dimensions: empty outputs, and K = 0 gives zeros', () => {
    const [e05, r53, e40, e03, e2034, r42] = [tf.zeros([0, 5]), rand([5, 3]), rand([4, 0]), rand([0, 3]), rand([2, 0, 3, 4]), rand([4, 2])];
    // tfjs' own wasm kernel traps on these ("remainder by zero"); the engine must not.
    installGemm(ENGINE);
    const out = [tf.matMul(e05, r53), tf.matMul(e40, e03), tf.matMul(e2034, r42), tf.fused.matMul({ a: e40, b: e03, bias: tf.ones([3]), activation: 'elu' })];
    expect(out.map((t) => t.shape)).toEqual([[0, 3], [4, 3], [2, 0, 3, 2], [4, 3]]);
    expect(Array.from(out[1].dataSync())).toEqual(new Array(12).fill(0));
    expect(Array.from(out[3].dataSync())).toEqual(new Array(12).fill(1));
    tf.dispose([e05, r53, e40, e03, e2034, r42, ...out]);
  });

  maybe('fused bias and every fusable activation, as tfjs defines them', () => {
    const a = rand([6, 10]);
    const b = rand([10, 7]);
    const bias = rand([7]);
    // Reference: the unfused ops on tfjs' own kernels (its fused wasm kernel mishandles 2-D
    // inputs with transpose flags: it reads a.shape[2]).
    const act = (x: tf.Tensor, activation: string): tf.Tensor =>
      ({ linear: x, relu: tf.relu(x), relu6: tf.relu6(x), leakyrelu: tf.leakyRelu(x, 0.3), sigmoid: tf.sigmoid(x), elu: tf.elu(x) })[activation]!;
    for (const activation of ['linear', 'relu', 'relu6', 'leakyrelu', 'sigmoid', 'elu'] as const) {
      for (const [ta, tb] of [[false, false], [true, true], [false, true]]) {
        // ×8 so relu6's upper clamp is reached too.
        const x = tf.mul(ta ? tf.transpose(a) : a, 8);
        const y = tb ? tf.transpose(b) : b;
        installGemm('wasm');
        const expected = tf.tidy(() => act(tf.add(tf.matMul(x, y, ta, tb), bias), activation));
        installGemm(ENGINE);
        const fused = tf.fused.matMul({ a: x, b: y, transposeA: ta, transposeB: tb, bias, activation, leakyreluAlpha: 0.3 });
        expect(fused.shape).toEqual([6, 7]);
        expectClose(fused.dataSync() as Float32Array, expected.dataSync() as Float32Array);
        tf.dispose([x, expected, fused, ...(tb ? [y] : [])]);
      }
    }
    // prelu goes to the original kernel; checked against the unfused ops.
    const alphas = rand([7]);
    installGemm(ENGINE);
    const fused = tf.fused.matMul({ a, b, bias, activation: 'prelu', preluActivationWeights: alphas });
    const unfused = tf.prelu(tf.add(tf.matMul(a, b), bias), alphas);
    expectClose(fused.dataSync() as Float32Array, unfused.dataSync() as Float32Array);
    tf.dispose([a, b, bias, alphas, fused, unfused]);
  });

  maybe('gradients (which call the same kernels with other transpose flags) agree', () => {
    const a = rand([3, 8, 5]);
    const b = rand([3, 5, 6]);
    const w = rand([3, 8, 6]);
    const r = both(() => tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y), w)))([a, b]));
    expectClose(r.native[0], r.plain[0]);
    expectClose(r.native[1], r.plain[1]);
    tf.dispose([a, b, w]);
  });

  maybe('matches an fp64 reference computed by hand', () => {
    const A = [[1, 2, 3], [4, 5, 6]];
    const B = [[1, 0.5], [-1, 2], [0.25, -3]];
    installGemm(ENGINE);
    const out = tf.tidy(() => tf.matMul(tf.tensor2d(A), tf.tensor2d(B)).arraySync());
    expect(out).toEqual([[1 - 2 + 0.75, 0.5 + 4 - 9], [4 - 5 + 1.5, 2 + 10 - 18]]);
  });

  maybe('does not leak tensors', () => {
    const before = tf.memory().numTensors;
    tf.dispose(tf.tidy(() => tf.matMul(rand([3, 4]), rand([4, 5]))));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects an unknown engine name', () => {
    expect(() => installGemm('mkl')).toThrow(/Unknown GEMM engine 'mkl'/);
  });
});
