"""Synthetic QA benchmark: the `synthetic_traces` asset batched vs one question at a time.

    .venv/bin/python benchmarks/synthetic.py [--seed-set medqa_seed] [--questions 24] [--max-new-tokens 48]
                                             [--batch-size 8] [--max-attempts 2] [--threads N]

In a temporary data home, the bundled demo seed set is ingested and drawn to `--questions`
questions (`raw_traces`, `synthetic_seed_questions`), then `synthetic_traces` is
materialized twice with the `generator` resource on its default backend (the embedded
SmolLM2-135M-Instruct; CUDA when there is one, else CPU), greedy so that both runs must
agree: once with `--batch-size` questions per forward pass and per stored chunk, once with
one question per call (as a loop over an API would). Printed: attempts, questions/s and
generated tokens/s of each, their ratio, the yield (questions with a verified answer) and
whether both runs stored the same extracted answers.

The vLLM path is the same asset with `MEDICAL_ASSETS_GENERATOR_BACKEND=vllm` on a GPU
machine (`--backend vllm`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import dagster as dg
import torch

from medical_assets.assets.ingest import raw_traces
from medical_assets.assets.synthetic import synthetic_seed_questions, synthetic_traces
from medical_assets.resources.llm import LLM, load_transformers_model
from medical_assets.resources.sources import SourceCatalog
from medical_assets.resources.storage import Warehouse, WarehouseIOManager


def materialize(assets, warehouse: Warehouse, partition: str, resources: dict, ops: dict | None = None) -> float:
    started = time.perf_counter()
    result = dg.materialize(assets, partition_key=partition, instance=dg.DagsterInstance.ephemeral(),
                            resources={"warehouse": warehouse, "io_manager": WarehouseIOManager(warehouse=warehouse),
                                       **resources}, run_config={"ops": ops or {}})
    assert result.success
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed-set", default="medqa_seed", choices=["medmcqa_seed", "medqa_seed", "medreason_seed"])
    parser.add_argument("--questions", type=int, default=24)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-attempts", type=int, default=2)
    parser.add_argument("--backend", default="transformers", choices=["transformers", "vllm"])
    parser.add_argument("--model", default=None, help="hub id or path (default: the embedded SmolLM2)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    home = Path(tempfile.mkdtemp(prefix="medical_assets_bench_synthetic_"))
    (home / "dagster").mkdir()
    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    warehouse = Warehouse(home=str(home))
    catalog = SourceCatalog(mode="demo")
    materialize([raw_traces], warehouse, args.seed_set, {"catalog": catalog})
    materialize([synthetic_seed_questions], warehouse, args.seed_set, {},
                {"synthetic_seed_questions": {"config": {"sample_size": args.questions, "seed": 0}}})
    questions = warehouse.read("synthetic_seed_questions", [args.seed_set]).height
    # Loaded once, outside both timings; its tokenizer counts the generated tokens.
    tokenizer = load_transformers_model(args.model, "auto", "auto")[1] if args.backend == "transformers" else None

    runs = {}
    for label, batch in (("batched", args.batch_size), ("one at a time", 1)):
        generator = LLM(backend=args.backend, model=args.model, batch_size=batch)
        config = {"max_attempts": args.max_attempts, "max_new_tokens": args.max_new_tokens, "temperature": 0.0,
                  "top_p": 1.0, "seed": 0, "chunk_questions": batch}
        shutil.rmtree(warehouse.root / "partials", ignore_errors=True)  # else the other run's attempts are reused
        seconds = materialize([synthetic_traces], warehouse, args.seed_set, {"generator": generator},
                              {"synthetic_traces": {"config": config}})
        attempts = warehouse.read("synthetic_attempts", [args.seed_set]).sort("question_id", "attempt")
        tokens = None if tokenizer is None else sum(
            len(ids) for ids in tokenizer(attempts["response"].to_list(), add_special_tokens=False)["input_ids"])
        runs[label] = (seconds, attempts, warehouse.read("synthetic_traces", [args.seed_set]).height, tokens)

    print(f"synthetic_traces on {questions} {args.seed_set} questions, {args.max_new_tokens} new tokens, "
          f"greedy, up to {args.max_attempts} attempts; backend {args.backend}, "
          f"{'cuda' if torch.cuda.is_available() else f'cpu ({torch.get_num_threads()} threads)'}")
    for label, (seconds, attempts, kept, tokens) in runs.items():
        speed = f", {tokens / seconds:.1f} generated tokens/s" if tokens is not None else ""
        print(f"  {label:>14}: {attempts.height} attempts in {seconds:.1f} s = {attempts.height / seconds:.2f} "
              f"answers/s{speed}; yield {kept}/{questions}")
    (fast, a, _, _), (slow, b, _, _) = runs["batched"], runs["one at a time"]
    print(f"  batched / one at a time: {slow / fast:.2f}x")
    same = a.select("question_id", "attempt", "extracted").equals(b.select("question_id", "attempt", "extracted"))
    print(f"  same extracted answers in both runs: {same}")


if __name__ == "__main__":
    main()
