// One QLoRA training step at DistilBERT-base shapes, ours vs PyTorch, in the same command.
//
//   npx ts-node --transpile-only bench/train-step.ts            (backend: selectBackend(), i.e. $QLORA_BACKEND or auto)
//   BENCH_STEPS=3 BENCH_QUANT=nf4|none BENCH_SKIP_TORCH=1 ...
//
// Model: vocab 30522, dim 768, 6 layers, 12 heads, hidden 3072, random weights written by
// writeRandomCheckpoint; NF4 base (double quant); LoRA r=8 on q/k/v/out/lin1/lin2; batch 8 × 128.
// Prints ms/step and tokens/s, split into forward, backward, optimizer (clip + AdamW) and the
// cost of dequantizing every NF4 weight once, then PyTorch's step (bench/train_step_torch.py,
// fp32 base, OpenBLAS, 2 threads) and the ratio ours / PyTorch.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../lib/backends/select';
import { registerWasmTrainingKernels } from '../lib/backends/wasm-kernels';
import { loadPretrained } from '../lib/models/distilbert/loading';
import { getPeftModel } from '../lib/peft/model';
import { crossEntropy } from '../lib/training/metrics';
import { AdamW, clipByGlobalNorm } from '../lib/training/optimizer';
import { writeRandomCheckpoint } from '../scripts/make-random-checkpoint';

const B = 8;
const T = 128;
const STEPS = Number(process.env.BENCH_STEPS ?? 3);
const QUANT = (process.env.BENCH_QUANT ?? 'nf4') as 'nf4' | 'none';

async function sync(ts: tf.Tensor[]): Promise<void> {
  // Reading one value of each tensor waits for GPU backends; on cpu/wasm work is already done.
  for (const t of ts) await t.data();
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  registerWasmTrainingKernels();
  const backend = await selectBackend({ verbose: false });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-train-'));
  writeRandomCheckpoint(dir, { vocabSize: 30522, dim: 768, nLayers: 6, nHeads: 12, hiddenDim: 3072, maxPositions: 512, seed: 1 });
  const base = await loadPretrained(dir, { numLabels: 2, quantization: QUANT, doubleQuant: true, log: () => {} });
  const model = getPeftModel(base, {
    r: 8, loraAlpha: 32, loraDropout: 0.1, targetModules: ['q_lin', 'k_lin', 'v_lin', 'out_lin', 'lin1', 'lin2'], seed: 1,
  });
  const vars = model.trainableVariables();
  const optimizer = new AdamW(vars, { weightDecay: 0.01 });
  const ids = tf.tensor2d(Array.from({ length: B * T }, (_, i) => 1000 + ((i * 7919) % 29000)), [B, T], 'int32');
  const mask = tf.ones([B, T], 'int32') as tf.Tensor2D;
  const labels = tf.tensor1d(Array.from({ length: B }, (_, i) => i % 2), 'int32');

  const fwd: number[] = [];
  const fwdBwd: number[] = [];
  const opt: number[] = [];
  const dequant: number[] = [];
  for (let step = 0; step <= STEPS; step++) {
    let t0 = performance.now();
    const loss = tf.tidy(() => crossEntropy(model.logits(ids, mask, { training: true, dropoutSeed: step }), labels));
    await sync([loss]);
    loss.dispose();
    const tFwd = performance.now() - t0;

    t0 = performance.now();
    const { value, grads } = tf.variableGrads(
      () => crossEntropy(model.logits(ids, mask, { training: true, dropoutSeed: step }), labels),
      vars,
    );
    const gradList = vars.map((v) => grads[v.name]);
    await sync([value, ...gradList]);
    const tFwdBwd = performance.now() - t0;

    t0 = performance.now();
    const clipped = await clipByGlobalNorm(gradList, 1.0);
    optimizer.step(clipped.grads, 1e-4);
    await sync([vars[vars.length - 1]]);
    const tOpt = performance.now() - t0;
    tf.dispose([value, ...gradList, ...clipped.grads]);

    t0 = performance.now();
    const weights = [...model.loraLayers().values()].map((l) => l.base.weight());
    await sync(weights);
    tf.dispose(weights);
    const tDequant = performance.now() - t0;
    if (step > 0) {
      // step 0 is warm-up (kernel compilation, first allocations)
      fwd.push(tFwd);
      fwdBwd.push(tFwdBwd);
      opt.push(tOpt);
      dequant.push(tDequant);
    }
    console.error(`step ${step}${step === 0 ? ' (warm-up)' : ''}: forward ${tFwd.toFixed(0)} ms, forward+backward ${tFwdBwd.toFixed(0)} ms, optimizer ${tOpt.toFixed(0)} ms, dequant ${tDequant.toFixed(0)} ms`);
  }
  const stepMs = median(fwdBwd) + median(opt);
  console.log(`backend ${backend.name} (${backend.device}), base ${QUANT}, batch ${B} × ${T}, ${STEPS} timed steps (median):`);
  console.log(`  training step   ${stepMs.toFixed(0)} ms/step, ${((B * T) / (stepMs / 1000)).toFixed(0)} tokens/s`);
  console.log(`    forward       ${median(fwd).toFixed(0)} ms`);
  console.log(`    backward      ${(median(fwdBwd) - median(fwd)).toFixed(0)} ms (forward+backward ${median(fwdBwd).toFixed(0)} ms)`);
  console.log(`    optimizer     ${median(opt).toFixed(0)} ms (clip + AdamW on ${vars.reduce((n, v) => n + v.size, 0)} parameters)`);
  console.log(`    dequantize    ${median(dequant).toFixed(0)} ms to dequantize all ${model.loraLayers().size} base weights once (inside forward)`);

  if (!process.env.BENCH_SKIP_TORCH) {
    const py = spawnSync('/usr/bin/python3', [path.join(__dirname, 'train_step_torch.py'), 'train', '--batch', String(B), '--seq', String(T), '--steps', String(STEPS)], { encoding: 'utf8' });
    if (py.status !== 0) {
      console.log(`  PyTorch baseline failed: ${py.stderr.trim().split('\n').pop()}`);
    } else {
      const torch = JSON.parse(py.stdout.trim().split('\n').pop()!);
      console.log(`  PyTorch ${torch.torch} (${torch.blas}, ${torch.threads} threads, fp32 base): ${torch.ms_per_step.toFixed(0)} ms/step, ${torch.tokens_per_s.toFixed(0)} tokens/s`);
      console.log(`  ours / PyTorch: ${(stepMs / torch.ms_per_step).toFixed(2)}× the time per step`);
    }
  }
  optimizer.dispose();
  model.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
