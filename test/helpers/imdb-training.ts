// The run shared by test/train-imdb*.test.ts: tiny random DistilBERT (dim 64, 2 layers, 4 heads,
// hidden 128, real vocabulary) + real tokenizer + 2,000 balanced IMDB training reviews, evaluated
// on 1,000 balanced held-out reviews. Backend: wasm (with our UnsortedSegmentSum kernel, which the
// trainable word embeddings need), overridable with $QLORA_BACKEND; base weights fp32 unless
// $QLORA_QUANT=nf4 (NF4 dequantization makes each step ~1.7× slower on wasm).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { asset } from './assets';
import { useBackend, BackendName } from '../../lib/backends/select';
import { registerWasmTrainingKernels } from '../../lib/backends/wasm-kernels';
import { loadPretrained } from '../../lib/models/distilbert/loading';
import { getPeftModel } from '../../lib/peft/model';
import { loadTokenizer } from '../../lib/tokenization/tokenizer';
import { loadSentimentData, balancedSubset, trainTestSplit } from '../../lib/data/load';
import { permutation } from '../../lib/util/random';
import { Trainer } from '../../lib/training/trainer';
import { encodeDataset } from '../../lib/training/collate';
import { writeRandomCheckpoint } from '../../scripts/make-random-checkpoint';

export interface ImdbRunResult {
  accuracy: number;
  lastEpochLoss: number;
  seconds: number;
  summary: string;
}

export async function runImdbTraining(opts: { shuffleLabels: boolean }): Promise<ImdbRunResult> {
  const started = Date.now();
  registerWasmTrainingKernels();
  const backend = await useBackend((process.env.QLORA_BACKEND as BackendName) || 'wasm');
  const quantization = process.env.QLORA_QUANT === 'nf4' ? 'nf4' : 'none';

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-imdb-'));
  writeRandomCheckpoint(path.join(dir, 'model'), {
    vocabSize: 30522, dim: 64, nLayers: 2, nHeads: 4, hiddenDim: 128, maxPositions: 512, seed: 1,
  });
  const base = await loadPretrained(path.join(dir, 'model'), { numLabels: 2, quantization, seed: 2, log: () => {} });
  const model = getPeftModel(base, {
    r: 8,
    loraAlpha: 16,
    loraDropout: 0.1,
    targetModules: ['q_lin', 'k_lin', 'v_lin', 'out_lin', 'lin1', 'lin2'],
    modulesToSave: ['word_embeddings'],
    seed: 3,
  });

  const tokenizer = await loadTokenizer(asset('distilbert-base-uncased'));
  const all = await loadSentimentData(asset('imdb', 'train.csv'), { onWarning: () => {} });
  const subset = balancedSubset(all, 1500, 42); // 3,000 reviews, 1,500 of each label
  const { train, test } = trainTestSplit(subset, { testSize: 1000, seed: 42, stratify: true });
  let trainLabels = Array.from(train.labels);
  if (opts.shuffleLabels) {
    const order = permutation(trainLabels.length, 7);
    trainLabels = order.map((i) => trainLabels[i]);
  }
  const trainData = encodeDataset(tokenizer, train.texts, trainLabels, { maxLength: 128 });
  const evalData = encodeDataset(tokenizer, test.texts, test.labels, { maxLength: 128 });

  const trainer = new Trainer({
    model,
    trainData,
    evalData,
    args: {
      numTrainEpochs: 3,
      perDeviceTrainBatchSize: 16,
      perDeviceEvalBatchSize: 100,
      learningRate: 1e-3,
      warmupRatio: 0.1,
      weightDecay: 0.01,
      evalStrategy: 'epoch',
      // HF's default save cadence (every 500 steps) never falls in this short run, so the only
      // checkpoint is the one after the last step: exercises saveAdapter inside a checkpoint.
      saveStrategy: 'steps',
      outputDir: path.join(dir, 'run'),
      seed: 42,
    },
    progress: false,
  });
  const out = await trainer.train();
  // HF Trainer's layout: the PEFT adapter at the checkpoint folder's root.
  const adapterSaved = fs.existsSync(path.join(out.lastCheckpoint!, 'adapter_model.safetensors'));
  if (!adapterSaved) throw new Error(`the final checkpoint ${out.lastCheckpoint} has no adapter_model.safetensors`);
  trainer.dispose();
  model.dispose();
  fs.rmSync(dir, { recursive: true, force: true });

  const seconds = (Date.now() - started) / 1000;
  const e = out.lastEval!;
  const summary =
    `IMDB ${opts.shuffleLabels ? '(shuffled labels) ' : ''}on ${backend.name}, base ${quantization}: ` +
    `${train.texts.length} train / ${test.texts.length} eval reviews, ${out.globalStep} steps, ` +
    `epoch losses ${out.epochLosses.map((l) => l.toFixed(3)).join(' ')}, eval accuracy ${e.accuracy.toFixed(3)}, ` +
    `F1 ${e.f1.toFixed(3)}, confusion ${JSON.stringify(e.confusion)}, ${seconds.toFixed(0)} s`;
  return { accuracy: e.accuracy, lastEpochLoss: out.epochLosses[out.epochLosses.length - 1], seconds, summary };
}
