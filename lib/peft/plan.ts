// Which layers get a LoRA adapter, with which rank and alpha, and which weights train in full:
// decided from the config and the model's module paths before anything changes. The matching rules
// are PEFT's (tuners_utils.check_target_module_exists, utils/other.py get_pattern_key and _set_trainable,
// tuners_utils._maybe_include_all_linear_layers):
// - a list of target_modules matches a module path exactly or as a dotted suffix: 'q_lin' matches
//   'distilbert.transformer.layer.0.attention.q_lin', 'ffn.lin1' matches '...layer.0.ffn.lin1';
//   a string is a regular expression matched against the whole path; 'all-linear' is every linear
//   layer except, for SEQ_CLS, the output head `classifier`;
// - layers_to_transform keeps list matches whose layer index (the number after layers_pattern, or
//   after the first dotted name when there is no pattern) is listed;
// - exclude_modules (exact/dotted suffix, or a whole-path regular expression) and modules inside
//   modules_to_save (as a dotted path component) are never adapted;
// - rank_pattern / alpha_pattern: the first key that matches the end of the path, after a dot,
//   gives that layer's r / lora_alpha;
// - modules_to_save match by plain string suffix, no dot (`key.endswith(name)`), so for DistilBERT
//   'classifier' catches both `classifier` and `pre_classifier`, and the whole head trains.
import { DistilBertForSequenceClassification } from '../models/distilbert/modeling';
import { fullMatchRegex, ResolvedLoraConfig, taskHeadModules } from './config';
import { LoraLinear } from './lora-linear';

/** One adapted linear layer. */
export interface LoraTarget {
  path: string;
  r: number;
  loraAlpha: number;
}

/** Which layers get adapters and which weights are trained in full. */
export interface PeftPlan {
  /** Linear layers that get a LoraLinear, in model order. */
  lora: LoraTarget[];
  /** Linear paths inside a modules_to_save module: trained in full (weight and bias). */
  savedLinears: string[];
  /** Non-linear parameter names inside a modules_to_save module. */
  savedParams: string[];
  /** Linear paths whose bias trains (bias 'all' or 'lora_only'), outside modules_to_save. */
  biasLinears: string[];
  /** Non-linear bias parameters that train (bias 'all'), e.g. LayerNorm biases. */
  biasParams: string[];
  /** modules_to_save names that match no module (PEFT ignores them). */
  unmatchedModulesToSave: string[];
}

/** The module a parameter belongs to: 'a.b.weight' → 'a.b'. */
export function moduleOf(paramName: string): string {
  return paramName.slice(0, paramName.lastIndexOf('.'));
}

function uniq(items: string[]): string[] {
  return [...new Set(items)];
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

/** check_target_module_exists's layers_to_transform filter for a list match. */
function inSelectedLayer(modulePath: string, config: ResolvedLoraConfig): boolean {
  const wanted = config.layersToTransform;
  if (wanted === null || (Array.isArray(wanted) && wanted.length === 0)) return true;
  // An empty layers_pattern ('' or []) means any layer list, as in PEFT.
  const patterns = (config.layersPattern === null ? [] : typeof config.layersPattern === 'string' ? [config.layersPattern] : config.layersPattern).filter((p) => p !== '');
  let m: RegExpExecArray | null = null;
  if (patterns.length === 0) m = /^.*?\.[^.]*\.(\d+)\./.exec(modulePath);
  else for (const p of patterns) if ((m = new RegExp(`^.*?\\.${p}\\.(\\d+)\\.`).exec(modulePath))) break;
  if (!m) return false;
  const index = Number(m[1]);
  return typeof wanted === 'number' ? index === wanted : wanted.includes(index);
}

/** get_pattern_key: the first pattern key matching the end of the path (after a dot), if any. */
function patternValue(pattern: Record<string, number>, modulePath: string, fallback: number): number {
  for (const [key, value] of Object.entries(pattern)) {
    if (new RegExp(`^(.*\\.)?(${key.replace(/\(\?P</g, '(?<')})$`).test(modulePath)) return value;
  }
  return fallback;
}

/**
 * Decides the adapters for `model` under `config`. Throws when a target is not a linear layer,
 * when nothing is targeted, or when a targeted layer is also trained in full through
 * modules_to_save; with `strictModulesToSave`, also when a user modules_to_save entry matches no module
 * (PEFT ignores it; a typo there would silently train nothing).
 */
export function planPeft(model: DistilBertForSequenceClassification, config: ResolvedLoraConfig, strictModulesToSave = true): PeftPlan {
  const modules = allModules(model);
  const linearPaths = [...model.linears.keys()];
  for (const [p, layer] of model.linears) {
    if (layer instanceof LoraLinear) {
      throw new Error(`getPeftModel: '${p}' already has a LoRA adapter; pass a plain model (e.g. a freshly loaded one)`);
    }
  }
  const shortNames = uniq(linearPaths.map((p) => p.split('.').pop()!));

  // modules_to_save: plain suffix match.
  const savedModules = modules.filter((m) => config.modulesToSave.some((s) => m.endsWith(s)));
  const heads = taskHeadModules(config.taskType);
  const unmatchedModulesToSave = config.modulesToSave.filter((s) => !heads.includes(s) && !modules.some((m) => m.endsWith(s)));
  if (strictModulesToSave && unmatchedModulesToSave.length) {
    throw new Error(
      `modulesToSave ${JSON.stringify(unmatchedModulesToSave)} match no module of the model. Modules with parameters: ${uniq(
        [...model.params.keys()].map(moduleOf).concat(linearPaths).map((m) => m.split('.').pop()!),
      ).join(', ')}`,
    );
  }
  const inSaved = (name: string) => savedModules.some((m) => isInside(name, m));
  const savedLinears = linearPaths.filter(inSaved);
  const savedParams = [...model.params.keys()].filter((p) => inSaved(moduleOf(p)));

  // target_modules → the set of matched module paths.
  let targets = config.targetModules;
  if (typeof targets === 'string' && targets.toLowerCase() === 'all-linear') {
    // SEQ_CLS_HEAD_NAMES ['score', 'classifier']: the model's attribute that exists is the output head.
    targets = linearPaths.filter((p) => !(config.taskType === 'SEQ_CLS' && p === 'classifier'));
  }
  const regex = typeof targets === 'string' ? fullMatchRegex(targets, 'targetModules') : null;
  const list = typeof targets === 'string' ? [] : targets;
  const excludeRegex = typeof config.excludeModules === 'string' ? fullMatchRegex(config.excludeModules, 'excludeModules') : null;
  const excludeList = Array.isArray(config.excludeModules) ? config.excludeModules : [];
  const excluded = (m: string) =>
    (excludeRegex ? excludeRegex.test(m) : excludeList.some((e) => m === e || m.endsWith('.' + e))) ||
    // "Adapters should never match on modules to save modules": modules_to_save names as path components.
    config.modulesToSave.some((s) => new RegExp(`(^|.*\\.)${s}($|\\..*)`).test(m));
  const matches = (m: string) =>
    regex ? regex.test(m) : (list.includes(m) || list.some((t) => m.endsWith('.' + t))) && (list.includes(m) || inSelectedLayer(m, config));

  const hits = modules.filter((m) => !excluded(m) && matches(m));
  const notLinear = hits.filter((m) => !model.linears.has(m));
  if (notLinear.length) {
    throw new Error(
      `targetModules ${JSON.stringify(config.targetModules)} matches '${notLinear[0]}', which is not a linear layer; ` +
        `LoRA adapts linear layers only: ${shortNames.join(', ')}`,
    );
  }
  const loraPaths = linearPaths.filter((p) => hits.includes(p));
  const both = loraPaths.filter(inSaved);
  if (both.length) {
    throw new Error(
      `'${both[0]}' is targeted by LoRA and also trained in full through modulesToSave ${JSON.stringify(config.modulesToSave)} ` +
        `(PEFT would wrap the LoRA layer in a copy); not supported: add '${both[0].split('.').pop()}' to excludeModules or drop it from the targets`,
    );
  }
  if (loraPaths.length === 0) {
    const layers = config.layersToTransform !== null ? ` with layersToTransform ${JSON.stringify(config.layersToTransform)}` : '';
    throw new Error(
      `targetModules ${JSON.stringify(config.targetModules)}${layers} match no linear layer of the model. ` +
        `Available: ${shortNames.join(', ')} (as short names), e.g. full paths like '${linearPaths[0]}'` +
        (savedLinears.length ? `; ${savedLinears.join(', ')} are trained in full (modules_to_save) and cannot also get LoRA` : ''),
    );
  }
  const lora = loraPaths.map((path) => ({
    path,
    r: patternValue(config.rankPattern, path, config.r),
    loraAlpha: patternValue(config.alphaPattern, path, config.loraAlpha),
  }));

  // Trainable biases (LoraModel._mark_only_adapters_as_trainable): 'all' every bias, 'lora_only' those of adapted layers.
  const hasBias = (p: string) => model.linears.get(p)!.bias !== null;
  const biasLinears =
    config.bias === 'all' ? linearPaths.filter((p) => hasBias(p) && !inSaved(p)) : config.bias === 'lora_only' ? loraPaths.filter(hasBias) : [];
  const biasParams = config.bias === 'all' ? [...model.params.keys()].filter((p) => p.endsWith('.bias') && !savedParams.includes(p)) : [];
  return { lora, savedLinears, savedParams, biasLinears, biasParams, unmatchedModulesToSave };
}
