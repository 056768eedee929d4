"""SFT mix benchmark: counting the tokens of every row as the trainer sees it.

    .venv/bin/python benchmarks/mix.py [--rows 1000] [--row-chars 20000] [--tokenizer NAME]

In one run, on the same rows (a prompt of ~400 characters and a reasoning + response of
`--row-chars`, made of a seeded word list), with the embedded SmolLM2 tokenizer unless
`--tokenizer` names another:

- baseline: the chat template rendered row by row (`apply_chat_template`), then the
  tokenizer called on chunks of texts with tokenizers' thread pool off (as the Makefile's
  `TOKENIZERS_PARALLELISM=false` leaves it), which is how `sft_mix` counted before;
- the mix's path (`core.mix.chat_texts` + `token_lengths`, as `assets/mix.py` calls them):
  the texts made by Polars around the template's fixed parts, encoded in batches without
  offsets on every core.

Prints rows/s and tokens/s of both, the ratio, and whether the counts are identical.
"""

from __future__ import annotations

import argparse
import os
import random
import time

import polars as pl

WORDS = ("the patient presents with fever cough and mild dyspnea after two weeks of travel; "
         "consider the differential, weigh each finding, check the labs: sodium 131 mmol/L, "
         "creatinine 1.4 mg/dL, troponin negative. Wait, the timeline matters more than the rash. "
         "So the most likely answer is the one that explains every sign together").split()


def corpus(rows: int, row_chars: int, seed: int = 0) -> pl.DataFrame:
    """Canonical-looking traces of the requested lengths."""
    draw = random.Random(seed)

    def text(chars: int) -> str:
        words, size = [], 0
        while size < chars:
            word = draw.choice(WORDS)
            words.append(word)
            size += len(word) + 1
        return " ".join(words)

    return pl.DataFrame({
        "sample_id": [f"bench:{i}" for i in range(rows)],
        "prompt": [text(400) for _ in range(rows)],
        "reasoning": [text(row_chars - 600) for _ in range(rows)],
        "response": [text(200) + " The answer is \\boxed{B}." for _ in range(rows)],
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--row-chars", type=int, default=20_000)
    parser.add_argument("--tokenizer", default=None, help="a tokenizer name or path (default: the embedded SmolLM2)")
    args = parser.parse_args()

    from transformers import AutoTokenizer

    from medical_assets.core.canonical import to_messages
    from medical_assets.core.mix import chat_texts, token_lengths
    from medical_assets.resources.embedded_model import packaged_gguf_path

    if args.tokenizer:
        tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    else:
        gguf = packaged_gguf_path()
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    traces = corpus(args.rows, args.row_chars)
    messages = to_messages(traces)
    print(f"{args.rows:,} rows of ~{args.row_chars:,} characters, {os.cpu_count()} cores, "
          f"tokenizer {args.tokenizer or 'embedded SmolLM2-135M-Instruct'}")

    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    started = time.perf_counter()
    baseline: list[int] = []
    turns = messages["messages"].to_list()
    for start in range(0, len(turns), 4_096):
        texts = [tokenizer.apply_chat_template(m, tokenize=False) for m in turns[start:start + 4_096]]
        baseline += [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    baseline_s = time.perf_counter() - started

    os.environ["TOKENIZERS_PARALLELISM"] = "true"
    started = time.perf_counter()
    texts, rendering = chat_texts(messages, tokenizer)
    rendered_s = time.perf_counter() - started
    fast = token_lengths(texts, tokenizer)
    fast_s = time.perf_counter() - started

    tokens = sum(baseline)
    print(f"{'path':<40} {'seconds':>8} {'rows/s':>10} {'tokens/s':>12}")
    print(f"{'baseline (template per row, 1 thread)':<40} {baseline_s:8.2f} {args.rows / baseline_s:10,.0f} "
          f"{tokens / baseline_s:12,.0f}")
    print(f"{'mix (' + rendering + ', all cores)':<40} {fast_s:8.2f} {args.rows / fast_s:10,.0f} "
          f"{tokens / fast_s:12,.0f}   (rendering {rendered_s:.2f} s)")
    print(f"ratio {baseline_s / fast_s:.1f}x; {tokens:,} tokens; counts identical: {fast == baseline}")


if __name__ == "__main__":
    main()
