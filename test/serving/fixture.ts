// What the server tests serve: a small random DistilBERT base with the real uncased tokenizer
// (so reviews tokenize as they would in production), and three adapters on it:
//   peft   — saved by Python's PEFT itself (test/fixtures/hf/peft-adapter), 2 classes, no label names
//   ours   — saved by our saveAdapter, 2 classes, another rank and other target modules
//   stars  — saved by our saveAdapter, 3 classes, names in a config.json beside it
// The base is a masked-LM checkpoint without a head, like distilbert-base-uncased on the Hub.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { distilBertConfigJson, getPeftModel, loadPretrained } from '../../lib/index';
import { writeRandomCheckpoint } from '../../scripts/make-random-checkpoint';
import { asset } from '../helpers/assets';
import { tempDir } from '../helpers/checkpoint';

export const PEFT_ADAPTER = path.join(__dirname, '..', 'fixtures', 'hf', 'peft-adapter');
export const STAR_LABELS = ['bad', 'so-so', 'good'];

export interface ServingFixture {
  ckpt: string;
  adapters: { peft: string; ours: string; stars: string };
}

/** Our adapter with non-zero, seeded LoRA B and head, so that it changes the base's output. */
async function writeOurAdapter(ckpt: string, dir: string, numLabels: number, seed: number, targetModules: string[]): Promise<void> {
  const model = await loadPretrained(ckpt, { numLabels, quantization: 'none', seed, log: () => {} });
  const peft = getPeftModel(model, { r: 2, loraAlpha: 16, targetModules, seed });
  let s = seed * 100;
  for (const lora of peft.loraLayers().values()) {
    const b = tf.randomNormal(lora.loraB.shape, 0, 0.5, 'float32', s++);
    lora.loraB.assign(b);
    b.dispose();
  }
  peft.saveAdapter(dir, { baseModelNameOrPath: 'tiny-random-distilbert' });
  peft.dispose();
}

export async function makeServingFixture(): Promise<ServingFixture> {
  const ckpt = tempDir('qlora-serve-ckpt-');
  writeRandomCheckpoint(ckpt, {
    vocabSize: 30522, dim: 64, nLayers: 2, nHeads: 4, hiddenDim: 128, maxPositions: 512, seed: 7, std: 0.2,
    tokenizerDir: asset('distilbert-base-uncased'),
  });
  const ours = tempDir('qlora-serve-ours-');
  await writeOurAdapter(ckpt, ours, 2, 11, ['q_lin', 'v_lin']);
  const stars = tempDir('qlora-serve-stars-');
  await writeOurAdapter(ckpt, stars, 3, 12, ['q_lin', 'k_lin', 'v_lin', 'out_lin', 'lin1', 'lin2']);
  // Label names saved beside the adapter, as transformers' model.config.save_pretrained(dir) would.
  const head = await loadPretrained(ckpt, { numLabels: 3, quantization: 'none', log: () => {} });
  const id2label = Object.fromEntries(STAR_LABELS.map((n, i) => [String(i), n]));
  const label2id = Object.fromEntries(STAR_LABELS.map((n, i) => [n, i]));
  fs.writeFileSync(path.join(stars, 'config.json'), distilBertConfigJson({ ...head.config, id2label, label2id }));
  head.dispose();
  return { ckpt, adapters: { peft: PEFT_ADAPTER, ours, stars } };
}

/** Review-like texts: short ones, one of many words (truncated at a small maxLength), and odd characters. */
export const TEXTS = [
  'A wonderful film.',
  'This movie was a complete waste of two hours, with wooden acting, a plot full of holes and an ending that made no sense at all.',
  'Meh.',
  'I laughed, I cried, and then I watched it again the next day with my whole family.',
  'Not good.',
  'The best thing about it is the soundtrack. '.repeat(30),
  'Ça va, le film était très bien — 5/5 ★',
  '',
];
