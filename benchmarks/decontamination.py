"""Decontamination benchmark: `core.decontamination` against the scripts it replaces.

    .venv/bin/python benchmarks/decontamination.py [--train 200000] [--fuzzy-train 20000] [--baseline-fuzzy 200]

A seeded eval set shaped like the recipe's ten benchmarks (12,462 questions of
20-250 words with 4-10 options) and a seeded training set (10-300 words, ~1%
planted copies, edits, embedded spans and near-paraphrases) are generated
from the word frequencies of the bundled demo benchmarks. Then, each in a fresh
child process of the same run (time and peak memory measured there):

(a) n-grams: open-r1's `decontaminate.py` loop (per eval set, a Python set of
    n-gram strings; per prompt, its n-gram strings checked one by one) vs
    `ngram_matches`, on all `--train` prompts;
(b) fuzzy: the OpenThoughts-style `process.extractOne(prompt, questions,
    scorer=fuzz.ratio)` per prompt, score >= 90, vs `fuzzy_matches`. extractOne
    takes about a third of a second per prompt against 12k questions, so it is
    timed on the first `--baseline-fuzzy` prompts and ours on all
    `--fuzzy-train`, speed compared as prompts per second. Hit sets are compared
    on the prompts extractOne saw: those, plus half as many planted ones.

Peak memory is the growth of the child's resident set once it has read the
inputs (VmHWM after resetting it, minus VmRSS at that point).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medical_assets.core.decontamination import fuzzy_matches, ngram_matches  # noqa: E402

BENCHMARKS = Path(__file__).resolve().parent.parent / "medical_assets" / "sample" / "benchmarks"
# about the sizes of the evaluation sets of the recipe
EVAL_SIZES = {
    "MedMCQA_validation": 4183, "MedQA_USLME_test": 1273, "PubMedQA_test": 1000, "MMLU-Pro_Medical_test": 1535,
    "GPQA_Medical_test": 390, "Lancet": 412, "MedBullets_op4": 308, "MedBullets_op5": 308, "MedXpertQA": 2450,
    "NEJM": 603,
}
NGRAM = 10
THRESHOLD = 90.0


# ------------------------------------------------------------------------ data


def vocabulary() -> tuple[np.ndarray, np.ndarray]:
    """Words and their frequencies in the bundled demo benchmarks (realistic letters and word lengths)."""
    counts: Counter[str] = Counter()
    for name in ("eval_data.json", "m1_eval_data.json"):
        for rows in json.loads((BENCHMARKS / name).read_text()).values():
            for row in rows:
                counts.update(row["question"].split())
                for text in row["options"].values():
                    counts.update(text.split())
    words = np.array(sorted(counts))
    freq = np.array([counts[w] for w in words], dtype=float)
    return words, freq / freq.sum()


def texts(rng: np.random.Generator, words: np.ndarray, p: np.ndarray, lengths: np.ndarray) -> list[str]:
    picks = words[rng.choice(len(words), int(lengths.sum()), p=p)]
    rows = np.repeat(np.arange(len(lengths)), lengths)
    frame = pl.DataFrame({"row": rows, "word": picks})
    return frame.group_by("row").agg(pl.col("word").str.join(" ")).sort("row")["word"].to_list()


def make_evals(seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    words, p = vocabulary()
    total = sum(EVAL_SIZES.values())
    questions = texts(rng, words, p, rng.integers(20, 251, total))
    n_options = rng.integers(4, 11, total)
    option_texts = iter(texts(rng, words, p, rng.integers(1, 9, int(n_options.sum()))))
    options = [{chr(65 + k): next(option_texts) for k in range(m)} for m in n_options]
    names = [name for name, size in EVAL_SIZES.items() for _ in range(size)]
    ids = [f"{name}:{i}" for name, size in EVAL_SIZES.items() for i in range(size)]
    return pl.DataFrame({"benchmark": names, "question_id": ids, "question": questions, "options": options})


def plant(rng: np.random.Generator, question: str, options: dict, filler: str) -> str:
    """A contaminated prompt: a copy, a copy with options, a light edit, an embedded span or a near-paraphrase."""
    kind = rng.integers(5)
    words = question.split()
    if kind == 0:
        return question
    if kind == 1:
        return question + "\n" + "\n".join(f"{k}. {v}" for k, v in options.items())
    if kind == 2:
        i = rng.integers(len(words))
        return " ".join(words[:i] + ["changed"] + words[i + 1:]) + " Explain."
    if kind == 3:
        i = rng.integers(max(1, len(words) - 15))
        return filler + " " + " ".join(words[i:i + 15])
    return " ".join(w + "s" if k % 7 == 3 else w for k, w in enumerate(words))


def make_train(seed: int, rows: int, evals: pl.DataFrame) -> pl.DataFrame:
    rng = np.random.default_rng(seed + 1)
    words, p = vocabulary()
    prompts = texts(rng, words, p, rng.integers(10, 301, rows))
    questions, options = evals["question"].to_list(), evals["options"].to_list()
    planted = rng.random(rows) < 0.01
    for i in np.flatnonzero(planted):
        j = rng.integers(len(questions))
        opts = {k: v for k, v in options[j].items() if v is not None}
        prompts[i] = plant(rng, questions[j], opts, prompts[i][:200])
    return pl.DataFrame({"sample_id": [f"t{i:07d}" for i in range(rows)], "prompt": prompts, "planted": planted})


# ------------------------------------------------------------------- baselines


def normalize_string(text: str) -> str:
    """open-r1 / s1 `normalize_string`."""
    text = text.lower().strip()
    return " ".join(text.split())


def word_ngrams(text: str, n: int) -> list[str]:
    words = text.split()
    return [" ".join(words[i:i + n]) for i in range(len(words) - n + 1)]


def openr1_ngrams(train: pl.DataFrame, evals: pl.DataFrame) -> set[str]:
    """open-r1 `scripts/decontaminate.py`: one n-gram set and one pass over the training set per eval set."""
    prompts, ids = train["prompt"].to_list(), train["sample_id"].to_list()
    hit: set[str] = set()
    for (_,), bench in evals.partition_by("benchmark", as_dict=True, maintain_order=True).items():
        lookup: set[str] = set()
        for question, options in zip(bench["question"].to_list(), bench["options"].to_list()):
            lookup.update(word_ngrams(normalize_string(question), NGRAM))
            lines = "\n".join(f"{k}. {v}" for k, v in options.items() if v is not None)
            lookup.update(word_ngrams(normalize_string(question + "\n" + lines), NGRAM))
        for sample, prompt in zip(ids, prompts):
            if any(ngram in lookup for ngram in word_ngrams(normalize_string(prompt), NGRAM)):
                hit.add(sample)
    return hit


def openthoughts_fuzzy(train: pl.DataFrame, evals: pl.DataFrame) -> set[str]:
    """OpenThoughts-style: the best fuzz.ratio match of each prompt among all questions, >= 90."""
    questions = evals["question"].to_list()
    hit = set()
    for sample, prompt in zip(train["sample_id"].to_list(), train["prompt"].to_list()):
        best = process.extractOne(prompt, questions, scorer=fuzz.ratio)
        if best is not None and best[1] >= THRESHOLD:
            hit.add(sample)
    return hit


def ours_ngrams(train: pl.DataFrame, evals: pl.DataFrame) -> set[str]:
    return set(ngram_matches(train, evals, n=NGRAM)["sample_id"].to_list())


def ours_fuzzy(train: pl.DataFrame, evals: pl.DataFrame) -> set[str]:
    return set(fuzzy_matches(train, evals, threshold=THRESHOLD)["sample_id"].to_list())


# --------------------------------------------------------------- measurement


def _status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


METHODS = {"openr1_ngrams": openr1_ngrams, "openthoughts_fuzzy": openthoughts_fuzzy,
           "ours_ngrams": ours_ngrams, "ours_fuzzy": ours_fuzzy}


def _child(conn, method: str, train_path: str, evals_path: str) -> None:
    train, evals = pl.read_parquet(train_path), pl.read_parquet(evals_path)
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak to the current resident set
    except OSError:
        pass
    start_rss = _status("VmRSS")
    started = time.perf_counter()
    hits = METHODS[method](train, evals)
    seconds = time.perf_counter() - started
    conn.send((seconds, max(0, _status("VmHWM") - start_rss), sorted(hits)))
    conn.close()


def measure(method: str, train: pl.DataFrame, evals: pl.DataFrame, tmp: Path) -> tuple[float, int, set[str]]:
    """Seconds, peak extra memory (bytes) and hit set of `method`, run in a fresh child process.

    A spawned child (Polars' thread pool does not survive fork) reads the inputs,
    then only the method's own work is timed and counted.
    """
    train_path, evals_path = tmp / "train.parquet", tmp / "evals.parquet"
    train.write_parquet(train_path)
    evals.write_parquet(evals_path)
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, method, str(train_path), str(evals_path)))
    proc.start()
    child.close()
    seconds, peak, hits = parent.recv()
    proc.join()
    return seconds, peak, set(hits)


def mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=200_000, help="training prompts for the n-gram test")
    parser.add_argument("--fuzzy-train", type=int, default=20_000, help="training prompts for our fuzzy match")
    parser.add_argument("--baseline-fuzzy", type=int, default=200, help="of those, prompts run through extractOne")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        run(args, Path(tmp))


def run(args: argparse.Namespace, tmp: Path) -> None:
    started = time.perf_counter()
    evals = make_evals(args.seed)
    train = make_train(args.seed, max(args.train, args.fuzzy_train), evals)
    words = train["prompt"].str.split(" ").list.len()
    print(f"data: {evals.height:,} eval questions in {len(EVAL_SIZES)} sets, {train.height:,} training prompts "
          f"({words.mean():.0f} words on average, {train['planted'].sum():,} planted), generated in "
          f"{time.perf_counter() - started:.0f} s on {os.cpu_count()} CPUs", flush=True)

    ngram_train = train.head(args.train)
    base_s, base_mem, base_hits = measure("openr1_ngrams", ngram_train, evals, tmp)
    ours_s, ours_mem, ours_hits = measure("ours_ngrams", ngram_train, evals, tmp)
    print(f"\n(a) word {NGRAM}-grams, {ngram_train.height:,} prompts x {evals.height:,} questions")
    print(f"  open-r1 loop     {base_s:8.1f} s  {ngram_train.height / base_s:10,.0f} prompts/s  peak +{mib(base_mem)}")
    print(f"  ngram_matches    {ours_s:8.1f} s  {ngram_train.height / ours_s:10,.0f} prompts/s  peak +{mib(ours_mem)}")
    print(f"  speed-up {base_s / ours_s:.1f}x; contaminated prompts {len(base_hits):,} vs {len(ours_hits):,}, "
          f"identical sets: {base_hits == ours_hits}")

    fuzzy_train = train.head(args.fuzzy_train)
    timed = fuzzy_train.head(args.baseline_fuzzy)  # as contaminated as the whole set (~1%)
    planted = fuzzy_train.filter("planted").head(args.baseline_fuzzy // 2)  # so the hit sets have much to agree on
    base_s, base_mem, base_hits = measure("openthoughts_fuzzy", timed, evals, tmp)
    _, _, planted_hits = measure("openthoughts_fuzzy", planted, evals, tmp)
    ours_s, ours_mem, ours_hits = measure("ours_fuzzy", fuzzy_train, evals, tmp)
    seen = set(timed["sample_id"].to_list()) | set(planted["sample_id"].to_list())
    base_hits |= planted_hits
    base_rate, ours_rate = timed.height / base_s, fuzzy_train.height / ours_s
    print(f"\n(b) fuzz.ratio >= {THRESHOLD:g} against {evals.height:,} questions")
    print(f"  extractOne loop  {base_s:8.1f} s  {base_rate:10,.1f} prompts/s  peak +{mib(base_mem)}"
          f"  (first {timed.height:,} prompts)")
    print(f"  fuzzy_matches    {ours_s:8.1f} s  {ours_rate:10,.1f} prompts/s  peak +{mib(ours_mem)}"
          f"  ({fuzzy_train.height:,} prompts)")
    print(f"  speed-up {ours_rate / base_rate:.1f}x (prompts/s); on the {len(seen):,} prompts extractOne saw "
          f"(those {timed.height:,} and {planted.height:,} planted ones): contaminated {len(base_hits):,} vs "
          f"{len(ours_hits & seen):,}, identical sets: {base_hits == ours_hits & seen}; "
          f"ours found {len(ours_hits):,} in all {fuzzy_train.height:,}")
    print(f"  projected for 1,000,000 prompts: ours {1e6 / ours_rate / 60:,.1f} min, "
          f"extractOne {1e6 / base_rate / 3600:,.1f} h")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
