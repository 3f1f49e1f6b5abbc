"""PyTorch baseline on a GPU for bench/README.md: one LoRA training step of DistilBERT-base
shapes (random weights), r=8 on q/k/v/out_lin + lin1/lin2, head trained, batch 8 x 128, AdamW;
and inference reviews/s at 256 and 512 tokens. fp32, and bf16 autocast (QLoRA computes in 16 bit).

    python3 bench/train_step_gpu_torch.py [--steps 20]

Needs torch + transformers + peft (the GPU machine has them; our CI machines do not)."""
import argparse
import json
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    import peft
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    dev = "cuda"
    torch.manual_seed(0)
    out = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__}
    for dtype_name, autocast in (("fp32", False), ("bf16-autocast", True)):
        model = DistilBertForSequenceClassification(DistilBertConfig(num_labels=2)).to(dev)
        cfg = peft.LoraConfig(r=8, lora_alpha=32, lora_dropout=0.1, task_type="SEQ_CLS",
                              target_modules=["q_lin", "k_lin", "v_lin", "out_lin", "lin1", "lin2"])
        model = peft.get_peft_model(model, cfg)
        opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-5)
        ids = torch.randint(0, 30522, (8, 128), device=dev)
        mask = torch.ones_like(ids)
        labels = torch.randint(0, 2, (8,), device=dev)

        def step() -> None:
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
                loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)

        model.train()
        for _ in range(3):
            step()
        torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(args.steps):
            step()
        torch.cuda.synchronize()
        ms = (time.perf_counter() - t) / args.steps * 1000
        out[f"train_step_ms_{dtype_name}"] = ms
        out[f"train_tokens_per_s_{dtype_name}"] = 8 * 128 / (ms / 1000)

        model.eval()
        for T in (256, 512):
            x = torch.randint(0, 30522, (32, T), device=dev)
            m = torch.ones_like(x)
            with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
                for _ in range(3):
                    model(input_ids=x, attention_mask=m)
                torch.cuda.synchronize()
                t = time.perf_counter()
                n = 10
                for _ in range(n):
                    model(input_ids=x, attention_mask=m)
                torch.cuda.synchronize()
            out[f"eval_reviews_per_s_{T}_{dtype_name}"] = 32 * n / (time.perf_counter() - t)
        del model, opt
        torch.cuda.empty_cache()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
