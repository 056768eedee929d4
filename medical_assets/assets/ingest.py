"""Stage 0: read every registry source into the canonical trace schema."""


import time

import dagster as dg
import polars as pl

from medical_assets.assets.accounting import positions, row_accounting_check
from medical_assets.assets.metadata import markdown_table, reasons_markdown
from medical_assets.core.canonical import REJECT_SCHEMA, TRACE_SCHEMA
from medical_assets.core.ingest import IngestStats, normalize_stream
from medical_assets.resources.sources import SourceCatalog
from medical_assets.resources.storage import Warehouse
from medical_assets.sources import SOURCE_NAMES, source_spec

source_partitions = dg.StaticPartitionsDefinition(list(SOURCE_NAMES))
OWNERS = ["team:data"]

RAW_TRACES = "raw_traces"
RAW_TRACE_REJECTS = "raw_trace_rejects"
PROGRESS_EVERY_S = 10.0


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
def raw_traces(context: dg.AssetExecutionContext, catalog: SourceCatalog, warehouse: Warehouse):
    """Stream one source (a partition) in bounded chunks into `raw_traces` and `raw_trace_rejects`."""
    spec = catalog.spec(context.partition_key)
    origin = catalog.origin(spec)
    context.log.info(f"{spec.name}: reading {origin} ({spec.part}, {spec.kind})")
    stats = IngestStats()
    started = last_report = time.monotonic()
    with (
        warehouse.commit(RAW_TRACES, spec.name) as stage,  # both tables appear together, or neither
        stage.writer(RAW_TRACES, TRACE_SCHEMA) as kept_out,
        stage.writer(RAW_TRACE_REJECTS, REJECT_SCHEMA) as rejects_out,
    ):
        for kept, rejects in normalize_stream(
            catalog.records(spec), spec.layout, spec.name, origin, catalog.chunk_rows, stats
        ):
            kept_out.write(kept)
            rejects_out.write(rejects)
            if time.monotonic() - last_report > PROGRESS_EVERY_S:
                last_report = time.monotonic()
                context.log.info(
                    f"{spec.name}: {stats.rows_in:,} rows read, {stats.rows_kept:,} kept, "
                    f"{stats.rows_rejected:,} rejected ({stats.rows_in / (last_report - started):,.0f} rows/s)"
                )
    seconds = time.monotonic() - started
    kept_table = warehouse.scan(RAW_TRACES, [spec.name])
    rejects_table = warehouse.scan(RAW_TRACE_REJECTS, [spec.name])
    yield dg.MaterializeResult(
        asset_key=RAW_TRACES,
        metadata={
            "dagster/row_count": stats.rows_kept,
            "rows_in": stats.rows_in,
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
    not_selected = pl.col("reason").str.starts_with("not selected")
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
