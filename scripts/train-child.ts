// A training run in its own process, for the resume-after-kill test (test/training/resume.test.ts).
//
//   npx ts-node --transpile-only scripts/train-child.ts <outputDir> [--resume] [--step-delay-ms N]
//
// Trains the tiny test classifier (with dropout) on a synthetic task, checkpointing every 2
// steps, and writes the final weights to <outputDir>/final.json. With --resume it continues from
// the last checkpoint in <outputDir> (HF's resume_from_checkpoint=True). --step-delay-ms slows each step so the test can kill it mid-run.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { Trainer } from '../lib/training/trainer';
import { TinyClassifier, countingTask } from '../test/helpers/tiny-classifier';

export const CHILD_SIZES = { vocab: 10, dim: 8, hidden: 8, labels: 2 };
export const CHILD_ARGS = {
  perDeviceTrainBatchSize: 4,
  gradientAccumulationSteps: 2,
  numTrainEpochs: 4,
  learningRate: 1e-2,
  warmupRatio: 0.1,
  weightDecay: 0.01,
  saveStrategy: 'steps',
  saveSteps: 2,
  evalStrategy: 'steps',
  evalSteps: 5,
} as const;

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const outputDir = argv[0];
  if (!outputDir) throw new Error('usage: train-child.ts <outputDir> [--resume] [--step-delay-ms N]');
  const resume = argv.includes('--resume');
  const delayAt = argv.indexOf('--step-delay-ms');
  const delayMs = delayAt >= 0 ? Number(argv[delayAt + 1]) : 0;

  await tf.setBackend('cpu');
  const model = TinyClassifier.random(CHILD_SIZES, 21, { dropout: 0.2 });
  const trainer = new Trainer({
    model,
    trainData: countingTask(40, 6, CHILD_SIZES.vocab, 22),
    evalData: countingTask(12, 6, CHILD_SIZES.vocab, 23),
    args: { ...CHILD_ARGS, outputDir },
    callbacks: {
      onStep: (e) => {
        process.stdout.write(`step ${e.step}\n`);
        return delayMs > 0 ? new Promise((r) => setTimeout(r, delayMs)) : undefined;
      },
    },
    progress: false,
  });
  const out = await trainer.train(resume ? { resumeFromCheckpoint: true } : {});
  const values = await model.values();
  const final = {
    globalStep: out.globalStep,
    losses: out.history.steps.map((s) => s.loss),
    weights: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Array.from(v)])),
  };
  fs.writeFileSync(path.join(outputDir, 'final.json'), JSON.stringify(final));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
