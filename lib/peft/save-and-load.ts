// The adapter's weights in PEFT's format (peft `utils/save_and_load.py`: get_peft_model_state_dict,
// set_peft_model_state_dict, load_peft_weights).
//
// adapter_model.safetensors holds, with metadata {"format": "pt"}, keys `base_model.model.<path>…`:
//   <lora path>.lora_A.weight [r, in], <lora path>.lora_B.weight [out, r];
//   every parameter of a modules_to_save module under its own name (<path>.weight, <path>.bias, …);
//   with bias 'all' / 'lora_only', the trained biases: <lora path>.base_layer.bias, <other path>.bias.
//
// Loading follows torch's load_state_dict(strict=False), as PEFT does: a key that names a parameter
// of the wrapped model is loaded into it, whatever it is; a shape mismatch is an error; keys that
// name nothing are ignored (we warn, PEFT is silent); LoRA weights missing from the file keep their
// fresh initialisation with PEFT's "Found missing adapter keys" warning; modules_to_save weights
// missing from the file keep the base model's values (PEFT < 0.15 did this silently, as for a
// SEQ_CLS adapter saved with only A/B; we warn). PEFT 0.21 raises a KeyError on such a file
// (checked with the real library: scripts/reference/CROSSCHECK.md); we keep loading it, and say so.
//
// Beside them, config.json: the base's transformers config with the head's id2label / label2id,
// as HF's Trainer saves the model config next to its weights, so that Python
// (AutoConfig.from_pretrained(dir).id2label, then from_pretrained(base, num_labels=…, id2label=…))
// and our server know the class names and their number. PEFT itself ignores the file.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { DenseLinear } from '../models/linear';
import { DistilBertForSequenceClassification } from '../models/distilbert/modeling';
import { DistilBertConfig, distilBertConfigJson } from '../models/distilbert/config';
import { writeFileAtomic } from '../util/atomic-write';
import { SafetensorsFile, TensorToWrite, writeSafetensors } from '../io/safetensors';
import { LoraLinear } from './lora-linear';
import { PeftPlan } from './plan';

export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';
/** The class names' file beside the adapter (a transformers config.json). */
export const ADAPTER_LABELS_FILE = 'config.json';
/** PEFT's prefix for every key in adapter_model.safetensors (PeftModel.base_model = LoraModel, .model = the HF model). */
export const KEY_PREFIX = 'base_model.model.';

/** get_peft_model_state_dict's keys (without KEY_PREFIX) and shapes, for `model` before or after the plan is applied. */
export function adapterShapes(model: DistilBertForSequenceClassification, plan: PeftPlan): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  const loraPaths = new Set(plan.lora.map((t) => t.path));
  for (const { path: p, r } of plan.lora) {
    const l = model.linears.get(p)!;
    shapes.set(`${p}.lora_A.weight`, [r, l.inFeatures]);
    shapes.set(`${p}.lora_B.weight`, [l.outFeatures, r]);
  }
  for (const p of plan.savedLinears) {
    const l = model.linears.get(p)!;
    shapes.set(`${p}.weight`, [l.outFeatures, l.inFeatures]);
    if (l.bias) shapes.set(`${p}.bias`, [l.outFeatures]);
  }
  for (const p of plan.savedParams) shapes.set(p, model.params.get(p)!.shape);
  for (const p of plan.biasLinears) shapes.set(loraPaths.has(p) ? `${p}.base_layer.bias` : `${p}.bias`, [model.linears.get(p)!.outFeatures]);
  for (const p of plan.biasParams) shapes.set(p, model.params.get(p)!.shape);
  return shapes;
}

/** Writes `dir/adapter_model.safetensors` from a model with the plan applied (F32, PEFT's keys and metadata). */
export function writeAdapterWeights(dir: string, model: DistilBertForSequenceClassification, plan: PeftPlan): void {
  const tensors = new Map<string, tf.Tensor>();
  const toWrite: Record<string, TensorToWrite> = {};
  try {
    for (const key of adapterShapes(model, plan).keys()) tensors.set(key, tensorOf(model, plan, key));
    for (const [key, t] of tensors) toWrite[KEY_PREFIX + key] = { dtype: 'F32', shape: t.shape, data: t.dataSync() as Float32Array };
  } finally {
    tensors.forEach((t) => t.dispose());
  }
  writeSafetensors(path.join(dir, ADAPTER_WEIGHTS_FILE), toWrite, { format: 'pt' });
}

/** Where a key of the file goes in the wrapped model. */
type Destination =
  | { kind: 'loraA' | 'loraB' | 'weight' | 'bias'; path: string }
  | { kind: 'param'; name: string };

/** A fresh copy of the model value a key names (the caller disposes it). */
function tensorOf(model: DistilBertForSequenceClassification, plan: PeftPlan, key: string): tf.Tensor {
  const d = destinationOf(model, plan, key)!;
  if (d.kind === 'param') return tf.clone(model.params.get(d.name)!);
  const layer = model.linears.get(d.path)!;
  if (d.kind === 'loraA') return tf.clone((layer as LoraLinear).loraA);
  if (d.kind === 'loraB') return tf.clone((layer as LoraLinear).loraB);
  if (d.kind === 'bias') return tf.clone(layer.bias!);
  return layer.weight();
}

/** The parameter a key (without KEY_PREFIX) names in the PEFT-wrapped model, or null (torch: an unexpected key). */
function destinationOf(model: DistilBertForSequenceClassification, plan: PeftPlan, key: string): Destination | null {
  if (model.params.has(key)) return { kind: 'param', name: key };
  const dot = key.lastIndexOf('.');
  const [owner, leaf] = [key.slice(0, dot), key.slice(dot + 1)];
  const isLora = (p: string) => plan.lora.some((t) => t.path === p);
  for (const [suffix, kind] of [['.lora_A', 'loraA'], ['.lora_B', 'loraB'], ['.base_layer', '']] as const) {
    if (!owner.endsWith(suffix)) continue;
    const p = owner.slice(0, -suffix.length);
    if (!isLora(p)) return null;
    if (kind) return leaf === 'weight' ? { kind, path: p } : null;
    return leaf === 'weight' || (leaf === 'bias' && model.linears.get(p)!.bias) ? { kind: leaf, path: p } : null;
  }
  if (!model.linears.has(owner) || isLora(owner)) return null; // a LoRA layer's own weight is at .base_layer
  if (leaf === 'weight') return { kind: 'weight', path: owner };
  if (leaf === 'bias' && model.linears.get(owner)!.bias) return { kind: 'bias', path: owner };
  return null;
}

function expectedShape(model: DistilBertForSequenceClassification, plan: PeftPlan, d: Destination): number[] {
  if (d.kind === 'param') return model.params.get(d.name)!.shape;
  const l = model.linears.get(d.path)!;
  const r = plan.lora.find((t) => t.path === d.path)?.r ?? 0;
  if (d.kind === 'loraA') return [r, l.inFeatures];
  if (d.kind === 'loraB') return [l.outFeatures, r];
  return d.kind === 'bias' ? [l.outFeatures] : [l.outFeatures, l.inFeatures];
}

/** Weights read from an adapter file, checked against the model, ready to be assigned. */
export interface AdapterWeights {
  values: { destination: Destination; key: string; data: Float32Array; shape: number[] }[];
}

const list = (keys: string[]) => `[${keys.slice(0, 8).map((k) => `'${k}'`).join(', ')}${keys.length > 8 ? `, … (${keys.length} in all)` : ''}]`;

/**
 * load_peft_weights + the checks of set_peft_model_state_dict, on `model` before the plan is applied
 * (nothing is changed). Throws, naming the file, when it is missing or corrupt, when a key's shape
 * differs from the model's, or when it would overwrite a 4-bit weight.
 */
export function readAdapterWeights(dir: string, model: DistilBertForSequenceClassification, plan: PeftPlan, warn: (msg: string) => void): AdapterWeights {
  const file = path.join(dir, ADAPTER_WEIGHTS_FILE);
  if (!fs.existsSync(file)) {
    const bin = path.join(dir, 'adapter_model.bin');
    throw new Error(
      `${file} not found` + (fs.existsSync(bin) ? ' (adapter_model.bin is a pickled PyTorch file we cannot read: re-save with safe_serialization=True)' : ''),
    );
  }
  const st = SafetensorsFile.open(file); // throws, naming the file, on a corrupt file
  const values: AdapterWeights['values'] = [];
  const unused: string[] = [];
  for (const fullKey of st.names()) {
    const key = fullKey.startsWith(KEY_PREFIX) ? fullKey.slice(KEY_PREFIX.length) : null;
    const destination = key === null ? null : destinationOf(model, plan, key);
    if (!destination) {
      unused.push(fullKey);
      continue;
    }
    const shape = expectedShape(model, plan, destination);
    const info = st.info(fullKey);
    if (info.shape.join() !== shape.join()) {
      // Only the number of classes differs: say how to load a base with the adapter's head.
      const sameWidth = info.shape.slice(1).join() === shape.slice(1).join();
      const classes = /^classifier\.(weight|bias)$/.test(key!) && sameWidth ? info.shape[0] : null;
      const hint =
        classes !== null
          ? `the adapter's head has ${classes} classes: load the base with numLabels: ${classes} or its labelNames (Python: num_labels=${classes})`
          : 'was it saved for another model or config?';
      throw new Error(`${file}: '${fullKey}' has shape [${info.shape}] in the file but the model needs [${shape}] (${hint})`);
    }
    const saved = destination.kind === 'param' || plan.savedLinears.includes(destination.path);
    if (destination.kind === 'weight' && !saved && !(model.linears.get(destination.path) instanceof DenseLinear)) {
      throw new Error(`${file}: '${fullKey}' would replace the 4-bit weight of '${destination.path}'; load the base model with quantization: 'none' to use this adapter`);
    }
    values.push({ destination, key: fullKey, data: st.readFloat32(fullKey).data, shape });
  }
  const present = new Set(st.names());
  const missingLora = plan.lora
    .flatMap((t) => [`${t.path}.lora_A`, `${t.path}.lora_B`])
    .filter((k) => !present.has(`${KEY_PREFIX}${k}.weight`))
    .map((k) => `${KEY_PREFIX}${k}.default.weight`);
  if (missingLora.length) warn(`Found missing adapter keys while loading the checkpoint: ${list(missingLora)}.`);
  const savedKeys = [...plan.savedLinears.flatMap((p) => [`${p}.weight`, ...(model.linears.get(p)!.bias ? [`${p}.bias`] : [])]), ...plan.savedParams];
  const missingSaved = savedKeys.filter((k) => !present.has(KEY_PREFIX + k));
  if (missingSaved.length) {
    warn(
      `${file} has no values for ${list(missingSaved)} (modules_to_save): they keep the base model's values, as older PEFT releases did. ` +
        `PEFT 0.21 refuses such an adapter (KeyError: '${KEY_PREFIX}${missingSaved[0]}' in set_peft_model_state_dict): to load it in Python, save the head into it.`,
    );
  }
  if (unused.length) warn(`${file}: ignored ${list(unused)}, which name no parameter of the model with this adapter_config.json (PEFT ignores them too).`);
  return { values };
}

/** Assigns what readAdapterWeights read into `model`, now with the plan applied. */
export function assignAdapterWeights(model: DistilBertForSequenceClassification, weights: AdapterWeights): void {
  for (const { destination: d, data, shape } of weights.values) {
    let v: tf.Variable;
    if (d.kind === 'param') v = model.params.get(d.name)!;
    else {
      const layer = model.linears.get(d.path)!;
      if (d.kind === 'loraA') v = (layer as LoraLinear).loraA;
      else if (d.kind === 'loraB') v = (layer as LoraLinear).loraB;
      else if (d.kind === 'bias') v = layer.bias!;
      else v = ((layer instanceof LoraLinear ? layer.base : layer) as DenseLinear).weightVar;
    }
    const t = tf.tensor(data, shape, 'float32');
    v.assign(t);
    t.dispose();
  }
}

/** True when id2label only holds transformers' placeholders LABEL_0, LABEL_1, …. */
function placeholderNames(config: DistilBertConfig): boolean {
  return Object.entries(config.id2label).every(([id, name]) => name === `LABEL_${id}`);
}

/**
 * Writes `dir/config.json` (transformers' DistilBertConfig JSON with the classes in id2label /
 * label2id) when the classes have names (loadPretrained's labelNames, or a checkpoint whose
 * config.json names them). Returns whether it wrote the file. With transformers' placeholders
 * LABEL_0, LABEL_1, … it writes nothing, as before: the server then falls back to the base's
 * names, or negative / positive for two classes.
 */
export function writeAdapterLabels(dir: string, config: DistilBertConfig): boolean {
  if (placeholderNames(config)) return false;
  writeFileAtomic(path.join(dir, ADAPTER_LABELS_FILE), distilBertConfigJson(config));
  return true;
}
