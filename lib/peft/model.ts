// PEFT's LoRA for DistilBERT sequence classification: getPeftModel, PeftModel (save, merge, count),
// and loadAdapter (PeftModel.from_pretrained). Mirrors peft `peft_model.py` and `tuners/lora/model.py`.
//
// print_trainable_parameters' line and its count follow PEFT exactly: PEFT keeps a frozen original
// of each modules_to_save module beside the trainable copy, and counts both in "all params"; 4-bit
// weights count as their unquantized number of values.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { DenseLinear, Linear } from '../models/linear';
import { DistilBertForSequenceClassification, LogitsOptions } from '../models/distilbert/modeling';
import { writeFileAtomic } from '../util/atomic-write';
import { mixSeed } from '../util/random';
import { adapterConfigJson, LoraConfig, resolveLoraConfig, ResolvedLoraConfig } from './config';
import { ADAPTER_CONFIG_FILE, readAdapterConfig } from './adapter-config';
import { LoraLinear } from './lora-linear';
import { PeftPlan, planPeft } from './plan';
import { adapterShapes, assignAdapterWeights, KEY_PREFIX, readAdapterWeights, writeAdapterLabels, writeAdapterWeights } from './save-and-load';

// Tags the seeds of LoRA initialisation, so they never coincide with dropout's or the data order's.
const LORA_INIT_SITE = 0x10a;

/** Python's `f"{n:,d}"`: digits grouped by threes with commas, whatever the locale. */
function groupThousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** PEFT's print_trainable_parameters line. */
export function formatTrainableParameters(trainable: number, all: number): string {
  return `trainable params: ${groupThousands(trainable)} || all params: ${groupThousands(all)} || trainable%: ${((100 * trainable) / all).toFixed(4)}`;
}

export interface SaveAdapterOptions {
  /** Written to adapter_config.json's base_model_name_or_path (PEFT takes it from the base model), e.g. 'distilbert-base-uncased'. */
  baseModelNameOrPath?: string | null;
}

/** A DistilBERT classifier with LoRA adapters; created by getPeftModel or loadAdapter. */
export class PeftModel {
  readonly config: ResolvedLoraConfig;
  /** The wrapped model; its linears map now holds the LoraLinear layers. */
  readonly model: DistilBertForSequenceClassification;
  readonly plan: PeftPlan;
  private unloaded = false;

  /** Use getPeftModel or loadAdapter. */
  constructor(model: DistilBertForSequenceClassification, config: ResolvedLoraConfig, plan: PeftPlan) {
    this.model = model;
    this.config = config;
    this.plan = plan;
  }

  private live(): DistilBertForSequenceClassification {
    if (this.unloaded) throw new Error('This PeftModel was merged and unloaded (or disposed); use the model mergeAndUnload() returned');
    return this.model;
  }

  /** The adapters by module path. */
  loraLayers(): Map<string, LoraLinear> {
    const m = this.live();
    return new Map(this.plan.lora.map(({ path: p }) => [p, m.linears.get(p) as LoraLinear]));
  }

  /** Logits [B, numLabels] for token ids and attention mask [B, T]. */
  logits(inputIds: number[][] | tf.Tensor2D, attentionMask: number[][] | tf.Tensor2D, opts?: LogitsOptions): tf.Tensor2D {
    return this.live().logits(inputIds, attentionMask, opts);
  }

  /** The biases bias 'all' / 'lora_only' trains (4-bit layers do not list their bias as trainable themselves). */
  private biasVariables(): tf.Variable[] {
    const m = this.live();
    return [...this.plan.biasLinears.map((p) => m.linears.get(p)!.bias!), ...this.plan.biasParams.map((p) => m.params.get(p)!)];
  }

  /** LoRA A/B of every adapter, the head, any modulesToSave parameters and the biases of `bias` (when trainable). */
  trainableVariables(): tf.Variable[] {
    const vars = new Set(this.live().trainableVariables());
    for (const v of this.biasVariables()) if (v.trainable) vars.add(v);
    return [...vars];
  }

  /** Makes the adapters, fully trained modules and `bias` biases trainable (or frozen, for inference). */
  setTrainable(trainable: boolean): void {
    const m = this.live();
    for (const lora of this.loraLayers().values()) lora.setTrainable(trainable);
    for (const p of this.plan.savedLinears) (m.linears.get(p) as DenseLinear).setTrainable(trainable);
    for (const p of this.plan.savedParams) m.params.get(p)!.trainable = trainable;
    for (const v of this.biasVariables()) v.trainable = trainable;
  }

  /**
   * PEFT's get_nb_trainable_parameters: every parameter of the wrapped model (4-bit weights at their
   * unquantized count, plus adapters), plus the frozen originals PEFT keeps of modules_to_save.
   */
  parameterCounts(): { trainable: number; all: number } {
    const m = this.live();
    let all = 0;
    for (const v of m.params.values()) all += v.size;
    for (const layer of m.linears.values()) {
      all += layer.inFeatures * layer.outFeatures + (layer.bias ? layer.bias.size : 0);
      if (layer instanceof LoraLinear) all += layer.adapterParameterCount();
    }
    for (const p of this.plan.savedParams) all += m.params.get(p)!.size; // PEFT's frozen original_module copies
    for (const p of this.plan.savedLinears) {
      const l = m.linears.get(p)!;
      all += l.inFeatures * l.outFeatures + (l.bias ? l.bias.size : 0);
    }
    const trainable = this.trainableVariables().reduce((n, v) => n + v.size, 0);
    return { trainable, all };
  }

  /** Logs and returns PEFT's line, e.g. `trainable params: 739,586 || all params: 67,694,596 || trainable%: 1.0925`. */
  printTrainableParameters(): string {
    const { trainable, all } = this.parameterCounts();
    const line = formatTrainableParameters(trainable, all);
    console.log(line);
    return line;
  }

  /** Shapes of every tensor saveAdapter writes, by safetensors key. */
  adapterTensorShapes(): Map<string, number[]> {
    return new Map([...adapterShapes(this.live(), this.plan)].map(([k, s]) => [KEY_PREFIX + k, s]));
  }

  /**
   * Writes `adapter_config.json` and `adapter_model.safetensors` into `dir` (created if needed), in
   * PEFT's format: `PeftModel.from_pretrained(base, dir)` in Python loads it, and so does loadAdapter.
   * Also `config.json` with the head's id2label / label2id when the classes are named
   * (save-and-load.ts writeAdapterLabels), where the server and Python find the class names.
   */
  saveAdapter(dir: string, opts: SaveAdapterOptions = {}): void {
    if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) throw new Error(`saveAdapter: ${dir} is a file; give a folder path`);
    fs.mkdirSync(dir, { recursive: true });
    writeAdapterWeights(dir, this.live(), this.plan);
    writeAdapterLabels(dir, this.live().config);
    writeFileAtomic(path.join(dir, ADAPTER_CONFIG_FILE), adapterConfigJson(this.config, opts.baseModelNameOrPath ?? null));
  }

  /**
   * Folds every adapter into its base weight (W ← W + scaling·B·A) and returns the plain model,
   * with the trained head. Needs an fp32 base: merging into NF4 weights would requantize them.
   * This PeftModel is unusable afterwards. Mirrors PEFT's merge_and_unload.
   */
  mergeAndUnload(): DistilBertForSequenceClassification {
    const m = this.live();
    const loras = this.loraLayers();
    for (const [p, lora] of loras) {
      if (!(lora.base instanceof DenseLinear)) {
        throw new Error(
          `mergeAndUnload: '${p}' has a ${lora.base.constructor.name} base; merging into 4-bit weights would requantize them and lose the update. ` +
            `Load the base model with quantization: 'none', loadAdapter(...) onto it, then merge; or keep the PeftModel unmerged.`,
        );
      }
    }
    for (const [p, lora] of loras) {
      const merged = lora.weight();
      const bias = lora.base.bias ? (tf.clone(lora.base.bias) as tf.Tensor1D) : null;
      const dense = new DenseLinear(merged, bias);
      merged.dispose();
      bias?.dispose();
      m.replaceLinear(p, dense);
      lora.dispose();
    }
    this.unloaded = true;
    return m;
  }

  dispose(): void {
    if (!this.unloaded) this.model.dispose();
    this.unloaded = true;
  }
}

function freezeLinear(layer: Linear): void {
  if (layer instanceof DenseLinear) layer.setTrainable(false);
  else for (const v of layer.trainableVariables()) v.trainable = false;
}

/**
 * Freezes the whole model, wraps every targeted linear layer in a LoraLinear, and makes the
 * classification head (and any modulesToSave, and the biases of `bias`) trainable. The model is
 * changed in place and owned by the returned PeftModel. Mirrors PEFT's get_peft_model. Throws,
 * before changing anything, on an invalid config or targets that match no linear layer.
 */
export function getPeftModel(model: DistilBertForSequenceClassification, config: LoraConfig): PeftModel {
  const resolved = resolveLoraConfig(config);
  const plan = planPeft(model, resolved);
  const peft = applyPlan(model, resolved, plan);
  peft.setTrainable(true);
  return peft;
}

function applyPlan(model: DistilBertForSequenceClassification, config: ResolvedLoraConfig, plan: PeftPlan): PeftModel {
  for (const v of model.params.values()) v.trainable = false;
  for (const layer of model.linears.values()) freezeLinear(layer);

  plan.lora.forEach(({ path: p, r, loraAlpha }, i) => {
    const lora = new LoraLinear(model.linears.get(p)!, {
      r,
      loraAlpha,
      loraDropout: config.loraDropout,
      useRslora: config.useRslora,
      initLoraWeights: config.initLoraWeights,
      seed: mixSeed(config.seed, i, LORA_INIT_SITE),
      name: p,
    });
    model.replaceLinear(p, lora);
  });

  for (const p of plan.savedLinears) {
    const layer = model.linears.get(p)!;
    if (!(layer instanceof DenseLinear)) {
      // A quantized head cannot be trained in place: train an fp32 copy of its (dequantized) weight.
      const weight = layer.weight();
      const bias = layer.bias ? (tf.clone(layer.bias) as tf.Tensor1D) : null;
      model.replaceLinear(p, new DenseLinear(weight, bias));
      weight.dispose();
      bias?.dispose();
      layer.dispose();
    }
  }
  return new PeftModel(model, config, plan);
}

export interface LoadAdapterOptions {
  /** Leave the adapters and head trainable (to continue training). Default false, as PEFT's is_trainable. */
  isTrainable?: boolean;
  /** Where PEFT's warnings go (default console.warn). */
  warn?: (msg: string) => void;
}

/**
 * Loads an adapter folder (ours or any PEFT 0.x LoRA adapter) onto a plain model, as
 * `PeftModel.from_pretrained(model, dir, is_trainable)`: wraps the layers adapter_config.json names
 * and sets A, B, the fully trained modules and any saved biases from adapter_model.safetensors.
 * The config and every key and shape are checked before the model is touched.
 */
export async function loadAdapter(model: DistilBertForSequenceClassification, dir: string, opts: LoadAdapterOptions = {}): Promise<PeftModel> {
  const warn = opts.warn ?? ((msg: string) => console.warn(msg));
  const file = path.join(dir, ADAPTER_CONFIG_FILE);
  const config = resolveLoraConfig(readAdapterConfig(dir, warn), file);
  let plan: PeftPlan;
  try {
    plan = planPeft(model, config, false);
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  if (plan.unmatchedModulesToSave.length) {
    warn(`${file}: modules_to_save ${JSON.stringify(plan.unmatchedModulesToSave)} match no module of the model; ignored, as PEFT does.`);
  }
  const weights = readAdapterWeights(dir, model, plan, warn);
  const peft = applyPlan(model, config, plan);
  assignAdapterWeights(peft.model, weights);
  peft.setTrainable(opts.isTrainable ?? false);
  return peft;
}
