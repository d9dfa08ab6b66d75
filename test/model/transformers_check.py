"""Loads an `msd export --format hf` directory with Hugging Face transformers and reports, as JSON on stdout, what
test/model/export-hf.test.ts compares with this library: the load report, the model class, the tokenizer's ids, the
logits of every sentence, and the entities of pipeline('token-classification') with two aggregation strategies.

    python transformers_check.py <export dir> <request.json>   (request: {"sentences": [...], "resave": dir?})

With "resave", the model is also written back by transformers (save_pretrained) into that directory with its labels
in reverse order and spelled differently (B-PER -> B-PERSON, ...), the checkpoint a teacher may start from.
"""
import json
import sys

import torch
from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline

export_dir, request_path = sys.argv[1], sys.argv[2]
with open(request_path, encoding="utf-8") as f:
    request = json.load(f)
sentences = request["sentences"]

model, info = AutoModelForTokenClassification.from_pretrained(export_dir, output_loading_info=True)
model.eval()
tokenizer = AutoTokenizer.from_pretrained(export_dir)
out = {
    "class": type(model).__name__,
    "loading_info": {k: sorted(map(str, v)) for k, v in info.items()},
    "id2label": {str(k): v for k, v in model.config.id2label.items()},
    "input_ids": [],
    "logits": [],
}
with torch.no_grad():
    for s in sentences:
        enc = tokenizer(s, return_tensors="pt")
        out["input_ids"].append(enc["input_ids"][0].tolist())
        out["logits"].append(model(**enc).logits[0].tolist())
for strategy in ("simple", "first"):
    ner = pipeline("token-classification", model=model, tokenizer=tokenizer, aggregation_strategy=strategy)
    out[strategy] = [
        [{"type": e["entity_group"], "start": int(e["start"]), "end": int(e["end"])} for e in ner(s)] for s in sentences
    ]
if request.get("resave"):
    spell = {"PER": "PERSON", "LOC": "LOCATION", "ORG": "ORGANIZATION", "MISC": "MISC"}
    n = model.config.num_labels
    order = list(reversed(range(n)))  # new id i holds old id order[i]
    renamed = [model.config.id2label[j] for j in order]
    renamed = [l if l == "O" else l[:2] + spell[l[2:]] for l in renamed]
    with torch.no_grad():
        model.classifier.weight.copy_(model.classifier.weight[order].clone())
        model.classifier.bias.copy_(model.classifier.bias[order].clone())
    if hasattr(model.config, "msd_heads"):
        del model.config.msd_heads  # a checkpoint from elsewhere knows nothing of this library
    model.config.id2label = dict(enumerate(renamed))
    model.config.label2id = {l: i for i, l in enumerate(renamed)}
    model.save_pretrained(request["resave"])
    tokenizer.save_pretrained(request["resave"])
    with torch.no_grad():
        out["resaved_logits"] = [model(**tokenizer(s, return_tensors="pt")).logits[0].tolist() for s in sentences]
    out["resaved_labels"] = renamed
json.dump(out, sys.stdout)
