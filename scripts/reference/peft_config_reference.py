#!/usr/bin/python3
"""Independent PyTorch reference for loading PEFT LoRA adapters whose adapter_config.json uses the
less common LoraConfig fields (issue 10 §2).

Run with Debian's Python (torch and numpy; no transformers, no peft):

    /usr/bin/python3 scripts/reference/peft_config_reference.py

Writes test/fixtures/lora/peft-variants/: a base checkpoint that has a classification head
(base-with-head/), one adapter folder per case, and variants.json with, for the batch of
model.json, the logits PEFT would compute after PeftModel.from_pretrained(base, folder).

Which layers get LoRA, with which rank/alpha/scaling, which weights the file overrides, is written
here by hand from PEFT's rules (tuners_utils.check_target_module_exists, utils/other.py
get_pattern_key, set_peft_model_state_dict = load_state_dict(strict=False)), not from our code.
"""
import copy
import json
import os
import re
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))
import lora_reference as ref  # noqa: E402  (tiny model shapes, safetensors I/O, base weights)

OUT = os.path.join(ref.OUT, 'peft-variants')
P = 'base_model.model.'


def forward(w, lora, input_ids, attention_mask):
    """DistilBertForSequenceClassification in eval mode; `w` every base weight (head included),
    `lora` path -> (A, B, scaling) for the adapted linears only."""
    def lin(p, x):
        y = torch.nn.functional.linear(x, w[p + '.weight'], w[p + '.bias'])
        if p in lora:
            a, b, s = lora[p]
            y = y + torch.nn.functional.linear(torch.nn.functional.linear(x, a), b) * s
        return y

    h = torch.relu(lin('pre_classifier', ref.encode(w, lin, input_ids, attention_mask)))
    return lin('classifier', h)


def config(**over):
    c = ref.adapter_config('tiny-distilbert')
    c.update(over)
    return c


def write_case(name, cfg, tensors):
    folder = os.path.join(OUT, name)
    os.makedirs(folder, exist_ok=True)
    ref.write_safetensors(os.path.join(folder, 'adapter_model.safetensors'), tensors, {'format': 'pt'})
    with open(os.path.join(folder, 'adapter_config.json'), 'w') as f:
        f.write(json.dumps(cfg, indent=2, sort_keys=True))


def main():
    torch.set_default_dtype(torch.float64)
    rng = np.random.default_rng(20261201)
    fixture = json.load(open(os.path.join(ref.OUT, 'model.json')))
    ids = torch.tensor(fixture['input_ids'])
    mask = torch.tensor(fixture['attention_mask'])
    d, L = ref.CONFIG['dim'], ref.NUM_LABELS

    base = ref.read_safetensors(os.path.join(ref.OUT, 'tiny-distilbert', 'model.safetensors'))
    head = {
        'pre_classifier.weight': rng.normal(size=(d, d)) / np.sqrt(d), 'pre_classifier.bias': 0.1 * rng.normal(size=(d,)),
        'classifier.weight': rng.normal(size=(L, d)) / np.sqrt(d), 'classifier.bias': 0.1 * rng.normal(size=(L,)),
    }
    base_head = dict(base, **{k: ref.f32(v) for k, v in head.items()})
    os.makedirs(os.path.join(OUT, 'base-with-head'), exist_ok=True)
    ref.write_safetensors(os.path.join(OUT, 'base-with-head', 'model.safetensors'), base_head, {'format': 'pt'})
    with open(os.path.join(ref.OUT, 'tiny-distilbert', 'config.json')) as f:
        hf = json.load(f)
    hf['architectures'] = ['DistilBertForSequenceClassification']
    hf['id2label'] = {str(i): f'LABEL_{i}' for i in range(L)}
    hf['label2id'] = {f'LABEL_{i}': i for i in range(L)}
    with open(os.path.join(OUT, 'base-with-head', 'config.json'), 'w') as f:
        f.write(json.dumps(hf, indent=2, sort_keys=True) + '\n')
    W = {k: torch.tensor(v) for k, v in ref.read_safetensors(os.path.join(OUT, 'base-with-head', 'model.safetensors')).items()}
    adapter = {k[len(P):]: torch.tensor(v) for k, v in ref.read_safetensors(os.path.join(ref.OUT, 'peft-adapter', 'adapter_model.safetensors')).items()}
    ab_only = {P + k: v.numpy() for k, v in adapter.items() if '.lora_' in k}
    all_six = {p: (adapter[p + '.lora_A.weight'], adapter[p + '.lora_B.weight'], ref.ALPHA / ref.R) for p in ref.linear_paths()}
    expected = {}

    # 1. SEQ_CLS, modules_to_save null, only A/B saved: the head stays the base model's (PEFT < 0.15).
    write_case('no-head', config(modules_to_save=None), ab_only)
    expected['no-head'] = forward(W, all_six, ids, mask)
    # 2. task_type null: plain PeftModel, nothing wrapped; same weights, same result.
    write_case('no-task', config(modules_to_save=None, task_type=None), ab_only)
    expected['no-task'] = expected['no-head']

    # 3. A regex target, rank/alpha patterns, rsLoRA. PEFT: re.fullmatch(target, path);
    #    get_pattern_key: first key k with re.match(r"(.*\.)?(k)$", path).
    target = r'.*\.(q_lin|v_lin|lin1)'
    rank_pattern, alpha_pattern = {'lin1': 2}, {r'layer\.1\.attention\.q_lin': 16}
    lora, saved = {}, {}
    for p in ref.linear_paths():
        if not re.fullmatch(target, p):
            continue
        r = next((v for k, v in rank_pattern.items() if re.match(rf'(.*\.)?({k})$', p)), 3)
        alpha = next((v for k, v in alpha_pattern.items() if re.match(rf'(.*\.)?({k})$', p)), 6)
        out, inp = ref.linear_shape(p)
        a = ref.f32(rng.uniform(-1, 1, size=(r, inp)) / np.sqrt(inp))
        b = ref.f32(rng.normal(size=(out, r)) * 0.3)
        saved[P + p + '.lora_A.weight'], saved[P + p + '.lora_B.weight'] = a, b
        lora[p] = (torch.tensor(a), torch.tensor(b), alpha / np.sqrt(r))  # use_rslora
    trained_head = {k: ref.f32(v + 0.05 * rng.normal(size=v.shape)) for k, v in head.items()}
    saved.update({P + k: v for k, v in trained_head.items()})
    write_case('patterns', config(target_modules=target, r=3, lora_alpha=6, use_rslora=True, rank_pattern=rank_pattern,
                                  alpha_pattern=alpha_pattern), saved)
    expected['patterns'] = forward(dict(W, **{k: torch.tensor(v) for k, v in trained_head.items()}), lora, ids, mask)
    assert len(lora) == 6, sorted(lora)

    # 4. layers_to_transform + layers_pattern + exclude_modules + bias 'lora_only'.
    #    q_lin and v_lin of layer 1 only; v_lin excluded; the adapted layer's bias saved as base_layer.bias.
    p = 'distilbert.transformer.layer.1.attention.q_lin'
    a, b = ref.f32(rng.uniform(-1, 1, size=(4, d)) / np.sqrt(d)), ref.f32(rng.normal(size=(d, 4)) * 0.3)
    new_bias = ref.f32(base[p + '.bias'] + 0.2 * rng.normal(size=(d,)))
    saved = {P + p + '.lora_A.weight': a, P + p + '.lora_B.weight': b, P + p + '.base_layer.bias': new_bias}
    saved.update({P + k: v for k, v in trained_head.items()})
    write_case('layers', config(target_modules=['q_lin', 'v_lin'], layers_to_transform=[1], layers_pattern='layer',
                                exclude_modules=['layer.1.attention.v_lin'], bias='lora_only'), saved)
    w4 = dict(W, **{k: torch.tensor(v) for k, v in trained_head.items()})
    w4[p + '.bias'] = torch.tensor(new_bias)
    expected['layers'] = forward(w4, {p: (torch.tensor(a), torch.tensor(b), ref.ALPHA / ref.R)}, ids, mask)

    # 5. bias 'all', a key PEFT ignores, an unknown config key and a runtime_config (both warned about).
    #    Every bias of the model is in the file: LayerNorms and plain linears under their own name,
    #    the adapted k_lin under base_layer.bias; all are loaded into the model.
    w5 = dict(W, **{k: torch.tensor(v) for k, v in trained_head.items()})
    saved = {P + k: v for k, v in trained_head.items()}
    lora = {}
    for name in sorted(base):
        if not name.endswith('.bias'):
            continue
        nb = ref.f32(base[name] + 0.1 * rng.normal(size=base[name].shape))
        w5[name] = torch.tensor(nb)
        key = name[:-len('.bias')] + ('.base_layer.bias' if name.endswith('k_lin.bias') else '.bias')
        saved[P + key] = nb
    for p in ref.linear_paths():
        if p.endswith('k_lin'):
            a, b = ref.f32(rng.uniform(-1, 1, size=(4, d)) / np.sqrt(d)), ref.f32(rng.normal(size=(d, 4)) * 0.3)
            saved[P + p + '.lora_A.weight'], saved[P + p + '.lora_B.weight'] = a, b
            lora[p] = (torch.tensor(a), torch.tensor(b), ref.ALPHA / ref.R)
    saved[P + 'distilbert.transformer.layer.0.attention.k_lin.lora_magnitude_vector'] = ref.f32(np.ones(d))
    cfg = config(target_modules=['k_lin'], bias='all', some_future_option=3)
    cfg['runtime_config'] = {'ephemeral_gpu_offload': False}
    write_case('bias-all', cfg, saved)
    expected['bias-all'] = forward(w5, lora, ids, mask)

    # 6. A/B of one targeted layer missing from the file: PEFT warns, the fresh adapter (B = 0) adds nothing.
    missing = 'distilbert.transformer.layer.0.ffn.lin2'
    saved = {P + k: v.numpy() for k, v in adapter.items() if not k.startswith(missing + '.')}
    write_case('missing-lora', config(), saved)
    six_but_one = {k: v for k, v in all_six.items() if k != missing}
    expected['missing-lora'] = forward(dict(W, **{k: adapter[k] for k in head}), six_but_one, ids, mask)

    out = {'description': 'logits of PeftModel.from_pretrained(base-with-head, case) on model.json\'s batch',
           'logits': {k: v.detach().numpy().tolist() for k, v in expected.items()}}
    with open(os.path.join(OUT, 'variants.json'), 'w') as f:
        f.write(json.dumps(out, indent=1) + '\n')
    print('wrote', OUT)


if __name__ == '__main__':
    main()
