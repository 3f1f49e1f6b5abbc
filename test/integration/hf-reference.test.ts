// Our tokenizer, model and adapter loader against the real Hugging Face libraries.
//
// test/fixtures/hf/ was written by transformers and peft themselves (scripts/reference/hf_crosscheck.py,
// run on a machine that has them; versions in the fixture's generated_by): the ids of
// BertTokenizer for hard cases and real IMDB reviews, the logits of
// DistilBertForSequenceClassification on a random checkpoint, and an adapter saved by
// PeftModel.save_pretrained with its logits. The checkpoint itself is not committed (8 MB):
// writeRandomCheckpoint regenerates it bit for bit from its seed.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../../lib/backends/select';
import { loadPretrained } from '../../lib/models/distilbert/loading';
import { loadAdapter } from '../../lib/peft/model';
import { loadTokenizer, Tokenizer } from '../../lib/tokenization/tokenizer';
import { readSentimentCsv } from '../../lib/data/load';
import { writeRandomCheckpoint } from '../../scripts/make-random-checkpoint';
import { asset } from '../helpers/assets';

interface Fixture {
  hard_cases: string[];
  review_rows: number[];
  ids: number[][];
  batch_sources: string[];
  max_length: number;
  batch: { input_ids: number[][]; attention_mask: number[][] };
  logits: number[][];
  peft_real_logits: number[][];
  peft_trainable_params: number;
  peft_all_params: number;
}

const FIXTURE_DIR = path.join(__dirname, '..', 'fixtures', 'hf');
const fixture: Fixture = JSON.parse(fs.readFileSync(path.join(FIXTURE_DIR, 'transformers-reference.json'), 'utf8'));

let ckpt: string;
let tokenizer: Tokenizer;
let reviews: string[];

beforeAll(async () => {
  await useBackend('cpu');
  ckpt = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-ref-'));
  writeRandomCheckpoint(ckpt, {
    vocabSize: 30522, dim: 64, nLayers: 2, nHeads: 4, hiddenDim: 128, maxPositions: 512, seed: 7,
    withHead: true, numLabels: 2, std: 0.2, tokenizerDir: asset('distilbert-base-uncased'),
  });
  tokenizer = await loadTokenizer(ckpt);
  reviews = readSentimentCsv(asset('imdb', 'test.csv')).texts;
});

afterAll(() => fs.rmSync(ckpt, { recursive: true, force: true }));

function batchTexts(): string[] {
  return fixture.batch_sources.map((s) => {
    const [kind, i] = s.split(':');
    return kind === 'hard' ? fixture.hard_cases[Number(i)] : reviews[Number(i)];
  });
}

describe('against transformers and peft', () => {
  it('tokenizes hard cases and real reviews to the ids of transformers BertTokenizer', () => {
    const texts = [...fixture.hard_cases, ...fixture.review_rows.map((r) => reviews[r])];
    expect(texts.length).toBe(fixture.ids.length);
    const mismatched = texts.map((t, i) => i).filter((i) => JSON.stringify(tokenizer.encode(texts[i]).ids) !== JSON.stringify(fixture.ids[i]));
    expect(mismatched).toEqual([]);
  });

  it('pads and truncates a batch as transformers does with padding="max_length", truncation=True', () => {
    const enc = tokenizer.encodeBatch(batchTexts(), { maxLength: fixture.max_length, padding: 'max_length', truncation: true });
    const T = fixture.max_length;
    const rows = (a: Int32Array) => Array.from({ length: enc.batchSize }, (_, r) => Array.from(a.subarray(r * T, (r + 1) * T)));
    expect(rows(enc.inputIds)).toEqual(fixture.batch.input_ids);
    expect(rows(enc.attentionMask)).toEqual(fixture.batch.attention_mask);
  });

  it('gives the logits of transformers DistilBertForSequenceClassification', async () => {
    const model = await loadPretrained(ckpt, { quantization: 'none', log: () => {} });
    const logits = tf.tidy(() => model.logits(fixture.batch.input_ids, fixture.batch.attention_mask).arraySync());
    model.dispose();
    for (let r = 0; r < logits.length; r++) {
      for (let c = 0; c < 2; c++) expect(Math.abs(logits[r][c] - fixture.logits[r][c])).toBeLessThan(2e-5);
    }
  });

  it('loads an adapter saved by real PEFT and reproduces its logits and parameter counts', async () => {
    const model = await loadPretrained(ckpt, { quantization: 'none', log: () => {} });
    const peft = await loadAdapter(model, path.join(FIXTURE_DIR, 'peft-adapter'));
    const logits = tf.tidy(() => peft.logits(fixture.batch.input_ids, fixture.batch.attention_mask).arraySync());
    for (let r = 0; r < logits.length; r++) {
      for (let c = 0; c < 2; c++) expect(Math.abs(logits[r][c] - fixture.peft_real_logits[r][c])).toBeLessThan(2e-5);
    }
    peft.setTrainable(true);
    expect(peft.parameterCounts()).toEqual({ trainable: fixture.peft_trainable_params, all: fixture.peft_all_params });
    peft.dispose();
  });
});
