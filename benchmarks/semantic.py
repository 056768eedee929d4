"""Third decontamination step benchmark: the neighbour search and the confirmation of `semantic_matches`.

    .venv/bin/python benchmarks/semantic.py [--prompts 200000] [--questions 19500] [--embed 512]

(a) search: each prompt's k = 5 nearest eval texts by inner product over unit 384-d vectors
    (MiniLM's shape), `core.semantic.nearest_questions` (faiss `IndexFlatIP`, chunked) against the
    brute-force numpy product (`prompts @ questions.T` per chunk, then `argpartition` top-k) on the
    same vectors; the pairs above the floor must be the same. The vectors are seeded random, ~2%
    of prompts placed near a question, so that pairs pass the floor as they would in a real set;
    --questions defaults to the recipe's ten benchmarks (12,462 questions) plus ~7,000 HealthBench
    user turns.
(b) confirmation: `RareWords.signals` per pair above the floor, on the bundled demo benchmark
    texts against reworded copies of them.
(c) embedding: the packaged all-MiniLM-L6-v2 on --embed demo prompts (the cost of the prompts that
    `prompt_embeddings` has not embedded already: the parts other than the curated R1 traces).

It prints prompts/s of each part, the ratio of faiss to numpy, and the projected time for 1M and
7M prompts on this machine (search + confirmation, and with every prompt embedded).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medical_assets.core import semantic  # noqa: E402

SAMPLE = Path(__file__).resolve().parent.parent / "medical_assets" / "sample"
DIM, K, FLOOR = 384, 5, semantic.COSINE_FLOOR
NUMPY_CHUNK = 2_048


def vectors(n_prompts: int, n_questions: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    questions = rng.standard_normal((n_questions, DIM), dtype=np.float32)
    questions /= np.linalg.norm(questions, axis=1, keepdims=True)
    prompts = rng.standard_normal((n_prompts, DIM), dtype=np.float32)
    prompts /= np.linalg.norm(prompts, axis=1, keepdims=True)
    near = rng.choice(n_prompts, size=n_prompts // 50, replace=False)
    prompts[near] = questions[rng.integers(0, n_questions, len(near))] + 0.03 * prompts[near]
    prompts /= np.linalg.norm(prompts, axis=1, keepdims=True)
    return prompts, questions


def numpy_top_k(prompts: np.ndarray, questions: np.ndarray, k: int, floor: float) -> set[tuple[int, int]]:
    """The naive way: the whole score matrix, chunk by chunk, and its top k per row."""
    pairs = set()
    for start in range(0, len(prompts), NUMPY_CHUNK):
        scores = prompts[start:start + NUMPY_CHUNK] @ questions.T
        top = np.argpartition(-scores, k, axis=1)[:, :k]
        rows = np.repeat(np.arange(len(scores)), k)
        cols = top.ravel()
        keep = scores[rows, cols] >= floor
        pairs.update(zip((rows[keep] + start).tolist(), cols[keep].tolist()))
    return pairs


def demo_texts() -> list[str]:
    texts = []
    for name in ("eval_data.json", "m1_eval_data.json"):
        for rows in json.loads((SAMPLE / "benchmarks" / name).read_text()).values():
            texts += [row["question"] for row in rows]
    return texts


def reworded(text: str, rng: random.Random) -> str:
    """A crude rewording: some words dropped, a prefix added (the confirmation's cost, not its accuracy)."""
    words = [w for w in text.split() if rng.random() > 0.15]
    return "Practice item: " + " ".join(words)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, default=200_000)
    parser.add_argument("--questions", type=int, default=19_500)
    parser.add_argument("--embed", type=int, default=512)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; k={K}, cosine floor {FLOOR}, {DIM}-d unit vectors")

    prompts, questions = vectors(args.prompts, args.questions)
    started = time.perf_counter()
    rows, cols, _, _ = semantic.nearest_questions(prompts, questions, K, FLOOR)
    ours_s = time.perf_counter() - started
    started = time.perf_counter()
    naive = numpy_top_k(prompts, questions, K, FLOOR)
    naive_s = time.perf_counter() - started
    same = set(zip(rows.tolist(), cols.tolist())) == naive
    search_rate = args.prompts / ours_s
    print(f"(a) search {args.prompts:,} prompts x {args.questions:,} eval texts: faiss {ours_s:.1f} s "
          f"({search_rate:,.0f} prompts/s), numpy {naive_s:.1f} s ({args.prompts / naive_s:,.0f} prompts/s), "
          f"{naive_s / ours_s:.1f}x; {len(rows):,} pairs above the floor, same pairs: {same}")

    rng = random.Random(0)
    texts = demo_texts()
    rare = semantic.RareWords(texts, [None] * len(texts))
    pairs = [(semantic.words_and_numbers(reworded(texts[i], rng)), i) for i in range(len(texts))] * 20
    started = time.perf_counter()
    confirmed = sum(semantic.Confirmation().confirms(*rare.signals(p, q)[:3]) for p, q in pairs)
    confirm_s = time.perf_counter() - started
    confirm_rate = len(pairs) / confirm_s
    print(f"(b) confirmation: {len(pairs):,} pairs in {confirm_s:.2f} s ({confirm_rate:,.0f} pairs/s; "
          f"{confirmed:,} confirmed)")

    from medical_assets.resources.embedder import Embedder

    embedder = Embedder(device="cpu")
    prompts_text = [reworded(texts[i % len(texts)], rng) for i in range(args.embed)]
    embedder.encode(prompts_text[:8])  # load
    started = time.perf_counter()
    embedder.encode(prompts_text)
    embed_rate = args.embed / (time.perf_counter() - started)
    print(f"(c) embedding: {embed_rate:,.0f} prompts/s (all-MiniLM-L6-v2, cpu, float32)")

    pairs_per_prompt = len(rows) / args.prompts
    for n in (1_000_000, 7_000_000):
        step = n / search_rate + n * pairs_per_prompt / confirm_rate
        print(f"projected for {n:,} prompts: search + confirmation {step / 60:,.1f} min "
              f"(at {pairs_per_prompt:.3f} pairs per prompt); with every prompt embedded here "
              f"{(step + n / embed_rate) / 3600:,.1f} h")


if __name__ == "__main__":
    main()
