// What the training tape keeps alive at the end of a forward pass, by kernel: DistilBERT-base
// shapes, NF4 + LoRA. BENCH_BATCH (8), BENCH_SEQ (128).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../lib/backends/select';
import { loadPretrained } from '../lib/models/distilbert/loading';
import { getPeftModel } from '../lib/peft/model';
import { crossEntropy } from '../lib/training/metrics';
import { writeRandomCheckpoint } from '../scripts/make-random-checkpoint';

const B = Number(process.env.BENCH_BATCH ?? 8);
const T = Number(process.env.BENCH_SEQ ?? 128);

async function main(): Promise<void> {
  await selectBackend({ verbose: false });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-mem-'));
  writeRandomCheckpoint(dir, { vocabSize: 30522, dim: 768, nLayers: 6, nHeads: 12, hiddenDim: 3072, maxPositions: 512, seed: 1 });
  const base = await loadPretrained(dir, { numLabels: 2, quantization: 'nf4', doubleQuant: true, log: () => {} });
  fs.rmSync(dir, { recursive: true, force: true });
  const model = getPeftModel(base, { r: 8, loraAlpha: 32, loraDropout: 0.1, targetModules: ['q_lin', 'k_lin', 'v_lin', 'out_lin', 'lin1', 'lin2'], seed: 1 });
  const ids = tf.tensor2d(Array.from({ length: B * T }, (_, i) => 1000 + ((i * 7919) % 29000)), [B, T], 'int32');
  const mask = tf.ones([B, T], 'int32') as tf.Tensor2D;
  const labels = tf.tensor1d(Array.from({ length: B }, (_, i) => i % 2), 'int32');
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
  console.log(`before: ${mib(tf.memory().numBytes)}`);
  const { value, grads } = tf.variableGrads(() => {
    const loss = crossEntropy(model.logits(ids, mask, { training: true, dropoutSeed: 1 }), labels);
    const tape = (tf.engine() as any).state.activeTape as { kernelName: string; saved?: tf.Tensor[]; outputs: tf.Tensor[] }[];
    const byKernel = new Map<string, number>();
    const seen = new Set<number>();
    for (const node of tape) {
      for (const t of node.saved ?? []) {
        const id = (t.dataId as any).id ?? t.id;
        if (t.isDisposed || seen.has(t.id)) continue;
        seen.add(t.id);
        byKernel.set(node.kernelName, (byKernel.get(node.kernelName) ?? 0) + t.size * 4);
      }
    }
    console.log(`end of forward: ${mib(tf.memory().numBytes)} in ${tf.memory().numTensors} tensors; saved for backward by kernel:`);
    for (const [k, n] of [...byKernel.entries()].sort((a, b) => b[1] - a[1])) console.log(`  ${k.padEnd(24)} ${mib(n)}`);
    return loss;
  }, model.trainableVariables());
  console.log(`after backward: ${mib(tf.memory().numBytes)}; process max RSS ${mib(process.resourceUsage().maxRSS * 1024)}`);
  tf.dispose([value, ...Object.values(grads)]);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
