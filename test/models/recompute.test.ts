// Gradient checkpointing must not change a single gradient: the same training forward/backward
// (same dropout seed, NF4 base, LoRA on all six kinds) with and without recomputation.
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../../lib/backends/select';
import { loadPretrained } from '../../lib/models/distilbert/loading';
import { getPeftModel } from '../../lib/peft/model';
import { crossEntropy } from '../../lib/training/metrics';
import { cleanupTempDirs, writeTinyCheckpoint } from '../helpers/checkpoint';

afterAll(cleanupTempDirs);

describe('gradient checkpointing (DistilBERT layers)', () => {
  for (const backend of ['wasm', 'cpu'] as const) {
    it(`${backend}: loss and every LoRA gradient equal the plain backward pass`, async () => {
      await useBackend(backend);
      const base = await loadPretrained(writeTinyCheckpoint(), { numLabels: 2, quantization: 'nf4', log: () => {} });
      const model = getPeftModel(base, { r: 4, loraAlpha: 8, loraDropout: 0.2, targetModules: ['q_lin', 'k_lin', 'v_lin', 'out_lin', 'lin1', 'lin2'], seed: 3 });
      // B is zero at init, so give it values: A's gradient is then non-zero too.
      for (const v of model.trainableVariables()) v.assign(tf.randomNormal(v.shape, 0, 0.1, 'float32', 7));
      const ids = [[1, 7, 8, 9, 2, 0], [1, 10, 11, 2, 0, 0]];
      const mask = [[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 0, 0]];
      const labels = tf.tensor1d([0, 1], 'int32');
      const vars = model.trainableVariables();
      const run = (gradientCheckpointing: boolean) => {
        const { value, grads } = tf.variableGrads(
          () => crossEntropy(model.logits(ids, mask, { training: true, dropoutSeed: 5, gradientCheckpointing }), labels),
          vars,
        );
        const out = { loss: value.dataSync()[0], grads: vars.map((v) => grads[v.name].dataSync() as Float32Array) };
        tf.dispose([value, ...Object.values(grads)]);
        return out;
      };
      const before = tf.memory().numTensors;
      const plain = run(false);
      const recomputed = run(true);
      expect(tf.memory().numTensors).toBe(before);
      expect(recomputed.loss).toBe(plain.loss);
      expect(recomputed.grads.length).toBe(plain.grads.length);
      let nonZero = 0;
      plain.grads.forEach((g, i) => {
        const r = recomputed.grads[i];
        for (let j = 0; j < g.length; j++) expect(Math.abs(r[j] - g[j])).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(g[j])));
        if (g.some((x) => x !== 0)) nonZero++;
      });
      expect(nonZero).toBe(plain.grads.length);
      labels.dispose();
      model.dispose();
    });
  }
});
