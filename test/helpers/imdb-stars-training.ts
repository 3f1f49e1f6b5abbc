// The run shared by test/training/train-imdb-stars*.test.ts: the binary learning test's setup
// (test/helpers/imdb-training.ts: tiny random DistilBERT, real tokenizer, wasm, LoRA on all six
// linear kinds + head + word embeddings, 3 epochs of 2,000 reviews at 128 tokens) with four
// classes from the real aclImdb_v1.tar.gz's star ratings ('stars4': 1–2, 3–4, 7–8, 9–10):
// 500 training and 250 held-out reviews per class. Also checks that the saved 4-class adapter
// carries its class names and a [4, dim] head.
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
import { classificationReport } from '../../lib/training/metrics';
import { SafetensorsFile } from '../../lib/io/safetensors';
import { writeRandomCheckpoint } from '../../scripts/make-random-checkpoint';

export interface StarsRunResult {
  macroF1: number;
  accuracy: number;
  seconds: number;
  summary: string;
}

export async function runImdbStarsTraining(opts: { shuffleLabels: boolean }): Promise<StarsRunResult> {
  const started = Date.now();
  registerWasmTrainingKernels();
  const backend = await useBackend((process.env.QLORA_BACKEND as BackendName) || 'wasm');
  const quantization = process.env.QLORA_QUANT === 'nf4' ? 'nf4' : 'none';

  const all = await loadSentimentData(asset('imdb', 'aclImdb.tar.gz'), { split: 'train', labels: 'stars4', onWarning: () => {} });
  const loadSeconds = (Date.now() - started) / 1000;
  const subset = balancedSubset(all, 750, 42); // 3,000 reviews, 750 of each class
  const { train, test } = trainTestSplit(subset, { testSize: 1000, seed: 42, stratify: true });

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qlora-stars-'));
  writeRandomCheckpoint(path.join(dir, 'model'), {
    vocabSize: 30522, dim: 64, nLayers: 2, nHeads: 4, hiddenDim: 128, maxPositions: 512, seed: 1,
  });
  const base = await loadPretrained(path.join(dir, 'model'), { labelNames: all.labelNames, quantization, seed: 2, log: () => {} });
  const model = getPeftModel(base, {
    r: 8,
    loraAlpha: 16,
    loraDropout: 0.1,
    targetModules: ['q_lin', 'k_lin', 'v_lin', 'out_lin', 'lin1', 'lin2'],
    modulesToSave: ['word_embeddings'],
    seed: 3,
  });

  const tokenizer = await loadTokenizer(asset('distilbert-base-uncased'));
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
      saveStrategy: 'steps', // one checkpoint, after the last step
      outputDir: path.join(dir, 'run'),
      seed: 42,
    },
    progress: false,
  });
  try {
    const out = await trainer.train();
    checkSavedAdapter(out.lastCheckpoint!, all.labelNames); // HF's layout: the adapter at the checkpoint's root
    const seconds = (Date.now() - started) / 1000;
    const e = out.lastEval!;
    const report = classificationReport(labelsFromConfusion(e.confusion), predictionsFromConfusion(e.confusion), all.labelNames.length);
    const summary =
      `IMDB stars4 ${opts.shuffleLabels ? '(shuffled labels) ' : ''}on ${backend.name}, base ${quantization}: ` +
      `${train.texts.length} train / ${test.texts.length} eval reviews, ${out.globalStep} steps, ` +
      `epoch losses ${out.epochLosses.map((l) => l.toFixed(3)).join(' ')}, eval accuracy ${e.accuracy.toFixed(3)}, ` +
      `macro-F1 ${e.macroF1.toFixed(3)}, per-class F1 ${report.perClass.map((c, i) => `${all.labelNames[i]} ${c.f1.toFixed(2)}`).join(', ')}, ` +
      `confusion ${JSON.stringify(e.confusion)}, ${seconds.toFixed(0)} s (aclImdb read in ${loadSeconds.toFixed(0)} s)`;
    return { macroF1: e.macroF1, accuracy: e.accuracy, seconds, summary };
  } finally {
    trainer.dispose();
    model.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function labelsFromConfusion(confusion: number[][]): number[] {
  return confusion.flatMap((row, t) => new Array<number>(row.reduce((a, b) => a + b, 0)).fill(t));
}

/** Labels and predictions that give `confusion` (row = true, column = predicted), for the per-class report. */
function predictionsFromConfusion(confusion: number[][]): number[] {
  return confusion.flatMap((row) => row.flatMap((count, p) => new Array<number>(count).fill(p)));
}

/** The checkpoint's adapter: the class names in config.json, and PEFT's key for a [4, 64] head. */
function checkSavedAdapter(adapterDir: string, labelNames: string[]): void {
  const config = JSON.parse(fs.readFileSync(path.join(adapterDir, 'config.json'), 'utf8'));
  const expected = Object.fromEntries(labelNames.map((n, i) => [String(i), n]));
  if (JSON.stringify(config.id2label) !== JSON.stringify(expected)) {
    throw new Error(`${adapterDir}/config.json: id2label ${JSON.stringify(config.id2label)}, expected ${JSON.stringify(expected)}`);
  }
  const head = SafetensorsFile.open(path.join(adapterDir, 'adapter_model.safetensors')).info('base_model.model.classifier.weight');
  if (head.shape.join() !== '4,64') throw new Error(`${adapterDir}: classifier.weight has shape [${head.shape}], expected [4, 64]`);
}
