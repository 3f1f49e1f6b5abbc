// The whole model (NF4 base + LoRA, forward and gradients) on WebGPU equals the cpu backend.
// Here WebGPU runs on Mesa's software OpenGL adapter (setup: test/helpers/webgpu.ts);
// on a machine with a GPU the same kernels run on the hardware adapter.
import * as tf from '@tensorflow/tfjs';
import * as path from 'path';
import { useBackend } from '../../../lib/backends/select';
import { loadPretrained } from '../../../lib/models/distilbert/loading';
import { getPeftModel } from '../../../lib/peft/model';
import { useWebGPUForTests } from '../../helpers/webgpu';

const CKPT = path.join(__dirname, '..', '..', 'fixtures', 'distilbert', 'tiny');
const IDS = [[1, 5, 9, 3, 0, 0], [2, 4, 6, 8, 10, 12]];
const MASK = [[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]];

interface Run {
  logits: number[][];
  gradNorms: number[];
  numTensorsLeaked: number;
}

async function runOn(backend: 'cpu' | 'webgpu'): Promise<Run> {
  if (backend === 'webgpu') await useWebGPUForTests('the model on WebGPU');
  else await useBackend(backend);
  const model = await loadPretrained(CKPT, { quantization: 'nf4', doubleQuant: true, log: () => {} });
  const peft = getPeftModel(model, { r: 4, loraAlpha: 8, targetModules: ['q_lin', 'v_lin', 'lin1', 'lin2'], seed: 5 });
  // Non-zero B so the adapters take part in the forward pass.
  for (const lora of peft.loraLayers().values()) {
    const b = tf.tidy(() => tf.mul(tf.ones(lora.loraB.shape), 0.01));
    lora.loraB.assign(b);
    b.dispose();
  }
  const before = tf.memory().numTensors;
  const logits = tf.tidy(() => peft.logits(IDS, MASK));
  const { value, grads } = tf.variableGrads(
    () => tf.sum(tf.square(peft.logits(IDS, MASK))) as tf.Scalar,
    peft.trainableVariables(),
  );
  const normTensors = peft.trainableVariables().map((v) => tf.norm(grads[v.name]));
  const norms = await Promise.all(normTensors.map((n) => n.data()));
  tf.dispose(normTensors);
  const out = { logits: (await logits.array()) as number[][], gradNorms: norms.map((n) => n[0]) };
  logits.dispose();
  value.dispose();
  tf.dispose(Object.values(grads));
  const leaked = tf.memory().numTensors - before;
  peft.dispose();
  return { ...out, numTensorsLeaked: leaked };
}

describe('DistilBERT + NF4 + LoRA on WebGPU', () => {
  it('gives the logits and gradients of the cpu backend, without leaking tensors', async () => {
    const cpu = await runOn('cpu');
    const gpu = await runOn('webgpu');
    for (let r = 0; r < cpu.logits.length; r++) {
      for (let c = 0; c < cpu.logits[r].length; c++) expect(gpu.logits[r][c]).toBeCloseTo(cpu.logits[r][c], 4);
    }
    expect(gpu.gradNorms.length).toBe(cpu.gradNorms.length);
    expect(cpu.gradNorms.every((n) => n > 0)).toBe(true);
    for (let i = 0; i < cpu.gradNorms.length; i++) {
      expect(Math.abs(gpu.gradNorms[i] - cpu.gradNorms[i])).toBeLessThanOrEqual(1e-4 * Math.max(1, cpu.gradNorms[i]));
    }
    expect(cpu.numTensorsLeaked).toBe(0);
    expect(gpu.numTensorsLeaked).toBe(0);
  });
});
