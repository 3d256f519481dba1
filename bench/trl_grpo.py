#!/usr/bin/env python3
"""The peer benchmark: TRL's GRPOTrainer on the work a `hytune` RLIF step does (the same model,
questions, group size, new tokens, consensus reward and thread count), full fine-tuning or PEFT
LoRA. Prints one JSON line: seconds per step (the median of the timed steps, after one warm-up)
and the process's peak RSS. Optional: needs a Python with torch, transformers, trl and peft;
never the build or the tests. `bench/peer.sh` runs it beside hytune.

    python bench/trl_grpo.py --model /tmp/smol-hf --data DATA_DIR --lora 16 --threads 2
"""
import argparse
import json
import re
import resource
import statistics
import time
from collections import Counter


def answer(text):
    """The `A: <number>` line's number, as hytune's `a_line` extraction reads it."""
    m = re.search(r"^A:\s*(-?[0-9][0-9,]*\.?[0-9]*)", text, re.M)
    return m.group(1).replace(",", "").rstrip(".") if m else None


def consensus(prompts, completions, **_):
    """1 for a completion whose answer is its group's majority answer, else 0 (hytune's
    `consensus` reward; a group is the completions of one prompt)."""
    texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]
    keys = [p if isinstance(p, str) else json.dumps(p) for p in prompts]
    groups = {}
    for k, t in zip(keys, texts):
        groups.setdefault(k, []).append(answer(t))
    majority = {}
    for k, answers in groups.items():
        counted = Counter(a for a in answers if a is not None)
        majority[k] = counted.most_common(1)[0][0] if counted else None
    return [float(a is not None and a == majority[k]) for k, a in
            zip(keys, (answer(t) for t in texts))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="a Hugging Face model directory")
    ap.add_argument("--data", required=True, help="a hytune dataset folder (unlabeled.jsonl)")
    ap.add_argument("--questions", type=int, default=4)
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lora", type=int, default=0, help="LoRA rank (0: full fine-tuning)")
    ap.add_argument("--alpha", type=float, default=32.0)
    ap.add_argument("--beta", type=float, default=0.02)
    ap.add_argument("--lr", type=float, default=1e-5)
    a = ap.parse_args()

    import torch
    torch.set_num_threads(a.threads)
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    system = ("Solve the problem step by step. Write each step on its own line starting with "
              "\"S: \", then the final answer alone on a line starting with \"A: \". Answer "
              "with the number only.")
    rows = [json.loads(l) for l in open(f"{a.data}/unlabeled.jsonl")]
    need = a.questions * (a.steps + 1)
    prompts = [[{"role": "system", "content": system},
                {"role": "user", "content": r["question"]}] for r in rows[:need]]
    data = Dataset.from_dict({"prompt": prompts})

    tok = AutoTokenizer.from_pretrained(a.model)
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32)
    peft_config = None
    if a.lora:
        from peft import LoraConfig
        peft_config = LoraConfig(r=a.lora, lora_alpha=a.alpha, lora_dropout=0.0,
                                 target_modules=["q_proj", "k_proj", "v_proj", "o_proj",
                                                 "gate_proj", "up_proj", "down_proj"],
                                 task_type="CAUSAL_LM")

    times = []

    class Clock(TrainerCallback):
        def on_step_begin(self, *args, **kw):
            self.t = time.perf_counter()

        def on_step_end(self, *args, **kw):
            times.append(time.perf_counter() - self.t)

    cfg = GRPOConfig(
        output_dir="/tmp/trl-grpo-bench", per_device_train_batch_size=a.questions * a.group,
        num_generations=a.group, max_completion_length=a.new_tokens, max_steps=a.steps + 1,
        learning_rate=a.lr, beta=a.beta, temperature=1.0, logging_steps=1, save_strategy="no",
        report_to=[], use_cpu=True, bf16=False, gradient_accumulation_steps=1,
        shuffle_dataset=False, seed=0, disable_tqdm=True,
    )
    trainer = GRPOTrainer(model=model, reward_funcs=consensus, args=cfg, train_dataset=data,
                          processing_class=tok, peft_config=peft_config, callbacks=[Clock()])
    trainer.train()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    timed = times[1:] or times
    print(json.dumps({
        "impl": "trl", "lora_rank": a.lora, "threads": a.threads, "questions": a.questions,
        "group": a.group, "new_tokens": a.new_tokens, "beta": a.beta,
        "step_s_median": statistics.median(timed), "step_s": timed,
        "peak_rss_bytes": rss,
    }))


if __name__ == "__main__":
    main()
