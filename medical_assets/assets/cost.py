"""`recipe_cost`: the whole recipe's compute, projected from throughputs this project measured
(`core/cost.py`): on this machine, from its own materializations, and on a target machine."""

import os
import platform
from pathlib import Path

import dagster as dg
import polars as pl
from pydantic import Field

from medical_assets.assets.metadata import markdown_table, table_value
from medical_assets.core.cost import Assumptions, Throughput, cost_table, gpu_check_rates, recipe_stages
from medical_assets.resources.storage import Warehouse

OWNERS = ["team:training"]
RECENT = 200  # materializations of a stage read for its throughput


class RecipeCostConfig(dg.Config):
    target: str = Field(default="8 x H100", description="The target machine, in words (the table's header).")
    target_devices: int = Field(default=8, ge=1, description="Devices of the target; per-device rates x this.")
    gpu_check_file: str | None = Field(default=None, description="A saved `benchmarks/gpu_check.py --out` file "
                                       "measured on one device of the target (JSON lines).")
    target_rates: dict[str, float] = Field(default_factory=dict, description="Per-device rates of the target by "
                                           "stage key (embedding, kmeans, labelling, generation, sft, dapo, "
                                           "evaluation), in the units of the table; they override the file's.")
    tokens_per_trace: int = Field(default=Assumptions.tokens_per_trace, ge=1,
                                  description="Prompt + response tokens of a mix row (~3.4G tokens / 555k rows).")
    response_tokens: int = Field(default=Assumptions.response_tokens, ge=1, description="Tokens generated per "
                                 "synthetic trace, evaluation answer and DAPO rollout.")
    judge_tokens: int = Field(default=Assumptions.judge_tokens, ge=1,
                              description="Tokens per HealthBench judge reply.")
    dapo_prompts: int = Field(default=Assumptions.dapo_prompts, ge=1,
                              description="Prompts of the DAPO set (the card does not publish it).")


def _records(instance: dg.DagsterInstance, asset: str) -> list[tuple[dict, dg.EventLogRecord]]:
    records = instance.fetch_materializations(dg.AssetKey(asset), limit=RECENT).records
    return [({k: v.value for k, v in r.asset_materialization.metadata.items()}, r) for r in records
            if r.asset_materialization is not None]


def _source(asset: str, record: dg.EventLogRecord, what: str) -> str:
    partition = f"[{record.partition_key}]" if record.partition_key else ""
    return f"{asset}{partition} run {record.run_id[:8]}: {what}"


def measured_rates(instance: dg.DagsterInstance) -> dict[str, Throughput]:
    """This machine's throughputs, from the latest materializations that did the work (rows reused or
    resumed runs measure nothing)."""
    rates: dict[str, Throughput] = {}

    def best(asset: str, rate) -> None:
        for metadata, record in _records(instance, asset):
            found = rate(metadata)
            if found:
                value, what, key = found
                rates[key] = Throughput(value, _source(asset, record, what))
                return

    best("prompt_embeddings", lambda m: m.get("prompts_per_s") and m.get("rows_embedded", 0) >= 100 and (
        m["prompts_per_s"], f"{m['prompts_per_s']} prompts/s over {m['rows_embedded']} prompts", "embedding"))
    best("prompt_clusters", lambda m: m.get("seconds") and (
        m["dagster/row_count"] * m["n_clusters"] * m["niter"] / m["seconds"],
        f"{m['dagster/row_count']} rows x {m['n_clusters']} centroids x {m['niter']} iterations in {m['seconds']} s",
        "kmeans"))
    best("exemplar_domains", lambda m: m.get("exemplars_per_s") and (
        m["exemplars_per_s"], f"{m['exemplars_per_s']} exemplars/s over {m['dagster/row_count']}", "labelling"))
    best("synthetic_traces", lambda m: m.get("attempts_generated") and m.get("seconds") and (
        m["attempts_generated"] * m["decoding"]["max_new_tokens"] / m["seconds"],
        f"{m['attempts_generated']} attempts x at most {m['decoding']['max_new_tokens']} tokens in {m['seconds']} s",
        "generation"))
    best("eval_responses", lambda m: m.get("questions_per_second") and m.get("max_new_tokens") and (
        m["questions_per_second"] * m["max_new_tokens"],
        f"{m['questions_per_second']} answers/s x at most {m['max_new_tokens']} tokens", "evaluation"))
    for stage in ("sft", "dapo"):
        best(f"{stage}_checkpoint", lambda m, stage=stage: m.get("tokens_per_s") and m.get("resumed_from") == "none"
             and (m["tokens_per_s"], f"{m['tokens_per_s']} tokens/s over {m['steps']} steps ({m['precision']})",
                  stage))
    return rates


@dg.asset(deps=["prompt_embeddings", "prompt_clusters", "exemplar_domains", "synthetic_traces", "sft_checkpoint",
                "dapo_checkpoint", "eval_responses"],
          group_name="training", owners=OWNERS, kinds={"polars", "parquet"})
def recipe_cost(context: dg.AssetExecutionContext, config: RecipeCostConfig, warehouse: Warehouse):
    """Hours per stage of the whole recipe (7M R1 prompts embedded and clustered into 50,000, 500,000
    exemplars labelled, 225,700 synthetic traces, 555k rows x 8 epochs of SFT, DAPO, the ten
    benchmarks and HealthBench), on this machine from the throughputs its own materializations
    measured, and on a target machine from a saved `benchmarks/gpu_check.py` output or given
    per-device rates. Every row names where its rate came from and what it assumes; a rate measured
    with at most N tokens per reply overstates tokens/s when replies stop early."""
    assumptions = Assumptions(config.tokens_per_trace, config.response_tokens, config.judge_tokens,
                              config.dapo_prompts)
    here = measured_rates(context.instance)
    target = gpu_check_rates(Path(config.gpu_check_file)) if config.gpu_check_file else {}
    target |= {key: Throughput(value, "config target_rates") for key, value in config.target_rates.items()}
    table = cost_table(recipe_stages(assumptions), here, target, config.target_devices)
    warehouse.write("recipe_cost", table)
    machine = (f"this machine: {os.cpu_count()} CPU cores, {platform.machine()} (CPU figures), with the models its runs "
               "used (the demo: all-MiniLM-L6-v2, SmolLM2-135M), not the recipe's 8B and 32B ones")
    shown = table.select("stage", "unit", pl.col("work").round(0), pl.col("rate_here").round(2),
                         pl.col("hours_here").round(1), pl.col("hours_target").round(2), "source_here")
    hours_here, hours_target = table["hours_here"].sum(), table["hours_target"].sum()
    return dg.MaterializeResult(metadata={
        "dagster/row_count": table.height,
        "here": machine,
        "target": f"{config.target} ({config.target_devices} devices)",
        "hours_here_measured_stages": round(hours_here, 1),
        "hours_target_measured_stages": round(hours_target, 2) if table["hours_target"].is_not_null().any() else None,
        "stages_not_measured_here": ", ".join(table.filter(pl.col("rate_here").is_null())["stage"]) or "none",
        "cost": dg.MetadataValue.md(markdown_table(shown, max_rows=20, max_chars=90)),
        "cost_table": table_value(table),
    })
