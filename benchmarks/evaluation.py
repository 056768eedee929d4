"""Evaluation benchmark: generating answers (batched vs one question at a time) and grading
stored responses, in one run.

    .venv/bin/python benchmarks/evaluation.py [--questions 16] [--max-new-tokens 32] [--batch-size 8]
                                              [--responses 100000] [--rollouts 16] [--threads N]

(a) The embedded SmolLM2-135M-Instruct (transformers backend, CUDA when there is one)
    answers `--questions` questions of the bundled benchmark files with the recipe's
    prompt, greedy, `--max-new-tokens` each: one `generate` call over all of them
    (`--batch-size` per forward pass, as eval_responses does per chunk) vs one call per
    question. Questions/s of both and their ratio; the answers read from both are compared.
(b) `--responses` R1-style responses (`benchmarks/answers.py`'s generator: boxed letters,
    option texts, "the answer is", no answer...; `--rollouts` per question) are stored as
    an eval_responses-like Parquet file, then read back, graded (`grade_responses`:
    `extract_choice` against the gold letter) and scored (`accuracy_with_interval`).
    Responses/s of the whole step, and how many times faster grading is than answering.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import polars as pl
import torch

from answers import generate as generate_responses  # benchmarks/answers.py, beside this script
from medical_assets.core.eval_questions import EVAL_QUESTION_SCHEMA, normalize_questions, with_prompts
from medical_assets.core.scores import accuracy_with_interval, grade_responses
from medical_assets.eval_sets import EVAL_SETS
from medical_assets.recipe import RECIPE
from medical_assets.resources.eval_files import EvalFiles
from medical_assets.resources.llm import LLM, load_transformers_model


def timed(call):
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


def demo_questions(n: int) -> pl.DataFrame:
    """`n` questions drawn (seeded) across the ten bundled benchmark files."""
    files = EvalFiles(mode="demo")
    frames = [normalize_questions(spec.key, files.rows(spec))[0] for spec in EVAL_SETS]
    everything = with_prompts(pl.concat(frames), RECIPE.evaluation.prompt_templates[RECIPE.evaluation.prompt_template])
    return everything.sample(n=min(n, everything.height), seed=0)


def stored_responses(n: int, rollouts: int, folder: Path) -> tuple[Path, pl.DataFrame]:
    """An eval_responses-like file of `n` graded-to-be responses and the questions they answer."""
    responses, option_sets, _, _ = generate_responses(n, rollouts)
    rng = random.Random(1)
    ids = [f"bench:{i // rollouts}" for i in range(n)]
    first = range(0, n, rollouts)
    questions = pl.DataFrame(
        {"benchmark": "bench", "question_id": [ids[i] for i in first], "position": list(range(len(first))),
         "question": [f"Question {i}" for i in range(len(first))],
         "options": [[{"letter": k, "text": v} for k, v in option_sets[i].items()] for i in first],
         "answer_idx": [rng.choice(list(option_sets[i])) for i in first]},
        schema={name: EVAL_QUESTION_SCHEMA[name] for name in ("benchmark", "question_id", "position", "question",
                                                              "options", "answer_idx")},
    )
    path = folder / "eval_responses.parquet"
    pl.DataFrame({"question_id": ids, "prompt_sha": ids, "sample": [i % rollouts for i in range(n)],
                  "response": responses}).write_parquet(path, compression="zstd")
    return path, questions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--responses", type=int, default=100_000)
    parser.add_argument("--rollouts", type=int, default=16, help="stored responses per question")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    questions = demo_questions(args.questions)
    prompts = questions["prompt"].to_list()
    llm = LLM(device=args.device, batch_size=args.batch_size)
    _, load_s = timed(lambda: load_transformers_model(llm.model, llm.device, llm.dtype))
    info = llm.describe()
    print(f"(a) answering: {len(prompts)} questions of the bundled benchmarks, {info['model']} on {info['device']} "
          f"({info['dtype']}, torch threads {torch.get_num_threads()}; loaded in {load_s:.1f}s), "
          f"greedy, max_new_tokens {args.max_new_tokens}, batch_size {args.batch_size}")
    greedy = dict(max_new_tokens=args.max_new_tokens, temperature=0.0, top_p=1.0, seed=0)
    llm.generate(prompts[:2], **greedy)  # warm-up
    batched, batched_s = timed(lambda: llm.generate(prompts, **greedy))
    single, single_s = timed(lambda: [llm.generate([p], **greedy)[0] for p in prompts])
    same = sum(b == s for b, s in zip(batched, single))
    for name, seconds in (("batched", batched_s), ("one at a time", single_s)):
        print(f"  {name:>13}: {len(prompts) / seconds:7.2f} questions/s  {seconds:7.1f}s")
    print(f"  batched/one-at-a-time speed: {single_s / batched_s:.2f}x; identical answers {same}/{len(prompts)} "
          "(padding can change float rounding, hence a token)")

    with tempfile.TemporaryDirectory() as folder:
        (path, graded_questions), make_s = timed(lambda: stored_responses(args.responses, args.rollouts, Path(folder)))
        print(f"(b) grading: {args.responses:,} stored responses ({args.rollouts} per question, "
              f"{path.stat().st_size / 2**20:.0f} MB Parquet, made in {make_s:.1f}s)")

        def grade():
            graded = grade_responses(pl.read_parquet(path), graded_questions)
            return graded, accuracy_with_interval(graded)

        (graded, score), grade_s = timed(grade)
    print(f"  read + extract + score: {args.responses / grade_s:10,.0f} responses/s  {grade_s:6.2f}s "
          f"(accuracy {score['accuracy']:.3f}: gold letters drawn at random; {score['unanswered']:,} state no answer)")
    answering = len(prompts) / batched_s
    print(f"  grading is {args.responses / grade_s / answering:,.0f}x faster than batched answering "
          f"({answering:.2f} questions/s at {args.max_new_tokens} new tokens)")


if __name__ == "__main__":
    main()
