"""Evaluation: the ten benchmarks' questions (scoring lands here as it is built)."""

import dagster as dg

from medical_assets.assets.accounting import positions, row_accounting_check
from medical_assets.assets.metadata import markdown_table, reasons_markdown
from medical_assets.core.eval_questions import normalize_questions
from medical_assets.eval_sets import EVAL_SET_KEYS, eval_set
from medical_assets.resources.eval_files import EvalFiles
from medical_assets.resources.storage import Warehouse

benchmark_partitions = dg.StaticPartitionsDefinition(list(EVAL_SET_KEYS))


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "eval_questions",
            description="Benchmark questions in one schema (benchmark, question_id, question, options, "
            "answer_idx), one Parquet file per benchmark.",
            partitions_def=benchmark_partitions,
            group_name="evaluation",
            kinds={"polars", "parquet"},
        ),
        dg.AssetSpec(
            "eval_question_rejects",
            description="Benchmark rows that cannot be scored fairly, with the reason and the raw row.",
            partitions_def=benchmark_partitions,
            group_name="evaluation",
            kinds={"polars", "parquet"},
        ),
    ],
    check_specs=[dg.AssetCheckSpec("rows_accounted", asset="eval_questions", blocking=True)],
)
def eval_questions(context: dg.AssetExecutionContext, eval_files: EvalFiles, warehouse: Warehouse):
    """Load one benchmark (a partition) from the harness JSON format; reject malformed rows."""
    spec = eval_set(context.partition_key)
    rows = eval_files.rows(spec)
    questions, rejects = normalize_questions(spec.key, rows)
    warehouse.write("eval_questions", questions, spec.key)
    warehouse.write("eval_question_rejects", rejects, spec.key)
    unique = questions.select("question", "options").unique().height
    yield dg.MaterializeResult(
        asset_key="eval_questions",
        metadata={
            "dagster/row_count": questions.height,
            "unique_questions": unique,
            "origin": eval_files.origin(spec),
            "leaderboard_column": spec.column,
            "preview": dg.MetadataValue.md(markdown_table(questions.drop("options").head(5), max_chars=60)),
        },
    )
    yield dg.MaterializeResult(
        asset_key="eval_question_rejects",
        metadata={"dagster/row_count": rejects.height, "reasons": dg.MetadataValue.md(reasons_markdown(rejects))},
    )
    yield row_accounting_check(
        "rows_accounted", "eval_questions", positions(len(rows), "position"),
        warehouse.scan("eval_questions", [spec.key]), warehouse.scan("eval_question_rejects", [spec.key]),
        ["position"],
    )
