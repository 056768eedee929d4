"""`make demo`: materialize the whole asset graph on the bundled demo corpus.

Runs are recorded in the Dagster instance of $DAGSTER_HOME, so `make ui`
shows them afterwards. Partitioned stages run one partition per run, in
graph order; the embedded SmolLM2 is registered as a model and evaluated on
the ten benchmarks and HealthBench. The script ends by printing where the
results are, how to query them, and the leaderboard.

`--profile test` runs the same stages and code paths with fewer rows, tokens and steps
(`PROFILES["test"]`): the test suite's demo fixture.
"""

from __future__ import annotations

import argparse
import sys
import time

import dagster as dg
import polars as pl
import yaml

from medical_assets.assets.audit import create_audit_views
from medical_assets.assets.curation import R1_SOURCES
from medical_assets.assets.synthetic import SEED_SETS
from medical_assets.definitions import defs, warehouse
from medical_assets.eval_sets import EVAL_SET_KEYS, EVAL_SETS
from medical_assets.models import EMBEDDED_MODEL, ModelSpec, evaluation_partitions, register_model
from medical_assets.sensors import checkpoint_model, fail_dead_runs
from medical_assets.sources import SOURCE_NAMES
from medical_assets.train import CONFIGS

EXAMPLE_QUERIES = (
    "-- rows kept, not selected and invalid per source\nSELECT * FROM source_summary ORDER BY part, source;",
    "-- why rows were rejected at ingestion\n"
    "SELECT source, field, reason, count(*) AS n FROM raw_trace_rejects GROUP BY ALL ORDER BY n DESC;",
    "-- benchmark questions per set, and the rows rejected as malformed\n"
    "SELECT q.benchmark, count(*) AS questions, count(DISTINCT q.question) AS unique_questions,\n"
    "       (SELECT count(*) FROM eval_question_rejects r WHERE r.benchmark = q.benchmark) AS rejected\n"
    "FROM eval_questions q GROUP BY q.benchmark ORDER BY q.benchmark;",
    "-- one row of the SFT mix, back through every stage to its raw source row\n"
    "SELECT m.part, m.source, m.source_row, m.sample_id, m.tokens, c.part AS candidate_part,\n"
    "       dt.cluster, dt.domain, left(r.prompt, 60) AS raw_prompt\n"
    "FROM sft_mix m\n"
    "JOIN decontaminated_traces USING (sample_id, source, source_row)\n"
    "JOIN quality_traces USING (sample_id, source, source_row)\n"
    "JOIN candidate_traces c USING (sample_id, source, source_row)\n"
    "LEFT JOIN domain_traces dt USING (sample_id, source, source_row)\n"
    "JOIN raw_traces r ON r.source = m.source AND r.source_row = m.source_row\n"
    "WHERE m.part = 'curated_r1' ORDER BY m.sample_id LIMIT 1;",
    "-- one trace, traced back to its raw row\n"
    "SELECT sample_id, source, source_row, left(prompt, 80) AS prompt, left(response, 60) AS response\n"
    "FROM raw_traces WHERE source = 'openthoughts2' ORDER BY source_row LIMIT 5;",
    "-- each model's score per benchmark: strict, with its 95% interval and how many responses stated no answer,\n"
    "-- and the published harness's verdict (comparable with the model card) with the gap in points\n"
    "SELECT model, benchmark, rows, round(100 * accuracy, 2) AS strict, round(100 * ci_low, 1) AS low,\n"
    "       round(100 * ci_high, 1) AS high, unanswered, round(100 * accuracy_ii_medical, 2) AS harness,\n"
    "       round(gap_points, 2) AS gap FROM benchmark_scores ORDER BY model, benchmark;",
    "-- the leaderboard: evaluated models beside the model card's II-Medical-8B\n"
    "SELECT model, reference, round(Avg, 2) AS Avg, Avg_stated, round(HealthBench, 1) AS HealthBench, missing\n"
    "FROM leaderboard ORDER BY reference, model;",
)


# The event log keeps everything (see `make ui`); the terminal shows warnings and the summary.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}

TRAINING_DEMO_OPS: dict[str, dict] = yaml.safe_load((CONFIGS / "demo.yaml").read_text(encoding="utf-8"))["ops"]

# Run config of the demo, by op: the recipe's defaults are for millions of rows and 8B-32B models.
DEMO_OPS: dict[str, dict] = {
    "prompt_clusters": {"config": {"n_clusters": 32}},  # ~2,400 R1 prompts; the recipe: 50,000 clusters
    "exemplar_domains": {"config": {"max_prompt_chars": 400}},
    "synthetic_seed_questions": {"config": {"sample_size": 4}},  # the recipe: 183,000 / 10,000 / 32,700
    "synthetic_traces": {"config": {"max_attempts": 2, "max_new_tokens": 32, "chunk_questions": 8}},
    # A few CPU steps through the real Pipes + TRL + DeepSpeed path (the recipe: 8 epochs, batch 128, 16k tokens),
    # as train/configs/demo.yaml sets them.
    **TRAINING_DEMO_OPS,
    # A 135M model on 2 CPU cores: short answers (the recipe allows 30,768 tokens), one sample per question.
    # The first 10 rows of each file (the leaderboard's `partial` says so); all rows: drop max_questions.
    "eval_responses": {"config": {"max_new_tokens": 24, "questions_per_chunk": 64, "max_questions": 10}},
    "healthbench_scores": {"config": {"max_new_tokens": 48, "judge_max_new_tokens": 48, "judge_retries": 1,
                                      "max_examples": 2}},
}


# The test suite's demo: every stage on the same corpus, with fewer exemplars to label, seed questions,
# training steps, tokens and benchmark rows; ops not named here keep DEMO_OPS.
TEST_OPS: dict[str, dict] = {
    "cluster_exemplars": {"config": {"per_cluster": 4}},
    "exemplar_domains": {"config": {"max_prompt_chars": 200}},
    "synthetic_seed_questions": {"config": {"sample_size": 2}},
    "synthetic_traces": {"config": {"max_attempts": 2, "max_new_tokens": 24, "chunk_questions": 8}},
    "sft_checkpoint": {"config": {**DEMO_OPS["sft_checkpoint"]["config"], "max_rows": 16, "max_length": 256,
                                  "max_steps": 2}},
    "dapo_prompts": {"config": {"max_prompts": 8}},
    "dapo_checkpoint": {"config": {**DEMO_OPS["dapo_checkpoint"]["config"], "max_completion_length": 24,
                                   "overlong_buffer": 8}},
    "eval_responses": {"config": {"max_new_tokens": 16, "questions_per_chunk": 64, "max_questions": 4}},
    "healthbench_scores": {"config": {"max_new_tokens": 24, "judge_max_new_tokens": 32, "judge_retries": 1,
                                      "max_examples": 1}},
}
PROFILES: dict[str, dict[str, dict]] = {"full": DEMO_OPS, "test": {**DEMO_OPS, **TEST_OPS}}


def _run(instance: dg.DagsterInstance, ops: dict[str, dict], selection: list[str], partition: str | None) -> None:
    job = defs.resolve_implicit_global_asset_job_def()
    started = time.monotonic()
    result = job.execute_in_process(
        instance=instance, asset_selection=[dg.AssetKey(name) for name in selection], partition_key=partition,
        raise_on_error=False, run_config={**QUIET, "ops": {op: ops[op] for op in selection if op in ops}},
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
    steps += [(["synthetic_seed_questions", "synthetic_seed_rejects"], s) for s in SEED_SETS]
    steps += [(["synthetic_traces", "synthetic_attempts", "synthetic_rejects"], s) for s in SEED_SETS]
    steps += [(["public_medical_traces"], None), (["math_traces", "math_rejects"], None)]
    steps += [(["candidate_traces"], None), (["quality_traces", "quality_rejects"], None)]
    steps += [(["eval_questions", "eval_question_rejects"], b) for b in EVAL_SET_KEYS]
    steps += [(["healthbench_examples", "healthbench_rejects"], None)]
    steps += [(["ngram_matches", "fuzzy_matches", "semantic_matches"], None), (["decontaminated_traces", "decontamination_rejects"], None),
              (["contamination_report"], None), (["sft_mix", "sft_mix_rejects", "sft_messages"], None)]
    steps += [(["base_model"], None), (["sft_checkpoint"], None), (["dapo_prompts", "dapo_prompt_rejects"], None),
              (["dapo_checkpoint"], None)]
    steps += [(["eval_responses", "benchmark_scores"], key) for key in evaluation_partitions(EMBEDDED_MODEL)]
    steps += [(["healthbench_grades", "healthbench_scores"], EMBEDDED_MODEL), (["leaderboard"], None),
              (["model_card"], None), (["recipe_cost"], None)]
    return steps


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Materialize the asset graph on the bundled demo corpus.")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full",
                        help="full: `make demo`; test: the same stages with fewer rows, tokens and steps")
    profile = parser.parse_args(argv).profile
    instance = dg.DagsterInstance.get()
    for run_id in fail_dead_runs(instance, min_age_s=0):
        print(f"run {run_id} of an earlier demo was killed: marked failed")
    print(f"Materializing the asset graph into {warehouse.root} (profile {profile})")
    register_model(ModelSpec(EMBEDDED_MODEL), instance, warehouse.root)  # the model evaluated by the demo
    started = time.monotonic()
    for selection, partition in demo_steps():
        _run(instance, PROFILES[profile], selection, partition)
    print(f"  all {len(demo_steps())} runs: {time.monotonic() - started:.0f}s")
    checkpoints = _register_checkpoints(instance)
    warehouse.refresh_views()
    create_audit_views(warehouse)
    with pl.Config(tbl_rows=100, tbl_width_chars=200, tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
        print()
        print(warehouse.read("source_summary"))
    print(f"\nParquet tables: {warehouse.root / 'tables'}")
    print(f"DuckDB file:    {warehouse.duckdb_path}")
    print(f"Dagster home:   {instance.root_directory}")
    print(f"\nQuery it with `make sql` or any DuckDB client on {warehouse.duckdb_path}, for example:\n")
    for query in EXAMPLE_QUERIES:
        print(query + "\n")
    _print_leaderboard()
    cards = sorted((warehouse.root / "model_cards").glob("*.md"))
    if cards:
        print(f"\nModel card (Markdown, also in the UI on model_card): {', '.join(map(str, cards))}")
    if checkpoints:
        print(f"\nThe demo's checkpoints are registered as models ({', '.join(checkpoints)}); evaluate one on the ten "
              "benchmarks with `make ui` running:\n  .venv/bin/dagster job backfill -w workspace.yaml -j evaluate_model "
              f"--noprompt --partitions \"$(.venv/bin/python -m medical_assets.models partitions {checkpoints[0]})\"")


def _register_checkpoints(instance: dg.DagsterInstance) -> list[str]:
    """The trained checkpoints as models under evaluation, as `checkpoint_evaluation_sensor` does
    when the daemon runs (the demo runs in process, without it): names only, not evaluated here."""
    names = []
    for stage in ("sft", "dapo"):
        event = instance.get_latest_materialization_event(dg.AssetKey(f"{stage}_checkpoint"))
        spec = checkpoint_model(stage, event, warehouse.root) if event else None
        if spec is not None:
            register_model(spec, instance, warehouse.root)
            names.append(spec.name)
    return names


def _print_leaderboard() -> None:
    columns = [spec.column for spec in EVAL_SETS]
    table = warehouse.read("leaderboard").select("model", *columns, "Avg", "Avg_stated", "HealthBench", "partial")
    print("Leaderboard (accuracy %; 95% intervals, missing benchmarks and decoding in the `leaderboard` view):")
    with pl.Config(tbl_rows=20, tbl_cols=-1, tbl_width_chars=250, tbl_hide_dataframe_shape=True,
                   tbl_hide_column_data_types=True, float_precision=2):
        print(table)


if __name__ == "__main__":
    main()
