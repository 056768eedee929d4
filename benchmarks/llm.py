"""LLM resource benchmark: batched vs one-prompt-at-a-time, on the default backend.

    .venv/bin/python benchmarks/llm.py [--prompts 32] [--max-new-tokens 32] [--batch-size 8] [--device auto] [--threads N]

With the embedded SmolLM2-135M-Instruct (the transformers backend, on CUDA
when there is one, else CPU), in the same run, after one warm-up call:

(a) `generate`, greedy, `--max-new-tokens` per prompt: one call over all
    prompts (`--batch-size` per forward pass) vs one call per prompt;
    prompts/s and generated tokens/s (the completions re-tokenized, so end
    tokens and padding are not counted);
(b) `choose` over 7 domain labels: one call (the prompts' shared prefix is
    computed once per prompt and every label scored in one extra forward)
    vs one call per prompt; prompts/s. The labels picked by both ways are
    compared (they must agree).

On a CPU shared with other busy processes, torch's default of one thread per
core can slow down 10-20x (its threads wait on each other while one is
descheduled); `--threads 1` gives steadier numbers there.
"""

from __future__ import annotations

import argparse
import time

import torch

from medical_assets.resources.llm import LLM, load_transformers_model

QUESTIONS = [
    "What is hypertension?",
    "Name three symptoms of type 2 diabetes.",
    "What does an elevated troponin suggest?",
    "How does metformin lower blood glucose?",
    "A 67-year-old man has crushing chest pain radiating to his left arm. What is the most likely diagnosis?",
    "What is the first-line treatment for anaphylaxis?",
    "Explain the difference between a virus and a bacterium in two sentences.",
    "Which vitamin deficiency causes scurvy?",
    "What are the warning signs of a stroke?",
    "A child has a barking cough and inspiratory stridor. What is the likely cause?",
    "Why is warfarin monitored with the INR?",
    "What organ produces insulin?",
    "List two side effects of long-term corticosteroid use.",
    "What is the normal range of adult resting heart rate?",
    "How is tuberculosis transmitted?",
    "What is the mechanism of action of aspirin?",
]
LABELS = ["Cardiology", "Endocrinology", "Infectious disease", "Neurology", "Pediatrics", "Pharmacology", "Other"]
CLASSIFY = "Which medical domain does this question belong to?\n\nQuestion: {question}\n\nAnswer with the domain only."


def timed(call):
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    prompts = [QUESTIONS[i % len(QUESTIONS)] + ("" if i < len(QUESTIONS) else " Be brief.") for i in range(args.prompts)]
    llm = LLM(device=args.device, batch_size=args.batch_size)
    _, load_s = timed(lambda: load_transformers_model(llm.model, llm.device, llm.dtype))
    _, tokenizer = load_transformers_model(llm.model, llm.device, llm.dtype)
    info = llm.describe()
    print(f"backend {info['backend']}, device {info['device']} ({info['dtype']}, torch threads "
          f"{torch.get_num_threads()}), model {info['model']}; loaded in {load_s:.1f}s")
    print(f"{args.prompts} prompts, batch_size {args.batch_size}, max_new_tokens {args.max_new_tokens}, greedy")

    greedy = dict(max_new_tokens=args.max_new_tokens, temperature=0.0, top_p=1.0, seed=0)
    llm.generate(prompts[:2], **greedy)  # warm-up
    batched, batched_s = timed(lambda: llm.generate(prompts, **greedy))
    single, single_s = timed(lambda: [llm.generate([p], **greedy)[0] for p in prompts])
    tokens = sum(len(tokenizer(c[0], add_special_tokens=False)["input_ids"]) for c in batched)
    same = sum(b == s for b, s in zip(batched, single))
    print("generate:")
    for name, seconds in (("batched", batched_s), ("one at a time", single_s)):
        print(f"  {name:>13}: {args.prompts / seconds:7.2f} prompts/s  {tokens / seconds:8.1f} tokens/s  {seconds:6.1f}s")
    print(f"  batched/one-at-a-time speed: {single_s / batched_s:.2f}x; {tokens} tokens generated; "
          f"identical completions {same}/{args.prompts}")

    questions = [CLASSIFY.format(question=p) for p in prompts]
    llm.choose(questions[:2], LABELS)  # warm-up
    scores, batched_s = timed(lambda: llm.choose(questions, LABELS))
    alone, single_s = timed(lambda: [llm.choose([q], LABELS)[0] for q in questions])
    picked = [max(s, key=s.get) for s in scores]
    agree = sum(p == max(a, key=a.get) for p, a in zip(picked, alone))
    print(f"choose ({len(LABELS)} labels):")
    for name, seconds in (("batched", batched_s), ("one at a time", single_s)):
        print(f"  {name:>13}: {args.prompts / seconds:7.2f} prompts/s  "
              f"{args.prompts * len(LABELS) / seconds:8.1f} label scores/s  {seconds:6.1f}s")
    print(f"  batched/one-at-a-time speed: {single_s / batched_s:.2f}x; same label picked {agree}/{args.prompts}; "
          f"labels picked: {', '.join(f'{label} {picked.count(label)}' for label in LABELS if label in picked)}")


if __name__ == "__main__":
    main()
