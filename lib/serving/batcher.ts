// Dynamic batching: requests that arrive together share one forward pass.
//
// One batch runs at a time (the model is a single shared resource, and tfjs runs one op at a
// time anyway). While it runs, new requests queue up; when the model is free, the queue is
// flushed as soon as it holds maxBatchSize items or its oldest request has waited maxWaitMs.
// A batch holds requests for one key (one adapter) only; the key of the oldest waiting request
// goes first, so no adapter starves. A request is never split across batches unless it alone
// has more than maxBatchSize items. If a batch fails, its requests are retried one by one, so a
// request that breaks the model fails alone.

export interface BatcherOptions<K, I, O> {
  /** Items per forward pass, at most. */
  maxBatchSize: number;
  /** How long the first request of a batch may wait for company, in milliseconds. */
  maxWaitMs: number;
  /** Runs one batch: `items` all share `key`; returns one output per item, in order. */
  run: (key: K, items: I[]) => Promise<O[]>;
}

interface Job<K, I, O> {
  key: K;
  items: I[];
  enqueuedAt: number;
  resolve: (out: O[]) => void;
  reject: (e: unknown) => void;
}

/** Counters for /health and the load test. */
export interface BatcherStats {
  /** Forward passes run. */
  batches: number;
  /** Items classified. */
  items: number;
  /** Largest batch run, in items. */
  largestBatch: number;
}

export class DynamicBatcher<K, I, O> {
  private readonly opts: BatcherOptions<K, I, O>;
  private queue: Job<K, I, O>[] = [];
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private idleWaiters: (() => void)[] = [];
  readonly stats: BatcherStats = { batches: 0, items: 0, largestBatch: 0 };

  constructor(opts: BatcherOptions<K, I, O>) {
    if (!Number.isInteger(opts.maxBatchSize) || opts.maxBatchSize < 1) {
      throw new Error(`DynamicBatcher: maxBatchSize must be a positive integer, got ${opts.maxBatchSize}`);
    }
    if (!(opts.maxWaitMs >= 0)) throw new Error(`DynamicBatcher: maxWaitMs must be ≥ 0, got ${opts.maxWaitMs}`);
    this.opts = opts;
  }

  /** Queues `items` (all for `key`); resolves with their outputs, in order, once their batch has run. */
  submit(key: K, items: I[]): Promise<O[]> {
    if (items.length === 0) return Promise.resolve([]);
    return new Promise<O[]>((resolve, reject) => {
      this.queue.push({ key, items, enqueuedAt: Date.now(), resolve, reject });
      this.schedule();
    });
  }

  /** Requests waiting (not yet in a running batch). */
  get pending(): number {
    return this.queue.length;
  }

  /** Resolves when nothing is queued or running (used by graceful shutdown). */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private queuedItems(key: K): number {
    return this.queue.reduce((n, job) => n + (job.key === key ? job.items.length : 0), 0);
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    const oldest = this.queue[0];
    const waited = Date.now() - oldest.enqueuedAt;
    if (waited >= this.opts.maxWaitMs || this.queuedItems(oldest.key) >= this.opts.maxBatchSize) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      void this.runNext();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.schedule();
      }, this.opts.maxWaitMs - waited);
    }
  }

  /** Takes the oldest request's key and as many of its requests, in order, as fit in one batch. */
  private takeBatch(): Job<K, I, O>[] {
    const key = this.queue[0].key;
    const taken: Job<K, I, O>[] = [];
    let size = 0;
    this.queue = this.queue.filter((job) => {
      if (job.key !== key) return true;
      if (taken.length > 0 && size + job.items.length > this.opts.maxBatchSize) return true;
      taken.push(job);
      size += job.items.length;
      return false;
    });
    return taken;
  }

  /** Runs the jobs' items in one batch (in slices of maxBatchSize if one job alone is larger). */
  private async runItems(key: K, items: I[]): Promise<O[]> {
    const outputs: O[] = [];
    for (let start = 0; start < items.length; start += this.opts.maxBatchSize) {
      const slice = items.slice(start, start + this.opts.maxBatchSize);
      const out = await this.opts.run(key, slice);
      if (out.length !== slice.length) throw new Error(`DynamicBatcher: run returned ${out.length} outputs for ${slice.length} items`);
      outputs.push(...out);
      this.stats.batches++;
      this.stats.items += slice.length;
      this.stats.largestBatch = Math.max(this.stats.largestBatch, slice.length);
    }
    return outputs;
  }

  private async runNext(): Promise<void> {
    this.running = true;
    const jobs = this.takeBatch();
    const key = jobs[0].key;
    try {
      const outputs = await this.runItems(key, jobs.flatMap((job) => job.items));
      let offset = 0;
      for (const job of jobs) {
        job.resolve(outputs.slice(offset, offset + job.items.length));
        offset += job.items.length;
      }
    } catch (e) {
      if (jobs.length === 1) {
        jobs[0].reject(e);
      } else {
        // One request's input must not fail the requests it happened to share a batch with:
        // run each alone, so only the one at fault gets the error.
        for (const job of jobs) await this.runItems(key, job.items).then(job.resolve, job.reject);
      }
    } finally {
      this.running = false;
      if (this.queue.length === 0) this.idleWaiters.splice(0).forEach((wake) => wake());
      this.schedule();
    }
  }
}
