"""`make demo`: materialize the whole asset graph on the bundled demo corpus.

Runs are recorded in the Dagster instance of $DAGSTER_HOME, so `make ui`
shows them afterwards. Partitioned stages run one partition per run, in
graph order; the script ends by printing where the results are and how to
query them.
"""

from __future__ import annotations

import sys
import time

import dagster as dg
import polars as pl

from medical_assets.assets.curation import R1_SOURCES
from medical_assets.definitions import defs, warehouse
from medical_assets.eval_sets import EVAL_SET_KEYS
from medical_assets.sources import SOURCE_NAMES

EXAMPLE_QUERIES = (
    "-- rows kept, not selected and invalid per source\nSELECT * FROM source_summary ORDER BY part, source;",
    "-- why rows were rejected at ingestion\n"
    "SELECT source, field, reason, count(*) AS n FROM raw_trace_rejects GROUP BY ALL ORDER BY n DESC;",
    "-- benchmark questions per set, and the rows rejected as malformed\n"
    "SELECT q.benchmark, count(*) AS questions, count(DISTINCT q.question) AS unique_questions,\n"
    "       (SELECT count(*) FROM eval_question_rejects r WHERE r.benchmark = q.benchmark) AS rejected\n"
    "FROM eval_questions q GROUP BY q.benchmark ORDER BY q.benchmark;",
    "-- one trace, traced back to its raw row\n"
    "SELECT sample_id, source, source_row, left(prompt, 80) AS prompt, left(response, 60) AS response\n"
    "FROM raw_traces WHERE source = 'openthoughts2' ORDER BY source_row LIMIT 5;",
)


# The event log keeps everything (see `make ui`); the terminal shows warnings and the summary.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}

# Run config of the demo, by op: the recipe's defaults are for millions of rows and 8B-32B models.
DEMO_OPS: dict[str, dict] = {
    "prompt_clusters": {"config": {"n_clusters": 32}},  # ~2,400 R1 prompts; the recipe: 50,000 clusters
    "exemplar_domains": {"config": {"max_prompt_chars": 400}},
}


def _run(instance: dg.DagsterInstance, selection: list[str], partition: str | None = None) -> None:
    job = defs.resolve_implicit_global_asset_job_def()
    started = time.monotonic()
    result = job.execute_in_process(
        instance=instance, asset_selection=[dg.AssetKey(name) for name in selection], partition_key=partition,
        raise_on_error=False, run_config={**QUIET, "ops": {op: DEMO_OPS[op] for op in selection if op in DEMO_OPS}},
    )
    label = f"{', '.join(selection)}" + (f" [{partition}]" if partition else "")
    if not result.success:
        print(f"FAILED: {label} (run {result.run_id}; see `make ui` for the event log)", file=sys.stderr)
        raise SystemExit(1)
    print(f"  {label}: {time.monotonic() - started:.1f}s")


def demo_steps() -> list[tuple[list[str], str | None]]:
    """The runs of the demo, in graph order: (assets, partition or None)."""
    steps: list[tuple[list[str], str | None]] = [(["raw_traces", "raw_trace_rejects"], s) for s in SOURCE_NAMES]
    steps += [(["source_summary"], None)]
    steps += [(["prompt_embeddings"], s) for s in R1_SOURCES]
    steps += [([name], None) for name in ("prompt_clusters", "cluster_exemplars", "exemplar_domains", "cluster_domains")]
    steps += [(["domain_traces", "domain_rejects"], None)]
    steps += [(["candidate_traces"], None), (["quality_traces", "quality_rejects"], None)]
    steps += [(["eval_questions", "eval_question_rejects"], b) for b in EVAL_SET_KEYS]
    steps += [(["ngram_matches", "fuzzy_matches"], None), (["decontaminated_traces", "decontamination_rejects"], None),
              (["contamination_report"], None)]
    return steps


def main() -> None:
    instance = dg.DagsterInstance.get()
    print(f"Materializing the asset graph into {warehouse.root}")
    for selection, partition in demo_steps():
        _run(instance, selection, partition)
    warehouse.refresh_views()
    with pl.Config(tbl_rows=100, tbl_width_chars=200, tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
        print()
        print(warehouse.read("source_summary"))
    print(f"\nParquet tables: {warehouse.root / 'tables'}")
    print(f"DuckDB file:    {warehouse.duckdb_path}")
    print(f"Dagster home:   {instance.root_directory}")
    print(f"\nQuery it with `make sql` or any DuckDB client on {warehouse.duckdb_path}, for example:\n")
    for query in EXAMPLE_QUERIES:
        print(query + "\n")


if __name__ == "__main__":
    main()
