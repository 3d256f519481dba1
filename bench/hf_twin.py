"""PyTorch (transformers) twin of `hytune bench --model DIR`: the same model directory, batch
shapes, loss and optimizer, on the CPU or (`--device cuda`) a GPU (optional; not used by CI).

    /tmp/tv/bin/python bench/hf_twin.py DIR --threads 2 --rows 8 --cols 64 --gen-batch 8 --new 64

Train: one step of forward, backward, gradient clipping (norm 1) and AdamW (weight decay 0.01)
on random tokens, every position a target. Decode: greedy with the KV cache, `--new` tokens
after a prompt, batch `--gen-batch`.
"""

import argparse
import json
import time

import torch
from transformers import AutoModelForCausalLM


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rows", type=int, default=8)
    ap.add_argument("--cols", type=int, default=64)
    ap.add_argument("--gen-batch", type=int, default=8)
    ap.add_argument("--prompt", type=int, default=20)
    ap.add_argument("--new", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    dev = torch.device(a.device)
    sync = (lambda: torch.cuda.synchronize()) if dev.type == "cuda" else (lambda: None)
    torch.set_num_threads(a.threads)
    torch.manual_seed(7)
    model = AutoModelForCausalLM.from_pretrained(a.dir, dtype=torch.float32, attn_implementation="eager").to(dev)
    vocab = model.config.vocab_size
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    seq = torch.randint(0, vocab - 1, (a.rows, a.cols + 1)).to(dev)
    times = []
    model.train()
    for i in range(a.warmup + a.repeats):
        t = time.perf_counter()
        logits = model(seq[:, :-1]).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), seq[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sync()
        if i >= a.warmup:
            times.append(time.perf_counter() - t)
    times.sort()
    train_med = times[len(times) // 2]
    model.eval()
    prompt = torch.randint(0, vocab - 1, (a.gen_batch, a.prompt)).to(dev)
    dec = []
    with torch.no_grad():
        for i in range(a.warmup + a.repeats):
            t = time.perf_counter()
            out = model(prompt, use_cache=True)
            past, nxt = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
            for _ in range(a.new - 1):
                out = model(nxt, past_key_values=past, use_cache=True)
                past, nxt = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
            sync()
            if i >= a.warmup:
                dec.append(time.perf_counter() - t)
    dec.sort()
    print(json.dumps({
        "impl": "pytorch", "torch": torch.__version__, "device": a.device, "threads": a.threads,
        "params": sum(p.numel() for p in model.parameters()),
        "train_rows": a.rows, "train_cols": a.cols, "train_ms_median": train_med * 1e3,
        "train_tok_s": a.rows * a.cols / train_med,
        "decode_rows": a.gen_batch, "decode_new": a.new,
        "decode_tok_s": a.gen_batch * a.new / dec[len(dec) // 2],
    }))


if __name__ == "__main__":
    main()
