// Many LoRA adapters on one frozen (NF4) base model, the way multi-LoRA servers share a base.
//
// Each adapter gets a *view* of the base: a DistilBertForSequenceClassification whose parameter
// and linear-layer maps are copies of the base's maps (the same tensors, not copies of them),
// handed to loadAdapter. loadAdapter then wraps the view's targeted layers in LoraLinears around
// the shared frozen layers, so the 4-bit weights exist once whatever the number of adapters.
// What an adapter trains in full (PEFT's modules_to_save: the classifier head, and e.g.
// word_embeddings if asked) is written into the model in place, so the view gets private copies
// of exactly those first: the base and the other adapters never see them change. The head copy
// takes its shape from the adapter file, so adapters with different numbers of classes share
// one base.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  DenseLinear,
  DistilBertConfig,
  DistilBertForSequenceClassification,
  Linear,
  LoraLinear,
  PeftModel,
  SafetensorsFile,
  loadAdapter,
} from '../index';

/** PEFT's prefix on every key of adapter_model.safetensors. */
const KEY_PREFIX = 'base_model.model.';

/** One adapter, ready to serve. */
export interface ServedAdapter {
  /** The name requests use ({"adapter": name}). */
  name: string;
  /** The adapter folder (adapter_config.json + adapter_model.safetensors). */
  dir: string;
  /** The adapter on its view of the shared base; call logits() on it. Never dispose it: use disposeServedAdapter. */
  peft: PeftModel;
  /** Class names by label id. */
  labelNames: string[];
  /** Where labelNames came from, for /v1/adapters: a file path, or 'default'. */
  labelSource: string;
  /** The adapter_config.json's base_model_name_or_path (informative; null when unset). */
  baseModelNameOrPath: string | null;
  /** Tensors owned by this adapter alone (LoRA A/B, head copies), freed by disposeServedAdapter. */
  owned: tf.Tensor[];
}

/**
 * Loads the adapter in `dir` (ours or Python PEFT's) onto a view of `base`, leaving `base` and
 * every other view unchanged. Throws loadAdapter's errors (naming the file) when the adapter
 * does not fit the base.
 */
export async function loadServedAdapter(base: DistilBertForSequenceClassification, name: string, dir: string): Promise<ServedAdapter> {
  const weightsFile = path.join(dir, ADAPTER_WEIGHTS_FILE);
  const configFile = path.join(dir, ADAPTER_CONFIG_FILE);
  if (!fs.existsSync(configFile) || !fs.existsSync(weightsFile)) {
    throw new Error(
      `adapter '${name}': ${path.resolve(dir)} is not an adapter folder: it needs ${ADAPTER_CONFIG_FILE} and ${ADAPTER_WEIGHTS_FILE} ` +
        `(written by saveAdapter, the notebook's "Save the adapter" step, or PEFT's save_pretrained)`,
    );
  }
  const owned: tf.Tensor[] = [];
  try {
    const peft = await loadOntoView(base, dir, weightsFile, owned);
    const numLabels = peft.model.config.numLabels;
    const labels = adapterLabelNames(dir, base.config, numLabels);
    const adapterConfig = JSON.parse(fs.readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    return {
      name,
      dir,
      peft,
      labelNames: labels.names,
      labelSource: labels.source,
      baseModelNameOrPath: typeof adapterConfig.base_model_name_or_path === 'string' ? adapterConfig.base_model_name_or_path : null,
      owned,
    };
  } catch (e) {
    tf.dispose(owned);
    throw new Error(`adapter '${name}' (${path.resolve(dir)}): ${(e as Error).message}`, { cause: e });
  }
}

/** The view of `base` with private copies of what the adapter trains in full, and loadAdapter on it. Every tensor it makes goes into `owned`. */
async function loadOntoView(base: DistilBertForSequenceClassification, dir: string, weightsFile: string, owned: tf.Tensor[]): Promise<PeftModel> {
  // What the adapter trains in full, read from its file: a key that is not lora_A/lora_B is
  // `base_model.model.<parameter name>`. loadAdapter checks these keys against adapter_config.json.
  const saved = new Map<string, number[]>();
  for (const [key, info] of SafetensorsFile.open(weightsFile).tensors) {
    if (key.startsWith(KEY_PREFIX) && !/\.lora_[AB]\.weight$/.test(key)) saved.set(key.slice(KEY_PREFIX.length), info.shape);
  }

  const params = new Map(base.params);
  for (const [p, v] of base.params) {
    if (!saved.has(p)) continue;
    const copy = tf.variable(v, false);
    owned.push(copy);
    params.set(p, copy);
  }
  const linears = new Map<string, Linear>(base.linears);
  for (const [p, layer] of base.linears) {
    const weightShape = saved.get(`${p}.weight`);
    if (!weightShape) continue;
    // Zeros, overwritten by loadAdapter. The classifier takes its number of classes from the
    // file; any other mismatch is left for loadAdapter to report in its own words.
    const isHead = p === 'classifier' && weightShape.length === 2 && weightShape[1] === layer.inFeatures;
    const out = isHead ? weightShape[0] : layer.outFeatures;
    const w = tf.zeros([out, layer.inFeatures]) as tf.Tensor2D;
    const b = layer.bias ? (tf.zeros([out]) as tf.Tensor1D) : null;
    const copy = new DenseLinear(w, b);
    w.dispose();
    b?.dispose();
    owned.push(copy.weightVar, ...(copy.bias ? [copy.bias] : []));
    linears.set(p, copy);
  }

  const numLabels = linears.get('classifier')!.outFeatures;
  const config: DistilBertConfig = numLabels === base.config.numLabels ? base.config : { ...base.config, ...genericLabels(numLabels) };
  const peft = await loadAdapter(new DistilBertForSequenceClassification(config, params, linears), dir);
  for (const layer of peft.loraLayers().values()) owned.push(layer.loraA, layer.loraB);
  return peft;
}

/** Frees what the adapter alone holds; the shared base stays (LoraLinear.dispose would free it too). */
export function disposeServedAdapter(adapter: ServedAdapter): void {
  tf.dispose(adapter.owned);
  adapter.owned.length = 0;
}

function genericLabels(numLabels: number): Pick<DistilBertConfig, 'numLabels' | 'id2label' | 'label2id'> {
  const id2label: Record<string, string> = {};
  const label2id: Record<string, number> = {};
  for (let i = 0; i < numLabels; i++) {
    id2label[String(i)] = `LABEL_${i}`;
    label2id[`LABEL_${i}`] = i;
  }
  return { numLabels, id2label, label2id };
}

/** id2label → names by id, or null when it does not name exactly ids 0…n-1 or only has transformers' LABEL_i placeholders. */
function namesFromId2label(id2label: unknown, numLabels: number): string[] | null {
  if (!id2label || typeof id2label !== 'object') return null;
  const map = id2label as Record<string, unknown>;
  const names: string[] = [];
  for (let i = 0; i < numLabels; i++) {
    const n = map[String(i)];
    if (typeof n !== 'string' || n === '') return null;
    names.push(n);
  }
  if (Object.keys(map).length !== numLabels) return null;
  if (names.every((n, i) => n === `LABEL_${i}`)) return null;
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  // The API keys probabilities by class name, so two classes of one name would collide.
  if (dup !== undefined) throw new Error(`id2label names two classes '${dup}': class names must differ`);
  return names;
}

/**
 * Class names for an adapter, first found wins:
 * 1. `id2label` of a transformers config.json saved beside the adapter (model.config.save_pretrained(dir));
 * 2. an `id2label` in adapter_config.json;
 * 3. the base model's config.json id2label;
 * 4. predict()'s defaults: ['negative', 'positive'] for two classes (the IMDB convention this
 *    library trains with: label 1 = positive), else LABEL_i.
 * transformers' placeholder names (LABEL_0, LABEL_1, …) count as no names.
 */
export function adapterLabelNames(dir: string, baseConfig: DistilBertConfig, numLabels: number): { names: string[]; source: string } {
  for (const file of ['config.json', ADAPTER_CONFIG_FILE].map((f) => path.join(dir, f))) {
    if (!fs.existsSync(file)) continue;
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      throw new Error(`${file}: not valid JSON (${(e as Error).message}); fix or remove it`);
    }
    if (json.id2label === undefined) continue;
    const count = json.id2label && typeof json.id2label === 'object' ? Object.keys(json.id2label).length : 0;
    if (count !== numLabels) {
      throw new Error(`${file}: id2label names ${count} classes but the adapter's classifier has ${numLabels}; was it saved with another adapter?`);
    }
    const names = namesFromId2label(json.id2label, numLabels);
    if (names) return { names, source: file };
  }
  const fromBase = namesFromId2label(baseConfig.id2label, numLabels);
  if (fromBase) return { names: fromBase, source: "the base model's config.json" };
  const names = numLabels === 2 ? ['negative', 'positive'] : Array.from({ length: numLabels }, (_, i) => `LABEL_${i}`);
  return { names, source: 'default' };
}
