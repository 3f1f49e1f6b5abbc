// The inference server over real HTTP on 127.0.0.1: answers equal predict()'s on an independently
// loaded model, adapters do not disturb each other on their shared NF4 base, every bad input gets
// a 4xx JSON error and leaves the server up, and closing frees every tensor it made.
import * as tf from '@tensorflow/tfjs';
import { loadAdapter, loadPretrained, loadTokenizer, predict, useBackend } from '../../lib/index';
import { InferenceServer } from '../../lib/serving/server';
import { cleanupTempDirs } from '../helpers/checkpoint';
import { STAR_LABELS, ServingFixture, TEXTS, makeServingFixture } from './fixture';

const MAX_LENGTH = 48;
const MAX_TEXTS = 8;
const BODY_LIMIT = 4096;

let fixture: ServingFixture;
let server: InferenceServer;
let url: string;
let tensorsBefore: number;
const logged: string[] = [];

beforeAll(async () => {
  await useBackend('wasm'); // ~15× faster than 'cpu' on this model
  fixture = await makeServingFixture();
  tensorsBefore = tf.memory().numTensors;
  server = await InferenceServer.load({
    model: fixture.ckpt,
    adapters: [
      { name: 'peft', dir: fixture.adapters.peft },
      { name: 'ours', dir: fixture.adapters.ours },
      { name: 'stars', dir: fixture.adapters.stars },
    ],
    maxLength: MAX_LENGTH,
    maxTextsPerRequest: MAX_TEXTS,
    bodyLimit: BODY_LIMIT,
    maxBatchSize: 16,
    maxWaitMs: 20,
    log: (m) => logged.push(m),
  });
  url = await server.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await server?.close();
  cleanupTempDirs();
});

async function post(body: string | object, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  const res = await fetch(`${url}/v1/classify`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, type: res.headers.get('content-type') ?? '', json: (await res.json()) as any };
}

/** predict() on a separately loaded NF4 base with the adapter loaded by loadAdapter: the reference. */
async function reference(adapterDir: string, numLabels: number, labelNames: string[]) {
  const model = await loadPretrained(fixture.ckpt, { numLabels, quantization: 'nf4', log: () => {} });
  const peft = await loadAdapter(model, adapterDir);
  const tokenizer = await loadTokenizer(fixture.ckpt);
  const out = await predict(peft, tokenizer, TEXTS, { maxLength: MAX_LENGTH, labelNames, batchSize: 3 });
  peft.dispose();
  return out;
}

describe('POST /v1/classify', () => {
  it('answers what predict() answers, for each adapter, with requests batched together', async () => {
    const cases = [
      { name: 'peft', dir: fixture.adapters.peft, labels: ['negative', 'positive'] },
      { name: 'ours', dir: fixture.adapters.ours, labels: ['negative', 'positive'] },
      { name: 'stars', dir: fixture.adapters.stars, labels: STAR_LABELS },
    ];
    const batchesBefore = server.queue.batches;
    // Every text of every adapter as its own request, all at once: the batcher must group and
    // pad them differently from predict(), and the answers must not change.
    const responses = await Promise.all(
      cases.flatMap((c) => TEXTS.map((text) => post(c.name === 'peft' ? { texts: [text] } : { texts: [text], adapter: c.name }))),
    );
    const batches = server.queue.batches - batchesBefore;
    expect(batches).toBeLessThan(responses.length); // requests shared forward passes
    expect(server.queue.largestBatch).toBeGreaterThan(1);

    for (const [k, c] of cases.entries()) {
      const ref = await reference(c.dir, c.labels.length, c.labels);
      const tokenizer = await loadTokenizer(fixture.ckpt);
      TEXTS.forEach((text, i) => {
        const { status, json } = responses[k * TEXTS.length + i];
        expect(status).toBe(200);
        expect(json.adapter).toBe(c.name);
        expect(json.model).toBe(fixture.ckpt);
        const [p] = json.predictions;
        expect(Object.keys(p.probabilities)).toEqual(c.labels);
        c.labels.forEach((label, j) => expect(Math.abs(p.probabilities[label] - ref.probabilities[i][j])).toBeLessThan(1e-5));
        expect(p.label).toBe(ref.labelNames[i]);
        expect(p.truncated).toBe(tokenizer.encode(text).ids.length > MAX_LENGTH);
      });
    }
    // The long text is the one truncated, and the adapters really differ.
    const long = TEXTS.findIndex((t) => t.length > 1000);
    expect(responses[long].json.predictions[0].truncated).toBe(true);
    expect(responses[0].json.predictions[0].truncated).toBe(false);
    const p0 = responses[0].json.predictions[0].probabilities.positive;
    const p1 = responses[TEXTS.length].json.predictions[0].probabilities.positive;
    expect(Math.abs(p0 - p1)).toBeGreaterThan(1e-3);
  });

  it('classifies many texts of one request in order', async () => {
    const { status, json } = await post({ texts: TEXTS, adapter: 'stars' });
    expect(status).toBe(200);
    const ref = await reference(fixture.adapters.stars, 3, STAR_LABELS);
    expect(json.predictions).toHaveLength(TEXTS.length);
    json.predictions.forEach((p: any, i: number) => {
      STAR_LABELS.forEach((l, j) => expect(Math.abs(p.probabilities[l] - ref.probabilities[i][j])).toBeLessThan(1e-5));
    });
  });

  const BAD: [string, () => Promise<{ status: number; type: string; json: any }>, number, string, RegExp][] = [
    ['invalid JSON', () => post('{"texts": ["a",'), 400, 'invalid_json', /not valid JSON/],
    ['a text/plain body', () => post('A wonderful film.', { 'content-type': 'text/plain' }), 415, 'unsupported_media_type', /application\/json/],
    ['a form body', () => post('texts=a', { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'unsupported_media_type', /Content-Type: application\/json/],
    ['an empty body', () => post(''), 400, 'empty_body', /empty/],
    ['a body that is not an object', () => post([1, 2]), 400, 'invalid_body', /JSON object, got an array/],
    ['texts missing', () => post({ text: ['a'] }), 400, 'missing_texts', /no "texts" \(it has "text"\)/],
    ['texts not an array', () => post({ texts: 'A wonderful film.' }), 400, 'invalid_texts', /"texts" must be an array of strings, got a string/],
    ['texts empty', () => post({ texts: [] }), 400, 'empty_texts', /empty/],
    ['a text that is not a string', () => post({ texts: ['fine', 3] }), 400, 'invalid_texts', /texts\[1\] must be a string, got a number/],
    ['a null text', () => post({ texts: [null] }), 400, 'invalid_texts', /texts\[0\] must be a string, got null/],
    ['too many texts', () => post({ texts: Array(MAX_TEXTS + 1).fill('a') }), 400, 'too_many_texts', new RegExp(`${MAX_TEXTS + 1} texts, more than the ${MAX_TEXTS}`)],
    ['a body over the size limit', () => post({ texts: ['x'.repeat(BODY_LIMIT)] }), 413, 'body_too_large', new RegExp(`${BODY_LIMIT} bytes`)],
    ['an unknown adapter', () => post({ texts: ['a'], adapter: 'nope' }), 404, 'unknown_adapter', /no adapter named 'nope'; this server has: peft, ours, stars/],
    ['an adapter that is not a string', () => post({ texts: ['a'], adapter: 1 }), 400, 'invalid_adapter', /must be a string/],
    ['an unknown field', () => post({ texts: ['a'], adaptor: 'ours' }), 400, 'unknown_field', /unknown field "adaptor"/],
  ];
  it.each(BAD)('refuses %s with a JSON error and stays up', async (_what, send, status, code, message) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(res.type).toMatch(/^application\/json/);
    expect(res.json).toMatchObject({ statusCode: status, code });
    expect(res.json.message).toMatch(message);
    const ok = await post({ texts: ['still up?'] });
    expect(ok.status).toBe(200);
  });
});

describe('GET routes', () => {
  it('/v1/adapters lists each adapter with its classes and where they came from', async () => {
    const json = (await (await fetch(`${url}/v1/adapters`)).json()) as any;
    expect(json.default).toBe('peft');
    expect(json.adapters.map((a: any) => [a.name, a.labels, a.r])).toEqual([
      ['peft', ['negative', 'positive'], 4],
      ['ours', ['negative', 'positive'], 2],
      ['stars', STAR_LABELS, 2],
    ]);
    expect(json.adapters[2].labelSource).toMatch(/config\.json$/);
    expect(json.adapters[0].labelSource).toBe('default');
  });

  it('/health says ok; an unknown route is a JSON 404', async () => {
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', adapters: ['peft', 'ours', 'stars'], maxLength: MAX_LENGTH, quantization: 'nf4' });
    const missing = await fetch(`${url}/v1/nothing`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ code: 'not_found' });
  });
});

describe('startup messages', () => {
  it("warn when an adapter names another base, and skip loadPretrained's notes on the unused base head", () => {
    expect(logged.filter((m) => /^warning: adapter 'ours' was trained on 'tiny-random-distilbert'/.test(m))).toHaveLength(1);
    expect(logged.filter((m) => m.startsWith('Some weights of'))).toEqual([]);
  });
});

describe('shutdown', () => {
  it('frees every tensor the server made, and refuses connections after', async () => {
    await server.close();
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });
});
