"""HealthBench: the conversations of the file, checked once; each model's replies to them,
graded item by item by a judge model."""

import random
import time
from typing import Literal

import dagster as dg
import polars as pl
from pydantic import Field

from medical_assets.assets.accounting import row_accounting_check
from medical_assets.assets.metadata import markdown_table, reasons_markdown
from medical_assets.assets.progress import Progress
from medical_assets.core import healthbench
from medical_assets.core.rejects import as_rejects
from medical_assets.core.scores import decoding_text
from medical_assets.models import loaded_revision, model_partitions, model_spec
from medical_assets.recipe import RECIPE
from medical_assets.resources.eval_files import EvalFiles
from medical_assets.resources.embedded_model import GGUF_MODEL_NAME
from medical_assets.resources.llm import LLM
from medical_assets.resources.storage import Warehouse

EVALUATION = RECIPE.evaluation
JUDGE_CHUNK = 64  # rubric items per judge call
OWNERS = ["team:evaluation"]

GRADE_SCHEMA: dict[str, pl.DataType] = {
    "model": pl.String(),
    **healthbench.ITEM_SCHEMA,
    "response": pl.String(),  # the model's whole reply
    "graded_text": pl.String(),  # what the judge saw: the reply after `</think>`
    "judge_reply": pl.String(),  # the judge's last reply
    "judge_attempts": pl.Int64(),
    "met": pl.Boolean(),  # null: a judge failure (no readable grade after every attempt)
    "judge_failure": pl.Boolean(),
}

SUMMARY_SCHEMA: dict[str, pl.DataType] = {
    "model": pl.String(),
    "scope": pl.String(),  # "overall", or a tag such as "theme:emergency_referrals", "axis:accuracy"
    "score": pl.Float64(),  # clipped mean over the scored examples; null when none could be scored
    "bootstrap_std": pl.Float64(),  # overall only
    "examples_scored": pl.Int64(),
    "examples": pl.Int64(),  # conversations graded
    "examples_excluded": pl.Int64(),  # left out: at least one judge failure
    "items": pl.Int64(),
    "judge_failures": pl.Int64(),
    "model_id": pl.String(),
    "revision": pl.String(),
    "backend": pl.String(),
    "decoding": pl.String(),
    "judge": pl.String(),
    "judge_decoding": pl.String(),
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec("healthbench_examples", group_name="evaluation", owners=OWNERS, kinds={"polars", "parquet"},
                     description="The HealthBench conversations that can be graded: prompt_id, the turns (ending "
                     "with the user's), the rubric items (criterion, integer points, tags), example tags."),
        dg.AssetSpec("healthbench_rejects", group_name="evaluation", owners=OWNERS, kinds={"polars", "parquet"},
                     description="HealthBench rows that cannot be graded, with file, line, field and reason "
                     "(bad bytes or JSON, no turns, a last turn not the user's, points not an integer, "
                     "a repeated prompt_id) and the raw line."),
    ],
    check_specs=[dg.AssetCheckSpec("rows_accounted", asset="healthbench_examples", blocking=True)],
)
def healthbench_examples(context: dg.AssetExecutionContext, eval_files: EvalFiles, warehouse: Warehouse):
    """Read the HealthBench JSONL once and check every row (`healthbench.validate_examples`); the
    graders and the decontamination read the checked rows. A file with no valid row fails and
    leaves the stored tables as they were. Without a configured file (harness or hub mode and no
    MEDICAL_ASSETS_HEALTHBENCH_FILE) both tables are empty: nothing to grade, no turns to decontaminate."""
    path = eval_files.healthbench_path()
    records = list(eval_files.healthbench_records())
    examples, rejects = healthbench.validate_examples(records, str(path))
    if path is not None and examples.height == 0:
        found = (f"{'its only line is' if len(records) == 1 else f'all {len(records):,} lines are'} rejected (first: "
                 f"line {rejects['line'][0]}, {rejects['field'][0] or 'the line'}: {rejects['reason'][0]})"
                 if records else "the file is empty")
        raise dg.Failure(
            f"{path}: no HealthBench row that can be graded: {found}; fix the file, or point "
            "MEDICAL_ASSETS_HEALTHBENCH_FILE at the HealthBench JSONL. The stored tables are unchanged.",
            metadata={"reasons": dg.MetadataValue.md(reasons_markdown(rejects))})
    if path is None:
        context.log.warning("no HealthBench file configured (MEDICAL_ASSETS_HEALTHBENCH_FILE): no conversations")
    with warehouse.commit("healthbench_examples") as stage:
        stage.write("healthbench_examples", examples)
        stage.write("healthbench_rejects", as_rejects(
            rejects, "healthbench", sample_id="prompt_id", source=pl.lit("healthbench"), source_row="line",
            evidence=pl.format("{} in {}", pl.col("field").fill_null("the whole line"), pl.col("file"))))
    yield dg.MaterializeResult(asset_key="healthbench_examples", metadata={
        "dagster/row_count": examples.height, "file": str(path) if path else "none configured",
        "lines": len(records), "rubric_items": int(examples["rubrics"].list.len().sum() or 0),
        "published_examples": EVALUATION.healthbench_examples,  # the main file's conversations
        "preview": dg.MetadataValue.md(markdown_table(
            examples.select("line", "prompt_id", turns=pl.col("prompt").list.len(), items=pl.col("rubrics").list.len(),
                            example_tags=pl.col("example_tags").list.join(", ")).head(5))),
    })
    yield dg.MaterializeResult(asset_key="healthbench_rejects", metadata={
        "dagster/row_count": rejects.height, "reasons": dg.MetadataValue.md(reasons_markdown(rejects)),
    })
    lines = pl.LazyFrame({"line": [line for line, _ in records]}, schema={"line": pl.Int64()})
    yield row_accounting_check("rows_accounted", "healthbench_examples", lines, warehouse.scan("healthbench_examples"),
                               warehouse.scan("healthbench_rejects"), ["line"])


class HealthBenchConfig(dg.Config):
    """Replies with the evaluation's sampling; grading as published, with bounded retries."""

    max_new_tokens: int = Field(default=EVALUATION.max_new_tokens, ge=1,
                                description="Tokens per reply of the model, reasoning included.")
    temperature: float = Field(default=EVALUATION.temperature, ge=0, description="Reply sampling temperature "
                               "(0: greedy).")
    top_p: float = Field(default=EVALUATION.top_p, gt=0, le=1, description="Reply nucleus sampling, in (0, 1].")
    seed: int = Field(default=0, description="Seed of the replies; the judge's attempt k uses seed + k, the "
                      "bootstrap uses seed.")
    judge_max_new_tokens: int = Field(default=2_048, ge=1, description="Tokens per judge reply (simple-evals' "
                                      "grader: 2,048).")
    graded_text: Literal["whole_reply", "after_think"] = Field(
        default="whole_reply", description="What the judge sees of a reply: whole_reply (as simple-evals grades it: "
        "the reply as returned) or after_think (a reasoning model's text after its last </think>).")
    judge_temperature: float = Field(default=EVALUATION.healthbench_judge_temperature, ge=0,
                                     description="Judge sampling temperature (published: 0.5); 0: greedy, and then "
                                     "retries would repeat the same reply, so none are made.")
    judge_retries: int = Field(default=2, ge=0, description="Times an unreadable grade is asked again; then the "
                               "item is a judge failure, never 'not met'.")
    max_examples: int | None = Field(default=None, ge=1, description="Grade N conversations only, the subset "
                                     "simple-evals takes (random.Random(0).sample of the file's); None: all of them.")


@dg.multi_asset(
    specs=[
        dg.AssetSpec("healthbench_grades", partitions_def=model_partitions, group_name="evaluation", owners=OWNERS,
                     kinds={"pytorch", "polars", "parquet"}, deps=["healthbench_examples"],
                     description="One row per rubric item of each HealthBench conversation: the model's reply, "
                     "the judge's reply and its grade (null: judge failure)."),
        dg.AssetSpec("healthbench_scores", partitions_def=model_partitions, group_name="evaluation", owners=OWNERS,
                     kinds={"polars", "parquet"},
                     description="HealthBench score of the model (clipped mean, bootstrap std) and per tag "
                     "(theme, axis), with the judge failures that kept examples out."),
    ],
    pool="llm_api",
)
def healthbench_scores(
    context: dg.AssetExecutionContext, config: HealthBenchConfig, llm: LLM, judge: LLM, warehouse: Warehouse,
):
    """Reply to each HealthBench conversation, then have the judge grade every rubric item with
    the published grader prompt (JSON `{explanation, criteria_met}`). Unreadable grades are
    asked again `judge_retries` times, then counted as judge failures; an example with a
    failure is excluded from the scores and reported, never scored as "not met"."""
    name = context.partition_key
    if not warehouse.exists("healthbench_examples"):
        raise dg.Failure("healthbench_examples is not materialized: materialize it first (it reads and checks the "
                         "HealthBench file)")
    examples = warehouse.read("healthbench_examples").sort("line").to_dicts()
    if not examples:
        raise dg.Failure("no HealthBench conversations: set MEDICAL_ASSETS_HEALTHBENCH_FILE to the HealthBench JSONL "
                         "(EvalFiles(healthbench_file=...); the demo mode bundles one), then materialize "
                         "healthbench_examples")
    if config.max_examples is not None and config.max_examples < len(examples):
        examples = random.Random(0).sample(examples, config.max_examples)  # the subset simple-evals takes
    spec = model_spec(name, warehouse.root)
    model = spec.llm(llm)

    started = time.perf_counter()
    replies = [texts[0] for texts in model.generate(
        [example["prompt"] for example in examples], max_new_tokens=config.max_new_tokens,
        temperature=config.temperature, top_p=config.top_p, seed=config.seed)]
    reply_seconds = time.perf_counter() - started
    items = healthbench.items_to_grade(examples, replies, config.graded_text)

    def ask(batch: list[str], attempt: int) -> list[str]:
        """The judge's replies to `batch`, JUDGE_CHUNK prompts per call, with progress in the log."""
        progress = Progress(context.log, f"{name}: rubric items graded (attempt {attempt + 1})", len(batch))
        replies = []
        for start in range(0, len(batch), JUDGE_CHUNK):
            part = batch[start:start + JUDGE_CHUNK]
            texts = judge.generate([healthbench.judge_messages(prompt) for prompt in part],
                                   max_new_tokens=config.judge_max_new_tokens, temperature=config.judge_temperature,
                                   top_p=1.0, seed=config.seed + attempt)
            replies += [t[0] for t in texts]
            progress.advance(len(part))
        return replies

    retries = config.judge_retries if config.judge_temperature > 0 else 0  # greedy would repeat the same reply
    started = time.perf_counter()
    grades, judge_replies, attempts = healthbench.grade_with_retries(items["prompt"].to_list(), ask, retries)
    judge_seconds = time.perf_counter() - started
    graded = items.with_columns(
        model=pl.lit(name), judge_reply=pl.Series(judge_replies, dtype=pl.String),
        judge_attempts=pl.Series(attempts, dtype=pl.Int64), met=pl.Series(grades, dtype=pl.Boolean),
    ).with_columns(judge_failure=pl.col("met").is_null()).select(list(GRADE_SCHEMA))
    overall, by_tag = healthbench.healthbench_summary(graded, seed=config.seed)
    summary = _summary(name, model, judge, config, retries, overall, by_tag)
    with warehouse.commit("healthbench_scores", name) as stage:
        stage.write("healthbench_grades", graded)
        stage.write("healthbench_scores", summary)

    failures = graded.filter("judge_failure").select("example_id", "item", "judge_attempts", "judge_reply")
    yield dg.MaterializeResult(asset_key="healthbench_grades", metadata={
        "dagster/row_count": graded.height, "judge_failures": overall["judge_failures"],
        "reply_seconds": round(reply_seconds, 1), "judge_seconds": round(judge_seconds, 1),
        "unreadable_judge_replies": dg.MetadataValue.md(markdown_table(failures.head(10), max_chars=100)),
    })
    yield dg.MaterializeResult(asset_key="healthbench_scores", metadata={
        "dagster/row_count": summary.height, "score": overall["score"], "bootstrap_std": overall["bootstrap_std"],
        "examples": overall["examples"], "examples_scored": overall["examples_scored"],
        "examples_excluded_judge_failure": overall["examples_excluded"], "items": overall["items"],
        "judge_failures": overall["judge_failures"], "judge": dg.MetadataValue.json(judge.describe()),
        "published_judge": f"{EVALUATION.healthbench_judge} at temperature {EVALUATION.healthbench_judge_temperature:g}",
        "by_tag": dg.MetadataValue.md(markdown_table(by_tag)),
    })


def _summary(name: str, model: LLM, judge: LLM, config: HealthBenchConfig, retries: int, overall: dict,
             by_tag: pl.DataFrame) -> pl.DataFrame:
    """`SUMMARY_SCHEMA` rows: the overall score, then one per tag, each with the counts and provenance."""
    judge_info = judge.describe()
    provenance = {
        "model": name, "model_id": model.model or GGUF_MODEL_NAME, "revision": loaded_revision(model),
        "backend": model.backend, **{k: overall[k] for k in ("examples", "examples_excluded", "items", "judge_failures")},
        "decoding": decoding_text(config.max_new_tokens, config.temperature, config.top_p, 1, config.seed),
        "judge": f"{judge_info['backend']}:{judge_info['model']}",
        "judge_decoding": f"temperature={config.judge_temperature:g} max_new_tokens={config.judge_max_new_tokens} "
                          f"retries={retries}",
    }
    rows = [{**provenance, "scope": "overall", "score": overall["score"], "bootstrap_std": overall["bootstrap_std"],
             "examples_scored": overall["examples_scored"]}]
    rows += [{**provenance, "scope": tag, "score": score, "bootstrap_std": std, "examples_scored": n}
             for tag, n, score, std in by_tag.select("tag", "examples", "score", "bootstrap_std").iter_rows()]
    return pl.DataFrame(rows, schema=SUMMARY_SCHEMA)
