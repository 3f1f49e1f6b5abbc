// `npm run serve`: an HTTP inference server for one NF4 base model and any number of LoRA adapters.
//
//   npm run serve -- --model distilbert-base-uncased --adapter reports/trained_model \
//     [--adapter name=<dir> …] [--port 8000] [--host 127.0.0.1] [--max-length 512] \
//     [--max-batch-size 32] [--max-wait-ms 5] [--max-texts 64] [--body-limit 1048576] \
//     [--quantization nf4|none] [--backend auto|cpu|wasm|webgpu|tensorflow|tensorflow-gpu]
//
// An adapter without a name is called after its folder ('trained_model'). The first adapter is
// the default. SIGTERM or SIGINT (Ctrl-C) shut down gracefully: requests already received are
// answered, then the process exits. (package.json's script `exec`s ts-node so that a SIGTERM sent
// to `npm run serve` reaches this process instead of stopping at the shell.)
import * as path from 'path';
import { parseArgs } from 'util';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../lib/index';
import { AdapterSpec, InferenceServer, ServerOptions } from '../lib/serving/server';

const USAGE =
  'usage: npm run serve -- --model <repo id or folder> --adapter [name=]<dir> [--adapter …] [--port 8000] [--host 127.0.0.1]\n' +
  '       [--max-length N] [--max-batch-size 32] [--max-wait-ms 5] [--max-texts 64] [--body-limit BYTES] [--quantization nf4|none] [--backend auto]';

export interface ServeArgs {
  server: ServerOptions;
  port: number;
  host: string;
  backend: string;
}

function parseAdapter(value: string): AdapterSpec {
  const eq = value.indexOf('=');
  // 'name=dir'; a bare folder is named after itself (a Windows 'C:\…' path has no '=').
  if (eq > 0) return { name: value.slice(0, eq), dir: value.slice(eq + 1) };
  return { name: path.basename(path.resolve(value)), dir: value };
}

function integer(flag: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${flag} must be an integer ≥ ${min}, got '${value}'\n${USAGE}`);
  return n;
}

/** Parses the command line; throws with the usage on a mistake. */
export function parseServeArgs(argv: string[]): ServeArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      adapter: { type: 'string', multiple: true },
      port: { type: 'string' },
      host: { type: 'string' },
      'max-length': { type: 'string' },
      'max-batch-size': { type: 'string' },
      'max-wait-ms': { type: 'string' },
      'max-texts': { type: 'string' },
      'body-limit': { type: 'string' },
      quantization: { type: 'string' },
      backend: { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (!values.model) throw new Error(`--model is required\n${USAGE}`);
  if (!values.adapter?.length) throw new Error(`at least one --adapter is required\n${USAGE}`);
  const quantization = values.quantization ?? 'nf4';
  if (quantization !== 'nf4' && quantization !== 'none') throw new Error(`--quantization must be nf4 or none, got '${quantization}'`);
  return {
    server: {
      model: values.model,
      adapters: values.adapter.map(parseAdapter),
      quantization,
      maxLength: integer('max-length', values['max-length'], 3),
      maxBatchSize: integer('max-batch-size', values['max-batch-size'], 1),
      maxWaitMs: integer('max-wait-ms', values['max-wait-ms'], 0),
      maxTextsPerRequest: integer('max-texts', values['max-texts'], 1),
      bodyLimit: integer('body-limit', values['body-limit'], 1),
    },
    port: integer('port', values.port, 0) ?? 8000,
    host: values.host ?? '127.0.0.1',
    backend: values.backend ?? process.env.QLORA_BACKEND ?? 'auto',
  };
}

async function main(): Promise<void> {
  let args: ServeArgs;
  try {
    args = parseServeArgs(process.argv.slice(2));
  } catch (e) {
    console.error((e as Error).message);
    process.exit(2);
  }
  // Production mode: no tfjs debug checks, no advice banner in the server's log.
  tf.env().set('PROD', true);
  await selectBackend({ preference: args.backend });
  const server = await InferenceServer.load(args.server);
  const address = await server.listen({ port: args.port, host: args.host });
  const names = [...server.adapters.values()].map((a) => `${a.name} (${a.labelNames.join('/')})`);
  console.log(`serving ${args.server.model} with adapters ${names.join(', ')} on ${address}`);
  console.log(`try: curl -s ${address}/v1/classify -H 'Content-Type: application/json' -d '{"texts": ["A wonderful film."]}'`);

  const shutdown = (signal: string) => {
    console.log(`${signal}: finishing in-flight requests, then exiting`);
    server.close().then(
      () => process.exit(0),
      (e) => {
        console.error(`shutdown failed: ${(e as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
