"""PyTorch baseline for bench/train-step.ts and bench/eval.ts (Debian's /usr/bin/python3, torch 1.13).

A plain DistilBERT (same shapes as distilbert-base-uncased, random fp32 weights) with LoRA
adapters written out by hand (no peft here): y = x·Wᵀ + b + (dropout(x)·Aᵀ·Bᵀ)·alpha/r on q, k, v,
out, lin1, lin2; base frozen, adapters + pre_classifier + classifier trained by AdamW.

  /usr/bin/python3 bench/train_step_torch.py train --batch 8 --seq 128 --steps 3
  /usr/bin/python3 bench/train_step_torch.py eval --batch 32 --seq 256 --steps 2
Prints one JSON line last (bench/compare.ts's SideResult: msPerStep, the forward/backward/optimizer
split, peakRssMiB, engine with the BLAS core OpenBLAS runs). Threads: $BENCH_THREADS (default 2).
Run it with OPENBLAS_CORETYPE=SkylakeX on AVX-512 VMs whose CPU OpenBLAS misdetects (the bench
driver does): autodetected "Prescott" kernels are ~4.5x slower.
"""
import argparse
import json
import math
import ctypes
import os
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))


class LoraLinear(nn.Module):
    def __init__(self, d_in, d_out, r=8, alpha=32, dropout=0.1):
        super().__init__()
        self.base = nn.Linear(d_in, d_out)
        self.base.requires_grad_(False)
        self.A = nn.Parameter(torch.empty(r, d_in).uniform_(-1 / math.sqrt(d_in), 1 / math.sqrt(d_in)))
        self.B = nn.Parameter(torch.zeros(d_out, r))
        self.scaling = alpha / r
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        return self.base(x) + (self.drop(x) @ self.A.t() @ self.B.t()) * self.scaling


class Layer(nn.Module):
    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.o = (LoraLinear(dim, dim) for _ in range(4))
        self.lin1, self.lin2 = LoraLinear(dim, hidden), LoraLinear(hidden, dim)
        self.ln1, self.ln2 = nn.LayerNorm(dim, eps=1e-12), nn.LayerNorm(dim, eps=1e-12)
        self.ln1.requires_grad_(False)
        self.ln2.requires_grad_(False)
        self.drop = nn.Dropout(0.1)

    def forward(self, x, mask):
        B, T, C = x.shape
        h, d = self.heads, C // self.heads
        split = lambda t: t.view(B, T, h, d).transpose(1, 2)  # [B, h, T, d]
        q, k, v = split(self.q(x)) / math.sqrt(d), split(self.k(x)), split(self.v(x))
        scores = q @ k.transpose(-1, -2)  # [B, h, T, T]
        scores = scores.masked_fill(mask[:, None, None, :] == 0, torch.finfo(scores.dtype).min)
        ctx = (self.drop(scores.softmax(-1)) @ v).transpose(1, 2).reshape(B, T, C)
        x = self.ln1(self.o(ctx) + x)
        return self.ln2(self.drop(self.lin2(F.gelu(self.lin1(x)))) + x)


class Model(nn.Module):
    def __init__(self, vocab=30522, dim=768, layers=6, heads=12, hidden=3072, labels=2):
        super().__init__()
        self.word = nn.Embedding(vocab, dim)
        self.pos = nn.Embedding(512, dim)
        self.ln = nn.LayerNorm(dim, eps=1e-12)
        for m in (self.word, self.pos, self.ln):
            m.requires_grad_(False)
        self.layers = nn.ModuleList(Layer(dim, heads, hidden) for _ in range(layers))
        self.pre = nn.Linear(dim, dim)
        self.cls = nn.Linear(dim, labels)
        self.drop = nn.Dropout(0.1)

    def forward(self, ids, mask):
        x = self.drop(self.ln(self.word(ids) + self.pos(torch.arange(ids.shape[1]))))
        for layer in self.layers:
            x = layer(x, mask)
        return self.cls(self.drop(F.relu(self.pre(x[:, 0]))))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["train", "eval"])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--steps", type=int, default=3)
    a = p.parse_args()
    torch.manual_seed(0)
    model = Model()
    ids = torch.randint(1000, 30000, (a.batch, a.seq))
    mask = torch.ones(a.batch, a.seq, dtype=torch.long)
    labels = torch.randint(0, 2, (a.batch,))
    fwd, bwd, optim, times = [], [], [], []
    if a.mode == "train":
        model.train()
        opt = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=1e-4, weight_decay=0.01)
        for i in range(a.steps + 1):  # the first is warm-up
            t0 = time.perf_counter()
            loss = F.cross_entropy(model(ids, mask), labels)
            t1 = time.perf_counter()
            loss.backward()
            t2 = time.perf_counter()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad()
            t3 = time.perf_counter()
            fwd.append(t1 - t0), bwd.append(t2 - t1), optim.append(t3 - t2), times.append(t3 - t0)
    else:
        model.eval()
        with torch.no_grad():
            for i in range(a.steps + 1):
                t0 = time.perf_counter()
                model(ids, mask).softmax(-1)
                times.append(time.perf_counter() - t0)
    med = lambda xs: 1000 * sorted(xs[1:])[len(xs[1:]) // 2]
    result = {"msPerStep": med(times), "peakRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
              "engine": blas_description(),
              "detail": f"torch {torch.__version__}, {threads_text()}, fp32 base, LoRA r=8 on 6 kinds"}
    if a.mode == "train":
        result.update(forwardMs=med(fwd), backwardMs=med(bwd), optimizerMs=med(optim))
    print(json.dumps(result))


def threads_text():
    n = torch.get_num_threads()
    return f"{n} thread" + ("s" if n > 1 else "")


def blas_description():
    """The BLAS torch has loaded, and the core OpenBLAS picked (openblas_get_corename)."""
    libs = sorted({line.split()[-1] for line in open("/proc/self/maps") if "blas" in line.split()[-1].lower()})
    for lib in libs:
        try:
            corename = ctypes.CDLL(lib).openblas_get_corename
        except (OSError, AttributeError):
            continue
        corename.restype = ctypes.c_char_p
        how = "OPENBLAS_CORETYPE=" + os.environ["OPENBLAS_CORETYPE"] if os.environ.get("OPENBLAS_CORETYPE") else "autodetected"
        return f"OpenBLAS ({os.path.basename(lib)}), core {corename().decode()} ({how}), {threads_text()}"
    return "BLAS: " + (", ".join(os.path.basename(x) for x in libs) or "none found (reference BLAS?)")


if __name__ == "__main__":
    main()
