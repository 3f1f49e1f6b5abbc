"""Loads what this library saves with the real transformers + peft, and compares logits.

A by-hand cross-check, not part of `npm test` (it needs pip packages CI does not have):

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install torch transformers peft safetensors
    QLORA_ASSETS=/work/shared/assets npx ts-node --transpile-only scripts/reference/peft_crosscheck_inputs.ts /tmp/xc
    /tmp/venv/bin/python scripts/reference/peft_crosscheck_v2.py /tmp/xc

Checks (results written down in scripts/reference/CROSSCHECK.md):
  a/c/d  saveAdapter, the Trainer's checkpoint-N and Trainer.saveModel of a 2-class run:
         AutoModelForSequenceClassification.from_pretrained(ckpt, num_labels=2) then
         PeftModel.from_pretrained(base, folder); logits vs ours; PEFT's warnings
  b      the 4-class adapter, loaded with num_labels=4 and with AutoConfig read from the config.json
         beside the adapter (id2label)
  c      trainer_state.json through TrainerState.load_from_json; training_args.json's keys that
         transformers' TrainingArguments does not know
  v      test/fixtures/lora/peft-variants/ (+ fan_in_fan_out true): does real PEFT load each, with
         which warnings, and do its logits match ours and the hand reference in variants.json
Prints a JSON report and writes it to <in>/crosscheck_v2.json.
"""
import contextlib
import dataclasses
import io
import json
import logging
import os
import shutil
import sys
import tempfile
import warnings

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, '..', '..', 'test', 'fixtures', 'lora')


@contextlib.contextmanager
def captured():
    """Every warning and every log record of transformers/peft raised inside the block."""
    out = []
    handler = logging.Handler()
    handler.emit = lambda rec: out.append(f'[log {rec.name}] {rec.getMessage()}')
    loggers = [logging.getLogger(n) for n in ('peft', 'transformers')]
    for lg in loggers:
        lg.addHandler(handler)
    stderr = io.StringIO()
    with warnings.catch_warnings(record=True) as ws, contextlib.redirect_stderr(stderr):
        warnings.simplefilter('always')
        try:
            yield out
        finally:
            out.extend(f'[warning {w.category.__name__}] {w.message}' for w in ws)
            for lg in loggers:
                lg.removeHandler(handler)
            # transformers' loading report (missing/unexpected keys) goes to stderr in 5.x.
            text = '\n'.join(l for l in stderr.getvalue().replace('\r', '\n').splitlines() if l.strip() and 'Loading weights' not in l)
            if text:
                out.append('[stderr] ' + text)


def max_diff(a, b):
    return float((torch.as_tensor(a, dtype=torch.float64) - torch.as_tensor(b, dtype=torch.float64)).abs().max())


def run(model, ids, mask):
    with torch.no_grad():
        return model(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask)).logits


def load_peft(base_dir, folder, **kw):
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification
    with captured() as log:
        base = AutoModelForSequenceClassification.from_pretrained(base_dir, attn_implementation='eager', **kw)
        base_logits_head = base.classifier.weight.detach().clone()
        pm = PeftModel.from_pretrained(base, folder).eval()
    return pm, log, base_logits_head


def head_from_file(pm, folder):
    """Whether PEFT's model ended up with the head tensors stored in adapter_model.safetensors."""
    from safetensors.torch import load_file
    saved = load_file(os.path.join(folder, 'adapter_model.safetensors'))
    params = dict(pm.named_parameters())
    res = {}
    for key, t in saved.items():
        if '.lora_' in key:
            continue
        stem = key[len('base_model.model.'):]
        mod, leaf = stem.rsplit('.', 1)
        names = [f'base_model.model.{mod}.modules_to_save.default.{leaf}', f'base_model.model.{stem}']
        hit = next((n for n in names if n in params), None)
        res[stem] = None if hit is None else {'param': hit, 'equal': bool(torch.equal(params[hit].detach(), t))}
    return res


def adapters(inp, ours, report):
    ckpt = os.path.join(inp, 'ckpt')
    ids, mask = ours['input_ids'], ours['attention_mask']
    for name, folder in [('a_saveAdapter', 'a-2class'), ('c_checkpoint', 'c-run/checkpoint-4'), ('d_saveModel', 'd-saved')]:
        pm, log, _ = load_peft(ckpt, os.path.join(inp, folder), num_labels=2)
        logits = run(pm, ids, mask)
        with torch.no_grad():  # how much the trained LoRA weights move the logits (B = 0: no LoRA)
            for n, p in pm.named_parameters():
                if 'lora_B' in n:
                    p.zero_()
        report[name] = {
            'max_abs_diff': max_diff(logits, ours['logits_2class']),
            'lora_effect_max_abs': max_diff(logits, run(pm, ids, mask)),
            'logits_abs_max': float(logits.abs().max()),
            'head_loaded_from_file': head_from_file(pm, os.path.join(inp, folder)),
            'trainable_params_peft_eval': pm.get_nb_trainable_parameters(),
            'log': log,
        }

    # Trainable/all parameter counts with is_trainable=True (PEFT's print_trainable_parameters) vs ours.
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification
    base = AutoModelForSequenceClassification.from_pretrained(ckpt, num_labels=2, attn_implementation='eager')
    pt = PeftModel.from_pretrained(base, os.path.join(inp, 'a-2class'), is_trainable=True)
    trainable, total = pt.get_nb_trainable_parameters()
    report['a_parameter_counts'] = {'peft': {'trainable': trainable, 'all': total}, 'ours': ours['trainable_2class']}

    # b: four classes.
    from transformers import AutoConfig
    b = os.path.join(inp, 'b-4class')
    pm, log, _ = load_peft(ckpt, b, num_labels=4)
    report['b_num_labels_4'] = {
        'max_abs_diff': max_diff(run(pm, ids, mask), ours['logits_4class']),
        'id2label_from_base': pm.config.id2label, 'log': log,
    }
    cfg = AutoConfig.from_pretrained(b)
    pm2, log2, _ = load_peft(ckpt, b, num_labels=cfg.num_labels, id2label=cfg.id2label, label2id=cfg.label2id)
    report['b_config_beside_adapter'] = {
        'autoconfig_num_labels': cfg.num_labels, 'autoconfig_id2label': cfg.id2label,
        'names_match_ours': [cfg.id2label[i] for i in range(cfg.num_labels)] == ours['label_names_4class'],
        'max_abs_diff': max_diff(run(pm2, ids, mask), ours['logits_4class']),
        'model_id2label': pm2.config.id2label, 'log': log2,
    }
    try:
        with captured() as log3:
            load_peft(ckpt, b)  # no num_labels: a 2-class head meets a [4, dim] classifier
        report['b_without_num_labels'] = {'loaded': True, 'log': log3}
    except Exception as e:  # noqa: BLE001  (the error text is the finding)
        report['b_without_num_labels'] = {'loaded': False, 'error': f'{type(e).__name__}: {str(e)[:400]}'}

    # AutoPeftModelForSequenceClassification reads base_model_name_or_path: point it at the checkpoint.
    from peft import AutoPeftModelForSequenceClassification
    tmp = tempfile.mkdtemp()
    shutil.copytree(os.path.join(inp, 'a-2class'), tmp, dirs_exist_ok=True)
    cfg_file = os.path.join(tmp, 'adapter_config.json')
    c = json.load(open(cfg_file))
    c['base_model_name_or_path'] = ckpt
    json.dump(c, open(cfg_file, 'w'))
    with captured() as log4:
        auto = AutoPeftModelForSequenceClassification.from_pretrained(tmp, attn_implementation='eager').eval()
    report['a_AutoPeftModel'] = {'max_abs_diff': max_diff(run(auto, ids, mask), ours['logits_2class']), 'log': log4}


def trainer_state(inp, report):
    from transformers import TrainerState, TrainingArguments
    folder = os.path.join(inp, 'c-run', 'checkpoint-4')
    path = os.path.join(folder, 'trainer_state.json')
    raw = json.load(open(path))
    st = TrainerState.load_from_json(path)
    fields = [f.name for f in dataclasses.fields(TrainerState)]
    report['c_trainer_state'] = {
        'loads': True,
        'fields_missing_from_ours': [f for f in fields if f not in raw],
        'fields_hf_does_not_know': [k for k in raw if k not in fields],
        'global_step': st.global_step, 'epoch': st.epoch, 'max_steps': st.max_steps,
        'log_history_len': len(st.log_history), 'log_history_keys': sorted({k for e in st.log_history for k in e}),
    }
    args = json.load(open(os.path.join(folder, 'training_args.json')))
    known = {f.name for f in dataclasses.fields(TrainingArguments)}
    report['c_training_args'] = {
        'keys_transformers_does_not_know': sorted(k for k in args if k not in known),
        'keys': len(args),
    }
    # HF's TrainingArguments(**json) as far as the keys it knows go (output_dir etc.).
    try:
        TrainingArguments(**{k: v for k, v in args.items() if k in known and v is not None}, report_to='none')
        report['c_training_args']['constructs'] = True
    except Exception as e:  # noqa: BLE001
        report['c_training_args']['constructs'] = f'{type(e).__name__}: {str(e)[:300]}'


def variants(inp, ours, report):
    ref = json.load(open(os.path.join(FIXTURES, 'peft-variants', 'variants.json')))['logits']
    batch = json.load(open(os.path.join(FIXTURES, 'model.json')))
    vdir = os.path.join(inp, 'variants')
    base = os.path.join(vdir, 'base-with-head')
    out = {}
    for name in sorted(ours['variants']):
        ourv = ours['variants'][name]
        entry = {'ours_error': ourv.get('error'), 'ours_warnings': ourv['warnings']}
        try:
            pm, log, head_before = load_peft(base, os.path.join(vdir, name))
            logits = run(pm, batch['input_ids'], batch['attention_mask'])
            entry.update(peft_loaded=True, peft_log=log)
            if 'logits' in ourv:
                entry['max_abs_diff_vs_ours'] = max_diff(logits, ourv['logits'])
            if name in ref:
                entry['max_abs_diff_vs_variants_json'] = max_diff(logits, ref[name])
            entry['peft_fan_in_fan_out'] = pm.peft_config['default'].fan_in_fan_out
            entry['peft_modules_to_save'] = sorted(pm.peft_config['default'].modules_to_save or [])
            entry['head_loaded_from_file'] = head_from_file(pm, os.path.join(vdir, name))
        except Exception as e:  # noqa: BLE001
            entry.update(peft_loaded=False, peft_error=f'{type(e).__name__}: {str(e)[:600]}')
        out[name] = entry
    report['variants'] = out


def main(inp):
    import peft
    import transformers
    torch.manual_seed(0)
    ours = json.load(open(os.path.join(inp, 'ours.json')))
    report = {'torch': torch.__version__, 'transformers': transformers.__version__, 'peft': peft.__version__}
    adapters(inp, ours, report)
    trainer_state(inp, report)
    variants(inp, ours, report)
    json.dump(report, open(os.path.join(inp, 'crosscheck_v2.json'), 'w'), indent=1)
    print(json.dumps(report, indent=1))


if __name__ == '__main__':
    main(sys.argv[1])
