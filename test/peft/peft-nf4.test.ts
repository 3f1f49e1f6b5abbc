// QLoRA: LoRA on an NF4-quantized base must compute what LoRA on an fp32 base holding the
// dequantized weights computes (the adapter does not care how its base stores W), forward and
// backward; merging into 4-bit weights is refused.
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { useBackend, BackendName } from '../../lib/backends/select';
import { DenseLinear } from '../../lib/models/linear';
import { loadPretrained } from '../../lib/models/distilbert/loading';
import { DistilBertForSequenceClassification } from '../../lib/models/distilbert/modeling';
import { getPeftModel, PeftModel } from '../../lib/peft/model';

const CHECKPOINT = path.join(__dirname, '..', 'fixtures', 'lora', 'tiny-distilbert');
const INPUT_IDS = [[1, 7, 23, 5, 39, 2], [1, 12, 3, 2, 0, 0]];
const MASK = [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]];
const LABELS = [2, 0];
const CONFIG = { r: 4, loraAlpha: 8, targetModules: ['q_lin', 'k_lin', 'v_lin', 'out_lin', 'lin1', 'lin2'], seed: 5 };

/** The same model with every NF4 layer replaced by a DenseLinear holding its dequantized weight. */
async function denseTwin(nf4: DistilBertForSequenceClassification): Promise<DistilBertForSequenceClassification> {
  const twin = await loadPretrained(CHECKPOINT, { numLabels: 3, log: () => {}, quantization: 'none' });
  for (const [p, layer] of nf4.linears) {
    const w = layer.weight();
    const b = tf.clone(layer.bias!) as tf.Tensor1D;
    twin.replaceLinear(p, new DenseLinear(w, b)).dispose();
    tf.dispose([w, b]);
  }
  return twin;
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).arraySync() as number);
}

function lossOf(peft: PeftModel): tf.Scalar {
  return tf.tidy(() => {
    const logits = peft.logits(INPUT_IDS, MASK);
    return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(LABELS, 3), tf.logSoftmax(logits)), 1))) as tf.Scalar;
  });
}

for (const backend of ['cpu', 'wasm'] as BackendName[]) {
  describe(`LoRA on an NF4 base, ${backend}`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });

    it('equals LoRA on a DenseLinear holding the dequantized weight (logits and A/B gradients)', async () => {
      const nf4Model = await loadPretrained(CHECKPOINT, { numLabels: 3, log: () => {}, quantization: 'nf4', doubleQuant: true });
      const twinModel = await denseTwin(nf4Model);
      const quantized = [...nf4Model.linears.values()].filter((l) => !(l instanceof DenseLinear));
      expect(quantized.length).toBe(12); // all six kinds in both layers are 4-bit

      const qlora = getPeftModel(nf4Model, CONFIG);
      const lora = getPeftModel(twinModel, CONFIG);
      // Same seed → same A; give both the same non-zero B, as after training.
      for (const [p, layer] of qlora.loraLayers()) {
        const twin = lora.loraLayers().get(p)!;
        expect(layer.loraA.dataSync()).toEqual(twin.loraA.dataSync());
        const b = tf.randomNormal(layer.loraB.shape, 0, 0.3, 'float32', p.length);
        layer.loraB.assign(b);
        twin.loraB.assign(b);
        b.dispose();
      }

      const before = tf.memory().numTensors;
      const a = qlora.logits(INPUT_IDS, MASK);
      const b = lora.logits(INPUT_IDS, MASK);
      expect(maxAbsDiff(a, b)).toBeLessThan(1e-5);
      tf.dispose([a, b]);

      const gq = tf.variableGrads(() => lossOf(qlora));
      const gd = tf.variableGrads(() => lossOf(lora));
      expect(Math.abs(gq.value.arraySync() - gd.value.arraySync())).toBeLessThan(1e-5);
      const qVars = qlora.trainableVariables();
      const dVars = lora.trainableVariables();
      expect(qVars.length).toBe(12 * 2 + 4); // A and B of 12 adapters, pre_classifier and classifier
      qVars.forEach((v, i) => {
        const scale = tf.tidy(() => tf.max(tf.abs(gd.grads[dVars[i].name])).arraySync() as number);
        expect(maxAbsDiff(gq.grads[v.name], gd.grads[dVars[i].name]) / (scale + 1e-12)).toBeLessThan(1e-4);
      });
      tf.dispose([gq.value, gd.value, ...Object.values(gq.grads), ...Object.values(gd.grads)]);
      expect(tf.memory().numTensors).toBe(before);

      // Merging LoRA into 4-bit weights would requantize them: refused, and nothing is changed.
      expect(() => qlora.mergeAndUnload()).toThrow(/mergeAndUnload.*4-bit.*quantization: 'none'/);
      const again = qlora.logits(INPUT_IDS, MASK);
      again.dispose();
      qlora.dispose();
      lora.dispose();
    });
  });
}
