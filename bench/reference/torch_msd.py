#!/usr/bin/python3
"""PyTorch reference for `npm run bench -- speed` (Debian's python3-torch; nothing is installed by the bench).

Subcommands print one JSON object on stdout:

  matmul  --shapes 4096x768x768,...           GFLOP/s of A@B and of the two gradient forms (A^T@G, G@B^T)
  layer   --batch 8 --seq 128                 one BERT-base layer forward+backward (exact GELU, padding mask)
  msd     --task teacher|student --batches F  MSD training steps on the token ids the TypeScript run used
          --padding 128|dynamic --teacher live|cached [--extra-forward] [--size paper|tiny ...]
  eval    --batches F                         evaluation: forward + every head's argmax on the batches the
                                              TypeScript run evaluated (eval mode, no_grad, dynamic padding)

The model is BERT as HF's BertModel computes it (post-LN, exact erf GELU, -1e4 mask bias, dropout 0.1), with a
linear classifier on layers 4..12, the paper's freezing (embeddings + layers 1-3), torch.optim.AdamW (decay 0.01
except biases and LayerNorm), global-norm clipping 1.0. Teacher: CE(12) + 0.1 * sum softmax(lambda)_m CE(m).
Student: per-layer KD by MSE on first sub-tokens + 0.001 MMD_M + 0.001 MMD_L on [CLS] (5 Gaussian kernels,
bandwidth from the pooled mean squared distance, detached).

"The reference pipeline" (the public code's) is --padding 128 --teacher live (the student's teacher runs every step)
and, for the teacher, --extra-forward (its loop also runs an unused 32x128 forward on a target batch each step).
The same-work comparison with this library is --padding dynamic --teacher cached.

Threads: torch starts with one thread on this machine; all cores are used unless --threads says otherwise.
"""
import argparse
import json
import math
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Layer(nn.Module):
    def __init__(self, H, nh, inter, p=0.1):
        super().__init__()
        self.nh = nh
        self.q, self.k, self.v, self.o = (nn.Linear(H, H) for _ in range(4))
        self.ln1 = nn.LayerNorm(H, eps=1e-12)
        self.inter = nn.Linear(H, inter)
        self.out = nn.Linear(inter, H)
        self.ln2 = nn.LayerNorm(H, eps=1e-12)
        self.drop = nn.Dropout(p)

    def forward(self, x, bias):
        b, t, H = x.shape
        dh = H // self.nh
        split = lambda y: y.view(b, t, self.nh, dh).transpose(1, 2)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(dh) + bias
        probs = self.drop(torch.softmax(scores, -1))
        ctx = (probs @ v).transpose(1, 2).reshape(b, t, H)
        a = self.ln1(x + self.drop(self.o(ctx)))
        return self.ln2(a + self.drop(self.out(F.gelu(self.inter(a)))))


class Bert(nn.Module):
    def __init__(self, vocab, H, L, nh, inter, labels, heads=range(4, 13), p=0.1):
        super().__init__()
        self.word = nn.Embedding(vocab, H)
        self.pos = nn.Embedding(512, H)
        self.token_type = nn.Embedding(2, H)
        self.ln = nn.LayerNorm(H, eps=1e-12)
        self.drop = nn.Dropout(p)
        self.layers = nn.ModuleList(Layer(H, nh, inter, p) for _ in range(L))
        self.head_layers = [m for m in heads if m <= L]
        self.heads = nn.ModuleDict({str(m): nn.Linear(H, labels) for m in self.head_layers})

    def forward(self, ids, mask):
        b, t = ids.shape
        pos = torch.arange(t).unsqueeze(0)
        h = self.drop(self.ln(self.word(ids) + self.pos(pos) + self.token_type(torch.zeros_like(ids))))
        bias = (1.0 - mask[:, None, None, :].float()) * -1e4
        hidden = [h]
        for layer in self.layers:
            h = layer(h, bias)
            hidden.append(h)
        logits = {m: self.heads[str(m)](self.drop(hidden[m])) for m in self.head_layers}
        return hidden, logits

    def freeze(self, layers):
        for p in list(self.word.parameters()) + list(self.pos.parameters()) + list(self.token_type.parameters()) + list(self.ln.parameters()):
            p.requires_grad_(False)
        for layer in self.layers[:layers]:
            for p in layer.parameters():
                p.requires_grad_(False)


def adamw(params, lr):
    decay = [p for n, p in params if p.requires_grad and not (n.endswith('bias') or 'ln' in n.split('.')[-2])]
    no_decay = [p for n, p in params if p.requires_grad and (n.endswith('bias') or 'ln' in n.split('.')[-2])]
    return torch.optim.AdamW([{'params': decay, 'weight_decay': 0.01}, {'params': no_decay, 'weight_decay': 0.0}], lr=lr, eps=1e-8)


def mmd2(x, y):
    z = torch.cat([x, y], 0)
    d = torch.cdist(z, z).pow(2)
    bw = d.detach().sum() / (z.shape[0] ** 2 - z.shape[0])
    k = sum(torch.exp(-d / (bw * s)) for s in (0.25, 0.5, 1, 2, 4))
    n = x.shape[0]
    return k[:n, :n].mean() + k[n:, n:].mean() - 2 * k[:n, n:].mean()


def pad(batch, length, pad_id=0):
    length = length or max(len(r['ids']) for r in batch)
    ids = torch.full((len(batch), length), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), length), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), length), dtype=torch.long)
    for i, r in enumerate(batch):
        n = len(r['ids'])
        ids[i, :n] = torch.tensor(r['ids'])
        mask[i, :n] = 1
        if r['labels']:
            labels[i, :n] = torch.tensor(r['labels'])
    return ids, mask, labels


def sizes(a):
    if a.size == 'tiny':
        return dict(vocab=a.vocab, H=a.hidden, L=a.layers, nh=a.heads_n, inter=a.inter, heads=range(a.head_first, a.layers + 1), p=a.dropout)
    return dict(vocab=119547, H=768, L=12, nh=12, inter=3072)


def cmd_msd(a):
    data = json.load(open(a.batches))
    labels_n = data['numLabels']
    sz = sizes(a)
    torch.manual_seed(1)
    freeze = 0 if a.size == 'tiny' else 3
    student = Bert(labels=labels_n, **sz)
    if a.size != 'tiny':
        student.freeze(freeze)
    student.train()
    opt = adamw(list(student.named_parameters()), 5e-5)
    lam = nn.Parameter(torch.zeros(len(student.head_layers) - 1))
    opt.add_param_group({'params': [lam], 'weight_decay': 0.0})
    teacher = None
    if a.task == 'student':
        teacher = Bert(labels=labels_n, **sz)
        teacher.eval()
    length = 128 if a.padding == '128' else None
    batches = [pad(b, length) for b in data['batches']]
    sources = [pad(b, length) for b in data['source']]
    cached = []
    if a.task == 'student' and a.teacher == 'cached':
        with torch.no_grad():
            for i, (ids, mask, _) in enumerate(batches):
                sids, smask, _ = sources[i % len(sources)]
                _, tl = teacher(ids, mask)
                sh, _ = teacher(sids, smask)
                cached.append(({m: torch.softmax(v, -1) for m, v in tl.items()}, sh[-1][:, 0]))
    times, tokens = [], []
    for i, (ids, mask, labels) in enumerate(batches):
        t0 = time.perf_counter()
        hidden, logits = student(ids, mask)
        if a.task == 'teacher':
            ce = {m: F.cross_entropy(v.reshape(-1, labels_n), labels.reshape(-1), ignore_index=-100) for m, v in logits.items()}
            main = student.head_layers[-1]
            w = torch.softmax(lam, 0)
            loss = ce[main] + 0.1 * sum(w[j] * ce[m] for j, m in enumerate(student.head_layers[:-1]))
            n_tokens = int(mask.sum())
            if a.extra_forward:
                with torch.no_grad():
                    student(*pad(data['source'][i % len(data['source'])], 128)[:2])
        else:
            sids, smask, _ = sources[i % len(sources)]
            if a.teacher == 'cached':
                tprobs, tcls = cached[i]
            else:
                with torch.no_grad():
                    _, tl = teacher(ids, mask)
                    tprobs = {m: torch.softmax(v, -1) for m, v in tl.items()}
                    tcls = teacher(sids, smask)[0][-1][:, 0]
            first = (labels != -100).float().unsqueeze(-1)
            kd = {m: (((torch.softmax(v, -1) - tprobs[m]) ** 2) * first).sum() / (first.sum() * labels_n) for m, v in logits.items()}
            main = student.head_layers[-1]
            w = torch.softmax(lam, 0)
            stu = kd[main] + sum(w[j] * kd[m] for j, m in enumerate(student.head_layers[:-1]))
            shidden, _ = student(sids, smask)
            loss = stu + 0.001 * mmd2(tcls, shidden[-1][:, 0]) + 0.001 * mmd2(tcls, hidden[-1][:, 0])
            n_tokens = int(mask.sum()) + int(smask.sum())
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in student.parameters() if p.requires_grad] + [lam], 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t0)
        tokens.append(n_tokens)
    # The first steps pay for allocation (the batches file says how many): left out, as on the TypeScript side.
    w = data.get('warmup', 1)
    t, n = sum(times[w:]), sum(tokens[w:])
    return {'tokensPerSec': n / t, 'stepSec': t / max(1, len(times) - w), 'steps': len(times) - w, 'threads': torch.get_num_threads()}


def cmd_eval(a):
    """Evaluation as the library runs it: every batch (its composition from the batches file, the first `warmup`
    ones a warm-up left out of the timing) padded to its own longest row, the encoder and every head in eval mode
    under no_grad, each head's argmax over the labels. Sentences/s counts the file's sentences (their windows are
    the timed batches); tokens/s the real (unpadded) tokens."""
    data = json.load(open(a.batches))
    torch.manual_seed(1)
    model = Bert(labels=data['numLabels'], **sizes(a))
    model.eval()
    w = data.get('warmup', 1)
    batches = [pad(b, None)[:2] for b in data['batches']]
    with torch.no_grad():
        for ids, mask in batches[:w]:
            _, logits = model(ids, mask)
            [v.argmax(-1) for v in logits.values()]
        t0 = time.perf_counter()
        n_tokens = 0
        for ids, mask in batches[w:]:
            _, logits = model(ids, mask)
            preds = [v.argmax(-1) for v in logits.values()]
            n_tokens += int(mask.sum())
        t = time.perf_counter() - t0
    assert len(preds) == len(model.head_layers)
    return {'sentencesPerSec': data['sentences'] / t, 'tokensPerSec': n_tokens / t, 'sec': t, 'batches': len(batches) - w, 'threads': torch.get_num_threads()}


def timed(fn, reps):
    fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return sorted(ts)[len(ts) // 2]


def cmd_matmul(a):
    out = {}
    for spec in a.shapes.split(','):
        m, k, n = (int(x) for x in spec.split('x'))
        A, B, G = torch.randn(m, k), torch.randn(k, n), torch.randn(m, n)
        flops = 2 * m * k * n
        out[spec] = {
            'forward': flops / timed(lambda: A @ B, a.reps) / 1e9,
            'gradA': flops / timed(lambda: G @ B.t(), a.reps) / 1e9,
            'gradB': flops / timed(lambda: A.t() @ G, a.reps) / 1e9,
        }
    return {'gflops': out, 'threads': torch.get_num_threads()}


def cmd_layer(a):
    torch.manual_seed(0)
    layer = Layer(768, 12, 3072)
    layer.train()
    # The input is not trained (as the TypeScript side's frozen embeddings): the gradient covers the layer's weights.
    x = torch.randn(a.batch, a.seq, 768)
    mask = torch.ones(a.batch, a.seq)
    mask[0, a.seq // 2:] = 0
    bias = (1.0 - mask[:, None, None, :]) * -1e4
    real = mask[:, :, None]

    def step():
        y = layer(x, bias)
        # Mean of y^2 over the real tokens (a loss reads no padded position).
        ((y * y * real).sum() / (real.sum() * 768)).backward()

    return {'sec': timed(step, a.reps), 'threads': torch.get_num_threads()}


def main():
    p = argparse.ArgumentParser()
    p.add_argument('cmd', choices=['matmul', 'layer', 'msd', 'eval'])
    p.add_argument('--threads', type=int, default=os.cpu_count())
    p.add_argument('--reps', type=int, default=3)
    p.add_argument('--shapes', default='4096x768x768,4096x768x3072')
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--seq', type=int, default=128)
    p.add_argument('--task', choices=['teacher', 'student'], default='teacher')
    p.add_argument('--batches')
    p.add_argument('--padding', choices=['128', 'dynamic'], default='dynamic')
    p.add_argument('--teacher', choices=['live', 'cached'], default='cached')
    p.add_argument('--extra-forward', action='store_true')
    p.add_argument('--size', choices=['paper', 'tiny'], default='paper')
    p.add_argument('--vocab', type=int, default=119547)
    p.add_argument('--hidden', type=int, default=128)
    p.add_argument('--layers', type=int, default=4)
    p.add_argument('--heads-n', type=int, default=4)
    p.add_argument('--inter', type=int, default=512)
    p.add_argument('--head-first', type=int, default=4)
    p.add_argument('--dropout', type=float, default=0.1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    res = {'matmul': cmd_matmul, 'layer': cmd_layer, 'msd': cmd_msd, 'eval': cmd_eval}[a.cmd](a)
    res['torch'] = torch.__version__
    print(json.dumps(res))


if __name__ == '__main__':
    main()
