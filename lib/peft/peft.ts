// PEFT's LoRA for DistilBERT sequence classification: getPeftModel, saveAdapter, loadAdapter.
//
// What follows PEFT (huggingface/peft, `tuners/lora`, `peft_model.py`, `utils/other.py`,
// `utils/save_and_load.py`) exactly, because users move adapters between it and us:
// - target_modules match a module path exactly or as a dotted suffix: 'q_lin' matches
//   'distilbert.transformer.layer.0.attention.q_lin', 'ffn.lin1' matches '...layer.0.ffn.lin1'.
// - modules_to_save match by plain string suffix, no dot (`key.endswith(name)` in `_set_trainable`),
//   and task SEQ_CLS appends 'classifier' and 'score'; so for DistilBERT 'classifier' catches both
//   `classifier` and `pre_classifier`, and the whole head is trained and saved.
// - The adapter file: `adapter_model.safetensors` with metadata {"format": "pt"} and keys
//   `base_model.model.<path>.lora_A.weight` [r, in], `...lora_B.weight` [out, r] and
//   `base_model.model.<param name>` for modules_to_save; `adapter_config.json` with every key a
//   recent PEFT writes, sorted, 2-space indent.
// - print_trainable_parameters' line and its count: PEFT keeps a frozen original of each
//   modules_to_save module beside the trainable copy, and counts both in "all params"; 4-bit
//   weights count as their unquantized number of values.
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { DenseLinear, Linear } from '../models/linear';
import { LoraLinear } from './lora-linear';
import { DistilBertForSequenceClassification, LogitsOptions } from '../models/distilbert/modeling';
import { SafetensorsFile, TensorToWrite, writeSafetensors } from '../io/safetensors';
import { writeFileAtomic } from '../util/atomic-write';
import { mixSeed } from '../util/random';

// Tags the seeds of LoRA initialisation, so they never coincide with dropout's or the data order's.
const LORA_INIT_SITE = 0x10a;

/** LoRA settings, with PEFT's names (camelCased) and defaults. */
export interface LoraConfig {
  /** Rank of the update B·A. Default 8. */
  r?: number;
  /** Scaling numerator: scaling = loraAlpha / r (or / √r with rsLoRA). Default 8. */
  loraAlpha?: number;
  /** Dropout on the LoRA branch's input during training. Default 0. */
  loraDropout?: number;
  /** Linear layers to adapt, matched as exact paths or dotted suffixes: ['q_lin', 'v_lin'], ['ffn.lin1']. */
  targetModules: string[];
  /** Extra modules trained in full and saved, matched by name suffix (e.g. 'word_embeddings'). */
  modulesToSave?: string[];
  /** rsLoRA scaling alpha/√r. Default false. */
  useRslora?: boolean;
  /** Only 'none' (bias terms stay frozen and are not saved) is implemented. */
  bias?: 'none';
  /** 'SEQ_CLS' adds the classification head ('classifier', 'score') to modulesToSave. Default 'SEQ_CLS'. */
  taskType?: 'SEQ_CLS';
  /** Seeds the initialisation of A and the LoRA dropout masks. Default 0. (Not a PEFT option.) */
  seed?: number;
}

/** A LoraConfig with every default filled in and SEQ_CLS's head modules added to modulesToSave. */
export interface ResolvedLoraConfig {
  r: number;
  loraAlpha: number;
  loraDropout: number;
  targetModules: string[];
  modulesToSave: string[];
  useRslora: boolean;
  bias: 'none';
  taskType: 'SEQ_CLS';
  seed: number;
}

/** What SEQ_CLS appends to modules_to_save (PeftModelForSequenceClassification). */
export const SEQ_CLS_HEAD_MODULES = ['classifier', 'score'];
export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';
/** The PEFT release whose adapter_config.json key set we write. */
export const PEFT_FORMAT_VERSION = '0.19.1';
/** PEFT's prefix for every key in adapter_model.safetensors (PeftModel.base_model = LoraModel, .model = the HF model). */
const KEY_PREFIX = 'base_model.model.';

function uniq(items: string[]): string[] {
  return [...new Set(items)];
}

export function resolveLoraConfig(config: LoraConfig): ResolvedLoraConfig {
  const r = config.r ?? 8;
  const loraAlpha = config.loraAlpha ?? 8;
  const loraDropout = config.loraDropout ?? 0;
  if (!Number.isInteger(r) || r < 1) throw new Error(`LoraConfig.r must be an integer ≥ 1, got ${r}`);
  if (!(Number.isFinite(loraAlpha) && loraAlpha > 0)) throw new Error(`LoraConfig.loraAlpha must be a positive number, got ${loraAlpha}`);
  if (!(loraDropout >= 0 && loraDropout < 1)) throw new Error(`LoraConfig.loraDropout must be in [0, 1), got ${loraDropout}`);
  if (!Array.isArray(config.targetModules) || config.targetModules.length === 0 || config.targetModules.some((t) => typeof t !== 'string' || t === '')) {
    throw new Error(
      `LoraConfig.targetModules must be a non-empty list of module names, e.g. ['q_lin', 'k_lin', 'v_lin', 'out_lin', 'lin1', 'lin2'] (got ${JSON.stringify(config.targetModules)})`,
    );
  }
  if ((config.bias ?? 'none') !== 'none') {
    throw new Error(`LoraConfig.bias '${config.bias}' is not implemented; only 'none' (biases stay frozen) is supported`);
  }
  if ((config.taskType ?? 'SEQ_CLS') !== 'SEQ_CLS') {
    throw new Error(`LoraConfig.taskType '${config.taskType}' is not supported; this model is a sequence classifier: use 'SEQ_CLS'`);
  }
  const seed = config.seed ?? 0;
  if (!Number.isInteger(seed)) throw new Error(`LoraConfig.seed must be an integer, got ${seed}`);
  return {
    r,
    loraAlpha,
    loraDropout,
    targetModules: uniq(config.targetModules),
    modulesToSave: uniq([...(config.modulesToSave ?? []), ...SEQ_CLS_HEAD_MODULES]),
    useRslora: config.useRslora ?? false,
    bias: 'none',
    taskType: 'SEQ_CLS',
    seed,
  };
}

/** Which layers get adapters and which weights are trained in full: decided before anything changes. */
export interface PeftPlan {
  /** Linear paths that get a LoraLinear, in model order. */
  loraPaths: string[];
  /** Linear paths inside a modules_to_save module: trained in full (weight and bias). */
  savedLinears: string[];
  /** Non-linear parameter names inside a modules_to_save module. */
  savedParams: string[];
}

/** The module a parameter belongs to: 'a.b.weight' → 'a.b'. */
function moduleOf(paramName: string): string {
  return paramName.slice(0, paramName.lastIndexOf('.'));
}

/** Every module path of the model, containers included ('distilbert', 'distilbert.embeddings', …). */
function allModules(model: DistilBertForSequenceClassification): string[] {
  const modules = new Set<string>();
  const leaves = [...model.linears.keys(), ...[...model.params.keys()].map(moduleOf)];
  for (const leaf of leaves) {
    const parts = leaf.split('.');
    for (let i = 1; i <= parts.length; i++) modules.add(parts.slice(0, i).join('.'));
  }
  return [...modules];
}

function isInside(name: string, module: string): boolean {
  return name === module || name.startsWith(module + '.');
}

/** PEFT's target rule (check_target_module_exists): exact path or dotted suffix. */
function matchesTarget(modulePath: string, target: string): boolean {
  return modulePath === target || modulePath.endsWith('.' + target);
}

function planPeft(model: DistilBertForSequenceClassification, config: ResolvedLoraConfig): PeftPlan {
  const modules = allModules(model);
  const linearPaths = [...model.linears.keys()];
  for (const [p, layer] of model.linears) {
    if (layer instanceof LoraLinear) {
      throw new Error(`getPeftModel: '${p}' already has a LoRA adapter; pass a plain model (e.g. a freshly loaded one)`);
    }
  }

  // modules_to_save: plain suffix match, as PEFT's _set_trainable (`key.endswith(target_key)`).
  const savedModules = modules.filter((m) => config.modulesToSave.some((s) => m.endsWith(s)));
  const userSaved = config.modulesToSave.filter((s) => !SEQ_CLS_HEAD_MODULES.includes(s));
  const unmatchedSaved = userSaved.filter((s) => !modules.some((m) => m.endsWith(s)));
  if (unmatchedSaved.length) {
    // PEFT silently ignores these; a typo here would silently train nothing, so we refuse.
    throw new Error(
      `modulesToSave ${JSON.stringify(unmatchedSaved)} match no module of the model. Modules with parameters: ${uniq(
        [...model.params.keys()].map(moduleOf).concat(linearPaths).map((m) => m.split('.').pop()!),
      ).join(', ')}`,
    );
  }
  const inSaved = (name: string) => savedModules.some((m) => isInside(name, m));
  const savedLinears = linearPaths.filter(inSaved);
  const savedParams = [...model.params.keys()].filter((p) => inSaved(moduleOf(p)));

  // target_modules: exact or dotted suffix. Modules trained in full are never adapted (PEFT: "adapters
  // should never match on modules to save modules").
  const shortNames = uniq(linearPaths.map((p) => p.split('.').pop()!));
  for (const target of config.targetModules) {
    const hits = modules.filter((m) => matchesTarget(m, target));
    const notLinear = hits.filter((m) => !model.linears.has(m));
    if (notLinear.length) {
      throw new Error(
        `targetModules '${target}' matches '${notLinear[0]}', which is not a linear layer; LoRA adapts linear layers only: ${shortNames.join(', ')}`,
      );
    }
  }
  const loraPaths = linearPaths.filter((p) => !inSaved(p) && config.targetModules.some((t) => matchesTarget(p, t)));
  if (loraPaths.length === 0) {
    throw new Error(
      `targetModules ${JSON.stringify(config.targetModules)} match no linear layer of the model. ` +
        `Available: ${shortNames.join(', ')} (as short names), e.g. full paths like '${linearPaths[0]}'` +
        (savedLinears.length ? `; ${savedLinears.join(', ')} are trained in full (modules_to_save) and cannot also get LoRA` : ''),
    );
  }
  return { loraPaths, savedLinears, savedParams };
}

function freezeLinear(layer: Linear): void {
  if (layer instanceof DenseLinear) layer.setTrainable(false);
  else for (const v of layer.trainableVariables()) v.trainable = false;
}

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
  private readonly plan: PeftPlan;
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
    return new Map(this.plan.loraPaths.map((p) => [p, m.linears.get(p) as LoraLinear]));
  }

  logits(inputIds: number[][] | tf.Tensor2D, attentionMask: number[][] | tf.Tensor2D, opts?: LogitsOptions): tf.Tensor2D {
    return this.live().logits(inputIds, attentionMask, opts);
  }

  /** LoRA A/B of every adapter, the head, and any modulesToSave parameters (when trainable). */
  trainableVariables(): tf.Variable[] {
    return this.live().trainableVariables();
  }

  /** Makes the adapters and fully trained modules trainable (or frozen, for inference). */
  setTrainable(trainable: boolean): void {
    const m = this.live();
    for (const lora of this.loraLayers().values()) lora.setTrainable(trainable);
    for (const p of this.plan.savedLinears) (m.linears.get(p) as DenseLinear).setTrainable(trainable);
    for (const p of this.plan.savedParams) m.params.get(p)!.trainable = trainable;
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
    return adapterShapes(this.live(), this.config, this.plan);
  }

  /** Fresh tensors for every saved key (the caller disposes them). */
  private adapterTensors(): Map<string, tf.Tensor> {
    const m = this.live();
    const out = new Map<string, tf.Tensor>();
    for (const [p, lora] of this.loraLayers()) {
      out.set(`${KEY_PREFIX}${p}.lora_A.weight`, tf.clone(lora.loraA));
      out.set(`${KEY_PREFIX}${p}.lora_B.weight`, tf.clone(lora.loraB));
    }
    for (const p of this.plan.savedLinears) {
      const layer = m.linears.get(p)!;
      out.set(`${KEY_PREFIX}${p}.weight`, layer.weight());
      if (layer.bias) out.set(`${KEY_PREFIX}${p}.bias`, tf.clone(layer.bias));
    }
    for (const p of this.plan.savedParams) out.set(`${KEY_PREFIX}${p}`, tf.clone(m.params.get(p)!));
    return out;
  }

  /**
   * Writes `adapter_config.json` and `adapter_model.safetensors` into `dir` (created if needed), in
   * PEFT's format: `PeftModel.from_pretrained(base, dir)` in Python loads it, and so does loadAdapter.
   */
  saveAdapter(dir: string, opts: SaveAdapterOptions = {}): void {
    if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) {
      throw new Error(`saveAdapter: ${dir} is a file; give a folder path`);
    }
    fs.mkdirSync(dir, { recursive: true });
    const tensors = this.adapterTensors();
    const toWrite: Record<string, TensorToWrite> = {};
    try {
      for (const [key, t] of tensors) toWrite[key] = { dtype: 'F32', shape: t.shape, data: t.dataSync() as Float32Array };
    } finally {
      tensors.forEach((t) => t.dispose());
    }
    writeSafetensors(path.join(dir, ADAPTER_WEIGHTS_FILE), toWrite, { format: 'pt' });
    const json = adapterConfigJson(this.config, opts.baseModelNameOrPath ?? null);
    writeFileAtomic(path.join(dir, ADAPTER_CONFIG_FILE), json);
  }

  /**
   * Folds every adapter into its base weight (W ← W + scaling·B·A) and returns the plain model,
   * with the trained head. Needs an fp32 base: merging into NF4 weights would requantize them.
   * This PeftModel is unusable afterwards.
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
      const base = lora.base as DenseLinear;
      const merged = lora.weight();
      const bias = base.bias ? (tf.clone(base.bias) as tf.Tensor1D) : null;
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

function adapterShapes(model: DistilBertForSequenceClassification, config: ResolvedLoraConfig, plan: PeftPlan): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  for (const p of plan.loraPaths) {
    const l = model.linears.get(p)!;
    shapes.set(`${KEY_PREFIX}${p}.lora_A.weight`, [config.r, l.inFeatures]);
    shapes.set(`${KEY_PREFIX}${p}.lora_B.weight`, [l.outFeatures, config.r]);
  }
  for (const p of plan.savedLinears) {
    const l = model.linears.get(p)!;
    shapes.set(`${KEY_PREFIX}${p}.weight`, [l.outFeatures, l.inFeatures]);
    if (l.bias) shapes.set(`${KEY_PREFIX}${p}.bias`, [l.outFeatures]);
  }
  for (const p of plan.savedParams) shapes.set(`${KEY_PREFIX}${p}`, model.params.get(p)!.shape);
  return shapes;
}

/** adapter_config.json as PEFT writes it: every LoraConfig field, sorted keys, 2-space indent, no final newline. */
export function adapterConfigJson(config: ResolvedLoraConfig, baseModelNameOrPath: string | null): string {
  const json: Record<string, unknown> = {
    alora_invocation_tokens: null,
    alpha_pattern: {},
    arrow_config: null,
    auto_mapping: null,
    base_model_name_or_path: baseModelNameOrPath,
    bias: config.bias,
    corda_config: null,
    ensure_weight_tying: false,
    eva_config: null,
    exclude_modules: null,
    fan_in_fan_out: false,
    inference_mode: true, // PEFT always saves with inference_mode true
    init_lora_weights: true,
    layer_replication: null,
    layers_pattern: null,
    layers_to_transform: null,
    loftq_config: {},
    lora_alpha: config.loraAlpha,
    lora_bias: false,
    lora_dropout: config.loraDropout,
    lora_ga_config: null,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: config.modulesToSave,
    peft_type: 'LORA',
    peft_version: PEFT_FORMAT_VERSION,
    qalora_group_size: 16,
    r: config.r,
    rank_pattern: {},
    revision: null,
    target_modules: config.targetModules,
    target_parameters: null,
    task_type: config.taskType,
    trainable_token_indices: null,
    use_bdlora: null,
    use_dora: false,
    use_qalora: false,
    use_rslora: config.useRslora,
  };
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(json).sort()) sorted[key] = json[key];
  return JSON.stringify(sorted, null, 2);
}

/**
 * Freezes the whole model, wraps every targeted linear layer in a LoraLinear, and makes the
 * classification head (and any modulesToSave) fully trainable. The model is changed in place and
 * owned by the returned PeftModel.
 */
export function getPeftModel(model: DistilBertForSequenceClassification, config: LoraConfig): PeftModel {
  const resolved = resolveLoraConfig(config);
  const plan = planPeft(model, resolved);
  return applyPlan(model, resolved, plan);
}

function applyPlan(model: DistilBertForSequenceClassification, config: ResolvedLoraConfig, plan: PeftPlan): PeftModel {
  for (const v of model.params.values()) v.trainable = false;
  for (const layer of model.linears.values()) freezeLinear(layer);

  plan.loraPaths.forEach((p, i) => {
    const base = model.linears.get(p)!;
    const lora = new LoraLinear(base, {
      r: config.r,
      loraAlpha: config.loraAlpha,
      loraDropout: config.loraDropout,
      useRslora: config.useRslora,
      seed: mixSeed(config.seed, i, LORA_INIT_SITE),
      name: p,
    });
    model.replaceLinear(p, lora);
  });

  for (const p of plan.savedLinears) {
    const layer = model.linears.get(p)!;
    if (layer instanceof DenseLinear) {
      layer.setTrainable(true);
    } else {
      // A quantized head cannot be trained in place: train an fp32 copy of its (dequantized) weight.
      const weight = layer.weight();
      const bias = layer.bias ? (tf.clone(layer.bias) as tf.Tensor1D) : null;
      model.replaceLinear(p, new DenseLinear(weight, bias, { trainable: true }));
      weight.dispose();
      bias?.dispose();
      layer.dispose();
    }
  }
  for (const p of plan.savedParams) model.params.get(p)!.trainable = true;
  return new PeftModel(model, config, plan);
}

// ---------------------------------------------------------------------------------------------
// Loading

export interface LoadAdapterOptions {
  /** Leave the adapters and head trainable (to continue training). Default false, as PEFT's is_trainable. */
  isTrainable?: boolean;
}

/** adapter_config.json fields that would change the maths in ways we do not implement, with their neutral values. */
const UNSUPPORTED_IF_SET: [string, (v: unknown) => boolean][] = [
  ['use_dora', (v) => v === true],
  ['fan_in_fan_out', (v) => v === true],
  ['lora_bias', (v) => v === true],
  ['rank_pattern', (v) => v != null && Object.keys(v as object).length > 0],
  ['alpha_pattern', (v) => v != null && Object.keys(v as object).length > 0],
  ['layers_to_transform', (v) => v != null],
  ['layer_replication', (v) => v != null],
  ['exclude_modules', (v) => v != null && (v as unknown[]).length !== 0],
  ['trainable_token_indices', (v) => v != null],
  ['target_parameters', (v) => v != null],
  ['use_qalora', (v) => v === true],
  ['use_bdlora', (v) => v != null && v !== false],
];

/** Reads adapter_config.json into a LoraConfig, refusing what we cannot reproduce. */
export function readAdapterConfig(dir: string): LoraConfig {
  const file = path.join(dir, ADAPTER_CONFIG_FILE);
  if (!fs.existsSync(file)) {
    throw new Error(`${file} not found: an adapter folder needs adapter_config.json and adapter_model.safetensors (written by saveAdapter or PEFT's save_pretrained)`);
  }
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message}); the file is corrupt, save the adapter again`);
  }
  if (json.peft_type !== 'LORA') throw new Error(`${file}: peft_type is ${JSON.stringify(json.peft_type)}; only LoRA adapters ('LORA') can be loaded`);
  if (json.task_type != null && json.task_type !== 'SEQ_CLS') {
    throw new Error(`${file}: task_type is ${JSON.stringify(json.task_type)}; this model is a sequence classifier ('SEQ_CLS')`);
  }
  for (const [key, isSet] of UNSUPPORTED_IF_SET) {
    if (json[key] !== undefined && isSet(json[key])) {
      throw new Error(`${file}: ${key} = ${JSON.stringify(json[key])} is not implemented by this loader`);
    }
  }
  if (json.init_lora_weights !== undefined && json.init_lora_weights !== true && json.init_lora_weights !== false && json.init_lora_weights !== 'gaussian') {
    // PiSSA/OLoRA/CorDA... change the base weights, so their adapters do not apply to the plain base.
    throw new Error(`${file}: init_lora_weights ${JSON.stringify(json.init_lora_weights)} modifies the base weights; convert the adapter to plain LoRA first`);
  }
  if (typeof json.target_modules === 'string') {
    throw new Error(`${file}: target_modules is a regular expression (${json.target_modules}); only a list of module names is supported`);
  }
  const modulesToSave = Array.isArray(json.modules_to_save) ? (json.modules_to_save as string[]) : [];
  return {
    r: json.r as number,
    loraAlpha: json.lora_alpha as number,
    loraDropout: (json.lora_dropout as number | undefined) ?? 0,
    targetModules: json.target_modules as string[],
    modulesToSave: modulesToSave.filter((m) => !SEQ_CLS_HEAD_MODULES.includes(m)),
    useRslora: (json.use_rslora as boolean | undefined) ?? false,
    bias: json.bias as 'none' | undefined,
    taskType: 'SEQ_CLS',
  };
}

/**
 * Loads an adapter folder (ours or PEFT's) onto a plain model: wraps the layers named in its
 * adapter_config.json and sets A, B and the fully trained modules from adapter_model.safetensors.
 * Every key and shape is checked before the model is touched.
 */
export async function loadAdapter(
  model: DistilBertForSequenceClassification,
  dir: string,
  opts: LoadAdapterOptions = {},
): Promise<PeftModel> {
  const config = resolveLoraConfig(readAdapterConfig(dir));
  const plan = planPeft(model, config);
  const expected = adapterShapes(model, config, plan);

  const file = path.join(dir, ADAPTER_WEIGHTS_FILE);
  if (!fs.existsSync(file)) {
    const bin = path.join(dir, 'adapter_model.bin');
    throw new Error(
      `${file} not found` + (fs.existsSync(bin) ? ' (adapter_model.bin is a pickled PyTorch file we cannot read: re-save with safe_serialization=True)' : ''),
    );
  }
  const st = SafetensorsFile.open(file); // throws, naming the file, on a corrupt header
  const present = new Set(st.names());
  const missing = [...expected.keys()].filter((k) => !present.has(k));
  const unexpected = [...present].filter((k) => !expected.has(k));
  if (missing.length || unexpected.length) {
    throw new Error(
      `${file} does not fit this model and adapter_config.json:` +
        (missing.length ? ` missing ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` (+${missing.length - 5} more)` : ''};` : '') +
        (unexpected.length ? ` unexpected ${unexpected.slice(0, 5).join(', ')}${unexpected.length > 5 ? ` (+${unexpected.length - 5} more)` : ''};` : '') +
        ` was it saved for another model or config?`,
    );
  }
  for (const [key, shape] of expected) {
    const info = st.info(key);
    if (info.shape.join() !== shape.join()) {
      throw new Error(`${file}: '${key}' has shape [${info.shape}] in the file but the model needs [${shape}]`);
    }
  }
  const values = new Map<string, Float32Array>();
  for (const key of expected.keys()) values.set(key, st.readFloat32(key).data);

  const peft = applyPlan(model, config, plan);
  const m = peft.model;
  const assign = (v: tf.Variable, key: string) => {
    const t = tf.tensor(values.get(key)!, expected.get(key)!, 'float32');
    v.assign(t);
    t.dispose();
  };
  for (const [p, lora] of peft.loraLayers()) {
    assign(lora.loraA, `${KEY_PREFIX}${p}.lora_A.weight`);
    assign(lora.loraB, `${KEY_PREFIX}${p}.lora_B.weight`);
  }
  for (const p of plan.savedLinears) {
    const layer = m.linears.get(p) as DenseLinear;
    assign(layer.weightVar, `${KEY_PREFIX}${p}.weight`);
    if (layer.bias) assign(layer.bias, `${KEY_PREFIX}${p}.bias`);
  }
  for (const p of plan.savedParams) assign(m.params.get(p)!, `${KEY_PREFIX}${p}`);
  peft.setTrainable(opts.isTrainable ?? false);
  return peft;
}
