// Writes what scripts/reference/hf_crosscheck.py compares with the real Hugging Face libraries:
// a random DistilBERT checkpoint (with head, real tokenizer files), our token ids for real IMDB
// reviews and hand-picked hard cases, our logits, and an adapter saved by our saveAdapter.
//
//   npx ts-node --transpile-only scripts/device/make-crosscheck-inputs.ts <out-dir>
//
// The Python side runs where transformers + peft are installed (the GPU machine here).
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../../lib/backends/select';
import { loadPretrained } from '../../lib/models/distilbert/loading';
import { getPeftModel } from '../../lib/peft/model';
import { loadTokenizer } from '../../lib/tokenization/tokenizer';
import { readSentimentCsv } from '../../lib/data/load';
import { writeRandomCheckpoint } from '../make-random-checkpoint';

const HARD_CASES = [
  '',
  'Hello, world!',
  'Crème brûlée and naïve café — déjà vu.',
  'This movie was 10/10!!! <br /><br />Would watch again :)',
  '我很喜欢这部电影。日本語のテキストも。',
  'Emoji 😀🎬🍿 and symbols ©®™ §¶',
  'A [MASK] token, a [SEP] inside and [CLS] again, [UNK] and [PAD].',
  'supercalifragilisticexpialidocious' + 'x'.repeat(120),
  'tabs\tand\nnewlines\r\n and   many    spaces',
  "Don't, won't, can't; it's the 1990's \"classic\" (sic).",
  'Ｆｕｌｌｗｉｄｔｈ ＡＢＣ and ｶﾀｶﾅ',
  'control\u0000chars\u0007here and zero\u200bwidth',
];

async function main(): Promise<void> {
  const out = path.resolve(process.argv[2] ?? '.carry/xcheck');
  const assets = process.env.QLORA_ASSETS ?? path.resolve(__dirname, '..', '..', '..', 'shared', 'assets');
  fs.mkdirSync(out, { recursive: true });
  await useBackend('cpu');

  const ckpt = path.join(out, 'ckpt');
  writeRandomCheckpoint(ckpt, {
    vocabSize: 30522, dim: 64, nLayers: 2, nHeads: 4, hiddenDim: 128, maxPositions: 512, seed: 7,
    withHead: true, numLabels: 2, std: 0.2, tokenizerDir: path.join(assets, 'distilbert-base-uncased'),
  });

  const tokenizer = await loadTokenizer(ckpt);
  const reviews = (await readSentimentCsv(path.join(assets, 'imdb', 'test.csv'))).texts;
  // Every 25th review of test.csv: 1,000 real reviews spread over both labels. The fixture keeps
  // their row numbers, not their text: the dataset is not ours to commit.
  const reviewRows = reviews.map((_, i) => i).filter((i) => i % 25 === 0);
  const texts = [...HARD_CASES, ...reviewRows.map((i) => reviews[i])];
  const ids = texts.map((t) => tokenizer.encode(t).ids);

  const maxLength = 64;
  const batchSources = ['hard:3', 'hard:2', 'review:0', 'hard:1'];
  const batchTexts = batchSources.map((s) => (s.startsWith('hard:') ? HARD_CASES : reviews)[Number(s.split(':')[1])]);
  const batch = tokenizer.encodeBatch(batchTexts, { maxLength, padding: 'max_length', truncation: true });
  const rows = (a: Int32Array) => Array.from({ length: batch.batchSize }, (_, r) => Array.from(a.subarray(r * maxLength, (r + 1) * maxLength)));
  const inputIds = rows(batch.inputIds);
  const attentionMask = rows(batch.attentionMask);

  const model = await loadPretrained(ckpt, { quantization: 'none' });
  const logits = tf.tidy(() => model.logits(inputIds, attentionMask).arraySync());

  const peft = getPeftModel(model, {
    r: 4, loraAlpha: 8, targetModules: ['q_lin', 'k_lin', 'v_lin', 'out_lin', 'lin1', 'lin2'], seed: 3,
  });
  // A fresh adapter has B = 0 and changes nothing: give B values so the check means something.
  let k = 0;
  for (const lora of peft.loraLayers().values()) {
    const b = tf.randomNormal(lora.loraB.shape, 0, 0.05, 'float32', 100 + k++);
    lora.loraB.assign(b);
    b.dispose();
  }
  const peftLogits = tf.tidy(() => peft.logits(inputIds, attentionMask).arraySync());
  peft.saveAdapter(path.join(out, 'adapter'), { baseModelNameOrPath: 'distilbert-base-uncased' });

  fs.writeFileSync(
    path.join(out, 'ours.json'),
    JSON.stringify({ texts, ids, hard_cases: HARD_CASES.length, review_rows: reviewRows, batch_texts: batchTexts, batch_sources: batchSources, max_length: maxLength, batch: { input_ids: inputIds, attention_mask: attentionMask }, logits, peft_logits: peftLogits }),
  );
  console.log(`wrote ${out}: ${texts.length} texts, logits ${JSON.stringify(logits[0])}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
