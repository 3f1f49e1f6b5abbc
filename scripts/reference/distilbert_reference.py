#!/usr/bin/python3
"""Independent PyTorch reference for DistilBertForSequenceClassification (fixture generator).

Written from Hugging Face's DistilBERT semantics (docs/reference.md, transformers'
modeling_distilbert.py), not from our TypeScript. The safetensors files are parsed by hand
(struct + json + numpy): the safetensors package is not installed here.

It reads the committed tiny checkpoint test/fixtures/distilbert/tiny, writes half-precision copies
of it (tiny-f16, tiny-bf16: converted by torch, an independent F16/BF16 rounding), and writes the
logits of all three for a few batches of ids/masks (padded rows, a fully masked row, the
longest allowed sequence) to test/fixtures/distilbert/logits.json. Computation is in float64, so
the fixture is the exact answer and our float32 result may differ by rounding only.

Run once, from the repository root:  /usr/bin/python3 scripts/reference/distilbert_reference.py
(The tiny checkpoint itself came from:
  npx ts-node --transpile-only scripts/make-random-checkpoint.ts --out test/fixtures/distilbert/tiny \
    --vocab-size 64 --dim 32 --n-layers 2 --n-heads 4 --hidden-dim 64 --max-positions 32 \
    --seed 1234 --std 0.2 --with-head --num-labels 3)
"""
import json
import math
import os
import shutil
import struct

import numpy as np
import torch

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "distilbert")

NP_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32, "U8": np.uint8}


def read_safetensors(path):
    """name -> float64 torch tensor, parsing the format by hand."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    data = raw[8 + n :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        chunk = data[begin:end]
        if info["dtype"] == "BF16":
            # bfloat16 is the upper half of a float32.
            bits = np.frombuffer(chunk, dtype="<u2").astype(np.uint32) << 16
            values = bits.view(np.float32)
        else:
            values = np.frombuffer(chunk, dtype=np.dtype(NP_DTYPES[info["dtype"]]).newbyteorder("<"))
        out[name] = torch.from_numpy(values.astype(np.float64).reshape(info["shape"]))
    return out


def write_safetensors(path, tensors, metadata):
    """tensors: name -> (dtype string, shape, raw little-endian bytes). Header padded with spaces to 8 bytes."""
    header = {"__metadata__": metadata} if metadata else {}
    offset = 0
    order = sorted(tensors)  # all one dtype here, so name order is the library's order
    for name in order:
        dtype, shape, blob = tensors[name]
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * ((8 - len(head) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for name in order:
            f.write(tensors[name][2])


def half_copy(src_dir, dst_dir, torch_dtype, st_dtype):
    """Copies a float32 checkpoint, rounding every tensor to float16/bfloat16 with torch."""
    os.makedirs(dst_dir, exist_ok=True)
    shutil.copy(os.path.join(src_dir, "config.json"), os.path.join(dst_dir, "config.json"))
    weights = read_safetensors(os.path.join(src_dir, "model.safetensors"))
    tensors = {}
    for name, t in weights.items():
        bits = t.to(torch.float32).to(torch_dtype).view(torch.int16).numpy().astype("<i2").tobytes()
        tensors[name] = (st_dtype, list(t.shape), bits)
    write_safetensors(os.path.join(dst_dir, "model.safetensors"), tensors, {"format": "pt"})


class DistilBertReference:
    """DistilBertForSequenceClassification's forward pass in eval mode (no dropout)."""

    def __init__(self, folder):
        with open(os.path.join(folder, "config.json")) as f:
            self.cfg = json.load(f)
        self.w = read_safetensors(os.path.join(folder, "model.safetensors"))

    def p(self, name):
        return self.w[name]

    def linear(self, name, x):
        return x @ self.p(name + ".weight").T + self.p(name + ".bias")

    def layer_norm(self, name, x):
        return torch.nn.functional.layer_norm(x, (x.shape[-1],), self.p(name + ".weight"), self.p(name + ".bias"), eps=1e-12)

    def attention(self, prefix, x, mask):
        bs, q_len, dim = x.shape
        n_heads = self.cfg["n_heads"]
        d_head = dim // n_heads

        def heads(t):  # [bs, len, dim] -> [bs, heads, len, d_head]
            return t.view(bs, -1, n_heads, d_head).transpose(1, 2)

        q = heads(self.linear(prefix + ".q_lin", x)) / math.sqrt(d_head)
        k = heads(self.linear(prefix + ".k_lin", x))
        v = heads(self.linear(prefix + ".v_lin", x))
        scores = q @ k.transpose(2, 3)  # [bs, heads, q_len, k_len]
        masked = (mask == 0).view(bs, 1, 1, -1).expand_as(scores)
        scores = scores.masked_fill(masked, torch.finfo(scores.dtype).min)
        weights = torch.softmax(scores, dim=-1)
        context = (weights @ v).transpose(1, 2).reshape(bs, -1, dim)
        return self.linear(prefix + ".out_lin", context)

    def logits(self, input_ids, attention_mask):
        ids = torch.tensor(input_ids, dtype=torch.long)
        mask = torch.tensor(attention_mask, dtype=torch.long)
        seq_len = ids.shape[1]
        words = self.p("distilbert.embeddings.word_embeddings.weight")[ids]
        positions = self.p("distilbert.embeddings.position_embeddings.weight")[torch.arange(seq_len)]
        x = self.layer_norm("distilbert.embeddings.LayerNorm", words + positions)
        for i in range(self.cfg["n_layers"]):
            prefix = "distilbert.transformer.layer.%d" % i
            sa = self.layer_norm(prefix + ".sa_layer_norm", self.attention(prefix + ".attention", x, mask) + x)
            hidden = torch.nn.functional.gelu(self.linear(prefix + ".ffn.lin1", sa))  # exact erf GELU
            x = self.layer_norm(prefix + ".output_layer_norm", self.linear(prefix + ".ffn.lin2", hidden) + sa)
        pooled = torch.relu(self.linear("pre_classifier", x[:, 0]))
        return self.linear("classifier", pooled)


def cases():
    rng = np.random.RandomState(7)
    cls, sep = 2, 3

    def row(n, width, pad_id=0):
        ids = [cls] + list(rng.randint(4, 64, size=n - 2)) + [sep] if n >= 2 else [cls]
        ids = [int(i) for i in ids]
        return ids + [pad_id] * (width - len(ids)), [1] * len(ids) + [0] * (width - len(ids))

    out = []
    # Right-padded batch; row 2's padding uses a non-zero id: only the mask may decide.
    rows = [row(10, 10), row(6, 10), row(3, 10, pad_id=17), row(1, 10)]
    out.append({"name": "padded batch", "input_ids": [r[0] for r in rows], "attention_mask": [r[1] for r in rows]})
    # The longest sequence the position table allows.
    rows = [row(32, 32), row(20, 32)]
    out.append({"name": "max length", "input_ids": [r[0] for r in rows], "attention_mask": [r[1] for r in rows]})
    # A row with every position masked: masked_fill gives equal scores, so attention is uniform.
    ids, _ = row(5, 5)
    out.append({"name": "fully masked row", "input_ids": [ids], "attention_mask": [[0] * 5]})
    return out


def main():
    tiny = os.path.join(FIXTURES, "tiny")
    half_copy(tiny, os.path.join(FIXTURES, "tiny-f16"), torch.float16, "F16")
    half_copy(tiny, os.path.join(FIXTURES, "tiny-bf16"), torch.bfloat16, "BF16")
    result = {"generated_by": "scripts/reference/distilbert_reference.py (torch %s, float64)" % torch.__version__, "checkpoints": {}}
    for name in ["tiny", "tiny-f16", "tiny-bf16"]:
        model = DistilBertReference(os.path.join(FIXTURES, name))
        entries = []
        for case in cases():
            logits = model.logits(case["input_ids"], case["attention_mask"])
            entries.append(dict(case, logits=logits.tolist()))
        result["checkpoints"][name] = entries
    with open(os.path.join(FIXTURES, "logits.json"), "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print("wrote", os.path.join(FIXTURES, "logits.json"))


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
