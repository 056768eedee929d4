"""HealthBench: each model's replies to the conversations, graded item by item by a judge model."""

import time

import dagster as dg
import polars as pl

from medical_assets.assets.metadata import markdown_table
from medical_assets.core import healthbench
from medical_assets.core.scores import decoding_text
from medical_assets.models import loaded_revision, model_partitions, model_spec
from medical_assets.recipe import RECIPE
from medical_assets.resources.eval_files import EvalFiles
from medical_assets.resources.embedded_model import GGUF_MODEL_NAME
from medical_assets.resources.llm import LLM
from medical_assets.resources.storage import Warehouse

EVALUATION = RECIPE.evaluation
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


class HealthBenchConfig(dg.Config):
    """Replies with the evaluation's sampling; grading as published, with bounded retries."""

    max_new_tokens: int = EVALUATION.max_new_tokens
    temperature: float = EVALUATION.temperature
    top_p: float = EVALUATION.top_p
    seed: int = 0
    judge_max_new_tokens: int = 512
    judge_temperature: float = EVALUATION.healthbench_judge_temperature  # 0: greedy (then retries repeat, and are skipped)
    judge_retries: int = 2  # asks again for an unreadable grade; then it is a judge failure
    max_examples: int | None = None  # the first N conversations of the file; None: all


@dg.multi_asset(
    specs=[
        dg.AssetSpec("healthbench_grades", partitions_def=model_partitions, group_name="evaluation", owners=OWNERS,
                     kinds={"pytorch", "polars", "parquet"},
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
    context: dg.AssetExecutionContext, config: HealthBenchConfig, llm: LLM, judge: LLM, eval_files: EvalFiles,
    warehouse: Warehouse,
):
    """Reply to each HealthBench conversation, then have the judge grade every rubric item with
    the published grader prompt (JSON `{explanation, criteria_met}`). Unreadable grades are
    asked again `judge_retries` times, then counted as judge failures; an example with a
    failure is excluded from the scores and reported, never scored as "not met"."""
    name = context.partition_key
    examples = eval_files.healthbench_examples()
    if not examples:
        raise ValueError("no HealthBench file: set MEDICAL_ASSETS_HEALTHBENCH_FILE to the HealthBench JSONL "
                         "(EvalFiles(healthbench_file=...)); the demo mode bundles one")
    examples = examples[:config.max_examples] if config.max_examples is not None else examples
    spec = model_spec(name, warehouse.root)
    model = spec.llm(llm)

    started = time.perf_counter()
    replies = [texts[0] for texts in model.generate(
        [example["prompt"] for example in examples], max_new_tokens=config.max_new_tokens,
        temperature=config.temperature, top_p=config.top_p, seed=config.seed)]
    reply_seconds = time.perf_counter() - started
    items = healthbench.items_to_grade(examples, replies)

    def ask(batch: list[str], attempt: int) -> list[str]:
        texts = judge.generate(batch, max_new_tokens=config.judge_max_new_tokens, temperature=config.judge_temperature,
                               top_p=1.0, seed=config.seed + attempt)
        return [t[0] for t in texts]

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
    rows += [{**provenance, "scope": tag, "score": score, "bootstrap_std": None, "examples_scored": n}
             for tag, n, score in by_tag.select("tag", "examples", "score").iter_rows()]
    return pl.DataFrame(rows, schema=SUMMARY_SCHEMA)
