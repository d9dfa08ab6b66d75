"""Loads an `msd export --format hf` directory with Hugging Face transformers and reports, as JSON on stdout, what
test/model/export-hf.test.ts compares with this library: the load report, the model class, the tokenizer's ids, the
logits of every sentence, and the entities of pipeline('token-classification') with two aggregation strategies.

    python transformers_check.py <export dir> <request.json>   (request: {"sentences": [...]})
"""
import json
import sys

import torch
from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline

export_dir, request_path = sys.argv[1], sys.argv[2]
with open(request_path, encoding="utf-8") as f:
    sentences = json.load(f)["sentences"]

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
json.dump(out, sys.stdout)
