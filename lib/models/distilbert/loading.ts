// Loading a pretrained DistilBERT from a Hugging Face checkpoint folder (config.json +
// model.safetensors, or shards + model.safetensors.index.json), and saving one back.
//
// Key handling follows transformers' from_pretrained: the base model's keys may or may not carry
// the `distilbert.` prefix; old LayerNorm names gamma/beta mean weight/bias; the masked-LM head
// (vocab_transform, vocab_layer_norm, vocab_projector) is not used by the classifier; and a
// missing classification head is initialised like transformers does (weights ~ N(0, 0.02),
// zero biases), with a message saying which weights are new.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { DenseLinear, Linear } from '../linear';
import { NF4Linear } from '../../quantization/nf4-linear';
import { HubOptions, resolveRepoFolder } from '../../hub/hub';
import { writeSafetensors, TensorToWrite } from '../../io/safetensors';
import { CheckpointTensors } from '../../io/sharded';
import { distilBertConfigJson, readDistilBertConfig } from './config';
import { DistilBertForSequenceClassification, linearShapes, parameterShapes, ATTENTION_LINEARS, FFN_LINEARS } from './modeling';
import { writeFileAtomic } from '../../util/atomic-write';

export interface LoadPretrainedOptions {
  /** Classes of the classification head (default: from config.json's id2label, else 2). */
  numLabels?: number;
  /** Class names in label-id order (sets numLabels and config.json's id2label/label2id, as transformers' id2label=…), e.g. data.labelNames. */
  labelNames?: readonly string[];
  /** 'nf4' holds the transformer's linear weights in 4-bit NF4 (QLoRA); 'none' keeps fp32 (default). */
  quantization?: 'nf4' | 'none';
  /** NF4 only: quantize the block scales too (QLoRA's double quantization; default true, as bitsandbytes' Linear4bit). */
  doubleQuant?: boolean;
  /** NF4 only: values per quantization block (default 64, as bitsandbytes). */
  blockSize?: number;
  /** Seed for the initialisation of a missing classification head (default 42). */
  seed?: number;
  /** Where messages go (default console.warn), e.g. which weights were newly initialised. */
  log?: (msg: string) => void;
  /** Download options when `pathOrRepoId` is a Hub repo id (revision, cacheDir, token, offline, progress). */
  hub?: HubOptions;
}

/** Checkpoint keys the sequence classifier does not use (masked-LM head, position_ids buffer). */
const UNUSED_KEY = /^(distilbert\.)?(vocab_transform|vocab_layer_norm|vocab_projector)\.|^(distilbert\.)?embeddings\.position_ids$/;
const HEAD_LINEARS = ['pre_classifier', 'classifier'];
/** The linear layers NF4 quantization covers: every attention and feed-forward projection (QLoRA: all linears of the base). */
export const QUANTIZED_LINEARS: readonly string[] = [...ATTENTION_LINEARS, ...FFN_LINEARS];

/** The HF parameter name a checkpoint key stands for: prefix added, gamma/beta renamed. */
export function canonicalKey(key: string): string {
  let name = key.replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias');
  if (name.startsWith('embeddings.') || name.startsWith('transformer.')) name = `distilbert.${name}`;
  return name;
}

/** The files a checkpoint needs: Hub entry syntax of lib/hub.ts ('a|b' = the first that exists). */
export const CHECKPOINT_FILES = ['config.json', 'model.safetensors|model.safetensors.index.json'];

/**
 * A local checkpoint folder as is, or a Hub repo id (e.g. 'distilbert-base-uncased') downloaded
 * into the Hugging Face cache (lib/hub: $HF_HUB_CACHE or $HF_HOME/hub, $HF_ENDPOINT, $HF_TOKEN, $HF_HUB_OFFLINE).
 */
function resolveModelFolder(pathOrRepoId: string, hub: HubOptions = {}): Promise<string> {
  return resolveRepoFolder(pathOrRepoId, CHECKPOINT_FILES, hub);
}

/** Makes a frozen variable from float32 data, leaving no intermediate tensor behind. */
function frozenVariable(data: Float32Array, shape: number[]): tf.Variable {
  const t = tf.tensor(data, shape, 'float32');
  const v = tf.variable(t, false);
  t.dispose();
  return v;
}

/**
 * Loads `DistilBertForSequenceClassification` from a checkpoint folder or Hub repo id. Reads one tensor at a
 * time, so the file is never held in memory whole; with `quantization: 'nf4'` the transformer's
 * q/k/v/out_lin and lin1/lin2 weights go to the device only in 4-bit form.
 */
export async function loadPretrained(pathOrRepoId: string, opts: LoadPretrainedOptions = {}): Promise<DistilBertForSequenceClassification> {
  const log = opts.log ?? ((msg: string) => console.warn(msg));
  const quantization = opts.quantization ?? 'none';
  if (quantization !== 'none' && quantization !== 'nf4') {
    throw new Error(`quantization must be 'nf4' or 'none', got '${quantization}'`);
  }
  const folder = await resolveModelFolder(pathOrRepoId, opts.hub);
  const config = readDistilBertConfig(path.join(folder, 'config.json'), { numLabels: opts.numLabels, labelNames: opts.labelNames });
  const checkpoint = CheckpointTensors.open(folder);

  // HF name → checkpoint key.
  const keyOf = new Map<string, string>();
  const unused: string[] = [];
  for (const key of checkpoint.names()) {
    if (UNUSED_KEY.test(key)) {
      unused.push(key);
      continue;
    }
    const name = canonicalKey(key);
    if (keyOf.has(name)) throw new Error(`${folder}: the checkpoint holds '${name}' twice (as '${keyOf.get(name)}' and '${key}')`);
    keyOf.set(name, key);
  }

  const expected = new Map<string, number[]>(parameterShapes(config));
  for (const [p, [out, inp]] of linearShapes(config)) {
    expected.set(`${p}.weight`, [out, inp]);
    expected.set(`${p}.bias`, [out]);
  }
  const isHead = (name: string) => HEAD_LINEARS.some((h) => name.startsWith(`${h}.`));
  const missingBase = [...expected.keys()].filter((n) => !isHead(n) && !keyOf.has(n));
  if (missingBase.length) {
    throw new Error(
      `${folder}: the checkpoint lacks ${missingBase.length} required DistilBERT weights: ${missingBase.join(', ')}. ` +
        `Is it a DistilBERT checkpoint, and complete? Re-download it.`,
    );
  }
  for (const [name, shape] of expected) {
    const key = keyOf.get(name);
    if (!key) continue;
    const got = checkpoint.info(key).shape;
    if (got.join() !== shape.join()) {
      const hint = name.startsWith('classifier.') ? ` (the checkpoint's head has ${got[0]} labels: pass numLabels: ${got[0]})` : ' (does config.json match the weights?)';
      throw new Error(`${folder}: '${key}' has shape [${got}] but config.json implies [${shape}]${hint}`);
    }
  }
  for (const name of keyOf.keys()) if (!expected.has(name)) unused.push(keyOf.get(name)!);

  const read = (name: string) => checkpoint.readFloat32(keyOf.get(name)!).data;
  const params = new Map<string, tf.Variable>();
  const linears = new Map<string, Linear>();
  const newlyInitialised: string[] = [];
  const quantize = quantization === 'nf4' ? nf4Factory(opts) : null;
  const isQuantizable = (p: string) => QUANTIZED_LINEARS.includes(p.slice(p.lastIndexOf('.') + 1));
  try {
    for (const [name, shape] of parameterShapes(config)) params.set(name, frozenVariable(read(name), shape));
    let seed = opts.seed ?? 42;
    for (const [p, [out, inp]] of linearShapes(config)) {
      if (!keyOf.has(`${p}.weight`) || !keyOf.has(`${p}.bias`)) {
        // transformers' _init_weights for nn.Linear: weight ~ N(0, initializer_range), bias = 0.
        const weight = tf.randomNormal([out, inp], 0, config.initializer_range, 'float32', seed++) as tf.Tensor2D;
        const bias = tf.zeros([out]) as tf.Tensor1D;
        linears.set(p, new DenseLinear(weight, bias));
        tf.dispose([weight, bias]);
        newlyInitialised.push(`${p}.bias`, `${p}.weight`);
        continue;
      }
      const weight = read(`${p}.weight`);
      const bias = read(`${p}.bias`);
      if (quantize && isQuantizable(p)) {
        linears.set(p, quantize(weight, out, inp, bias, p));
      } else {
        const w = tf.tensor2d(weight, [out, inp]);
        const b = tf.tensor1d(bias);
        linears.set(p, new DenseLinear(w, b));
        tf.dispose([w, b]);
      }
    }
  } catch (e) {
    for (const v of params.values()) v.dispose();
    for (const l of linears.values()) l.dispose();
    throw e;
  }

  if (unused.length) {
    log(
      `Some weights of the model checkpoint at ${folder} were not used when initializing DistilBertForSequenceClassification: ` +
        `[${unused.sort().join(', ')}]`,
    );
  }
  if (newlyInitialised.length) {
    log(
      `Some weights of DistilBertForSequenceClassification were not initialized from the model checkpoint at ${folder} ` +
        `and are newly initialized: [${newlyInitialised.sort().join(', ')}]\n` +
        `You should probably TRAIN this model on a down-stream task to be able to use it for predictions and inference.`,
    );
  }
  return new DistilBertForSequenceClassification(config, params, linears);
}

type QuantizeLinear = (weight: Float32Array, out: number, inp: number, bias: Float32Array, name: string) => Linear;

let loadCount = 0;

/** NF4Linear.fromWeights bound to the load options. */
function nf4Factory(opts: LoadPretrainedOptions): QuantizeLinear {
  // tfjs refuses two variables of one name, so names carry which load they come from: two
  // models (say, an NF4 one and its reference) can live side by side.
  const load = ++loadCount;
  return (weight, out, inp, bias, name) =>
    NF4Linear.fromWeights(weight, out, inp, bias, {
      blockSize: opts.blockSize ?? 64,
      doubleQuant: opts.doubleQuant ?? true,
      name: `${name}@${load}`,
    });
}

/**
 * Writes `config.json` and `model.safetensors` (fp32, HF key names, `{"format": "pt"}`) so that
 * transformers' `from_pretrained` and `loadPretrained` can read the model back. NF4 layers are
 * saved dequantized, LoRA layers merged.
 */
export async function savePretrained(model: DistilBertForSequenceClassification, folder: string): Promise<void> {
  fs.mkdirSync(folder, { recursive: true });
  const tensors: Record<string, TensorToWrite> = {};
  const weights = model.namedWeights();
  try {
    for (const [name, t] of weights) tensors[name] = { dtype: 'F32', shape: t.shape, data: (await t.data()) as Float32Array };
  } finally {
    tf.dispose([...weights.values()]);
  }
  writeSafetensors(path.join(folder, 'model.safetensors'), tensors, { format: 'pt' });
  const json = distilBertConfigJson(model.config);
  writeFileAtomic(path.join(folder, 'config.json'), json);
}
