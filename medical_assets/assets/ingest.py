"""Stage 0: read every registry source into the canonical trace schema."""


import time
from collections import Counter

import dagster as dg
import polars as pl
from pydantic import Field

from medical_assets.assets.accounting import positions, row_accounting_check
from medical_assets.assets.metadata import markdown_table, reasons_markdown
from medical_assets.core.canonical import TRACE_SCHEMA, empty_rejects
from medical_assets.core.ingest import IngestStats, UnreadableSource, input_gate, normalize_stream
from medical_assets.core.layouts import NOT_SELECTED
from medical_assets.core.rejects import as_rejects
from medical_assets.resources.sources import SourceCatalog
from medical_assets.resources.storage import Warehouse
from medical_assets.sources import SOURCE_NAMES, SourceSpec, source_spec

source_partitions = dg.StaticPartitionsDefinition(list(SOURCE_NAMES))
OWNERS = ["team:data"]

RAW_TRACES = "raw_traces"
RAW_TRACE_REJECTS = "raw_trace_rejects"
PROGRESS_EVERY_S = 10.0
VALUES_SHOWN = 25  # rows of each value-count table


class RawTracesConfig(dg.Config):
    """Run config of raw_traces: the input gate's threshold."""

    max_invalid_percent: float = Field(
        default=50, ge=0, le=100,
        description="Input gate: the partition fails, keeping its previous table, when more than this share "
        "(percent) of the rows the source's filter selects are invalid (bad bytes or JSON, missing or wrong-typed "
        "fields), or when no row is kept. Rows the filter leaves out are not invalid. 0 turns the gate off.")


def value_counts_markdown(counts: Counter) -> str:
    """A value-count table (value, rows), most frequent first."""
    ranked = counts.most_common(VALUES_SHOWN)
    table = pl.DataFrame({"value": [v for v, _ in ranked], "rows": [n for _, n in ranked]},
                         schema={"value": pl.String, "rows": pl.Int64})
    more = len(counts) - len(ranked)
    return markdown_table(table, max_rows=VALUES_SHOWN) + (f"\n\n({more:,} more values)" if more > 0 else "")


def _input_gate(stats: IngestStats, config: RawTracesConfig, origin: str, spec: SourceSpec, finished: bool) -> None:
    """Raise the gate's failure; raised inside the commit block, it discards the new version."""
    problem = input_gate(stats, config.max_invalid_percent, origin, spec.name, spec.layout.keep_if, finished)
    if problem:
        raise dg.Failure(description=problem, metadata=_gate_metadata(stats, config.max_invalid_percent),
                         allow_retries=False)


def _gate_metadata(stats: IngestStats, max_invalid_percent: float) -> dict:
    """What the gate decided on, for the materialization and for a failure alike."""
    return {
        "rows_in": stats.rows_in,
        "rows_kept": stats.rows_kept,
        "rows_not_selected": stats.rows_not_selected,
        "rows_invalid": stats.rows_invalid,
        "invalid_percent": round(stats.invalid_percent, 2),
        "max_invalid_percent": max_invalid_percent,
        "duplicate_rows": stats.duplicate_rows,
        **{f"value_counts_{column}": dg.MetadataValue.md(value_counts_markdown(counts))
           for column, counts in stats.value_counts.items()},
    }


def ingest_rejects(rejects: pl.DataFrame) -> pl.DataFrame:
    """A chunk of the reader's rejects with the audit's leading columns: the evidence is the
    source's field at fault (or the whole record) and the file it was read from."""
    at_fault = pl.col("field").fill_null("the whole record")
    return as_rejects(rejects, "ingest", evidence=pl.format("{} in {}", at_fault, pl.col("file")))


INGEST_REJECT_SCHEMA = dict(ingest_rejects(empty_rejects()).schema)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            RAW_TRACES,
            description="Every source's rows in the canonical trace schema "
            "(sample_id, source, source_row, prompt, reasoning, response, answer), one Parquet file per source.",
            partitions_def=source_partitions,
            group_name="ingest",
            owners=OWNERS,
            kinds={"polars", "parquet"},
        ),
        dg.AssetSpec(
            RAW_TRACE_REJECTS,
            description="Rows of a source that could not become canonical traces: file, row, field and reason, "
            "with the raw record, so nothing is lost.",
            partitions_def=source_partitions,
            group_name="ingest",
            owners=OWNERS,
            kinds={"polars", "parquet"},
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "rows_accounted",
            asset=RAW_TRACES,
            blocking=True,
            description="Rows read = rows kept + rows rejected, recounted from the written files.",
        )
    ],
)
def raw_traces(context: dg.AssetExecutionContext, config: RawTracesConfig, catalog: SourceCatalog,
               warehouse: Warehouse):
    """Stream one source (a partition) in bounded chunks into `raw_traces` and `raw_trace_rejects`.

    Input gate: too many invalid rows (`max_invalid_percent`), or none kept, fail the
    partition and keep the previous tables; the failure names the file, the top reasons
    and what to change."""
    spec = catalog.spec(context.partition_key)
    origin = catalog.origin(spec)
    context.log.info(f"{spec.name}: reading {origin} ({spec.part}, {spec.kind})")
    stats = IngestStats()
    value_columns = dict.fromkeys([*spec.layout.keep_if, *spec.value_count_columns])
    started = last_report = time.monotonic()
    try:
        with (
            warehouse.commit(RAW_TRACES, spec.name) as stage,  # both tables appear together, or neither
            stage.writer(RAW_TRACES, TRACE_SCHEMA) as kept_out,
            stage.writer(RAW_TRACE_REJECTS, INGEST_REJECT_SCHEMA) as rejects_out,
        ):
            for kept, rejects in normalize_stream(
                catalog.records(spec), spec.layout, spec.name, origin, catalog.chunk_rows, stats, value_columns,
                catalog.chunk_bytes,
            ):
                kept_out.write(kept)
                rejects_out.write(ingest_rejects(rejects))
                _input_gate(stats, config, origin, spec, finished=False)
                if time.monotonic() - last_report > PROGRESS_EVERY_S:
                    last_report = time.monotonic()
                    context.log.info(
                        f"{spec.name}: {stats.rows_in:,} rows read, {stats.rows_kept:,} kept, "
                        f"{stats.rows_rejected:,} rejected ({stats.rows_in / (last_report - started):,.0f} rows/s)"
                    )
            _input_gate(stats, config, origin, spec, finished=True)  # before the commit switches
    except UnreadableSource as error:  # a file that cannot be read at all: its message is the failure
        raise dg.Failure(description=str(error)) from error
    seconds = time.monotonic() - started
    kept_table = warehouse.scan(RAW_TRACES, [spec.name])
    rejects_table = warehouse.scan(RAW_TRACE_REJECTS, [spec.name])
    yield dg.MaterializeResult(
        asset_key=RAW_TRACES,
        metadata={
            "dagster/row_count": stats.rows_kept,
            **_gate_metadata(stats, config.max_invalid_percent),
            "rows_rejected": stats.rows_rejected,
            "part": spec.part,
            "origin": origin,
            "hub_id": spec.hub_id,
            "unconfirmed_mapping": ", ".join(spec.unconfirmed) or "none",
            "rows_per_second": round(stats.rows_in / max(seconds, 1e-9)),
            "path": dg.MetadataValue.path(str(warehouse.table_path(RAW_TRACES, spec.name))),
            "preview": dg.MetadataValue.md(markdown_table(kept_table.head(5).collect(), max_chars=60)),
        },
    )
    yield dg.MaterializeResult(
        asset_key=RAW_TRACE_REJECTS,
        metadata={
            "dagster/row_count": stats.rows_rejected,
            "reasons": dg.MetadataValue.md(reasons_markdown(rejects_table)),
            "path": dg.MetadataValue.path(str(warehouse.table_path(RAW_TRACE_REJECTS, spec.name))),
        },
    )
    yield row_accounting_check(
        "rows_accounted", RAW_TRACES, positions(stats.rows_in, "source_row"), kept_table, rejects_table, ["source_row"]
    )


@dg.asset(group_name="ingest", owners=OWNERS, kinds={"polars", "parquet"},
          automation_condition=dg.AutomationCondition.eager())
def source_summary(raw_traces: pl.LazyFrame, raw_trace_rejects: pl.LazyFrame) -> dg.Output[pl.DataFrame]:
    """Per source: its part of the mix, rows kept, rows not selected by the source's filter,
    invalid rows, and how many traces carry reasoning, a final answer and a gold answer."""
    parts = pl.LazyFrame({"source": list(SOURCE_NAMES), "part": [source_spec(n).part for n in SOURCE_NAMES]})
    kept = raw_traces.group_by("source").agg(
        rows_kept=pl.len(),
        with_reasoning=pl.col("reasoning").is_not_null().sum(),
        without_final_answer=pl.col("response").is_null().sum(),
        with_gold_answer=pl.col("answer").is_not_null().sum(),
    )
    not_selected = pl.col("reason").str.starts_with(NOT_SELECTED)
    rejected = raw_trace_rejects.group_by("source").agg(
        rows_rejected=pl.len(), rows_not_selected=not_selected.sum(), rows_invalid=(~not_selected).sum()
    )
    summary = (
        parts.join(kept, on="source", how="left")
        .join(rejected, on="source", how="left")
        .with_columns(pl.col(pl.UInt32).fill_null(0).cast(pl.Int64))
        .with_columns(rows_in=pl.col("rows_kept") + pl.col("rows_rejected"))
        .select("source", "part", "rows_in", "rows_kept", "rows_not_selected", "rows_invalid", "with_reasoning",
                "without_final_answer", "with_gold_answer")
        .collect()
    )
    return dg.Output(summary, metadata={"summary": dg.MetadataValue.md(markdown_table(summary, max_rows=100))})
