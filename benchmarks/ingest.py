"""Ingest benchmark: a generated JSONL of N rows (default 1,000,000) through the
raw_traces asset (a real Dagster materialization), against the naive script
that loads the whole file into Python objects first.

    .venv/bin/python benchmarks/ingest.py [--rows 1000000] [--keep]

Prints rows/s and peak RSS of each, measured in separate child processes in
the same run, and their ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = (
    "patient presents with fever cough dyspnea chest pain hypertension insulin renal hepatic cardiac "
    "enzyme protein membrane mitochondria reaction acid base equilibrium integral derivative function "
    "matrix vector algorithm python loop recursion therefore because however consider likely answer"
).split()


def generate(path: Path, rows: int, seed: int = 0) -> None:
    """OpenThoughts2-layout rows (~1 KB each), a few bad ones sprinkled in."""
    rng = random.Random(seed)
    templates = []
    for _ in range(500):
        prompt = " ".join(rng.choices(WORDS, k=rng.randint(8, 40))) + "?"
        reasoning = " ".join(rng.choices(WORDS, k=rng.randint(60, 200)))
        answer = " ".join(rng.choices(WORDS, k=rng.randint(3, 20)))
        templates.append((prompt, f"<think>\n{reasoning}\n</think>\n\n{answer}"))
    with path.open("w", encoding="utf-8") as handle:
        for row in range(rows):
            if row % 100_000 == 99_999:
                handle.write("{not json\n")
                continue
            prompt, assistant = templates[row % len(templates)]
            record = {"conversations": [{"from": "user", "value": f"{prompt} (case {row})"},
                                        {"from": "assistant", "value": assistant}], "id": row}
            handle.write(json.dumps(record) + "\n")


def run_ours(path: str, home: str) -> dict:
    import dagster as dg

    os.environ["MEDICAL_ASSETS_HOME"] = home
    overrides = Path(home) / "overrides.yaml"
    overrides.write_text(f"openthoughts2:\n  path: {path}\n")
    os.environ["MEDICAL_ASSETS_SOURCE_OVERRIDES"] = str(overrides)
    from medical_assets.definitions import defs, warehouse

    job = defs.resolve_implicit_global_asset_job_def()
    started = time.perf_counter()
    result = job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        asset_selection=[dg.AssetKey("raw_traces"), dg.AssetKey("raw_trace_rejects")],
        partition_key="openthoughts2",
    )
    seconds = time.perf_counter() - started
    assert result.success
    kept = warehouse.scan("raw_traces").select("sample_id").collect().height
    rejected = warehouse.scan("raw_trace_rejects").select("source_row").collect().height
    return {"seconds": seconds, "kept": kept, "rejected": rejected}


def run_naive(path: str, home: str) -> dict:
    """The usual script: json.loads every line into a list, map it, build one frame, write it."""
    import polars as pl

    started = time.perf_counter()
    records = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    rows = []
    for record in records:
        turns = {t["from"]: t["value"] for t in record["conversations"]}
        reasoning, _, response = turns["assistant"].partition("</think>")
        rows.append({"prompt": turns["user"], "reasoning": reasoning.removeprefix("<think>").strip(),
                     "response": response.strip()})
    frame = pl.DataFrame(rows)
    frame.write_parquet(Path(home) / "naive.parquet")
    return {"seconds": time.perf_counter() - started, "kept": frame.height, "rejected": None}


def child(kind: str, path: str, home: str) -> None:
    result = {"ours": run_ours, "naive": run_naive}[kind](path, home)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result))


def measure(kind: str, path: Path, home: Path) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--path", str(path), "--home", str(home)],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(next(line for line in output.splitlines() if line.startswith("RESULT "))[7:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the generated file and outputs")
    parser.add_argument("--child"), parser.add_argument("--path"), parser.add_argument("--home")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.path, args.home)
        return
    work = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    source = work / "openthoughts2.jsonl"
    started = time.perf_counter()
    generate(source, args.rows)
    size_mb = source.stat().st_size / 2**20
    print(f"generated {args.rows:,} rows, {size_mb:,.0f} MB in {time.perf_counter() - started:.1f}s: {source}")
    results = {}
    for kind in ("ours", "naive"):
        home = work / kind
        home.mkdir()
        results[kind] = measure(kind, source, home)
        r = results[kind]
        print(f"{kind:>5}: {args.rows / r['seconds']:>10,.0f} rows/s  {r['seconds']:7.1f}s  "
              f"peak RSS {r['peak_rss_mb']:7,.0f} MB  kept {r['kept']:,}  rejected {r['rejected']}")
    ours, naive = results["ours"], results["naive"]
    print(f"speed ratio ours/naive: {naive['seconds'] / ours['seconds']:.2f}x   "
          f"peak memory ratio naive/ours: {naive['peak_rss_mb'] / ours['peak_rss_mb']:.1f}x")
    if not args.keep:
        subprocess.run(["rm", "-rf", str(work)], check=True)


if __name__ == "__main__":
    main()
