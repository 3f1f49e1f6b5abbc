#!/usr/bin/python3
"""Independent PyTorch reference for LoRA (PEFT semantics) and the PEFT adapter file format.

Run once with Debian's Python (it has torch and numpy; no transformers, no peft, no safetensors):

    /usr/bin/python3 scripts/reference/lora_reference.py

Writes small fixtures under test/fixtures/lora/:
  - linear.json: one LoRA linear layer (plain and rsLoRA scaling): inputs, outputs, merged weight,
    gradients of lora_A / lora_B / x for the loss sum(y * G).
  - tiny-distilbert/: a tiny base checkpoint in the Hub's layout (config.json, model.safetensors
    with `distilbert.` keys and no classification head, like distilbert-base-uncased).
  - peft-adapter/: an adapter folder laid out as PEFT's save_pretrained writes it (LoRA r=4,
    alpha=8 on all six linear kinds, task SEQ_CLS, so the head is in modules_to_save).
  - model.json: for a fixed batch, the logits of base + adapter, the cross-entropy loss, and the
    gradient norms (per tensor and global) of every lora_A, lora_B and of the head, with dropout 0;
    plus the key list PEFT would save for two configs.
Everything here is written from the published semantics (transformers `modeling_distilbert.py`,
PEFT `tuners/lora/layer.py`, `utils/save_and_load.py`, `utils/other.py`), not from our TypeScript
code. Inputs are rounded to float32 so both sides start from identical numbers;
the maths is done in float64.
"""
import json
import os

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
OUT = os.path.join(ROOT, 'test', 'fixtures', 'lora')


def f32(a):
    """Round to float32 values (kept as float64 for the maths)."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def tolist(t):
    return t.detach().cpu().numpy().astype(np.float64).tolist()


def lora_linear_case(rng, n, d_in, d_out, r, alpha, use_rslora):
    W = f32(rng.normal(size=(d_out, d_in)) * 0.5)
    b = f32(rng.normal(size=(d_out,)) * 0.1)
    A = f32(rng.uniform(-1, 1, size=(r, d_in)) / np.sqrt(d_in))
    B = f32(rng.normal(size=(d_out, r)) * 0.3)  # non-zero, as after some training
    x = f32(rng.normal(size=(n, d_in)))
    G = f32(rng.normal(size=(n, d_out)))  # upstream gradient: loss = sum(y * G)

    scaling = alpha / np.sqrt(r) if use_rslora else alpha / r
    tW, tb = torch.tensor(W), torch.tensor(b)
    tA = torch.tensor(A, requires_grad=True)
    tB = torch.tensor(B, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    # PEFT lora.Linear.forward: result = base_layer(x) + lora_B(lora_A(dropout(x))) * scaling
    y = torch.nn.functional.linear(tx, tW, tb) + torch.nn.functional.linear(
        torch.nn.functional.linear(tx, tA), tB) * scaling
    loss = (y * torch.tensor(G)).sum()
    loss.backward()
    merged = tW + scaling * (tB.detach() @ tA.detach())  # PEFT merge: W += scaling * B @ A
    return {
        'r': r, 'lora_alpha': alpha, 'use_rslora': use_rslora, 'scaling': scaling,
        'W': W.tolist(), 'b': b.tolist(), 'A': A.tolist(), 'B': B.tolist(), 'x': x.tolist(), 'G': G.tolist(),
        'y': tolist(y), 'merged_weight': tolist(merged), 'loss': float(loss),
        'grad_A': tolist(tA.grad), 'grad_B': tolist(tB.grad), 'grad_x': tolist(tx.grad),
    }


# --------------------------------------------------------------------------------------------
# safetensors, by hand: 8-byte little-endian header length, JSON header, raw little-endian data.

def write_safetensors(path, tensors, metadata):
    """Same layout as the reference writer: F32 only here, so order by name; header padded to 8 bytes."""
    import struct
    header = {'__metadata__': metadata}
    blobs, offset = [], 0
    for name in sorted(tensors):
        data = np.ascontiguousarray(tensors[name], dtype='<f4').tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(tensors[name].shape), 'data_offsets': [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    raw = json.dumps(header, separators=(',', ':')).encode('utf8')
    raw += b' ' * ((8 - len(raw) % 8) % 8)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_safetensors(path):
    import struct
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        begin, end = info['data_offsets']
        assert info['dtype'] == 'F32'
        out[name] = np.frombuffer(data[begin:end], dtype='<f4').reshape(info['shape']).astype(np.float64)
    return out


# --------------------------------------------------------------------------------------------
# A tiny DistilBERT for sequence classification, written from transformers' modeling_distilbert.py.

CONFIG = dict(vocab_size=40, dim=8, n_layers=2, n_heads=2, hidden_dim=16, max_position_embeddings=12)
NUM_LABELS = 3
LINEAR_KINDS = ['attention.q_lin', 'attention.k_lin', 'attention.v_lin', 'attention.out_lin', 'ffn.lin1', 'ffn.lin2']
R, ALPHA = 4, 8  # scaling 2


def linear_paths():
    return [f'distilbert.transformer.layer.{i}.{k}' for i in range(CONFIG['n_layers']) for k in LINEAR_KINDS]


def linear_shape(path):
    d, h = CONFIG['dim'], CONFIG['hidden_dim']
    if path.endswith('lin1'):
        return (h, d)
    if path.endswith('lin2'):
        return (d, h)
    return (d, d)


def make_base(rng):
    """Base weights (no head), keyed like the Hub checkpoint."""
    d, V, P = CONFIG['dim'], CONFIG['vocab_size'], CONFIG['max_position_embeddings']
    w = {}
    w['distilbert.embeddings.word_embeddings.weight'] = rng.normal(size=(V, d)) * 0.5
    w['distilbert.embeddings.position_embeddings.weight'] = rng.normal(size=(P, d)) * 0.5
    norms = ['distilbert.embeddings.LayerNorm']
    for i in range(CONFIG['n_layers']):
        norms += [f'distilbert.transformer.layer.{i}.sa_layer_norm', f'distilbert.transformer.layer.{i}.output_layer_norm']
    for n in norms:
        w[n + '.weight'] = 1 + 0.1 * rng.normal(size=(d,))
        w[n + '.bias'] = 0.1 * rng.normal(size=(d,))
    for p in linear_paths():
        out, inp = linear_shape(p)
        w[p + '.weight'] = rng.normal(size=(out, inp)) / np.sqrt(inp)
        w[p + '.bias'] = 0.1 * rng.normal(size=(out,))
    return {k: f32(v) for k, v in w.items()}


def make_adapter(rng):
    d = CONFIG['dim']
    a = {}
    for p in linear_paths():
        out, inp = linear_shape(p)
        a[p + '.lora_A.weight'] = rng.uniform(-1, 1, size=(R, inp)) / np.sqrt(inp)  # kaiming_uniform(a=sqrt(5)) range
        a[p + '.lora_B.weight'] = rng.normal(size=(out, R)) * 0.2  # "trained": non-zero
    a['pre_classifier.weight'] = rng.normal(size=(d, d)) / np.sqrt(d)
    a['pre_classifier.bias'] = 0.1 * rng.normal(size=(d,))
    a['classifier.weight'] = rng.normal(size=(NUM_LABELS, d)) / np.sqrt(d)
    a['classifier.bias'] = 0.1 * rng.normal(size=(NUM_LABELS,))
    return {k: f32(v) for k, v in a.items()}


def layer_norm(x, w, b):
    return torch.nn.functional.layer_norm(x, (x.shape[-1],), w, b, eps=1e-12)


def encode(w, lin, input_ids, attention_mask):
    """DistilBERT's encoder in eval mode (dropout off): the [CLS] hidden state [B, dim].

    `w` holds the embedding and LayerNorm weights; `lin(path, x)` computes each linear layer."""
    d, H = CONFIG['dim'], CONFIG['n_heads']
    dh = d // H
    B, T = input_ids.shape
    x = w['distilbert.embeddings.word_embeddings.weight'][input_ids] + w['distilbert.embeddings.position_embeddings.weight'][:T]
    x = layer_norm(x, w['distilbert.embeddings.LayerNorm.weight'], w['distilbert.embeddings.LayerNorm.bias'])
    masked = (attention_mask == 0).view(B, 1, 1, T)
    for i in range(CONFIG['n_layers']):
        p = f'distilbert.transformer.layer.{i}'
        q = lin(p + '.attention.q_lin', x).view(B, T, H, dh).transpose(1, 2) / np.sqrt(dh)
        k = lin(p + '.attention.k_lin', x).view(B, T, H, dh).transpose(1, 2)
        v = lin(p + '.attention.v_lin', x).view(B, T, H, dh).transpose(1, 2)
        scores = (q @ k.transpose(2, 3)).masked_fill(masked, torch.finfo(q.dtype).min)
        ctx = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(B, T, d)
        sa = layer_norm(lin(p + '.attention.out_lin', ctx) + x, w[p + '.sa_layer_norm.weight'], w[p + '.sa_layer_norm.bias'])
        hidden = torch.nn.functional.gelu(lin(p + '.ffn.lin1', sa))  # exact erf GELU
        x = layer_norm(lin(p + '.ffn.lin2', hidden) + sa, w[p + '.output_layer_norm.weight'], w[p + '.output_layer_norm.bias'])
    return x[:, 0]


def forward(base, t, input_ids, attention_mask):
    """DistilBertForSequenceClassification.forward in eval mode (dropout off), LoRA on every linear.

    `t` holds the trainable tensors (lora_A/B of every linear, the head)."""
    scaling = ALPHA / R

    def lin(p, x):
        y = torch.nn.functional.linear(x, base[p + '.weight'], base[p + '.bias'])
        # PEFT lora.Linear: + lora_B(lora_A(dropout(x))) * scaling
        return y + torch.nn.functional.linear(torch.nn.functional.linear(x, t[p + '.lora_A.weight']), t[p + '.lora_B.weight']) * scaling

    cls = encode(base, lin, input_ids, attention_mask)
    h = torch.relu(torch.nn.functional.linear(cls, t['pre_classifier.weight'], t['pre_classifier.bias']))
    return torch.nn.functional.linear(h, t['classifier.weight'], t['classifier.bias'])


def peft_saved_keys(modules_to_save_extra):
    """The keys PEFT's get_peft_model_state_dict yields for this model, with their shapes."""
    d = CONFIG['dim']
    keys = {}
    for p in linear_paths():
        out, inp = linear_shape(p)
        keys[f'base_model.model.{p}.lora_A.weight'] = [R, inp]
        keys[f'base_model.model.{p}.lora_B.weight'] = [out, R]
    # SEQ_CLS adds 'classifier' to modules_to_save; PEFT matches it with key.endswith('classifier'),
    # which catches 'pre_classifier' too. The ModulesToSaveWrapper's "modules_to_save.default."
    # infix is removed on saving.
    keys['base_model.model.pre_classifier.weight'] = [d, d]
    keys['base_model.model.pre_classifier.bias'] = [d]
    keys['base_model.model.classifier.weight'] = [NUM_LABELS, d]
    keys['base_model.model.classifier.bias'] = [NUM_LABELS]
    if 'word_embeddings' in modules_to_save_extra:
        keys['base_model.model.distilbert.embeddings.word_embeddings.weight'] = [CONFIG['vocab_size'], d]
    return keys


def adapter_config(base_model_name_or_path):
    """adapter_config.json as PEFT 0.19.1's LoraConfig.save_pretrained writes it."""
    return {
        'alora_invocation_tokens': None, 'alpha_pattern': {}, 'arrow_config': None, 'auto_mapping': None,
        'base_model_name_or_path': base_model_name_or_path, 'bias': 'none', 'corda_config': None,
        'ensure_weight_tying': False, 'eva_config': None, 'exclude_modules': None, 'fan_in_fan_out': False,
        'inference_mode': True, 'init_lora_weights': True, 'layer_replication': None, 'layers_pattern': None,
        'layers_to_transform': None, 'loftq_config': {}, 'lora_alpha': ALPHA, 'lora_bias': False,
        'lora_dropout': 0.0, 'lora_ga_config': None, 'megatron_config': None, 'megatron_core': 'megatron.core',
        'modules_to_save': ['classifier', 'score'], 'peft_type': 'LORA', 'peft_version': '0.19.1',
        'qalora_group_size': 16, 'r': R, 'rank_pattern': {}, 'revision': None,
        'target_modules': ['lin2', 'q_lin', 'out_lin', 'k_lin', 'lin1', 'v_lin'],  # a set in PEFT: any order
        'target_parameters': None, 'task_type': 'SEQ_CLS', 'trainable_token_indices': None, 'use_bdlora': None,
        'use_dora': False, 'use_qalora': False, 'use_rslora': False,
    }


def write_model_fixtures(rng):
    ckpt = os.path.join(OUT, 'tiny-distilbert')
    adapter_dir = os.path.join(OUT, 'peft-adapter')
    os.makedirs(ckpt, exist_ok=True)
    os.makedirs(adapter_dir, exist_ok=True)
    base = make_base(rng)
    write_safetensors(os.path.join(ckpt, 'model.safetensors'), base, {'format': 'pt'})
    hf_config = dict(CONFIG, activation='gelu', architectures=['DistilBertForMaskedLM'], attention_dropout=0.1,
                     dropout=0.1, initializer_range=0.02, model_type='distilbert', pad_token_id=0, qa_dropout=0.1,
                     seq_classif_dropout=0.2, sinusoidal_pos_embds=False, tie_weights_=True)
    with open(os.path.join(ckpt, 'config.json'), 'w') as f:
        f.write(json.dumps(hf_config, indent=2, sort_keys=True) + '\n')

    adapter = make_adapter(rng)
    saved = {f'base_model.model.{k}': v for k, v in adapter.items()}
    assert sorted(saved) == sorted(peft_saved_keys([]))
    write_safetensors(os.path.join(adapter_dir, 'adapter_model.safetensors'), saved, {'format': 'pt'})
    with open(os.path.join(adapter_dir, 'adapter_config.json'), 'w') as f:
        f.write(json.dumps(adapter_config('tiny-distilbert'), indent=2, sort_keys=True))  # PEFT: no final newline

    # Check the files we wrote read back to the same numbers (the forward below uses the read-back values).
    base = {k: torch.tensor(v) for k, v in read_safetensors(os.path.join(ckpt, 'model.safetensors')).items()}
    back = read_safetensors(os.path.join(adapter_dir, 'adapter_model.safetensors'))
    trainable = {k[len('base_model.model.'):]: torch.tensor(v, requires_grad=True) for k, v in back.items()}

    input_ids = [[1, 7, 23, 5, 39, 2], [1, 12, 3, 2, 0, 0], [1, 30, 2, 0, 0, 0]]
    attention_mask = [[1 if tok != 0 else 0 for tok in row] for row in input_ids]
    labels = [0, 2, 1]
    logits = forward(base, trainable, torch.tensor(input_ids), torch.tensor(attention_mask))
    loss = torch.nn.functional.cross_entropy(logits, torch.tensor(labels))  # mean over the batch
    loss.backward()
    grad_norms = {k: float(v.grad.norm()) for k, v in sorted(trainable.items())}
    global_norm = float(np.sqrt(sum(n * n for n in grad_norms.values())))

    # With B = 0 (a fresh adapter) the LoRA model must equal the base model with the same head.
    fresh = {k: (torch.zeros_like(v) if k.endswith('lora_B.weight') else v.detach()) for k, v in trainable.items()}
    logits_fresh = forward(base, fresh, torch.tensor(input_ids), torch.tensor(attention_mask))

    write_json('model.json', {
        'description': 'tiny DistilBERT + LoRA (r=4, alpha=8, all six linear kinds, SEQ_CLS head), eval mode; '
                       'loss = mean cross-entropy; gradient L2 norms per adapter key (without base_model.model.)',
        'config': CONFIG, 'num_labels': NUM_LABELS, 'r': R, 'lora_alpha': ALPHA,
        'input_ids': input_ids, 'attention_mask': attention_mask, 'labels': labels,
        'logits': tolist(logits), 'loss': float(loss), 'grad_norms': grad_norms, 'global_grad_norm': global_norm,
        'logits_with_zero_B': tolist(logits_fresh),
        'saved_keys': peft_saved_keys([]),
        'saved_keys_with_word_embeddings': peft_saved_keys(['word_embeddings']),
        'safetensors_metadata': {'format': 'pt'},
        'adapter_config_keys': sorted(adapter_config(None).keys()),
    })


def write_json(name, obj):
    path = os.path.join(OUT, name)
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f, indent=1)
        f.write('\n')
    os.replace(tmp, path)
    print('wrote', os.path.relpath(path, ROOT), os.path.getsize(path), 'bytes')


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_default_dtype(torch.float64)
    rng = np.random.default_rng(20240611)
    write_json('linear.json', {
        'description': 'LoRA linear, PEFT semantics; loss = sum(y * G); float64 maths on float32 inputs',
        'cases': [
            lora_linear_case(rng, n=4, d_in=6, d_out=5, r=3, alpha=6, use_rslora=False),
            lora_linear_case(rng, n=4, d_in=6, d_out=5, r=3, alpha=6, use_rslora=True),
        ],
    })
    write_model_fixtures(rng)


if __name__ == '__main__':
    main()
