// A bounded load test on loopback: 32 concurrent clients send 2,000 requests, alternating two
// adapters; none may fail, the batcher must actually batch, and the tfjs tensor count must be
// the same after as before. Prints p50/p99 latency and requests/s.
import autocannon from 'autocannon';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../../lib/index';
import { InferenceServer } from '../../lib/serving/server';
import { cleanupTempDirs } from '../helpers/checkpoint';
import { makeServingFixture } from './fixture';

const CONNECTIONS = 32;
const REQUESTS = 2000;

let server: InferenceServer;
let url: string;

beforeAll(async () => {
  await useBackend('wasm'); // ~15× faster than 'cpu' on this model
  const fixture = await makeServingFixture();
  server = await InferenceServer.load({
    model: fixture.ckpt,
    adapters: [
      { name: 'peft', dir: fixture.adapters.peft },
      { name: 'stars', dir: fixture.adapters.stars },
    ],
    maxLength: 64,
    maxBatchSize: 32,
    maxWaitMs: 2,
    log: () => {},
  });
  url = await server.listen({ port: 0, host: '127.0.0.1' });
});

afterAll(async () => {
  await server?.close();
  cleanupTempDirs();
});

test(`${CONNECTIONS} clients, ${REQUESTS} requests: no error, batched, no tensor leaked`, async () => {
  const headers = { 'content-type': 'application/json' };
  const warm = await fetch(`${url}/v1/classify`, { method: 'POST', headers, body: JSON.stringify({ texts: ['warm up'] }) });
  expect(warm.status).toBe(200);
  const tensorsBefore = tf.memory().numTensors;

  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    amount: REQUESTS,
    timeout: 20,
    requests: [
      { method: 'POST', path: '/v1/classify', headers, body: JSON.stringify({ texts: ['A wonderful film, I loved every minute of it.'] }) },
      { method: 'POST', path: '/v1/classify', headers, body: JSON.stringify({ texts: ['Dull and far too long.', 'Fine.'], adapter: 'stars' }) },
    ],
  });

  const { p50, p99 } = result.latency as unknown as { p50: number; p99: number };
  const line =
    `load test: ${result.requests.total} requests from ${CONNECTIONS} clients in ${(result.duration as number).toFixed(1)} s: ` +
    `${(result.requests.total / result.duration).toFixed(0)} req/s, latency p50 ${p50} ms, p99 ${p99} ms; ` +
    `${server.queue.batches} forward passes, largest batch ${server.queue.largestBatch} texts`;
  process.stdout.write(line + '\n');

  expect(result.errors).toBe(0);
  expect(result.timeouts).toBe(0);
  expect(result.non2xx).toBe(0);
  expect(result['2xx']).toBe(REQUESTS);
  expect(server.queue.largestBatch).toBeGreaterThan(1);
  expect(server.queue.pending).toBe(0);
  expect(tf.memory().numTensors).toBe(tensorsBefore);
});
