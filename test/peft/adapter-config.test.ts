// Every adapter_config.json PEFT 0.x accepts for LoRA on DistilBERT loads with PEFT's behaviour and
// warnings; what PEFT refuses (or we do not implement) is refused naming the file and the field.
// Expected logits: scripts/reference/peft_config_reference.py, an independent PyTorch model that
// applies PEFT's matching and loading rules by hand (test/fixtures/lora/peft-variants/variants.json).
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../../lib/backends/select';
import { loadPretrained } from '../../lib/models/distilbert/loading';
import { DistilBertForSequenceClassification } from '../../lib/models/distilbert/modeling';
import { LoraLinear } from '../../lib/peft/lora-linear';
import { loadAdapter, PeftModel } from '../../lib/peft/model';
import { writeSafetensors } from '../../lib/io/safetensors';
import { tempDir, cleanupTempDirs } from '../helpers/checkpoint';
import { maxRelErr } from '../helpers/compare';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'lora');
const VARIANTS = path.join(FIXTURES, 'peft-variants');
const BASE = path.join(VARIANTS, 'base-with-head');
const PEFT_ADAPTER = path.join(FIXTURES, 'peft-adapter');
const batch = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'model.json'), 'utf8')) as { input_ids: number[][]; attention_mask: number[][]; logits: number[][] };
const expected = JSON.parse(fs.readFileSync(path.join(VARIANTS, 'variants.json'), 'utf8')).logits as Record<string, number[][]>;
const peftConfig = JSON.parse(fs.readFileSync(path.join(PEFT_ADAPTER, 'adapter_config.json'), 'utf8'));

beforeAll(async () => {
  await useBackend('cpu');
});
afterAll(cleanupTempDirs);

const base = () => loadPretrained(BASE, { log: () => {} });

function logitsOf(m: PeftModel | DistilBertForSequenceClassification): number[][] {
  const t = m.logits(batch.input_ids, batch.attention_mask);
  const out = t.arraySync();
  t.dispose();
  return out;
}

/** Loads `dir` onto the base with head, collecting the warnings. */
async function load(dir: string, isTrainable = false): Promise<{ peft: PeftModel; warnings: string[] }> {
  const warnings: string[] = [];
  const peft = await loadAdapter(await base(), dir, { warn: (m) => warnings.push(m), isTrainable });
  return { peft, warnings };
}

/** An adapter folder with PEFT's fixture weights and the fixture config changed by `edit`. */
function withConfig(edit: Record<string, unknown>, weights = path.join(PEFT_ADAPTER, 'adapter_model.safetensors')): string {
  const dir = tempDir();
  fs.copyFileSync(weights, path.join(dir, 'adapter_model.safetensors'));
  const config = { ...peftConfig, ...edit };
  for (const [k, v] of Object.entries(edit)) if (v === undefined) delete config[k];
  fs.writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify(config));
  return dir;
}

describe('adapters PEFT loads, with its behaviour and warnings', () => {
  it('modules_to_save null, only A/B in the file (SEQ_CLS): the base model\'s head is kept', async () => {
    const { peft, warnings } = await load(path.join(VARIANTS, 'no-head'));
    expect(peft.config.modulesToSave).toEqual(['classifier', 'score']);
    expect(maxRelErr(logitsOf(peft), expected['no-head'])).toBeLessThan(1e-5);
    expect(warnings).toEqual([expect.stringMatching(/no values for \['pre_classifier\.weight', 'pre_classifier\.bias', 'classifier\.weight', 'classifier\.bias'\].*keep the base model's values/)]);
    // Real PEFT 0.21 refuses this file (KeyError on the first missing head key): the warning says so.
    expect(warnings[0]).toContain("PEFT 0.21 refuses such an adapter (KeyError: 'base_model.model.pre_classifier.weight'");
    peft.dispose();
  });

  it('task_type null: a plain PeftModel, nothing added to modules_to_save, the head is the base model\'s', async () => {
    const { peft, warnings } = await load(path.join(VARIANTS, 'no-task'));
    expect(peft.config.taskType).toBeNull();
    expect(peft.config.modulesToSave).toEqual([]);
    expect(maxRelErr(logitsOf(peft), expected['no-task'])).toBeLessThan(1e-5);
    expect(warnings).toEqual([]);
    peft.dispose();
  });

  it('fan_in_fan_out true on nn.Linear: PEFT\'s warning, set to false, loads as usual', async () => {
    // Against the reference logits of tiny-distilbert + this adapter (model.json), on the head-less base.
    const warnings: string[] = [];
    const model = await loadPretrained(path.join(FIXTURES, 'tiny-distilbert'), { numLabels: 3, log: () => {} });
    const peft = await loadAdapter(model, withConfig({ fan_in_fan_out: true }), { warn: (m) => warnings.push(m) });
    expect(warnings).toEqual(['fan_in_fan_out is set to True but the target module is `torch.nn.Linear`. Setting fan_in_fan_out to False.']);
    expect(maxRelErr(logitsOf(peft), batch.logits)).toBeLessThan(1e-5);
    peft.dispose();
  });

  it('a regular-expression target_modules, rank_pattern, alpha_pattern and use_rslora', async () => {
    const { peft, warnings } = await load(path.join(VARIANTS, 'patterns'));
    const layers = peft.loraLayers();
    expect([...layers.keys()].map((p) => p.replace('distilbert.transformer.', ''))).toEqual([
      'layer.0.attention.q_lin', 'layer.0.attention.v_lin', 'layer.0.ffn.lin1',
      'layer.1.attention.q_lin', 'layer.1.attention.v_lin', 'layer.1.ffn.lin1',
    ]);
    // r 3, lin1 r 2 by rank_pattern; alpha 6, layer 1's q_lin 16 by alpha_pattern; rsLoRA scaling alpha/√r.
    expect([...layers.values()].map((l) => [l.r, l.scaling])).toEqual([
      [3, 6 / Math.sqrt(3)], [3, 6 / Math.sqrt(3)], [2, 6 / Math.sqrt(2)],
      [3, 16 / Math.sqrt(3)], [3, 6 / Math.sqrt(3)], [2, 6 / Math.sqrt(2)],
    ]);
    expect(maxRelErr(logitsOf(peft), expected['patterns'])).toBeLessThan(1e-5);
    expect(warnings).toEqual([]);
    peft.dispose();
  });

  it('layers_to_transform + layers_pattern + exclude_modules, bias "lora_only" (the saved base_layer.bias is loaded, and trains)', async () => {
    const { peft } = await load(path.join(VARIANTS, 'layers'), true);
    expect([...peft.loraLayers().keys()]).toEqual(['distilbert.transformer.layer.1.attention.q_lin']);
    expect(maxRelErr(logitsOf(peft), expected['layers'])).toBeLessThan(1e-5);
    const lora = peft.loraLayers().get('distilbert.transformer.layer.1.attention.q_lin')!;
    expect(peft.trainableVariables()).toContain(lora.bias);
    // A/B + the adapted layer's bias + the head (2 linears × weight and bias).
    expect(peft.trainableVariables().length).toBe(2 + 1 + 4);
    peft.dispose();
  });

  it('bias "all", a file key that names nothing, an unknown config key and a runtime_config: loaded, with the warnings', async () => {
    const { peft, warnings } = await load(path.join(VARIANTS, 'bias-all'), true);
    expect(maxRelErr(logitsOf(peft), expected['bias-all'])).toBeLessThan(1e-5);
    expect(warnings).toEqual([
      'The configuration file contains a `runtime_config` key. This is ignored. Runtime configurations are only valid at runtime.',
      // PEFT 0.21's text word for word (peft/config.py from_peft_type; scripts/reference/CROSSCHECK.md).
      "Unexpected keyword arguments ['some_future_option'] for class LoraConfig, these are ignored. This probably means that you're " +
        'loading a configuration file that was saved using a higher version of the library and additional parameters have been ' +
        'introduced since. It is highly recommended to upgrade the PEFT version before continuing (e.g. by running `pip install -U peft`).',
      expect.stringMatching(/ignored \['base_model\.model\.distilbert\.transformer\.layer\.0\.attention\.k_lin\.lora_magnitude_vector'\]/),
    ]);
    // Every bias trains: 12 linear + 5 LayerNorm biases outside the head, plus A/B of 2 k_lin and the head's 4 tensors.
    expect(peft.trainableVariables().length).toBe(12 + 5 + 4 + 4);
    // Round trip: what we save reloads to the same logits.
    const dir = tempDir();
    peft.saveAdapter(dir);
    const again = await load(dir);
    expect(maxRelErr(logitsOf(again.peft), expected['bias-all'])).toBeLessThan(1e-5);
    [peft, again.peft].forEach((p) => p.dispose());
  });

  it('A/B of a targeted layer missing from the file: PEFT\'s "missing adapter keys" warning, that adapter adds nothing', async () => {
    const { peft, warnings } = await load(path.join(VARIANTS, 'missing-lora'));
    expect(warnings).toEqual([
      "Found missing adapter keys while loading the checkpoint: ['base_model.model.distilbert.transformer.layer.0.ffn.lin2.lora_A.default.weight', " +
        "'base_model.model.distilbert.transformer.layer.0.ffn.lin2.lora_B.default.weight'].",
    ]);
    expect(maxRelErr(logitsOf(peft), expected['missing-lora'])).toBeLessThan(1e-5);
    peft.dispose();
  });

  it('fields that do not change a loaded adapter are accepted: inference_mode, revision, init variants, megatron, qalora, weight tying', async () => {
    const edits: Record<string, unknown>[] = [
      { inference_mode: false, revision: 'main', base_model_name_or_path: 'someone/else' },
      { init_lora_weights: false },
      { init_lora_weights: 'gaussian' },
      { init_lora_weights: 'orthogonal' },
      { megatron_config: { tensor_model_parallel_size: 1 }, megatron_core: 'megatron.core' },
      { use_qalora: true, qalora_group_size: 32 },
      { ensure_weight_tying: true, exclude_modules: [], target_parameters: [], rank_pattern: null, alpha_pattern: null },
      { task_type: 'TOKEN_CLS' },
      { init_lora_weights: 'Gaussian', lora_dropout: 1 },
      { layers_to_transform: [], layers_pattern: '' },
      // Keys older releases wrote and newer ones dropped, and a config with only the required keys.
      { enable_lora: null, merge_weights: false, peft_version: undefined, auto_mapping: undefined },
    ];
    for (const edit of edits) {
      const warnings: string[] = [];
      const model = await loadPretrained(path.join(FIXTURES, 'tiny-distilbert'), { numLabels: 3, log: () => {} });
      const peft = await loadAdapter(model, withConfig(edit), { warn: (m) => warnings.push(m) });
      expect(maxRelErr(logitsOf(peft), batch.logits)).toBeLessThan(1e-5);
      if ('enable_lora' in edit) expect(warnings).toEqual([expect.stringMatching(/Unexpected keyword arguments \['enable_lora', 'merge_weights'\]/)]);
      else expect(warnings).toEqual([]);
      peft.dispose();
    }
  });

  it('modules_to_save names that match nothing are ignored (PEFT) with a warning; the matching ones still load', async () => {
    const warnings: string[] = [];
    const model = await loadPretrained(path.join(FIXTURES, 'tiny-distilbert'), { numLabels: 3, log: () => {} });
    const peft = await loadAdapter(model, withConfig({ modules_to_save: ['classifier', 'score', 'lm_head'] }), { warn: (m) => warnings.push(m) });
    expect(warnings).toEqual([expect.stringMatching(/adapter_config\.json: modules_to_save \["lm_head"\] match no module of the model; ignored/)]);
    expect(maxRelErr(logitsOf(peft), batch.logits)).toBeLessThan(1e-5);
    peft.dispose();
  });

  it('layers_to_transform as a single index, with the default layer pattern (first numbered path part)', async () => {
    const { peft } = await load(withConfig({ target_modules: ['q_lin'], layers_to_transform: 0, modules_to_save: null }, path.join(VARIANTS, 'no-head', 'adapter_model.safetensors')));
    expect([...peft.loraLayers().keys()]).toEqual(['distilbert.transformer.layer.0.attention.q_lin']);
    peft.dispose();
  });

  it('LoraConfig.__post_init__\'s warnings for init configs given for another initialisation', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ loftq_config: { loftq_bits: 4 } }, "`loftq_config` specified but will be ignored when `init_lora_weights` is not 'loftq'."],
      [{ init_lora_weights: 'eva' }, "`init_lora_weights` is 'eva' but `eva_config` is not specified. Using default EVA config."],
      [{ eva_config: { rho: 2 } }, "`eva_config` specified but will be ignored when `init_lora_weights` is not 'eva'."],
      [{ corda_config: { corda_method: 'ipm' } }, "`corda_config` specified but will be ignored when `init_lora_weights` is not 'corda'."],
    ];
    for (const [edit, warning] of cases) {
      const warnings: string[] = [];
      const model = await loadPretrained(path.join(FIXTURES, 'tiny-distilbert'), { numLabels: 3, log: () => {} });
      const peft = await loadAdapter(model, withConfig(edit), { warn: (m) => warnings.push(m) });
      expect(warnings).toEqual([warning]);
      peft.dispose();
    }
  });

  it('a minimal config (peft_type and target_modules only) gets PEFT\'s defaults: r 8, alpha 8, no task, no head', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', target_modules: ['q_lin'] }));
    fs.copyFileSync(path.join(VARIANTS, 'no-head', 'adapter_model.safetensors'), path.join(dir, 'adapter_model.safetensors'));
    const warnings: string[] = [];
    const model = await base();
    // The file's adapters are rank 4: with r defaulting to 8 their shapes do not fit.
    await expect(loadAdapter(model, dir, { warn: (m) => warnings.push(m) })).rejects.toThrow(/q_lin\.lora_A\.weight' has shape \[4,8\] in the file but the model needs \[8,8\]/);
    fs.writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', target_modules: ['q_lin'], r: 4 }));
    const peft = await loadAdapter(model, dir, { warn: (m) => warnings.push(m) });
    expect(peft.config).toMatchObject({ r: 4, loraAlpha: 8, taskType: null, modulesToSave: [], bias: 'none', useRslora: false });
    expect([...peft.loraLayers().values()].map((l) => l.scaling)).toEqual([2, 2]);
    expect(warnings).toEqual([expect.stringMatching(/ignored \[.*k_lin.*\(20 in all\)\]/)]);
    peft.dispose();
  });
});

describe('adapter configs refused, naming the file and the field', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['peft_type missing', { peft_type: undefined }, /adapter_config\.json: no "peft_type" field/],
    ['another PEFT method', { peft_type: 'IA3' }, /adapter_config\.json: peft_type = "IA3": only LoRA adapters/],
    ['an invalid task type', { task_type: 'SEQ_CLASSIFICATION' }, /adapter_config\.json: invalid task type "SEQ_CLASSIFICATION"; must be one of SEQ_CLS/],
    ['no target_modules (PEFT has no DistilBERT default)', { target_modules: null }, /target_modules = null: PEFT knows no default target modules for DistilBERT/],
    ['empty target_modules', { target_modules: [] }, /adapter_config\.json: targetModules must be a non-empty list/],
    ['DoRA', { use_dora: true }, /use_dora = true: not implemented by this loader: DoRA/],
    ['lora_bias', { lora_bias: true }, /lora_bias = true: not implemented/],
    ['trainable tokens', { trainable_token_indices: [1, 2] }, /trainable_token_indices = \[1,2\]: not implemented/],
    ['layer replication', { layer_replication: [[0, 2]] }, /layer_replication = \[\[0,2\]\]: not implemented/],
    ['aLoRA', { alora_invocation_tokens: [5] }, /alora_invocation_tokens = \[5\]: not implemented/],
    ['PiSSA', { init_lora_weights: 'pissa_niter_4' }, /init_lora_weights = "pissa_niter_4": this initialisation rewrites the base weights/],
    ['LoftQ', { init_lora_weights: 'loftq' }, /init_lora_weights = "loftq": this initialisation rewrites/],
    ['an unknown init', { init_lora_weights: 'xavier' }, /init_lora_weights = "xavier": unknown initialization/],
    ['bias not a known mode', { bias: 'some' }, /adapter_config\.json: bias "some" is not one of 'none', 'all', 'lora_only'/],
    ['modules_to_save a string', { modules_to_save: 'classifier' }, /modules_to_save = "classifier": must be a list/],
    ['r not a number', { r: '4' }, /r = "4": must be a number/],
    ['r zero', { r: 0 }, /adapter_config\.json: r must be an integer ≥ 1, got 0/],
    ['layers_pattern without layers_to_transform', { layers_pattern: 'layer' }, /when layersPattern is specified, layersToTransform must also be specified/],
    ['layers_to_transform with a regex target', { target_modules: '.*q_lin', layers_to_transform: [0] }, /layersToTransform cannot be used when targetModules is a string/],
    ['a target that is not a linear layer', { target_modules: ['attention'] }, /adapter_config\.json: targetModules \["attention"\] matches '.*attention', which is not a linear layer/],
    ['a regex that matches nothing', { target_modules: 'q_linear' }, /adapter_config\.json: targetModules "q_linear" match no linear layer/],
    ['a target also in modules_to_save', { target_modules: 'all-linear' }, /'pre_classifier' is targeted by LoRA and also trained in full through modulesToSave/],
  ];
  for (const [what, edit, message] of cases) {
    it(what, async () => {
      const model = await base();
      await expect(loadAdapter(model, withConfig(edit), { warn: () => {} })).rejects.toThrow(message);
      for (const layer of model.linears.values()) expect(layer).not.toBeInstanceOf(LoraLinear);
      model.dispose();
    });
  }

  it('a 4-bit base weight the file would overwrite', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify({ ...peftConfig, target_modules: ['q_lin'] }));
    writeSafetensors(path.join(dir, 'adapter_model.safetensors'), {
      'base_model.model.distilbert.transformer.layer.0.attention.k_lin.weight': { dtype: 'F32', shape: [8, 8], data: new Float32Array(64) },
    });
    const model = await loadPretrained(BASE, { quantization: 'nf4', log: () => {} });
    await expect(loadAdapter(model, dir, { warn: () => {} })).rejects.toThrow(/adapter_model\.safetensors: '.*k_lin\.weight' would replace the 4-bit weight.*quantization: 'none'/);
    model.dispose();
    tf.disposeVariables();
  });
});
