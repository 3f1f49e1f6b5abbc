// NF4 speed and size: quantizing every DistilBERT linear layer, dequantizing on each backend, and
// the device memory a loaded DistilBERT-base really holds for its quantized weights.
//   npx ts-node --transpile-only bench/nf4.ts
// WebGPU is tried last (software GL needs EGL_PLATFORM=surfaceless QLORA_DAWN_FLAGS=backend=opengl
// QLORA_WEBGPU_FEATURE_LEVEL=compatibility); a backend that does not load is reported and skipped.
// Ratios compare against a plain Float32Array.set copy of the same size measured in this run.
import * as tf from '@tensorflow/tfjs';
import { BackendName, useBackend } from '../lib/backends/select';
import { nf4BitsPerParameter, quantizeNF4 } from '../lib/quantization/nf4';
import { NF4Tensor } from '../lib/quantization/nf4-op';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadPretrained, QUANTIZED_LINEARS } from '../lib/models/distilbert/loading';
import { writeRandomCheckpoint } from '../scripts/make-random-checkpoint';

const DIM = 768;
const HIDDEN = 3072;
const LAYERS = 6;
// Per transformer layer: q, k, v, out [768, 768] and lin1 [3072, 768], lin2 [768, 3072].
const SHAPES: [number, number][] = [...Array(4).fill([DIM, DIM]), [HIDDEN, DIM], [DIM, HIDDEN]];

function randomWeights(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 4294967296 - 0.5) * 0.08;
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function copyGBps(bytes: number, reps: number): number {
  const src = new Float32Array(bytes / 4).fill(1);
  const dst = new Float32Array(bytes / 4);
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    dst.set(src);
    times.push(performance.now() - t);
  }
  return bytes / 1e9 / (median(times) / 1e3);
}

async function main(): Promise<void> {
  // 1. Host quantization of all 36 linear layers.
  const layers: Float32Array[] = [];
  for (let l = 0; l < LAYERS; l++) for (const [o, i] of SHAPES) layers.push(randomWeights(o * i, layers.length + 1));
  const total = layers.reduce((n, w) => n + w.length, 0);
  console.log(`DistilBERT linear layers: ${layers.length} matrices, ${(total / 1e6).toFixed(1)} M weights`);
  for (const doubleQuant of [false, true]) {
    const t = performance.now();
    let bytes = 0;
    let bits = 0;
    layers.forEach((w, k) => {
      const q = quantizeNF4(w, { doubleQuant, shape: SHAPES[k % SHAPES.length] });
      bytes += q.packed.length;
      bits += nf4BitsPerParameter(q) * w.length;
    });
    const seconds = (performance.now() - t) / 1e3;
    console.log(
      `quantize (block 64${doubleQuant ? ', double quant' : ''}): ${seconds.toFixed(2)} s ` +
        `(${(total / 1e6 / seconds).toFixed(0)} M weights/s), ${(bits / total).toFixed(4)} bits/param, ${(bytes / 2 ** 20).toFixed(1)} MiB codes`,
    );
  }

  // 2. Device dequantization throughput (fp32 output) of one lin1 matrix, per backend.
  const [rows, cols] = [HIDDEN, DIM];
  const q = quantizeNF4(layers[4], { shape: [rows, cols] });
  const outBytes = rows * cols * 4;
  const backends: BackendName[] = ['cpu', 'wasm', 'webgpu'];
  for (const name of backends) {
    try {
      await useBackend(name, { allowSoftwareWebGPU: true });
    } catch (e) {
      console.log(`${name}: skipped (${(e as Error).message.split('\n').slice(-1)[0].trim()})`);
      continue;
    }
    const t = NF4Tensor.upload(q);
    const reps = name === 'cpu' ? 5 : 9;
    for (const transpose of [false, true]) {
      const times: number[] = [];
      for (let r = 0; r < reps + 1; r++) {
        const start = performance.now();
        const w = t.dequantize({ transpose });
        await w.data(); // waits for the device; on cpu/wasm the data is already there
        if (r > 0) times.push(performance.now() - start); // first run compiles / warms up
        w.dispose();
      }
      const gbps = outBytes / 1e9 / (median(times) / 1e3);
      const copy = copyGBps(outBytes, reps);
      console.log(
        `${name.padEnd(6)} dequantize [${rows}, ${cols}]${transpose ? 'ᵀ' : ' '}: ${gbps.toFixed(2)} GB/s fp32 out ` +
          `(includes reading back to JS), Float32Array.set copy ${copy.toFixed(2)} GB/s, ratio ${(gbps / copy).toFixed(3)}`,
      );
    }
    t.dispose();
    if (tf.memory().numTensors !== 0) console.log(`  warning: ${tf.memory().numTensors} tensors left on ${name}`);
  }
}

/**
 * Loads a DistilBERT-base-shaped random checkpoint three ways and reports what the device holds
 * (tf.memory) for the six quantized linear kinds: fp32, NF4, NF4 + double quantization. The
 * fp32-vs-NF4 difference of the whole model is also shown, which would expose an fp32 copy left behind.
 */
async function residentMemory(): Promise<void> {
  await useBackend('cpu');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-nf4-'));
  try {
    writeRandomCheckpoint(dir, { vocabSize: 30522, dim: DIM, nLayers: LAYERS, nHeads: 12, hiddenDim: HIDDEN, maxPositions: 512, seed: 1, withHead: true });
    let fp32Total = 0;
    for (const [label, quantization, doubleQuant] of [['fp32', 'none', false], ['NF4', 'nf4', false], ['NF4 + double quant', 'nf4', true]] as const) {
      const before = tf.memory().numBytes;
      const model = await loadPretrained(dir, { quantization, doubleQuant, log: () => {} });
      const total = tf.memory().numBytes - before;
      let weights = 0;
      let bytes = 0;
      for (const [p, layer] of model.linears) {
        if (!QUANTIZED_LINEARS.some((suffix) => p.endsWith(suffix))) continue;
        weights += layer.inFeatures * layer.outFeatures;
        bytes += layer.weightBytes();
      }
      if (quantization === 'none') fp32Total = total;
      console.log(
        `resident ${label.padEnd(18)}: targeted weights ${((bytes * 8) / weights).toFixed(3)} bits/param (${(bytes / 2 ** 20).toFixed(1)} MiB), ` +
          `whole model ${(total / 2 ** 20).toFixed(1)} MiB on the device` + (quantization === 'none' ? '' : `, ${(((fp32Total - total) / fp32Total) * 100).toFixed(1)}% less than fp32`),
      );
      model.dispose();
    }
    if (tf.memory().numTensors !== 0) console.log(`  warning: ${tf.memory().numTensors} tensors left after disposing the models`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(residentMemory).catch((e) => {
  console.error(e);
  process.exit(1);
});
