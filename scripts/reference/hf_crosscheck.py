"""Cross-checks our TypeScript outputs against the real Hugging Face libraries.

Runs where `transformers`, `peft` and `torch` are installed (e.g. the GPU machine; not our CI
machines, which have no pip). Inputs come from `scripts/device/make-crosscheck-inputs.ts`:

  <in>/ckpt/         a random DistilBERT checkpoint with head + the real tokenizer files
  <in>/adapter/      a LoRA adapter saved by our saveAdapter (lora_B made non-zero)
  <in>/ours.json     texts, our token ids, a padded batch, our logits and our PEFT logits

Writes to <out>/:
  crosscheck.json    max differences and mismatch counts (ours vs transformers/peft)
  hf_fixture.json    transformers' own ids for the texts, logits, and a real-PEFT adapter's
                     logits: committed as test/fixtures/hf/transformers-reference.json (reviews
                     thinned to every 75th row of test.csv to keep the fixture small)
  peft_adapter_config.json, peft_adapter_model.safetensors: an adapter saved by real PEFT
"""
import json
import os
import shutil
import sys
import tempfile

import torch


def main(inp: str, out: str) -> None:
    import peft
    import transformers
    from transformers import AutoTokenizer, DistilBertForSequenceClassification

    os.makedirs(out, exist_ok=True)
    ours = json.load(open(os.path.join(inp, "ours.json")))
    ckpt = os.path.join(inp, "ckpt")
    report = {"transformers": transformers.__version__, "peft": peft.__version__, "torch": torch.__version__}

    # 1. Tokenizer: BertTokenizerFast (what AutoTokenizer gives for distilbert-base-uncased).
    tok = AutoTokenizer.from_pretrained(ckpt)
    report["tokenizer_class"] = type(tok).__name__
    hf_ids = [tok(t, add_special_tokens=True)["input_ids"] for t in ours["texts"]]
    mismatches = [i for i, (a, b) in enumerate(zip(hf_ids, ours["ids"])) if a != b]
    report["tokenizer"] = {"texts": len(hf_ids), "mismatches": len(mismatches), "first_mismatches": mismatches[:10]}
    slow = transformers.BertTokenizer.from_pretrained(ckpt)
    slow_ids = [slow(t)["input_ids"] for t in ours["texts"]]
    report["tokenizer_slow_vs_fast_mismatches"] = sum(a != b for a, b in zip(slow_ids, hf_ids))
    enc = tok(ours["batch_texts"], padding="max_length", truncation=True, max_length=ours["max_length"])
    report["batch_ids_equal"] = enc["input_ids"] == ours["batch"]["input_ids"]
    report["batch_mask_equal"] = enc["attention_mask"] == ours["batch"]["attention_mask"]

    # 2. Model: logits of the checkpoint (fp32, eval mode).
    model = DistilBertForSequenceClassification.from_pretrained(ckpt, attn_implementation="eager").eval()
    ids = torch.tensor(ours["batch"]["input_ids"])
    mask = torch.tensor(ours["batch"]["attention_mask"])
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits
    ours_logits = torch.tensor(ours["logits"])
    report["logits_max_abs_diff"] = float((logits - ours_logits).abs().max())

    # 3. Our adapter loaded by real PEFT.
    base = DistilBertForSequenceClassification.from_pretrained(ckpt, attn_implementation="eager")
    pm = peft.PeftModel.from_pretrained(base, os.path.join(inp, "adapter")).eval()
    with torch.no_grad():
        peft_logits = pm(input_ids=ids, attention_mask=mask).logits
    report["peft_load_ours_max_abs_diff"] = float((peft_logits - torch.tensor(ours["peft_logits"])).abs().max())
    report["peft_logits_differ_from_base"] = float((peft_logits - logits).abs().max())

    # 4. An adapter saved by real PEFT (B made non-zero), for our loadAdapter test.
    torch.manual_seed(1234)
    base2 = DistilBertForSequenceClassification.from_pretrained(ckpt, attn_implementation="eager")
    cfg = peft.LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, task_type="SEQ_CLS",
                          target_modules=["q_lin", "k_lin", "v_lin", "out_lin", "lin1", "lin2"])
    pm2 = peft.get_peft_model(base2, cfg)
    with torch.no_grad():
        for name, p in pm2.named_parameters():
            if "lora_B" in name:
                p.normal_(0.0, 0.05)
            if "modules_to_save" in name:
                p.add_(torch.randn_like(p) * 0.05)
    pm2.eval()
    with torch.no_grad():
        real_logits = pm2(input_ids=ids, attention_mask=mask).logits
    tmp = tempfile.mkdtemp()
    pm2.save_pretrained(tmp)
    shutil.copy(os.path.join(tmp, "adapter_config.json"), os.path.join(out, "peft_adapter_config.json"))
    shutil.copy(os.path.join(tmp, "adapter_model.safetensors"), os.path.join(out, "peft_adapter_model.safetensors"))
    trainable, total = pm2.get_nb_trainable_parameters()
    fixture = {
        "generated_by": f"scripts/reference/hf_crosscheck.py with transformers {transformers.__version__}, peft {peft.__version__}",
        "checkpoint": "writeRandomCheckpoint(dir, {vocabSize: 30522, dim: 64, nLayers: 2, nHeads: 4, hiddenDim: 128, maxPositions: 512, seed: 7, withHead: true, numLabels: 2, std: 0.2})",
        # Hard cases by text; IMDB reviews by row number in imdb/test.csv (the dataset is not committed).
        "hard_cases": ours["texts"][: ours["hard_cases"]],
        "review_rows": ours["review_rows"],
        "ids": hf_ids,
        "batch_sources": ours["batch_sources"],
        "max_length": ours["max_length"],
        "batch": {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]},
        "logits": logits.tolist(),
        "peft_real_logits": real_logits.tolist(),
        "peft_trainable_params": trainable,
        "peft_all_params": total,
    }
    json.dump(fixture, open(os.path.join(out, "hf_fixture.json"), "w"))
    json.dump(report, open(os.path.join(out, "crosscheck.json"), "w"), indent=2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
