// LoRA settings, with PEFT's names (camelCased), defaults and validation (peft `tuners/lora/config.py`
// LoraConfig and its __post_init__, `config.py` PeftConfig), and adapter_config.json as PEFT writes it
// (PeftConfigMixin.save_pretrained: every field, sorted keys, 2-space indent).
// Reading an adapter_config.json that PEFT wrote is in adapter-config.ts.

/** PEFT's TaskType values. */
export const TASK_TYPES = ['SEQ_CLS', 'SEQ_2_SEQ_LM', 'CAUSAL_LM', 'TOKEN_CLS', 'QUESTION_ANS', 'FEATURE_EXTRACTION'] as const;
export type TaskType = (typeof TASK_TYPES)[number];

/** LoRA settings, with PEFT's names (camelCased) and defaults. */
export interface LoraConfig {
  /** Rank of the update B·A. Default 8. */
  r?: number;
  /** Scaling numerator: scaling = loraAlpha / r (or / √r with rsLoRA). Default 8. */
  loraAlpha?: number;
  /** Dropout on the LoRA branch's input during training, in [0, 1]. Default 0. */
  loraDropout?: number;
  /**
   * Linear layers to adapt. A list matches module paths exactly or as a dotted suffix: ['q_lin', 'v_lin'],
   * ['ffn.lin1']. A string is a regular expression that must match the whole path
   * ('.*\\.layer\\.[01]\\..*_lin'), or 'all-linear' (every linear layer but the output head).
   */
  targetModules: string[] | string;
  /** Modules never adapted even when targeted: a list (exact or dotted suffix) or a regular expression (whole path). */
  excludeModules?: string[] | string | null;
  /** Extra modules trained in full and saved, matched by plain name suffix (e.g. 'word_embeddings'). */
  modulesToSave?: string[] | null;
  /** rsLoRA scaling alpha/√r. Default false. */
  useRslora?: boolean;
  /** Which biases train: 'none' (default), 'all' (every bias of the model), 'lora_only' (those of the adapted layers). */
  bias?: 'none' | 'all' | 'lora_only';
  /** SEQ_CLS and TOKEN_CLS add the head ('classifier', 'score') to modulesToSave, QUESTION_ANS 'qa_outputs'. Default 'SEQ_CLS'. */
  taskType?: TaskType | null;
  /** Only adapt the layers with these indices (the number after `layersPattern` in the path, e.g. layer.3). */
  layersToTransform?: number[] | number | null;
  /** The name of the layer list whose index layersToTransform selects ('layer' for DistilBERT); default: the first numbered part. */
  layersPattern?: string[] | string | null;
  /** Per-layer rank by module name or regular expression matched at the end of the path, e.g. { 'lin1': 16 }. */
  rankPattern?: Record<string, number>;
  /** Per-layer alpha, like rankPattern. */
  alphaPattern?: Record<string, number>;
  /** true: A kaiming-uniform, B zero (default); 'gaussian': A ~ N(0, 1/r), B zero; false: A and B both random (not a no-op). */
  initLoraWeights?: boolean | 'gaussian';
  /** Seeds the initialisation of A (and B) and the LoRA dropout masks. Default 0. (Not a PEFT option.) */
  seed?: number;
}

/** A LoraConfig with every default filled in and the task's head modules added to modulesToSave. */
export interface ResolvedLoraConfig {
  r: number;
  loraAlpha: number;
  loraDropout: number;
  targetModules: string[] | string;
  excludeModules: string[] | string | null;
  modulesToSave: string[];
  useRslora: boolean;
  bias: 'none' | 'all' | 'lora_only';
  taskType: TaskType | null;
  layersToTransform: number[] | number | null;
  layersPattern: string[] | string | null;
  rankPattern: Record<string, number>;
  alphaPattern: Record<string, number>;
  initLoraWeights: boolean | 'gaussian';
  seed: number;
}

/** What PeftModelForSequenceClassification / ForTokenClassification / ForQuestionAnswering append to modules_to_save. */
export function taskHeadModules(taskType: TaskType | null): string[] {
  if (taskType === 'SEQ_CLS' || taskType === 'TOKEN_CLS') return ['classifier', 'score'];
  if (taskType === 'QUESTION_ANS') return ['qa_outputs'];
  return [];
}
/** What SEQ_CLS appends to modules_to_save (PeftModelForSequenceClassification). */
export const SEQ_CLS_HEAD_MODULES = taskHeadModules('SEQ_CLS');
/** The PEFT release whose adapter_config.json key set we write. */
export const PEFT_FORMAT_VERSION = '0.19.1';

function uniq(items: string[]): string[] {
  return [...new Set(items)];
}

const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((t) => typeof t === 'string' && t !== '');

/** Compiles a PEFT regular expression (Python `re` syntax) for a whole-string match, or says why it cannot. */
export function fullMatchRegex(pattern: string, what: string): RegExp {
  // The two Python-only spellings of named groups; everything else PEFT users write is common syntax.
  const js = pattern.replace(/\(\?P</g, '(?<').replace(/\(\?P=(\w+)\)/g, '\\k<$1>');
  try {
    return new RegExp(`^(?:${js})$`);
  } catch (e) {
    throw new Error(`${what} ${JSON.stringify(pattern)} is not a valid regular expression (${(e as Error).message})`);
  }
}

/**
 * Fills in PEFT's defaults and checks every field as LoraConfig.__post_init__ and LoraLayer.update_layer
 * do, with errors that name the field (as `where`, e.g. 'LoraConfig' or the adapter_config.json path).
 */
export function resolveLoraConfig(config: LoraConfig, where = 'LoraConfig'): ResolvedLoraConfig {
  const r = config.r ?? 8;
  const loraAlpha = config.loraAlpha ?? 8;
  const loraDropout = config.loraDropout ?? 0;
  if (!Number.isInteger(r) || r < 1) throw new Error(`${where}: r must be an integer ≥ 1, got ${r}`);
  if (typeof loraAlpha !== 'number' || !Number.isFinite(loraAlpha)) throw new Error(`${where}: loraAlpha must be a finite number, got ${loraAlpha}`);
  // torch.nn.Dropout accepts p = 1 (everything dropped), and so does PEFT.
  if (!(loraDropout >= 0 && loraDropout <= 1)) throw new Error(`${where}: loraDropout must be in [0, 1], got ${loraDropout}`);

  const targets = config.targetModules;
  if (typeof targets === 'string') {
    if (targets === '') throw new Error(`${where}: targetModules is an empty string; give module names or a regular expression`);
    if (targets.toLowerCase() !== 'all-linear') fullMatchRegex(targets, `${where}: targetModules`);
  } else if (!isStringList(targets) || targets.length === 0) {
    throw new Error(
      `${where}: targetModules must be a non-empty list of module names, e.g. ['q_lin', 'k_lin', 'v_lin', 'out_lin', 'lin1', 'lin2'], ` +
        `or a regular expression, or 'all-linear' (got ${JSON.stringify(targets)})`,
    );
  }
  const exclude = config.excludeModules ?? null;
  if (typeof exclude === 'string') fullMatchRegex(exclude, `${where}: excludeModules`);
  else if (exclude !== null && !isStringList(exclude)) throw new Error(`${where}: excludeModules must be a list of module names or a regular expression, got ${JSON.stringify(exclude)}`);

  const modulesToSave = config.modulesToSave ?? [];
  if (!isStringList(modulesToSave)) throw new Error(`${where}: modulesToSave must be a list of module names, got ${JSON.stringify(config.modulesToSave)}`);

  const bias = config.bias ?? 'none';
  if (!['none', 'all', 'lora_only'].includes(bias)) {
    throw new Error(`${where}: bias ${JSON.stringify(bias)} is not one of 'none', 'all', 'lora_only' (PEFT: "Requested bias: ${bias}, is not implemented")`);
  }
  const taskType = config.taskType === undefined ? 'SEQ_CLS' : config.taskType;
  if (taskType !== null && !TASK_TYPES.includes(taskType)) {
    throw new Error(`${where}: invalid task type ${JSON.stringify(taskType)}; must be one of ${TASK_TYPES.join(', ')} (or null)`);
  }

  const layers = config.layersToTransform ?? null;
  const isLayerIndex = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
  if (layers !== null && !(isLayerIndex(layers) || (Array.isArray(layers) && layers.every(isLayerIndex)))) {
    throw new Error(`${where}: layersToTransform must be a layer index or a list of them, got ${JSON.stringify(layers)}`);
  }
  const layersPattern = config.layersPattern ?? null;
  if (layersPattern !== null && typeof layersPattern !== 'string' && !(Array.isArray(layersPattern) && layersPattern.every((p) => typeof p === 'string'))) {
    throw new Error(`${where}: layersPattern must be a name or a list of names, got ${JSON.stringify(layersPattern)}`);
  }
  // LoraConfig.__post_init__'s rules for these three fields.
  if (typeof targets === 'string' && layers !== null) throw new Error(`${where}: layersToTransform cannot be used when targetModules is a string (regular expression)`);
  if (typeof targets === 'string' && layersPattern !== null) throw new Error(`${where}: layersPattern cannot be used when targetModules is a string (regular expression)`);
  if (layersPattern !== null && layersPattern.length > 0 && layers === null) {
    throw new Error(`${where}: when layersPattern is specified, layersToTransform must also be specified`);
  }

  const rankPattern = config.rankPattern ?? {};
  const alphaPattern = config.alphaPattern ?? {};
  for (const [key, v] of Object.entries(rankPattern)) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`${where}: rankPattern['${key}'] must be an integer ≥ 1, got ${v}`);
    fullMatchRegex(key, `${where}: rankPattern key`);
  }
  for (const [key, v] of Object.entries(alphaPattern)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${where}: alphaPattern['${key}'] must be a finite number, got ${v}`);
    fullMatchRegex(key, `${where}: alphaPattern key`);
  }
  const init = config.initLoraWeights ?? true;
  if (init !== true && init !== false && init !== 'gaussian') {
    throw new Error(`${where}: initLoraWeights ${JSON.stringify(init)} is not implemented; use true, false or 'gaussian'`);
  }
  const seed = config.seed ?? 0;
  if (!Number.isInteger(seed)) throw new Error(`${where}: seed must be an integer, got ${seed}`);
  return {
    r,
    loraAlpha,
    loraDropout,
    targetModules: typeof targets === 'string' ? targets : uniq(targets),
    excludeModules: exclude,
    modulesToSave: uniq([...modulesToSave, ...taskHeadModules(taskType)]),
    useRslora: config.useRslora ?? false,
    bias,
    taskType,
    layersToTransform: layers,
    layersPattern,
    rankPattern: { ...rankPattern },
    alphaPattern: { ...alphaPattern },
    initLoraWeights: init,
    seed,
  };
}

/** adapter_config.json as PEFT writes it: every LoraConfig field, sorted keys, 2-space indent, no final newline. */
export function adapterConfigJson(config: ResolvedLoraConfig, baseModelNameOrPath: string | null): string {
  const json: Record<string, unknown> = {
    alora_invocation_tokens: null,
    alpha_pattern: config.alphaPattern,
    arrow_config: null,
    auto_mapping: null,
    base_model_name_or_path: baseModelNameOrPath,
    bias: config.bias,
    corda_config: null,
    ensure_weight_tying: false,
    eva_config: null,
    exclude_modules: config.excludeModules,
    fan_in_fan_out: false,
    inference_mode: true, // PEFT always saves with inference_mode true
    init_lora_weights: config.initLoraWeights,
    layer_replication: null,
    layers_pattern: config.layersPattern,
    layers_to_transform: config.layersToTransform,
    loftq_config: {},
    lora_alpha: config.loraAlpha,
    lora_bias: false,
    lora_dropout: config.loraDropout,
    lora_ga_config: null,
    megatron_config: null,
    megatron_core: 'megatron.core',
    modules_to_save: config.modulesToSave.length ? config.modulesToSave : null,
    peft_type: 'LORA',
    peft_version: PEFT_FORMAT_VERSION,
    qalora_group_size: 16,
    r: config.r,
    rank_pattern: config.rankPattern,
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
