"""Evaluation on the ten benchmarks: questions, each model's responses, scores, the leaderboard.

Responses and scores are partitioned by model (the `models` dynamic partitions, see
`medical_assets.models`) x benchmark; the leaderboard puts every evaluated model beside
the model card's II-Medical-8B row.
"""

import shutil
import time
from pathlib import Path
from typing import Literal

import dagster as dg
import polars as pl
from pydantic import Field

from medical_assets.assets.accounting import positions, row_accounting_check
from medical_assets.assets.generation import Chunk, Progress, generate_chunks
from medical_assets.assets.metadata import (
    bar_chart, chart_metadata, leaderboard_markdown, markdown_table, reasons_markdown,
)
from medical_assets.core import charts
from medical_assets.core import scores
from medical_assets.core.eval_questions import normalize_questions, prompt_template_hash, questions_hash, with_prompts
from medical_assets.core.rejects import as_rejects
from medical_assets.eval_sets import EVAL_SET_KEYS, EVAL_SETS, eval_set
from medical_assets.models import loaded_revision, model_partitions, model_spec
from medical_assets.recipe import RECIPE
from medical_assets.resources.eval_files import EvalFiles
from medical_assets.resources.llm import LLM
from medical_assets.resources.storage import Warehouse

benchmark_partitions = dg.StaticPartitionsDefinition(list(EVAL_SET_KEYS))
OWNERS = ["team:evaluation"]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "eval_questions",
            description="Benchmark questions in one schema (benchmark, question_id, question, options, "
            "answer_idx), one Parquet file per benchmark.",
            partitions_def=benchmark_partitions,
            group_name="evaluation",
            owners=OWNERS,
            kinds={"polars", "parquet"},
        ),
        dg.AssetSpec(
            "eval_question_rejects",
            description="Benchmark rows that cannot be scored fairly, with the reason and the raw row.",
            partitions_def=benchmark_partitions,
            group_name="evaluation",
            owners=OWNERS,
            kinds={"polars", "parquet"},
        ),
    ],
    check_specs=[dg.AssetCheckSpec("rows_accounted", asset="eval_questions", blocking=True)],
)
def eval_questions(context: dg.AssetExecutionContext, eval_files: EvalFiles, warehouse: Warehouse):
    """Load one benchmark (a partition) from the harness JSON format; reject malformed rows. A
    benchmark with no question that can be scored fails and leaves the stored tables as they were."""
    spec = eval_set(context.partition_key)
    rows = eval_files.rows(spec)
    questions, rejects = normalize_questions(spec.key, rows, spec.question_ends_at)
    if questions.height == 0:
        found = (f"{'its only row is' if len(rows) == 1 else f'all {len(rows):,} rows are'} rejected (first: row "
                 f"{rejects['position'][0]}, {rejects['field'][0] or 'the row'}: {rejects['reason'][0]})"
                 if rows else "its list is empty")
        raise dg.Failure(
            f"{eval_files.origin(spec)}: benchmark {spec.harness_name!r} has no question that can be scored: {found}; "
            f"fix the file, or point the eval files at the harness's. The stored {spec.key} tables are unchanged.",
            metadata={"reasons": dg.MetadataValue.md(reasons_markdown(rejects))})
    with warehouse.commit("eval_questions", spec.key) as stage:
        stage.write("eval_questions", questions)
        stage.write("eval_question_rejects", as_rejects(rejects, "eval_questions", source="benchmark",
                                                        source_row="position", evidence="field"))
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


model_benchmark_partitions = dg.MultiPartitionsDefinition({"model": model_partitions, "benchmark": benchmark_partitions})
EVALUATION = RECIPE.evaluation


class EvalConfig(dg.Config):
    """How responses are generated; every field but `questions_per_chunk` and `reuse_responses`
    is part of the settings hash that decides which stored responses can be reused."""

    max_new_tokens: int = Field(default=EVALUATION.max_new_tokens, ge=1,
                                description="Tokens per response, reasoning included.")
    samples_per_question: int = Field(default=1, ge=1, description="Rollouts per question; a row scores their mean.")
    temperature: float = Field(default=EVALUATION.temperature, ge=0, description="Sampling temperature (0: greedy).")
    top_p: float = Field(default=EVALUATION.top_p, gt=0, le=1, description="Nucleus sampling, in (0, 1].")
    seed: int = Field(default=0, description="Chunk k samples with seed + k.")
    questions_per_chunk: int = Field(default=64, ge=1, description="Questions generated in one call, then stored: "
                                     "the unit of resume after a crash.")
    reuse_responses: bool = Field(default=True, description="False: discard the stored responses of these settings "
                                  "and generate them again.")
    prompt_template: Literal["ii_medical_harness", "model_card_usage"] = Field(
        default=EVALUATION.prompt_template, description="The instruction after the options: ii_medical_harness (the "
        "public harness that produced the model card's table: 'step by step') or model_card_usage (the card's "
        "usage section: 'step-by-step').")
    max_questions: int | None = Field(default=None, ge=1, description="Score the first N rows of the file only, for "
                                      "a quick look at a checkpoint (the score and the leaderboard say `partial`); "
                                      "None: every row, as published.")


def _model_and_benchmark(context: dg.AssetExecutionContext) -> tuple[str, str]:
    keys = context.partition_key.keys_by_dimension
    return keys["model"], keys["benchmark"]


@dg.asset(
    partitions_def=model_benchmark_partitions,
    deps=["eval_questions"],  # its benchmark partition: Dagster maps the shared `benchmark` dimension
    group_name="evaluation",
    owners=OWNERS,
    kinds={"pytorch", "polars", "parquet"},
    pool="llm_api",
)
def eval_responses(context: dg.AssetExecutionContext, config: EvalConfig, llm: LLM, warehouse: Warehouse) -> dg.MaterializeResult:
    """The model's responses to one benchmark with the recipe's prompt and sampling, graded:
    one row per (question, sample) with the extracted answer, the gold letter and `correct`.

    Responses are stored chunk by chunk as they are generated; a re-run with the same
    settings (model, backend, dtype, decoding, seed, prompt template) reuses them and
    generates only what is missing, so a crashed run resumes where it stopped."""
    name, benchmark = _model_and_benchmark(context)
    spec = model_spec(name, warehouse.root)
    generator = spec.llm(llm)
    instruction = EVALUATION.prompt_templates[config.prompt_template]
    questions = with_prompts(warehouse.read("eval_questions", [benchmark]), instruction)
    file_rows = questions.height
    if config.max_questions is not None:
        questions = questions.sort("position").head(config.max_questions)
    settings = {"model_id": spec.model_id, "backend": spec.backend, "dtype": generator.describe().get("dtype"),
                "max_new_tokens": config.max_new_tokens, "temperature": config.temperature, "top_p": config.top_p,
                "seed": config.seed, "samples_per_question": config.samples_per_question,
                "prompt_template": config.prompt_template,
                "prompt_template_hash": prompt_template_hash(config.prompt_template, instruction)}
    # The model's identity (its name and where it is served from) is hashed too: one model's stored
    # responses are never reused for another.
    identity = {"model": name, "base_url": spec.base_url, "stop": list(EVALUATION.stop)}
    key = scores.settings_hash(settings | identity | ({"max_questions": config.max_questions} if config.max_questions else {}))
    partials = warehouse.partials_dir("eval_responses", context.partition_key, key)
    if not config.reuse_responses:
        shutil.rmtree(partials, ignore_errors=True)
    stored = _stored_responses(warehouse, context.partition_key, key, partials, config.reuse_responses)
    reused = scores.current_responses(questions, stored, config.samples_per_question).height

    started = time.perf_counter()
    pending = list(scores.pending_chunks(questions, stored, config.samples_per_question, config.questions_per_chunk))
    chunks = [Chunk(f"{context.run.run_id}-{number:05d}", todo, todo["prompt"].to_list(), config.seed + number, number)
              for number, todo in pending]
    progress = Progress(context.log, f"{name} x {benchmark}: questions answered", sum(c.questions.height for c in chunks))

    def to_rows(chunk: Chunk, texts: list[list[str]]) -> pl.DataFrame:
        return scores.response_rows(chunk.questions, texts, chunk.number, key, loaded_revision(generator))

    for rows in generate_chunks(warehouse, partials, generator, chunks, to_rows, progress,
                                max_new_tokens=config.max_new_tokens, temperature=config.temperature,
                                top_p=config.top_p, n=config.samples_per_question, stop=EVALUATION.stop):
        stored = pl.concat([stored, rows])
    seconds = time.perf_counter() - started

    responses = scores.current_responses(questions, stored, config.samples_per_question)
    graded = scores.grade_responses(responses, questions).with_columns(
        model=pl.lit(name), benchmark=pl.lit(benchmark), questions_hash=pl.lit(questions_hash(questions)),
        **{field: pl.lit(value) for field, value in settings.items()},
    )
    warehouse.write("eval_responses", graded.select(RESPONSE_COLUMNS), context.partition_key)
    shutil.rmtree(partials, ignore_errors=True)  # the table holds them now
    generated = graded.height - reused
    return dg.MaterializeResult(metadata={
        "dagster/row_count": graded.height, "responses_generated": generated, "responses_reused": reused,
        "questions": f"{questions.height} of {file_rows}" + (" (max_questions)" if questions.height < file_rows else ""),
        "generation_seconds": round(seconds, 1), "max_new_tokens": config.max_new_tokens,
        "questions_per_second": round(generated / config.samples_per_question / seconds, 2) if generated else None,
        "unanswered": graded["answer"].null_count(), "accuracy": graded["correct"].mean(), "settings_hash": key,
        "llm": dg.MetadataValue.json(generator.describe()),
        "preview": dg.MetadataValue.md(markdown_table(
            graded.select("question_id", "sample", "answer", "gold", "correct", "response").head(8), max_chars=80)),
    })


RESPONSE_COLUMNS = [
    "model", "benchmark", "question_id", "position", "sample", "response", "answer", "gold", "correct",
    "correct_ii_medical", "scorer_disagreement",
    "prompt_sha", "chunk", "settings_hash", "model_id", "revision", "backend", "dtype", "max_new_tokens",
    "temperature", "top_p", "seed", "samples_per_question", "prompt_template", "prompt_template_hash", "questions_hash",
]


# Where the published harness's verdict and the strict one differ, and why (core.harness.scorer_disagreement).
SCORER_DISAGREEMENTS_SQL = """
SELECT model, benchmark, question_id, sample, answer AS strict_answer, correct AS strict_correct,
       correct_ii_medical AS harness_correct, gold, scorer_disagreement AS category, response
FROM eval_responses WHERE scorer_disagreement IS NOT NULL
"""


def _stored_responses(warehouse: Warehouse, partition: str, key: str, partials: Path, reuse: bool) -> pl.DataFrame:
    """Responses generated under these settings: the partition's last table (when `reuse`) and
    the chunks a crashed run left, oldest first."""
    stored = [warehouse.read_partials(partials, scores.RESPONSE_SCHEMA)]
    if reuse and warehouse.exists("eval_responses", partition):
        table = warehouse.scan("eval_responses", [partition]).filter(pl.col("settings_hash") == key)
        stored.insert(0, table.select(list(scores.RESPONSE_SCHEMA)).cast(scores.RESPONSE_SCHEMA).collect())
    return pl.concat(stored)


@dg.asset(
    partitions_def=model_benchmark_partitions,
    deps=["eval_responses"],
    group_name="evaluation",
    owners=OWNERS,
    kinds={"polars", "parquet"},
)
def benchmark_scores(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """Accuracy of one model on one benchmark over every row of the file as published
    (GPQA medical: 390 rows, 78 questions), with its Wilson 95% interval, the accuracy over
    unique questions, and the provenance: model, revision, backend, decoding, seed, prompt
    template hash and the hash of the questions it was computed on."""
    name, benchmark = _model_and_benchmark(context)
    graded = warehouse.read("eval_responses", [context.partition_key])
    if graded.height == 0:
        raise ValueError(f"eval_responses[{context.partition_key}] has no rows: benchmark {benchmark!r} has no "
                         "scorable questions (see eval_question_rejects); nothing to score")
    first = graded.row(0, named=True)
    decoding = scores.decoding_text(first["max_new_tokens"], first["temperature"], first["top_p"],
                                    first["samples_per_question"], first["seed"])
    file_rows = warehouse.scan("eval_questions", [benchmark]).select(pl.len()).collect().item()
    row = {"model": name, "benchmark": benchmark, "column": eval_set(benchmark).column, "file_rows": file_rows,
           "samples_per_question": first["samples_per_question"], **scores.accuracy_with_interval(graded),
           **{c: first[c] for c in ("model_id", "revision", "backend", "dtype", "seed", "prompt_template",
                                    "prompt_template_hash",
                                    "questions_hash", "settings_hash")},
           "decoding": decoding}
    table = pl.DataFrame([row], schema=scores.SCORE_SCHEMA)
    warehouse.write("benchmark_scores", table, context.partition_key)
    return dg.MaterializeResult(metadata={
        "accuracy": row["accuracy"], "ci_95": f"[{row['ci_low']:.4f}, {row['ci_high']:.4f}]",
        "accuracy_ii_medical": row["accuracy_ii_medical"], "gap_points": row["gap_points"],
        "rows": row["rows"], "file_rows": file_rows, "unique_questions": row["unique_questions"], "unique_accuracy": row["unique_accuracy"],
        "unanswered": row["unanswered"], "decoding": decoding,
        "score": dg.MetadataValue.md(markdown_table(table.drop("ci_method"), max_chars=40)),
    })


@dg.asset(deps=["benchmark_scores", "healthbench_scores"], group_name="evaluation", owners=OWNERS,
          kinds={"polars", "parquet"})
def leaderboard(warehouse: Warehouse) -> dg.MaterializeResult:
    """The model card's table for every evaluated model: accuracy (%) per benchmark under the
    published harness's verdict (comparable with the card) with its 95% interval and the strict
    accuracy beside it, Avg (the unweighted mean of the ten, only when all ten are scored;
    `missing` says which are not) and HealthBench, beside the card's published II-Medical-8B row
    (`reference`). Also creates the DuckDB view `scorer_disagreements`: every response the two
    verdicts disagree on, with why."""
    columns = [spec.column for spec in EVAL_SETS]
    scored = warehouse.read("benchmark_scores") if warehouse.exists("benchmark_scores") else \
        pl.DataFrame(schema=scores.SCORE_SCHEMA)
    healthbench = None
    if warehouse.exists("healthbench_scores"):
        healthbench = warehouse.read("healthbench_scores").filter(pl.col("scope") == "overall")
    reference = {"model": EVALUATION.reference_model, "scores": EVALUATION.reference_scores,
                 "avg_stated": EVALUATION.reference_avg_stated, "healthbench": EVALUATION.reference_healthbench}
    table = scores.leaderboard(scored, columns, reference, healthbench)
    warehouse.write("leaderboard", table)
    if warehouse.exists("eval_responses"):
        warehouse.create_view("scorer_disagreements", SCORER_DISAGREEMENTS_SQL)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": table.height,
        "table": dg.MetadataValue.md(leaderboard_markdown(table, columns)),
        "chart": dg.MetadataValue.md(bar_chart(table, columns)),
        **_accuracy_chart(table, columns),
        **{f"{row['model']} Avg": row["Avg"] for row in table.filter(~pl.col("reference")).iter_rows(named=True)
           if row["Avg"] is not None},
    })


def _accuracy_chart(table: pl.DataFrame, columns: list[str]) -> dict:
    """Accuracy per benchmark with 95% intervals, every model beside the card's reference rows;
    each model's accuracy and interval per benchmark beside the chart."""
    rows = table.iter_rows(named=True)
    values = [(row["model"], [row[c] for c in columns], [row[f"{c}_low"] for c in columns],
               [row[f"{c}_high"] for c in columns]) for row in rows]
    models, accuracy, low, high = (list(x) for x in zip(*values)) if values else ([], [], [], [])
    numbers = table.select("model", "reference", *[pl.col(f"{c}{suffix}").round(2)
                                                   for c in columns for suffix in ("", "_low", "_high")])
    return chart_metadata("accuracy_chart", charts.accuracy_chart(models, columns, accuracy, low, high),
                          "accuracy per benchmark with 95% intervals", numbers)
