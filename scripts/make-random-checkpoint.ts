// Writes a small random DistilBERT checkpoint in the Hugging Face Hub's layout: config.json in
// transformers' format and model.safetensors with the Hub's key names. Pretrained weights cannot
// be downloaded everywhere (CI, offline machines); tests, benches and the notebook's dry runs use
// these instead.
//
//   npx ts-node --transpile-only scripts/make-random-checkpoint.ts --out /tmp/tiny-distilbert \
//     [--vocab-size 64] [--dim 32] [--n-layers 2] [--n-heads 4] [--hidden-dim 64] [--max-positions 32] \
//     [--seed 0] [--std 0.02] [--with-head] [--num-labels 2] [--no-prefix] [--dtype F32|F16|BF16] \
//     [--tokenizer <folder with tokenizer.json, vocab.txt, ...>]
//
// Like distilbert-base-uncased on the Hub, the default is the masked-LM checkpoint: base weights
// under `distilbert.` plus the MLM head (vocab_transform, vocab_layer_norm, vocab_projector.bias;
// vocab_projector.weight is tied to the word embeddings and so not stored). `withHead` writes a
// fine-tuned classifier instead (pre_classifier, classifier, id2label in config.json).
import * as fs from 'fs';
import * as path from 'path';
import { writeSafetensors, TensorToWrite } from '../lib/io/safetensors';
import { writeFileAtomic } from '../lib/util/atomic-write';

export interface RandomCheckpointOptions {
  vocabSize: number;
  dim: number;
  nLayers: number;
  nHeads: number;
  hiddenDim: number;
  maxPositions: number;
  seed: number;
  /** Write a sequence-classification checkpoint (pre_classifier + classifier) instead of the MLM one. */
  withHead?: boolean;
  /** Classes of the head when `withHead` (default 2). */
  numLabels?: number;
  /** Keys under `distilbert.` (default true, like the Hub's base checkpoint). */
  prefix?: boolean;
  /** Storage dtype of every tensor (default F32). */
  dtype?: 'F32' | 'F16' | 'BF16';
  /** Spread of the random weights (default 0.02, transformers' initializer_range). */
  std?: number;
  /** A folder whose tokenizer files are copied in, as on the Hub. */
  tokenizerDir?: string;
}

export const TOKENIZER_FILES = ['tokenizer.json', 'vocab.txt', 'tokenizer_config.json', 'special_tokens_map.json'];

/** mulberry32 + Box–Muller: plain integer math, so a seed gives the same weights everywhere. */
function normalGenerator(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

/** The config.json transformers writes for DistilBERT (keys sorted, 2-space indent). */
export function randomCheckpointConfig(o: RandomCheckpointOptions): Record<string, unknown> {
  const numLabels = o.numLabels ?? 2;
  const config: Record<string, unknown> = {
    activation: 'gelu',
    architectures: [o.withHead ? 'DistilBertForSequenceClassification' : 'DistilBertForMaskedLM'],
    attention_dropout: 0.1,
    dim: o.dim,
    dropout: 0.1,
    hidden_dim: o.hiddenDim,
    initializer_range: 0.02,
    max_position_embeddings: o.maxPositions,
    model_type: 'distilbert',
    n_heads: o.nHeads,
    n_layers: o.nLayers,
    pad_token_id: 0,
    qa_dropout: 0.1,
    seq_classif_dropout: 0.2,
    sinusoidal_pos_embds: false,
    tie_weights_: true,
    transformers_version: '4.10.0.dev0',
    vocab_size: o.vocabSize,
  };
  if (o.withHead) {
    config.id2label = Object.fromEntries(Array.from({ length: numLabels }, (_, i) => [String(i), `LABEL_${i}`]));
    config.label2id = Object.fromEntries(Array.from({ length: numLabels }, (_, i) => [`LABEL_${i}`, i]));
  }
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(config).sort()) sorted[key] = config[key];
  return sorted;
}

/** Every tensor of the checkpoint as float32, by Hub key name, in a fixed order (the seed's stream). */
export function randomCheckpointTensors(o: RandomCheckpointOptions): Map<string, { shape: number[]; data: Float32Array }> {
  if (o.dim % o.nHeads !== 0) throw new Error(`dim ${o.dim} must be divisible by nHeads ${o.nHeads}`);
  const std = o.std ?? 0.02;
  const normal = normalGenerator(o.seed);
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  const base = o.prefix === false ? '' : 'distilbert.';
  const add = (name: string, shape: number[], mean = 0) => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = mean + std * normal();
    tensors.set(name, { shape, data });
    return data;
  };
  const linear = (name: string, out: number, inp: number) => {
    add(`${name}.weight`, [out, inp]);
    add(`${name}.bias`, [out]);
  };
  // LayerNorms near identity but not exactly, so a swapped weight/bias shows in the output.
  const layerNorm = (name: string, n: number) => {
    add(`${name}.weight`, [n], 1);
    add(`${name}.bias`, [n]);
  };

  const words = add(`${base}embeddings.word_embeddings.weight`, [o.vocabSize, o.dim]);
  words.fill(0, 0, o.dim); // transformers zeroes the padding token's row (pad_token_id 0)
  add(`${base}embeddings.position_embeddings.weight`, [o.maxPositions, o.dim]);
  layerNorm(`${base}embeddings.LayerNorm`, o.dim);
  for (let i = 0; i < o.nLayers; i++) {
    const layer = `${base}transformer.layer.${i}`;
    for (const lin of ['q_lin', 'k_lin', 'v_lin', 'out_lin']) linear(`${layer}.attention.${lin}`, o.dim, o.dim);
    layerNorm(`${layer}.sa_layer_norm`, o.dim);
    linear(`${layer}.ffn.lin1`, o.hiddenDim, o.dim);
    linear(`${layer}.ffn.lin2`, o.dim, o.hiddenDim);
    layerNorm(`${layer}.output_layer_norm`, o.dim);
  }
  if (o.withHead) {
    linear('pre_classifier', o.dim, o.dim);
    linear('classifier', o.numLabels ?? 2, o.dim);
  } else {
    linear('vocab_transform', o.dim, o.dim);
    layerNorm('vocab_layer_norm', o.dim);
    add('vocab_projector.bias', [o.vocabSize]);
  }
  return tensors;
}

/** Writes config.json and model.safetensors (and the tokenizer files, if asked) into `dir`. */
export function writeRandomCheckpoint(dir: string, o: RandomCheckpointOptions): void {
  fs.mkdirSync(dir, { recursive: true });
  const dtype = o.dtype ?? 'F32';
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, t] of randomCheckpointTensors(o)) tensors[name] = { dtype, shape: t.shape, data: t.data };
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  const configJson = JSON.stringify(randomCheckpointConfig(o), null, 2) + '\n';
  writeFileAtomic(path.join(dir, 'config.json'), configJson);
  if (o.tokenizerDir) {
    for (const file of TOKENIZER_FILES) {
      const from = path.join(o.tokenizerDir, file);
      if (!fs.existsSync(from)) throw new Error(`--tokenizer ${o.tokenizerDir}: ${file} is missing there`);
      fs.copyFileSync(from, path.join(dir, file));
    }
  }
}

const USAGE = `Usage: ts-node scripts/make-random-checkpoint.ts --out <folder> [options]
  --tokenizer <folder>   copy tokenizer.json, vocab.txt, ... in (the vocabulary size then follows vocab.txt)
  --vocab-size N (64)  --dim N (32)  --n-layers N (2)  --n-heads N (4)  --hidden-dim N (64)
  --max-positions N (32)  --seed N (0)  --std X (0.02)  --num-labels N (2)  --dtype F32|F16|BF16
  --with-head            write pre_classifier/classifier too (default: the Hub's MLM base layout)
  --no-prefix            keys without 'distilbert.'`;

function parseArgs(argv: string[]): { out: string; options: RandomCheckpointOptions } {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    process.exit(0);
  }
  const args = new Map<string, string>();
  const flags = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}'`);
    if (['--with-head', '--no-prefix'].includes(a)) flags.add(a);
    else if (i + 1 < argv.length) args.set(a, argv[++i]);
    else throw new Error(`${a} needs a value`);
  }
  const known = ['--out', '--vocab-size', '--dim', '--n-layers', '--n-heads', '--hidden-dim', '--max-positions', '--seed', '--std', '--num-labels', '--dtype', '--tokenizer'];
  for (const key of args.keys()) if (!known.includes(key)) throw new Error(`unknown option ${key} (known: ${known.join(' ')} --with-head --no-prefix)`);
  const out = args.get('--out');
  if (!out) throw new Error('--out <folder> is required');
  const int = (key: string, fallback: number) => {
    const v = args.has(key) ? Number(args.get(key)) : fallback;
    if (!Number.isInteger(v) || v < 0) throw new Error(`${key} must be a non-negative integer, got '${args.get(key)}'`);
    return v;
  };
  const tokenizerDir = args.get('--tokenizer');
  // With a real tokenizer, the vocabulary must cover its ids.
  const tokenizerVocab = tokenizerDir ? fs.readFileSync(path.join(tokenizerDir, 'vocab.txt'), 'utf8').split('\n').filter(Boolean).length : 64;
  const dtype = (args.get('--dtype') ?? 'F32') as 'F32' | 'F16' | 'BF16';
  if (!['F32', 'F16', 'BF16'].includes(dtype)) throw new Error(`--dtype must be F32, F16 or BF16, got '${dtype}'`);
  return {
    out,
    options: {
      vocabSize: int('--vocab-size', tokenizerVocab),
      dim: int('--dim', 32),
      nLayers: int('--n-layers', 2),
      nHeads: int('--n-heads', 4),
      hiddenDim: int('--hidden-dim', 64),
      maxPositions: int('--max-positions', 32),
      seed: int('--seed', 0),
      std: args.has('--std') ? Number(args.get('--std')) : undefined,
      numLabels: int('--num-labels', 2),
      withHead: flags.has('--with-head'),
      prefix: !flags.has('--no-prefix'),
      dtype,
      tokenizerDir,
    },
  };
}

if (require.main === module) {
  try {
    const { out, options } = parseArgs(process.argv.slice(2));
    writeRandomCheckpoint(out, options);
    console.log(`wrote a random DistilBERT checkpoint (dim ${options.dim}, ${options.nLayers} layers, vocab ${options.vocabSize}) to ${out}`);
  } catch (e) {
    console.error(`make-random-checkpoint: ${(e as Error).message}`);
    process.exit(1);
  }
}
