"""Independent reference for the training loop (lib/train.ts, lib/optim.ts, lib/schedule.ts).

Trains a tiny classifier with PyTorch's own pieces, as Hugging Face's Trainer combines them:
torch.optim.AdamW (decoupled weight decay, bias correction), the lambda of transformers'
get_linear_schedule_with_warmup (re-typed below from its formula) in a LambdaLR,
torch.nn.utils.clip_grad_norm_, F.cross_entropy, gradient accumulation with each micro-batch
loss divided by the number of micro-batches in the step, and HF's no-decay rule (biases and
LayerNorm parameters). Writes the initial weights, the data, and per-step loss / grad norm / lr
and the final weights to test/fixtures/train/mlp_reference.json.

Run once with Debian's python (torch 1.13):  /usr/bin/python3 scripts/reference/train_step_reference.py
"""
import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
VOCAB, DIM, HIDDEN, LABELS, SEQ, N = 12, 6, 8, 3, 5, 10
ARGS = dict(batchSize=4, gradientAccumulationSteps=2, epochs=3, learningRate=0.05, warmupSteps=2,
            weightDecay=0.1, maxGradNorm=0.5, adamBeta1=0.9, adamBeta2=0.999, adamEpsilon=1e-8)


class TinyClassifier(nn.Module):
    """Embedding → masked mean over tokens → Linear → tanh → LayerNorm → Linear."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, DIM)
        self.hidden = nn.Linear(DIM, HIDDEN)
        self.norm = nn.Module()
        self.norm.LayerNorm = nn.LayerNorm(HIDDEN, eps=1e-5)
        self.classifier = nn.Linear(HIDDEN, LABELS)
        with torch.no_grad():  # LayerNorm starts at 1/0; make it non-trivial so its gradients matter
            self.norm.LayerNorm.weight.uniform_(0.5, 1.5)
            self.norm.LayerNorm.bias.uniform_(-0.2, 0.2)

    def forward(self, ids, mask):
        m = mask.float().unsqueeze(-1)  # [B, T, 1]
        pooled = (self.embed(ids) * m).sum(1) / m.sum(1)  # [B, D]
        h = torch.tanh(self.hidden(pooled))  # [B, H]
        return self.classifier(self.norm.LayerNorm(h))  # [B, C]


def linear_schedule_with_warmup(num_warmup_steps, num_training_steps):
    # transformers.optimization.get_linear_schedule_with_warmup's lr_lambda
    def lr_lambda(current_step):
        if current_step < num_warmup_steps:
            return float(current_step) / float(max(1, num_warmup_steps))
        return max(0.0, float(num_training_steps - current_step) / float(max(1, num_training_steps - num_warmup_steps)))
    return lr_lambda


model = TinyClassifier()
initial = {n: p.detach().clone() for n, p in model.named_parameters()}

ids = torch.randint(1, VOCAB, (N, SEQ))
lengths = torch.tensor([5, 3, 4, 2, 5, 1, 3, 5, 4, 2])
mask = (torch.arange(SEQ).unsqueeze(0) < lengths.unsqueeze(1)).long()
ids = ids * mask  # [PAD] = 0 after each sequence
labels = torch.randint(0, LABELS, (N,))

no_decay = [n for n, _ in model.named_parameters() if "bias" in n or "LayerNorm" in n]
groups = [
    {"params": [p for n, p in model.named_parameters() if n not in no_decay], "weight_decay": ARGS["weightDecay"]},
    {"params": [p for n, p in model.named_parameters() if n in no_decay], "weight_decay": 0.0},
]
opt = torch.optim.AdamW(groups, lr=ARGS["learningRate"], betas=(ARGS["adamBeta1"], ARGS["adamBeta2"]), eps=ARGS["adamEpsilon"])
bs, gas = ARGS["batchSize"], ARGS["gradientAccumulationSteps"]
micro_per_epoch = math.ceil(N / bs)
steps_per_epoch = math.ceil(micro_per_epoch / gas)
total = steps_per_epoch * ARGS["epochs"]
sched = torch.optim.lr_scheduler.LambdaLR(opt, linear_schedule_with_warmup(ARGS["warmupSteps"], total))

steps = []
for epoch in range(ARGS["epochs"]):
    order = list(range(N))  # no shuffling: the test turns it off to compare numbers
    for s in range(steps_per_epoch):
        micro = list(range(s * gas, min((s + 1) * gas, micro_per_epoch)))
        opt.zero_grad()
        loss_total = 0.0
        for mb in micro:
            rows = order[mb * bs:(mb + 1) * bs]
            loss = F.cross_entropy(model(ids[rows], mask[rows]), labels[rows]) / len(micro)
            loss.backward()
            loss_total += loss.item()
        lr = opt.param_groups[0]["lr"]
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), ARGS["maxGradNorm"]).item()
        opt.step()
        sched.step()
        steps.append({"loss": loss_total, "gradNorm": norm, "lr": lr})

fixture = {
    "about": "scripts/reference/train_step_reference.py (torch %s)" % torch.__version__,
    "args": ARGS,
    "sizes": dict(vocab=VOCAB, dim=DIM, hidden=HIDDEN, labels=LABELS, seq=SEQ, n=N),
    "noDecay": no_decay,
    "data": {"inputIds": ids.tolist(), "attentionMask": mask.tolist(), "labels": labels.tolist()},
    "initial": {n: {"shape": list(p.shape), "values": p.flatten().tolist()} for n, p in initial.items()},
    "steps": steps,
    "final": {n: {"shape": list(p.shape), "values": p.detach().flatten().tolist()} for n, p in model.named_parameters()},
}
out = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "train", "mlp_reference.json")
with open(out, "w") as f:
    json.dump(fixture, f, indent=None)
print("wrote", os.path.normpath(out), "steps:", json.dumps(steps, indent=1))
