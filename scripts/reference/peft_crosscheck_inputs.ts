// Writes the inputs of scripts/reference/peft_crosscheck_v2.py: adapters, a Trainer checkpoint and
// a saveModel folder made by this library, with our logits for a fixed batch, so that the real
// transformers + peft can load each one and compare. A by-hand cross-check (needs the real
// tokenizer and IMDB under QLORA_ASSETS); nothing in `npm test` runs it.
//
//   QLORA_ASSETS=/work/shared/assets npx ts-node --transpile-only scripts/reference/peft_crosscheck_inputs.ts <out>
//
// <out>/ckpt/          random DistilBERT in the Hub's layout (MLM head, like distilbert-base-uncased)
// <out>/a-2class/      saveAdapter of a 2-class model trained 4 steps (LoRA r=8 on the six linear kinds)
// <out>/b-4class/      saveAdapter of a 4-class ('stars4' names) model trained 4 steps (+ config.json)
// <out>/c-run/checkpoint-4/  the Trainer's checkpoint of the 2-class run (HF's layout)
// <out>/d-saved/       trainer.saveModel of the 2-class run
// <out>/variants/      test/fixtures/lora/peft-variants/ plus a fan_in_fan_out: true copy of 'patterns'
// <out>/ours.json      the batch's ids/mask and our logits for each folder, and per variant our
//                      logits (on model.json's batch) and warnings, or the error we throw
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import {
  useBackend, loadPretrained, getPeftModel, loadTokenizer, readSentimentCsv, Trainer, encodeDataset, PeftModel,
} from '../../lib';
import { STAR_GROUPINGS } from '../../lib/data/labels';
import { writeRandomCheckpoint } from '../make-random-checkpoint';
import { loadAdapter } from '../../lib/peft/model';

const assets = process.env.QLORA_ASSETS ?? '/work/shared/assets';
const TARGETS = ['q_lin', 'k_lin', 'v_lin', 'out_lin', 'lin1', 'lin2'];

async function trainRun(out: string, ckpt: string, texts: string[], labels: number[], labelNames: string[] | undefined, runDir: string) {
  const tokenizer = await loadTokenizer(ckpt);
  const base = await loadPretrained(ckpt, { quantization: 'none', labelNames, seed: 5, log: () => {} });
  const model = getPeftModel(base, { r: 8, loraAlpha: 16, loraDropout: 0.1, targetModules: TARGETS, seed: 6 });
  const trainData = encodeDataset(tokenizer, texts, labels, { maxLength: 64 });
  const trainer = new Trainer({
    model, trainData, progress: false, tokenizer: { folder: ckpt }, baseModelNameOrPath: 'tiny-distilbert',
    args: {
      outputDir: runDir, maxSteps: 4, perDeviceTrainBatchSize: 4, learningRate: 2e-2, loggingSteps: 2,
      saveStrategy: 'steps', saveSteps: 4, seed: 42,
    },
  });
  await trainer.train();
  return { model, trainer };
}

function logitsOf(model: PeftModel, ids: number[][], mask: number[][]): number[][] {
  return tf.tidy(() => (model.logits(ids, mask) as tf.Tensor).arraySync() as number[][]);
}

const FIXTURES = path.join(__dirname, '..', '..', 'test', 'fixtures', 'lora');

/** Every adapter of test/fixtures/lora/peft-variants/ (and a fan_in_fan_out copy) through loadAdapter. */
async function variants(out: string): Promise<Record<string, unknown>> {
  const dir = path.join(out, 'variants');
  fs.cpSync(path.join(FIXTURES, 'peft-variants'), dir, { recursive: true });
  fs.cpSync(path.join(dir, 'patterns'), path.join(dir, 'fan-in-fan-out'), { recursive: true });
  const cfgFile = path.join(dir, 'fan-in-fan-out', 'adapter_config.json');
  fs.writeFileSync(cfgFile, JSON.stringify({ ...JSON.parse(fs.readFileSync(cfgFile, 'utf8')), fan_in_fan_out: true }, null, 2));
  const batch = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'model.json'), 'utf8'));
  const res: Record<string, unknown> = {};
  for (const name of fs.readdirSync(dir).filter((d) => fs.existsSync(path.join(dir, d, 'adapter_config.json'))).sort()) {
    const warnings: string[] = [];
    const base = await loadPretrained(path.join(dir, 'base-with-head'), { quantization: 'none', log: () => {} });
    try {
      const peft = await loadAdapter(base, path.join(dir, name), { warn: (m) => warnings.push(m) });
      res[name] = { logits: logitsOf(peft, batch.input_ids, batch.attention_mask), warnings };
      peft.dispose();
    } catch (e) {
      res[name] = { error: (e as Error).message, warnings };
      base.dispose();
    }
  }
  return res;
}

async function main(out: string) {
  await useBackend('cpu');
  fs.mkdirSync(out, { recursive: true });
  const ckpt = path.join(out, 'ckpt');
  writeRandomCheckpoint(ckpt, {
    vocabSize: 30522, dim: 32, nLayers: 2, nHeads: 4, hiddenDim: 64, maxPositions: 512, seed: 11, std: 0.2,
    tokenizerDir: path.join(assets, 'distilbert-base-uncased'),
  });
  const reviews = readSentimentCsv(path.join(assets, 'imdb', 'train.csv'));
  const n = 16;
  const texts = reviews.texts.slice(0, n);
  const tokenizer = await loadTokenizer(ckpt);
  const batchTexts = [texts[0], texts[1], 'A short one.', texts[3]];
  const enc = tokenizer.encodeBatch(batchTexts, { maxLength: 48, padding: 'longest', truncation: true });
  const T = enc.inputIds.length / enc.batchSize;
  const rows = (a: Int32Array) => Array.from({ length: enc.batchSize }, (_, r) => Array.from(a.subarray(r * T, (r + 1) * T)));
  const ids = rows(enc.inputIds);
  const mask = rows(enc.attentionMask);
  const result: Record<string, unknown> = { input_ids: ids, attention_mask: mask };

  // 2 classes: (a) saveAdapter, (c) the Trainer's checkpoint-4, (d) saveModel.
  const two = await trainRun(out, ckpt, texts, Array.from(reviews.labels.slice(0, n)), undefined, path.join(out, 'c-run'));
  two.model.saveAdapter(path.join(out, 'a-2class'), { baseModelNameOrPath: 'tiny-distilbert' });
  two.trainer.saveModel(path.join(out, 'd-saved'));
  result.logits_2class = logitsOf(two.model, ids, mask);
  result.trainable_2class = two.model.parameterCounts();
  two.trainer.dispose();
  two.model.dispose();

  // 4 classes with the 'stars4' names: (b) saveAdapter writes config.json with id2label beside it.
  const names = STAR_GROUPINGS.stars4.map((c) => c.name);
  const four = await trainRun(out, ckpt, texts, texts.map((_, i) => i % 4), names, path.join(out, 'b-run'));
  four.model.saveAdapter(path.join(out, 'b-4class'), { baseModelNameOrPath: 'tiny-distilbert' });
  result.logits_4class = logitsOf(four.model, ids, mask);
  result.label_names_4class = names;
  four.trainer.dispose();
  four.model.dispose();
  result.variants = await variants(out);
  fs.writeFileSync(path.join(out, 'ours.json'), JSON.stringify(result));
  console.log('wrote', out, 'tensors left:', tf.memory().numTensors);
}

main(process.argv[2] ?? '/tmp/peft-crosscheck').catch((e) => {
  console.error(e);
  process.exit(1);
});
