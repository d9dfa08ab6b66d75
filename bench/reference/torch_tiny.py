#!/usr/bin/env python3
"""The tiny preset's teacher in PyTorch, for calibration (bench/demo.bench.ts runs it).

The same model and recipe as `msd demo`'s teacher: a post-LayerNorm BERT (exact erf GELU, mask bias -1e4, BERT
initialisation: truncated normal 0.02, zero biases, unit LayerNorm), a linear classifier with dropout on every
layer in [head_first, layers], L_tea = CE(main) + alpha * sum_m softmax(w)_m CE(m) with learned lambda, AdamW (HF
flavour: eps 1e-8, decay 0.01 except bias/LayerNorm), 10%-warmup linear schedule, global-norm clipping at 1.0,
first sub-token labels, length-bucketed batches padded to their longest row.

The data comes pre-tokenised from the TypeScript side (one JSON file: windows of ids and labels per split, with
-100 on positions that carry no word label), so both sides see exactly the same inputs; scoring is conlleval's
chunk rule on the word tags read back from the labelled positions, window by window.

    /usr/bin/python3 bench/reference/torch_tiny.py --data enc.json --layers 4 --hidden 64 ... > result.json

Prints one JSON object per evaluation and a final one with "final": true.
"""
import argparse
import json
import math
import os
import random
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Layer(nn.Module):
    def __init__(self, H, nh, I, p):
        super().__init__()
        self.nh, self.dh = nh, H // nh
        self.q, self.k, self.v, self.o = (nn.Linear(H, H) for _ in range(4))
        self.ln1 = nn.LayerNorm(H, eps=1e-12)
        self.i = nn.Linear(H, I)
        self.o2 = nn.Linear(I, H)
        self.ln2 = nn.LayerNorm(H, eps=1e-12)
        self.p = p

    def forward(self, h, bias):
        b, t, H = h.shape
        split = lambda x: x.view(b, t, self.nh, self.dh).transpose(1, 2)
        q, k, v = split(self.q(h)), split(self.k(h)), split(self.v(h))
        s = q @ k.transpose(-1, -2) / math.sqrt(self.dh) + bias
        a = F.dropout(s.softmax(-1), self.p, self.training)
        ctx = (a @ v).transpose(1, 2).reshape(b, t, H)
        h = self.ln1(h + F.dropout(self.o(ctx), self.p, self.training))
        return self.ln2(h + F.dropout(self.o2(F.gelu(self.i(h))), self.p, self.training))


class Tiny(nn.Module):
    def __init__(self, V, H, L, nh, I, C, heads, p):
        super().__init__()
        self.word = nn.Embedding(V, H)
        self.pos = nn.Embedding(512, H)
        self.typ = nn.Embedding(2, H)
        self.ln = nn.LayerNorm(H, eps=1e-12)
        self.layers = nn.ModuleList(Layer(H, nh, I, p) for _ in range(L))
        self.heads = heads
        self.cls = nn.ModuleDict({str(m): nn.Linear(H, C) for m in heads})
        self.p = p
        for mod in self.modules():
            if isinstance(mod, (nn.Linear, nn.Embedding)):
                with torch.no_grad():
                    mod.weight.copy_(torch.fmod(torch.randn_like(mod.weight), 2) * 0.02)
                if isinstance(mod, nn.Linear):
                    nn.init.zeros_(mod.bias)

    def forward(self, ids, mask):
        b, t = ids.shape
        h = self.word(ids) + self.pos.weight[:t] + self.typ.weight[0]
        h = F.dropout(self.ln(h), self.p, self.training)
        bias = ((1 - mask.float()) * -1e4)[:, None, None, :]
        hidden = [h]
        for layer in self.layers:
            h = layer(h, bias)
            hidden.append(h)
        return {m: self.cls[str(m)](F.dropout(hidden[m], self.p, self.training)) for m in self.heads}


def batches(windows, bs, rng, shuffle=True, pool=50):
    order = list(range(len(windows)))
    if not shuffle:
        order.sort(key=lambda i: len(windows[i]['ids']))
        return [order[i:i + bs] for i in range(0, len(order), bs)]
    rng.shuffle(order)
    out = []
    for p in range(0, len(order), bs * pool):
        chunk = sorted(order[p:p + bs * pool], key=lambda i: len(windows[i]['ids']))
        out += [chunk[i:i + bs] for i in range(0, len(chunk), bs)]
    rng.shuffle(out)
    return out


def tensors(windows, idx):
    t = max(len(windows[i]['ids']) for i in idx)
    ids = torch.zeros(len(idx), t, dtype=torch.long)
    mask = torch.zeros(len(idx), t, dtype=torch.long)
    lab = torch.full((len(idx), t), -100, dtype=torch.long)
    for r, i in enumerate(idx):
        w = windows[i]
        n = len(w['ids'])
        ids[r, :n] = torch.tensor(w['ids'])
        mask[r, :n] = 1
        lab[r, :n] = torch.tensor(w['labels'])
    return ids, mask, lab


def chunks(tags):
    """conlleval: an entity starts at B-, at I- after O or another type; ends before O, B- or a type change."""
    out, start, typ = set(), None, None
    for i, tag in enumerate(tags + ['O']):
        kind, _, t = tag.partition('-')
        ends = start is not None and (kind in ('O', 'B') or t != typ)
        if ends:
            out.add((start, i, typ))
            start = None
        if kind in ('B', 'I') and start is None:
            start, typ = i, t
    return out


def f1(model, split, id2tag, bs=64):
    model.eval()
    gold, pred = {}, {}
    with torch.no_grad():
        for idx in batches(split, bs, None, shuffle=False):
            ids, mask, lab = tensors(split, idx)
            logits = {m: l.argmax(-1) for m, l in model(ids, mask).items()}
            for r, i in enumerate(idx):
                sel = lab[r] != -100
                sid = split[i]['sentence']
                gold.setdefault(sid, []).append((split[i]['window'], [id2tag[x] for x in lab[r][sel].tolist()]))
                for m, p in logits.items():
                    pred.setdefault(m, {}).setdefault(sid, []).append((split[i]['window'], [id2tag[x] for x in p[r][sel].tolist()]))
    model.train()
    res = {}
    for m in model.heads:
        correct = ng = np_ = 0
        for sid, parts in gold.items():
            g = [t for _, ts in sorted(parts) for t in ts]
            p = [t for _, ts in sorted(pred[m][sid]) for t in ts]
            gc, pc = chunks(g), chunks(p)
            correct += len(gc & pc)
            ng += len(gc)
            np_ += len(pc)
        prec = correct / np_ if np_ else 0.0
        rec = correct / ng if ng else 0.0
        res[m] = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', required=True)
    ap.add_argument('--layers', type=int, default=4)
    ap.add_argument('--hidden', type=int, default=64)
    ap.add_argument('--heads-attn', type=int, default=2)
    ap.add_argument('--inter', type=int, default=256)
    ap.add_argument('--head-first', type=int, default=1)
    ap.add_argument('--dropout', type=float, default=0.1)
    ap.add_argument('--alpha', type=float, default=0.1)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--warmup', type=float, default=0.1)
    ap.add_argument('--epochs', type=float, default=1)
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--seed', type=int, default=42)
    ap.add_argument('--eval-every', type=int, default=0, help='steps between test evaluations (0: at the end only)')
    ap.add_argument('--threads', type=int, default=os.cpu_count())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    data = json.load(open(a.data))
    id2tag = data['tags']
    train, test = data['train'], data['test']
    heads = list(range(a.head_first, a.layers + 1))
    model = Tiny(data['vocabSize'], a.hidden, a.layers, a.heads_attn, a.inter, len(id2tag), heads, a.dropout)
    lam = nn.Parameter(torch.zeros(len(heads) - 1))
    decay = [p for n, p in model.named_parameters() if not (n.endswith('bias') or '.ln' in n or n.startswith('ln'))]
    nodecay = [p for n, p in model.named_parameters() if n.endswith('bias') or '.ln' in n or n.startswith('ln')] + [lam]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.01}, {'params': nodecay, 'weight_decay': 0.0}], lr=a.lr, eps=1e-8)
    per_epoch = math.ceil(len(train) / a.batch)
    total = max(1, int(per_epoch * a.epochs))
    warm = int(a.warmup * total)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: (s + 1) / max(1, warm) if s < warm else max(0.0, (total - s) / max(1, total - warm)))
    step, t0, tokens, eval_s = 0, time.time(), 0, 0.0
    main_layer = heads[-1]
    while step < total:
        for idx in batches(train, a.batch, rng):
            if step >= total:
                break
            ids, mask, lab = tensors(train, idx)
            out = model(ids, mask)
            ce = {m: F.cross_entropy(out[m].reshape(-1, out[m].shape[-1]), lab.reshape(-1), ignore_index=-100) for m in heads}
            aux = sum(w * ce[m] for w, m in zip(lam.softmax(0), heads[:-1])) if len(heads) > 1 else 0.0
            loss = ce[main_layer] + a.alpha * aux
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(model.parameters()) + [lam], 1.0)
            opt.step()
            sched.step()
            step += 1
            tokens += int(mask.sum())
            if a.eval_every and step % a.eval_every == 0 and step < total:
                e0 = time.time()
                res = f1(model, test, id2tag)
                eval_s += time.time() - e0  # evaluation time is not training time
                print(json.dumps({'step': step, 'trainSec': round(time.time() - t0 - eval_s, 1), 'loss': round(loss.item(), 4), 'testF1': res}), flush=True)
    train_s = time.time() - t0 - eval_s
    print(json.dumps({'final': True, 'steps': step, 'trainSec': round(train_s, 1), 'tokensPerSec': round(tokens / train_s), 'threads': a.threads,
                      'testF1': f1(model, test, id2tag), 'mainLayer': main_layer}), flush=True)


if __name__ == '__main__':
    main()
