"""Preprocessing: every trace that can reach the mix passes the recipe's quality filters."""

import dagster as dg
import numpy as np
import polars as pl
from pydantic import Field

from medical_assets.assets.accounting import row_accounting_check
from medical_assets.assets.metadata import chart_metadata, markdown_table, table_value
from medical_assets.assets.synthetic import SEED_SETS
from medical_assets.core import charts
from medical_assets.core.quality import apply_filters, recipe_filters, wait_count_expr, wait_threshold
from medical_assets.core.rejects import as_rejects
from medical_assets.recipe import RECIPE
from medical_assets.resources.storage import Warehouse
from medical_assets.sources import SOURCES

PART_OF = pl.DataFrame({"source": [s.name for s in SOURCES], "part": [s.part for s in SOURCES]})
ROW_KEYS = ["source", "source_row"]
OWNERS = ["team:curation"]
WAIT_BINS = [0, 1, 5, 10, 20, RECIPE.preprocessing.max_wait_count + 1, 100]  # a bin ends at the card's limit


class QualityConfig(dg.Config):
    max_wait: float | None = Field(
        default=None, ge=0, description="Fixed Wait limit (traces with more 'Wait' are removed; the card's: 47); "
        "by default the percentile below, measured on this corpus."
    )
    wait_percentile: float = Field(default=RECIPE.preprocessing.wait_percentile, ge=0, le=100,
                                   description="Percentile of the corpus's Wait counts that sets the limit (0-100).")
    min_prompt_words_exclusive: int = Field(default=RECIPE.preprocessing.min_prompt_words_exclusive, ge=0,
                                            description="A prompt needs more words than this (a CJK character "
                                            "counts as a word).")


@dg.asset(
    deps=["domain_traces", "public_medical_traces", "math_traces", "synthetic_traces"],
    group_name="preprocessing",
    owners=OWNERS,
    kinds={"polars", "parquet"},
)
def candidate_traces(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """Every trace that can enter the SFT mix, with its `part`: the curated R1 traces that the
    domain curation kept (Medical and Biology clusters), the answer-verified synthetic QA traces,
    the public medical sets whole and the math supplement's sample. All of them pass the same
    filters and decontamination downstream.
    """
    columns = warehouse.scan("public_medical_traces").collect_schema().names()
    traces = pl.concat([
        warehouse.scan("domain_traces").select(columns),
        warehouse.scan("public_medical_traces"),
        warehouse.scan("math_traces").select(columns),
        warehouse.scan("synthetic_traces", SEED_SETS).select(columns),
    ]).join(PART_OF.lazy(), on="source", how="left", maintain_order="left")  # streams the traces (curation.py)
    path = warehouse.sink("candidate_traces", traces)
    per_part = pl.scan_parquet(path).group_by("part", "source").len("rows").sort("part", "source").collect()
    return dg.MaterializeResult(
        metadata={"dagster/row_count": int(per_part["rows"].sum()), "rows_by_source": dg.MetadataValue.md(
            markdown_table(per_part, max_rows=50))}
    )


@dg.multi_asset(
    specs=[
        dg.AssetSpec("quality_traces", deps=["candidate_traces"], group_name="preprocessing", owners=OWNERS,
                     kinds={"polars", "parquet"},
                     description="Candidate traces that are complete, have prompts of more than "
                     f"{RECIPE.preprocessing.min_prompt_words_exclusive} words, and at most N 'Wait' (N the corpus's "
                     f"{RECIPE.preprocessing.wait_percentile:g}th percentile)."),
        dg.AssetSpec("quality_rejects", deps=["candidate_traces"], group_name="preprocessing", owners=OWNERS,
                     kinds={"polars", "parquet"},
                     description="Traces removed by a quality filter: the filter, the measured value, the threshold "
                     "and the rule in words."),
    ],
    check_specs=[dg.AssetCheckSpec("rows_accounted", asset="quality_traces", blocking=True)],
)
def quality_traces(context: dg.AssetExecutionContext, config: QualityConfig, warehouse: Warehouse):
    """The recipe's preprocessing filters, each a named unit with its rows in and out."""
    candidates = warehouse.scan("candidate_traces")
    waits = candidates.select(wait_count_expr().alias("wait")).collect(engine="streaming")["wait"]  # an int a row
    measured_limit = wait_threshold(waits, config.wait_percentile)
    limit = config.max_wait if config.max_wait is not None else measured_limit
    filters = recipe_filters(config.min_prompt_words_exclusive, limit)

    def outputs(traces: pl.LazyFrame) -> dict[str, pl.LazyFrame]:
        kept, rejected = apply_filters(traces, filters)
        return {"quality_traces": kept, "quality_rejects": as_rejects(
            rejected.select("sample_id", *ROW_KEYS, "part", "filter", "value", "threshold", "rule"), "quality",
            reason="filter", evidence=pl.format("measured {}, kept when {}", pl.col("value"), pl.col("rule")),
        )}

    with warehouse.commit("quality_traces") as stage:  # one pass over the candidates, a row group at a time
        stage.split("candidate_traces", outputs)
    stored_rejects = warehouse.scan("quality_rejects")
    funnel = _funnel(waits.len(), stored_rejects, [f.name for f in filters])
    yield dg.MaterializeResult(
        asset_key="quality_traces",
        metadata={
            "dagster/row_count": warehouse.count("quality_traces"),
            "rows_removed": warehouse.count("quality_rejects"),
            "wait_limit": limit,
            "wait_percentile": config.wait_percentile,
            "wait_limit_measured": measured_limit,
            "wait_limit_card": RECIPE.preprocessing.max_wait_count,
            "wait_histogram": dg.MetadataValue.md(_histogram(waits)),
            **_wait_chart(waits, limit),
            "funnel": dg.MetadataValue.md(markdown_table(funnel)),
            "filters": table_value(funnel.with_columns(threshold=pl.Series([float(f.threshold) for f in filters]),
                                                       rule=pl.Series([f.rule for f in filters]))),
        },
    )
    yield dg.MaterializeResult(
        asset_key="quality_rejects", metadata={"dagster/row_count": warehouse.count("quality_rejects")}
    )
    yield row_accounting_check("rows_accounted", "quality_traces", candidates, warehouse.scan("quality_traces"),
                               stored_rejects, ROW_KEYS)


def _funnel(rows_in: int, rejects: pl.LazyFrame, filter_names: list[str]) -> pl.DataFrame:
    counts = dict(rejects.group_by("filter").len().collect().iter_rows())
    rows, remaining = [], rows_in
    for name in filter_names:
        removed = counts.get(name, 0)
        rows.append({"filter": name, "rows_in": remaining, "removed": removed, "rows_out": remaining - removed})
        remaining -= removed
    return pl.DataFrame(rows)


def _wait_chart(waits: pl.Series, limit: float) -> dict:
    """The Wait histogram with the limit used and the card's as lines; traces per Wait count beside it."""
    counts_per_trace = waits.to_list()
    figure = charts.wait_histogram(counts_per_trace, limit, RECIPE.preprocessing.max_wait_count)
    edges = charts.wait_bin_edges(counts_per_trace, limit, RECIPE.preprocessing.max_wait_count)
    counts, _ = np.histogram(waits.to_numpy(), bins=edges)
    bins = pl.DataFrame({"wait_from": edges[:-1], "wait_to": edges[1:], "traces": counts},
                        schema={"wait_from": pl.Float64, "wait_to": pl.Float64, "traces": pl.Int64})
    return chart_metadata("wait_chart", figure, "Wait count per trace with the limit used and the card's",
                          bins.filter(pl.col("traces") > 0))


def _histogram(waits: pl.Series) -> str:
    edges = [*WAIT_BINS, float("inf")]
    labels = [f"{lo}" if hi - lo == 1 else f"{lo}-{int(hi) - 1}" if hi != float("inf") else f">= {lo}"
              for lo, hi in zip(edges, edges[1:])]
    counts = [int(((waits >= lo) & (waits < hi)).sum()) for lo, hi in zip(edges, edges[1:])]
    return markdown_table(pl.DataFrame({"Wait count": labels, "traces": counts}))
