// The inference server behind `npm run serve`: one DistilBERT base in NF4, many LoRA adapters.
//
//   POST /v1/classify  {"texts": ["…"], "adapter": "name"}  →  {"predictions": [{label, probabilities, truncated}], model, adapter, maxLength}
//   GET  /v1/adapters  the adapters, their classes and where the class names came from
//   GET  /health       {"status": "ok", …}
//
// Requests go through a DynamicBatcher (batcher.ts): those arriving together for one adapter
// share a forward pass, padded to that batch's longest text. Bodies are validated by Fastify's
// JSON-schema validator (Ajv) with type coercion off: "texts": "abc" is an error, not ["abc"].
import * as path from 'path';
import Fastify, { FastifyInstance } from 'fastify';
import * as tf from '@tensorflow/tfjs';
import { DistilBertForSequenceClassification, HubOptions, Tokenizer, loadPretrained, loadTokenizer } from '../index';
import { ServedAdapter, disposeServedAdapter, loadServedAdapter } from './adapters';
import { DynamicBatcher } from './batcher';
import { Prediction, classifyBatch } from './classify';
import { HttpError, classifyBodySchema, errorBody, toErrorBody } from './errors';

export interface AdapterSpec {
  /** The name requests use. */
  name: string;
  /** The adapter folder. */
  dir: string;
}

export interface ServerOptions {
  /** Base model: Hub repo id (e.g. 'distilbert-base-uncased') or checkpoint folder; its tokenizer comes from the same place. */
  model: string;
  /** At least one adapter; the first is the default for requests that name none. */
  adapters: AdapterSpec[];
  /** 'nf4' (default) holds the base's attention and feed-forward weights in 4 bits, as the notebook trains it. */
  quantization?: 'nf4' | 'none';
  /** Tokens per text, [CLS] and [SEP] included; longer texts are truncated. Default and maximum: the model's max_position_embeddings. */
  maxLength?: number;
  /** Texts per forward pass, at most (default 32). */
  maxBatchSize?: number;
  /** How long a request may wait for others to share its forward pass, in ms (default 5). */
  maxWaitMs?: number;
  /** Texts per request, at most (default 64). */
  maxTextsPerRequest?: number;
  /** Request body size limit in bytes (default 1 MiB). */
  bodyLimit?: number;
  /** Hub options for a repo id (cacheDir, revision, offline, …). */
  hub?: HubOptions;
  /** Where startup and error messages go (default console.error). */
  log?: (msg: string) => void;
}

export interface ClassifyResponse {
  predictions: Prediction[];
  model: string;
  adapter: string;
  maxLength: number;
}

/** A loaded model with its HTTP app; create with InferenceServer.load, then listen(). */
export class InferenceServer {
  readonly app: FastifyInstance;
  readonly maxLength: number;
  private readonly batcher: DynamicBatcher<ServedAdapter, string, Prediction>;
  private closing: Promise<void> | null = null;
  private shuttingDown = false;

  private constructor(
    private readonly opts: ServerOptions,
    private readonly base: DistilBertForSequenceClassification,
    private readonly tokenizer: Tokenizer,
    readonly adapters: Map<string, ServedAdapter>,
  ) {
    const limit = base.config.max_position_embeddings;
    this.maxLength = opts.maxLength ?? limit;
    if (!Number.isInteger(this.maxLength) || this.maxLength < 3 || this.maxLength > limit) {
      throw new Error(`maxLength must be an integer from 3 to the model's max_position_embeddings (${limit}), got ${opts.maxLength}`);
    }
    this.batcher = new DynamicBatcher({
      maxBatchSize: opts.maxBatchSize ?? 32,
      maxWaitMs: opts.maxWaitMs ?? 5,
      run: (adapter, texts) => classifyBatch(adapter, this.tokenizer, texts, this.maxLength),
    });
    this.app = this.buildApp();
  }

  /** Loads the base once (NF4 by default), its tokenizer, and every adapter onto it. */
  static async load(opts: ServerOptions): Promise<InferenceServer> {
    const log = opts.log ?? ((m: string) => console.error(m));
    if (!opts.adapters.length) throw new Error('serve: give at least one adapter (--adapter <dir> or --adapter name=<dir>)');
    const names = opts.adapters.map((a) => a.name);
    const dup = names.find((n, i) => names.indexOf(n) !== i);
    if (dup) throw new Error(`serve: two adapters are named '${dup}'; name them apart with --adapter name=<dir>`);
    const tokenizer = await loadTokenizer(opts.model, opts.hub);
    // loadPretrained's notes on the base's classifier head (newly initialised, MLM head unused) do
    // not apply here: every adapter brings its own trained head.
    const baseLog = (m: string) => (m.startsWith('Some weights of') ? undefined : log(m));
    const base = await loadPretrained(opts.model, { quantization: opts.quantization ?? 'nf4', hub: opts.hub, log: baseLog });
    const adapters = new Map<string, ServedAdapter>();
    try {
      for (const spec of opts.adapters) {
        const adapter = await loadServedAdapter(base, spec.name, spec.dir);
        adapters.set(spec.name, adapter);
        const trainedOn = adapter.baseModelNameOrPath;
        if (trainedOn && path.basename(trainedOn) !== path.basename(opts.model)) {
          log(`warning: adapter '${spec.name}' was trained on '${trainedOn}' but the base here is '${opts.model}'; its answers are only right on the same base weights`);
        }
      }
      return new InferenceServer(opts, base, tokenizer, adapters);
    } catch (e) {
      for (const a of adapters.values()) disposeServedAdapter(a);
      base.dispose();
      throw e;
    }
  }

  get defaultAdapter(): ServedAdapter {
    return this.adapters.values().next().value!;
  }

  /** Requests queued for a forward pass, and the batcher's counters. */
  get queue(): { pending: number; batches: number; items: number; largestBatch: number } {
    return { pending: this.batcher.pending, ...this.batcher.stats };
  }

  /** Classifies texts as POST /v1/classify does (validation aside). */
  async classify(texts: string[], adapterName?: string): Promise<ClassifyResponse> {
    const adapter = adapterName === undefined ? this.defaultAdapter : this.adapters.get(adapterName);
    if (!adapter) {
      throw new HttpError(404, 'unknown_adapter', `no adapter named '${adapterName}'; this server has: ${[...this.adapters.keys()].join(', ')} (GET /v1/adapters)`);
    }
    const predictions = await this.batcher.submit(adapter, texts);
    return { predictions, model: this.opts.model, adapter: adapter.name, maxLength: this.maxLength };
  }

  private buildApp(): FastifyInstance {
    const maxTexts = this.opts.maxTextsPerRequest ?? 64;
    const bodyLimit = this.opts.bodyLimit ?? 1024 * 1024;
    const app = Fastify({
      bodyLimit,
      return503OnClosing: true,
      // Ajv with Fastify's coercion and property removal off: a wrong type is an error, never converted.
      ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, verbose: true, allErrors: false } },
    });
    // Only JSON bodies: Fastify would also parse text/plain, and answer a clearer 415 without it.
    app.removeContentTypeParser('text/plain');
    app.setErrorHandler((err, req, reply) => {
      const body = toErrorBody(err as Error, maxTexts, bodyLimit);
      if (body.statusCode >= 500) (this.opts.log ?? console.error)(`${req.method} ${req.url}: ${(err as Error).stack ?? err}`);
      void reply.code(body.statusCode).send(body);
    });
    // During shutdown, answers close their connection: Node's server.close() waits for open
    // keep-alive connections, which would otherwise idle on for keepAliveTimeout (72 s in Fastify).
    app.addHook('onSend', async (_req, reply) => {
      if (this.shuttingDown) void reply.header('connection', 'close');
    });
    app.setNotFoundHandler((req, reply) => {
      void reply
        .code(404)
        .send(errorBody(404, 'not_found', `no route ${req.method} ${req.url.split('?')[0]}; the routes are POST /v1/classify, GET /v1/adapters, GET /health`));
    });

    app.post<{ Body: { texts: string[]; adapter?: string } }>(
      '/v1/classify',
      { schema: { body: classifyBodySchema(maxTexts) } },
      async (req) => this.classify(req.body.texts, req.body.adapter),
    );
    app.get('/v1/adapters', async () => ({
      default: this.defaultAdapter.name,
      adapters: [...this.adapters.values()].map((a) => ({
        name: a.name,
        dir: a.dir,
        labels: a.labelNames,
        labelSource: a.labelSource,
        r: a.peft.config.r,
        loraAlpha: a.peft.config.loraAlpha,
        targetModules: a.peft.config.targetModules,
        baseModelNameOrPath: a.baseModelNameOrPath,
      })),
    }));
    app.get('/health', async () => ({
      status: 'ok',
      model: this.opts.model,
      quantization: this.opts.quantization ?? 'nf4',
      backend: tf.getBackend(),
      adapters: [...this.adapters.keys()],
      maxLength: this.maxLength,
      queue: this.queue,
    }));
    return app;
  }

  /** Starts listening (port 0 picks a free one) and returns the address, e.g. 'http://127.0.0.1:8000'. */
  async listen(opts: { port?: number; host?: string } = {}): Promise<string> {
    return this.app.listen({ port: opts.port ?? 8000, host: opts.host ?? '127.0.0.1' });
  }

  /**
   * Graceful shutdown: stops accepting connections, lets in-flight requests finish (new requests
   * on open connections get 503), waits for the batcher to drain, then frees every tensor.
   * Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.shuttingDown = true;
      await this.app.close();
      await this.batcher.idle();
      for (const a of this.adapters.values()) disposeServedAdapter(a);
      this.base.dispose();
    })();
    return this.closing;
  }
}
