// DynamicBatcher with a recording stand-in for the model: what runs together, in which order.
import { DynamicBatcher } from '../../lib/serving/batcher';

function recorder(opts: { maxBatchSize: number; maxWaitMs: number; delayMs?: number; failOn?: string }) {
  const batches: { key: string; items: string[] }[] = [];
  const batcher = new DynamicBatcher<string, string, string>({
    ...opts,
    run: async (key, items) => {
      batches.push({ key, items: [...items] });
      if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
      if (opts.failOn && items.includes(opts.failOn)) throw new Error(`model failed on ${opts.failOn}`);
      return items.map((item) => `${key}:${item}`);
    },
  });
  return { batcher, batches };
}

test('requests that arrive together share one batch, and each gets its own outputs in order', async () => {
  const { batcher, batches } = recorder({ maxBatchSize: 8, maxWaitMs: 10 });
  const out = await Promise.all([batcher.submit('a', ['1', '2']), batcher.submit('a', ['3']), batcher.submit('a', ['4', '5', '6'])]);
  expect(out).toEqual([['a:1', 'a:2'], ['a:3'], ['a:4', 'a:5', 'a:6']]);
  expect(batches).toEqual([{ key: 'a', items: ['1', '2', '3', '4', '5', '6'] }]);
  expect(batcher.stats).toEqual({ batches: 1, items: 6, largestBatch: 6 });
});

test('a batch holds one key and at most maxBatchSize items; the oldest request goes first', async () => {
  const { batcher, batches } = recorder({ maxBatchSize: 3, maxWaitMs: 5 });
  const jobs = [
    batcher.submit('b', ['b1']),
    batcher.submit('a', ['a1', 'a2']),
    batcher.submit('b', ['b2', 'b3']),
    batcher.submit('b', ['b4']),
    batcher.submit('a', ['a3']),
  ];
  await Promise.all(jobs);
  expect(batches).toEqual([
    { key: 'b', items: ['b1', 'b2', 'b3'] }, // b4 would make 4 > 3
    { key: 'a', items: ['a1', 'a2', 'a3'] },
    { key: 'b', items: ['b4'] },
  ]);
});

test('a full batch runs without waiting; a lone request waits maxWaitMs for company', async () => {
  const { batcher } = recorder({ maxBatchSize: 2, maxWaitMs: 300 });
  let t = Date.now();
  await batcher.submit('a', ['1', '2']);
  expect(Date.now() - t).toBeLessThan(150);
  t = Date.now();
  await batcher.submit('a', ['1']);
  expect(Date.now() - t).toBeGreaterThanOrEqual(290);
});

test('requests queued while a batch runs go together into the next one', async () => {
  const { batcher, batches } = recorder({ maxBatchSize: 10, maxWaitMs: 0, delayMs: 50 });
  const first = batcher.submit('a', ['1']);
  await new Promise((r) => setTimeout(r, 10)); // '1' is running now
  const rest = [batcher.submit('a', ['2']), batcher.submit('a', ['3'])];
  await Promise.all([first, ...rest]);
  expect(batches.map((b) => b.items)).toEqual([['1'], ['2', '3']]);
});

test('a request larger than maxBatchSize runs in slices and comes back whole', async () => {
  const { batcher, batches } = recorder({ maxBatchSize: 2, maxWaitMs: 0 });
  expect(await batcher.submit('a', ['1', '2', '3', '4', '5'])).toEqual(['a:1', 'a:2', 'a:3', 'a:4', 'a:5']);
  expect(batches.map((b) => b.items)).toEqual([['1', '2'], ['3', '4'], ['5']]);
});

test('a request that makes the model fail fails alone, its batch-mates are retried and answered', async () => {
  const { batcher, batches } = recorder({ maxBatchSize: 4, maxWaitMs: 5, failOn: 'bad' });
  const results = await Promise.allSettled([batcher.submit('a', ['ok']), batcher.submit('a', ['bad', 'x']), batcher.submit('a', ['fine'])]);
  expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  expect((results[1] as PromiseRejectedResult).reason.message).toBe('model failed on bad');
  expect((results[0] as PromiseFulfilledResult<string[]>).value).toEqual(['a:ok']);
  expect((results[2] as PromiseFulfilledResult<string[]>).value).toEqual(['a:fine']);
  expect(batches.map((b) => b.items)).toEqual([['ok', 'bad', 'x', 'fine'], ['ok'], ['bad', 'x'], ['fine']]);
});

test('the batcher carries on after a failure; idle() waits for the queue to drain', async () => {
  const { batcher } = recorder({ maxBatchSize: 2, maxWaitMs: 5, failOn: 'bad' });
  await expect(batcher.submit('a', ['bad'])).rejects.toThrow('model failed on bad');
  let idle = false;
  const later = batcher.submit('a', ['x']);
  const waiting = batcher.idle().then(() => (idle = true));
  await Promise.resolve();
  expect(idle).toBe(false);
  await expect(later).resolves.toEqual(['a:x']);
  await waiting;
  expect(idle).toBe(true);
  expect(batcher.pending).toBe(0);
});
