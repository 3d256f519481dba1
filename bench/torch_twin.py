#!/usr/bin/env python3
"""PyTorch twin of `hytune bench`: the same model (byte vocabulary, rotary or learned positions,
pre-norm blocks, exact GELU, bias-free head), the same random-token training batch and loss, AdamW with
weight decay 0.01 and gradient-norm clipping at 1.0, and the same KV-cached greedy decode.

Optional, never needed by the build or the tests. Prints one JSON object with the keys of
`hytune bench --json`, so `bench/compare` can print the ratios.

    python bench/torch_twin.py --threads 2 --rows 32 --cols 64
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PROMPT = "Q: amoxicillin 12 mg/kg, patient 20 kg. Dose in mg?\n"
BOS = 256  # hytune's byte tokenizer: bytes 0..255, then BOS, EOS, PAD


def rope_tables(positions, dh, theta=10000.0):
    """cos/sin of position · θ^(−2i/dh), each frequency twice: [B, 1, T, dh] (hytune's Rope)."""
    inv = theta ** (-torch.arange(0, dh, 2, dtype=torch.float64, device=positions.device) / dh)
    a = positions.to(torch.float64).unsqueeze(-1) * inv  # [B, T, dh/2]
    a = torch.cat([a, a], dim=-1).unsqueeze(1)
    return a.cos().float(), a.sin().float()


def rotate(x, cos, sin):
    half = x.shape[-1] // 2
    return x * cos + torch.cat([-x[..., half:], x[..., :half]], dim=-1) * sin


class Attention(nn.Module):
    def __init__(self, d, h, sdpa):
        super().__init__()
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.h, self.dh, self.sdpa = h, d // h, sdpa

    def forward(self, x, bias, cache=None, layer=0, past=0, rope=None):
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)
        heads = lambda z: z.view(b, t, self.h, self.dh).transpose(1, 2)
        q, k, v = heads(q), heads(k), heads(v)
        if rope is not None:
            q, k = rotate(q, *rope), rotate(k, *rope)
        if cache is not None:
            kc, vc = cache
            kc[layer, :, :, past:past + t] = k
            vc[layer, :, :, past:past + t] = v
            k, v = kc[layer, :, :, :past + t], vc[layer, :, :, :past + t]
        if self.sdpa:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        else:
            s = q @ k.transpose(2, 3) / math.sqrt(self.dh) + bias
            out = torch.softmax(s, dim=3) @ v
        return self.proj(out.transpose(1, 2).reshape(b, t, d))


class Block(nn.Module):
    def __init__(self, d, h, m, sdpa):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = Attention(d, h, sdpa)
        self.fc, self.out = nn.Linear(d, m * d), nn.Linear(m * d, d)

    def forward(self, x, bias, cache=None, layer=0, past=0, rope=None):
        x = x + self.attn(self.ln1(x), bias, cache, layer, past, rope)
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class Gpt(nn.Module):
    def __init__(self, vocab, d, layers, h, ctx, m, sdpa, rope):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = None if rope else nn.Embedding(ctx, d)
        self.blocks = nn.ModuleList(Block(d, h, m, sdpa) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)
        self.dh = d // h

    def forward(self, tokens, positions, bias, cache=None, past=0):
        x = self.tok(tokens)
        rope = None
        if self.pos is None:
            rope = rope_tables(positions, self.dh)
        else:
            x = x + self.pos(positions)
        for i, blk in enumerate(self.blocks):
            x = blk(x, bias, cache, i, past, rope)
        return self.head(self.ln_f(x))


def causal(t, keys=None, past=0):
    keys = keys or t
    q = torch.arange(t).view(t, 1) + past
    k = torch.arange(keys).view(1, keys)
    return torch.where(k > q, -1e9, 0.0).view(1, 1, t, keys)


def stats(v):
    v = sorted(v)
    return v[0], v[len(v) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rows", type=int, default=32)
    ap.add_argument("--cols", type=int, default=64)
    ap.add_argument("--gen-batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--d-model", type=int, default=128)
    ap.add_argument("--n-layers", type=int, default=4)
    ap.add_argument("--n-heads", type=int, default=4)
    ap.add_argument("--max-len", type=int, default=160)
    ap.add_argument("--mlp-ratio", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=259)
    ap.add_argument("--positions", choices=["rope", "learned"], default="rope")
    ap.add_argument("--sdpa", action="store_true", help="fused scaled_dot_product_attention")
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(7)
    dev = torch.device(a.device)
    sync = (lambda: torch.cuda.synchronize()) if dev.type == "cuda" else (lambda: None)
    model = Gpt(a.vocab, a.d_model, a.n_layers, a.n_heads, a.max_len, a.mlp_ratio, a.sdpa,
                a.positions == "rope").to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)

    seq = torch.randint(0, a.vocab, (a.rows, a.cols + 1), device=dev)
    inputs, targets = seq[:, :-1], seq[:, 1:]
    pos = torch.arange(a.cols, device=dev).expand(a.rows, a.cols)
    bias = causal(a.cols).to(dev)
    times = []
    first = None
    for i in range(a.warmup + a.repeats):
        t = time.perf_counter()
        logp = torch.log_softmax(model(inputs, pos, bias), dim=2)
        loss = -logp.gather(2, targets.unsqueeze(2)).mean()
        loss.item()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sync()
        dt = time.perf_counter() - t
        first = first if first is not None else dt
        if i >= a.warmup:
            times.append(dt)
    tmin, tmed = stats(times)
    tokens = a.rows * a.cols

    prompt = [BOS] + list(PROMPT.encode())
    new = a.max_len - len(prompt)
    dh = a.d_model // a.n_heads
    totals = []
    model.eval()
    with torch.no_grad():
        for i in range(a.warmup + a.repeats):
            shape = (a.n_layers, a.gen_batch, a.n_heads, a.max_len, dh)
            cache = (torch.zeros(shape, device=dev), torch.zeros(shape, device=dev))
            toks = torch.tensor(prompt, device=dev).expand(a.gen_batch, len(prompt))
            t = time.perf_counter()
            past = 0
            for _ in range(new):
                n = toks.shape[1]
                p = torch.arange(past, past + n, device=dev).expand(a.gen_batch, n)
                logits = model(toks, p, causal(n, past + n, past).to(dev), cache, past)
                past += n
                toks = logits[:, -1].argmax(-1, keepdim=True)
                toks.cpu()
            sync()
            if i >= a.warmup:
                totals.append(time.perf_counter() - t)
    gmin, gmed = stats(totals)
    gen = a.gen_batch * new
    print(json.dumps({
        "impl": "pytorch", "backend": f"torch {torch.__version__} {dev.type}" + (" sdpa" if a.sdpa else ""),
        "threads": a.threads, "d_model": a.d_model, "n_layers": a.n_layers, "n_heads": a.n_heads,
        "max_len": a.max_len, "mlp_ratio": a.mlp_ratio, "vocab": a.vocab,
        "positions": a.positions, "train_rows": a.rows, "train_cols": a.cols,
        "train_ms_min": tmin * 1e3, "train_ms_median": tmed * 1e3, "train_tok_s": tokens / tmed,
        "train_first_ms": first * 1e3,
        "decode_rows": a.gen_batch, "decode_prompt": len(prompt), "decode_new": new,
        "decode_tok_s": gen / gmed, "decode_tok_s_best": gen / gmin,
    }))


if __name__ == "__main__":
    main()
