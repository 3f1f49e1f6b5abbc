// Reading an adapter_config.json written by any PEFT 0.x release, with PEFT's behaviour: what PEFT
// loads we load (with its warnings), what it refuses we refuse, naming the file and the field.
//
// The rules, from peft `config.py` (PeftConfigMixin.from_pretrained / from_peft_type / from_json_file),
// `tuners/lora/config.py` (LoraConfig.__post_init__) and `tuners/lora/layer.py` (dispatch_default):
// - `peft_type` is required and must be "LORA" (PEFT picks the adapter class from it);
// - keys LoraConfig does not know (written by newer or much older releases) are ignored with
//   PEFT's "Unexpected keyword arguments" warning; a `runtime_config` key is dropped with a warning;
// - `fan_in_fan_out: true` on nn.Linear layers (all of DistilBERT's) is set to false with a warning;
// - `loftq_config` / `eva_config` / `corda_config` given for another initialisation are ignored with
//   a warning; the initialisation itself does not matter once trained weights are loaded;
// - fields that change the model's maths in a way this library does not implement are refused:
//   DoRA, lora_bias, the other LoRA variants, trainable tokens, target_parameters, layer
//   replication, and initialisations that rewrite the base weights (PiSSA, OLoRA, CorDA, LoftQ, LoRA-GA, MiCA);
// - fields that only matter to other layer types or to PEFT's own bookkeeping are accepted and
//   have no effect: inference_mode (is_trainable decides), revision, base_model_name_or_path,
//   megatron_*, use_qalora / qalora_group_size (GPTQ layers only), ensure_weight_tying.
import * as fs from 'fs';
import * as path from 'path';
import { LoraConfig, TaskType } from './config';

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';

/** Every field of PEFT's LoraConfig and PeftConfig (peft 0.20): keys outside this set are warned about and ignored. */
const KNOWN_KEYS = new Set(
  ('r target_modules exclude_modules lora_alpha lora_dropout fan_in_fan_out bias use_rslora modules_to_save ' +
    'init_lora_weights layers_to_transform layers_pattern rank_pattern alpha_pattern megatron_config megatron_core ' +
    'trainable_token_indices loftq_config eva_config corda_config lora_ga_config use_dora velora_config ' +
    'alora_invocation_tokens use_qalora qalora_group_size monteclora_config layer_replication runtime_config lora_bias ' +
    'target_parameters use_bdlora arrow_config kasa_config ensure_weight_tying ' +
    'base_model_name_or_path revision peft_type task_type inference_mode auto_mapping peft_version').split(' '),
);

const isEmpty = (v: unknown) => v === undefined || v === null || v === false || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && Object.keys(v as object).length === 0);

/** Fields we refuse when set (non-empty), with what they do and what to do instead. */
const NOT_IMPLEMENTED: [string, string][] = [
  ['use_dora', 'DoRA (weight-decomposed LoRA) adds a magnitude vector to every layer; merge the adapter in PEFT (merge_and_unload) and load the merged model, or train without DoRA'],
  ['lora_bias', 'a bias on lora_B is not implemented; train with lora_bias=False'],
  ['velora_config', 'the VeLoRA variant is not implemented'],
  ['alora_invocation_tokens', 'activated LoRA (aLoRA) applies the adapter only after invocation tokens; not implemented'],
  ['use_bdlora', 'block-diagonal LoRA (BD-LoRA) is not implemented'],
  ['arrow_config', 'Arrow routing is not implemented'],
  ['kasa_config', 'the KaSA variant is not implemented'],
  ['monteclora_config', 'MonteCLoRA is not implemented'],
  ['trainable_token_indices', 'trainable tokens (a delta on chosen embedding rows) are not implemented'],
  ['target_parameters', 'LoRA on bare parameters (target_parameters) is not implemented; DistilBERT has only linear layers to target'],
  ['layer_replication', 'layer replication is not implemented'],
];

/** init_lora_weights values whose adapters only make sense on base weights rewritten at initialisation. */
function rewritesBase(init: unknown): boolean {
  return typeof init === 'string' && (/^pissa(_niter_\d+)?$/.test(init) || ['olora', 'corda', 'loftq', 'lora_ga', 'mica'].includes(init.toLowerCase()));
}

/**
 * Reads `dir/adapter_config.json` into a LoraConfig as PEFT's LoraConfig.from_pretrained would, calling
 * `warn` with each of PEFT's warnings. Throws, naming the file and the field, on what PEFT refuses
 * and on what this library does not implement.
 */
export function readAdapterConfig(dir: string, warn: (msg: string) => void = (m) => console.warn(m)): LoraConfig {
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
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${file}: not a JSON object; save the adapter again`);
  return parseAdapterConfig(json, file, warn);
}

/** The rules of readAdapterConfig, on an already parsed object (`file` names it in messages). */
export function parseAdapterConfig(raw: Record<string, unknown>, file: string, warn: (msg: string) => void): LoraConfig {
  const json = { ...raw };
  const bad = (field: string, what: string) => new Error(`${file}: ${field} = ${JSON.stringify(json[field])}: ${what}`);
  if (!('peft_type' in json)) throw new Error(`${file}: no "peft_type" field; PEFT needs it to know the adapter type ("LORA" for LoRA)`);
  if (json.peft_type !== 'LORA') throw bad('peft_type', `only LoRA adapters ("LORA") can be loaded`);
  if ('runtime_config' in json) {
    warn('The configuration file contains a `runtime_config` key. This is ignored. Runtime configurations are only valid at runtime.');
    delete json.runtime_config;
  }
  const unknown = Object.keys(json).filter((k) => !KNOWN_KEYS.has(k)).sort();
  if (unknown.length) {
    warn(
      `Unexpected keyword arguments [${unknown.map((k) => `'${k}'`).join(', ')}] for class LoraConfig, these are ignored. This probably means that ` +
        `you're loading a configuration file that was saved using a higher version of the library and additional parameters have been introduced since. ` +
        'It is highly recommended to upgrade the PEFT version before continuing (e.g. by running `pip install -U peft`).',
    );
  }
  for (const [field, why] of NOT_IMPLEMENTED) if (!isEmpty(json[field])) throw bad(field, `not implemented by this loader: ${why}`);

  // PEFT compares 'gaussian' case-insensitively (init_lora_weights.lower() == "gaussian").
  const init = typeof json.init_lora_weights === 'string' && json.init_lora_weights.toLowerCase() === 'gaussian' ? 'gaussian' : json.init_lora_weights ?? true;
  if (rewritesBase(init)) {
    throw bad(
      'init_lora_weights',
      'this initialisation rewrites the base weights, so the adapter only applies to that rewritten base (not implemented); ' +
        "convert it to a plain LoRA adapter in PEFT (save_pretrained(..., path_initial_model_for_weight_conversion=...))",
    );
  }
  if (!(init === true || init === false || init === 'gaussian' || init === 'eva' || init === 'orthogonal')) {
    throw bad('init_lora_weights', `unknown initialization (PEFT: true, false, 'gaussian', 'eva', 'orthogonal', 'pissa', 'olora', 'corda', 'loftq', 'lora_ga', 'mica')`);
  }
  // LoraConfig.__post_init__'s chain of warnings (an elif chain: at most one of them).
  if (!isEmpty(json.loftq_config)) warn("`loftq_config` specified but will be ignored when `init_lora_weights` is not 'loftq'.");
  else if (init === 'eva' && json.eva_config == null) warn("`init_lora_weights` is 'eva' but `eva_config` is not specified. Using default EVA config.");
  else if (init !== 'eva' && json.eva_config != null) warn("`eva_config` specified but will be ignored when `init_lora_weights` is not 'eva'.");
  else if (json.corda_config != null) warn("`corda_config` specified but will be ignored when `init_lora_weights` is not 'corda'.");

  if (json.fan_in_fan_out === true) {
    // dispatch_default: every target of a DistilBERT is a torch.nn.Linear, which stores [out, in].
    warn('fan_in_fan_out is set to True but the target module is `torch.nn.Linear`. Setting fan_in_fan_out to False.');
  }
  const target = json.target_modules;
  if (target === undefined || target === null) {
    // PEFT has no default target modules for model_type "distilbert" (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING).
    throw bad('target_modules', 'PEFT knows no default target modules for DistilBERT ("Please specify `target_modules`"); list them, e.g. ["q_lin", "v_lin"]');
  }
  if (typeof target !== 'string' && !Array.isArray(target)) throw bad('target_modules', 'must be a list of module names or a regular expression');
  const modulesToSave = json.modules_to_save ?? null;
  if (modulesToSave !== null && !Array.isArray(modulesToSave)) throw bad('modules_to_save', 'must be a list of module names or null');
  const typed = <T>(field: string, check: (v: unknown) => boolean, what: string): T | undefined => {
    const v = json[field];
    if (v === undefined || v === null) return undefined;
    if (!check(v)) throw bad(field, what);
    return v as T;
  };
  const isNumber = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  const isObject = (v: unknown) => typeof v === 'object' && v !== null && !Array.isArray(v);
  return {
    r: typed<number>('r', isNumber, 'must be a number'),
    loraAlpha: typed<number>('lora_alpha', isNumber, 'must be a number'),
    loraDropout: typed<number>('lora_dropout', isNumber, 'must be a number'),
    targetModules: target as string[] | string,
    excludeModules: json.exclude_modules as string[] | string | null | undefined,
    modulesToSave: modulesToSave as string[] | null,
    useRslora: typed<boolean>('use_rslora', (v) => typeof v === 'boolean', 'must be true or false'),
    bias: json.bias as LoraConfig['bias'],
    taskType: (json.task_type ?? null) as TaskType | null,
    layersToTransform: json.layers_to_transform as number[] | number | null | undefined,
    layersPattern: json.layers_pattern as string[] | string | null | undefined,
    rankPattern: typed<Record<string, number>>('rank_pattern', isObject, 'must be an object of module pattern → rank'),
    alphaPattern: typed<Record<string, number>>('alpha_pattern', isObject, 'must be an object of module pattern → alpha'),
    // Trained weights replace the initialisation; eva/orthogonal only differ in how training started.
    initLoraWeights: init === 'eva' || init === 'orthogonal' ? true : (init as boolean | 'gaussian'),
  };
}
