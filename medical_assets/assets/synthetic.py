"""Synthetic QA traces: seed questions answered by a generator model, kept only when the
boxed answer matches the gold option, retried a few times, every attempt stored."""

import hashlib
import json
import time

import dagster as dg
import polars as pl
from pydantic import Field

from medical_assets.assets.accounting import row_accounting_check
from medical_assets.assets.generation import Chunk, Progress, generate_chunks
from medical_assets.assets.metadata import markdown_table, reasons_markdown
from medical_assets.core.answers import extract_choices
from medical_assets.core.canonical import TRACE_SCHEMA, sample_id
from medical_assets.core.eval_questions import PROMPT_TEMPLATE, render_prompt
from medical_assets.core.layouts import split_think
from medical_assets.core.rejects import as_rejects
from medical_assets.core.synthetic import (
    ATTEMPT_SCHEMA, outcome, sample_questions, seed_questions, still_to_try,
)
from medical_assets.recipe import RECIPE
from medical_assets.resources.llm import LLM
from medical_assets.resources.storage import Warehouse
from medical_assets.sources import SOURCES, source_spec

SEED_SETS = [spec.name for spec in SOURCES if spec.part == "synthetic_qa"]
seed_set_partitions = dg.StaticPartitionsDefinition(SEED_SETS)
OWNERS = ["team:curation"]
TEMPLATE = RECIPE.evaluation.training_prompt_template  # the card's usage wording
INSTRUCTION = RECIPE.evaluation.prompt_templates[TEMPLATE]


class SeedSampleConfig(dg.Config):
    sample_size: int | None = Field(
        default=None, ge=0, description="Questions drawn from the seed set (>= 0); default: the recipe's count for it.")
    seed: int = Field(default=0, description="Seed of the draw.")


class GenerationConfig(dg.Config):
    max_attempts: int = Field(default=3, ge=1, description="Attempts per question before it is given up.")
    max_new_tokens: int = Field(default=8_192, ge=1, description="Tokens per answer (reasoning included).")
    temperature: float = Field(default=0.6, ge=0, description="Sampling temperature of the generator (0: greedy).")
    top_p: float = Field(default=0.95, gt=0, le=1, description="Nucleus sampling of the generator (0-1].")
    seed: int = Field(default=0, description="Attempt k of every question samples with seed + k.")
    chunk_questions: int = Field(default=64, ge=1, description="Questions per generate call; each chunk is stored "
                                 "as it finishes, so a re-run after a crash resumes from there.")


@dg.multi_asset(
    specs=[
        dg.AssetSpec("synthetic_seed_questions", partitions_def=seed_set_partitions, group_name="synthetic",
                     owners=OWNERS, automation_condition=dg.AutomationCondition.eager(),
                     deps=[dg.AssetDep("raw_traces", partition_mapping=dg.IdentityPartitionMapping())],
                     kinds={"polars", "parquet"},
                     description="Seed questions (question, lettered options, gold letter) drawn to the "
                     "recipe's count for the set."),
        dg.AssetSpec("synthetic_seed_rejects", partitions_def=seed_set_partitions, group_name="synthetic",
                     owners=OWNERS, automation_condition=dg.AutomationCondition.eager(),
                     deps=[dg.AssetDep("raw_traces", partition_mapping=dg.IdentityPartitionMapping())],
                     kinds={"polars", "parquet"},
                     description="Seed rows left out: unverifiable (no options, gold not an option) or not drawn."),
    ],
    check_specs=[dg.AssetCheckSpec("rows_accounted", asset="synthetic_seed_questions", blocking=True)],
)
def synthetic_seed_questions(context: dg.AssetExecutionContext, config: SeedSampleConfig, warehouse: Warehouse):
    """One seed set's questions with a verifiable gold option, sampled with a seed to the recipe's
    count (MedMCQA 183,000, MedQA 10,000, MedReason 32,700; fewer when the set has fewer)."""
    seed_set = context.partition_key
    raw = warehouse.read("raw_traces", [seed_set])
    questions, rejects = seed_questions(raw, seed_set)
    wanted = config.sample_size if config.sample_size is not None else source_spec(seed_set).recipe_count
    sampled = sample_questions(questions, wanted, config.seed)
    not_drawn = questions.join(sampled, on="question_id", how="anti").select(
        "seed_set", "source_row", "sample_id",
        reason=pl.lit(f"not drawn: {wanted:,} of {questions.height:,} questions (seed {config.seed})"),
    )
    with warehouse.commit("synthetic_seed_questions", seed_set) as stage:
        stage.write("synthetic_seed_questions", sampled)
        stage.write("synthetic_seed_rejects", as_rejects(pl.concat([rejects, not_drawn]), "synthetic", source="seed_set"))
    stored = warehouse.scan("synthetic_seed_rejects", [seed_set])
    yield dg.MaterializeResult(asset_key="synthetic_seed_questions", metadata={
        "dagster/row_count": sampled.height,
        "verifiable": questions.height,
        "recipe_count": source_spec(seed_set).recipe_count,
        "sample_size": wanted,
        "seed": config.seed,
        "gold_letters": dg.MetadataValue.md(markdown_table(sampled["gold"].value_counts().sort("gold"))),
    })
    yield dg.MaterializeResult(asset_key="synthetic_seed_rejects", metadata={
        "dagster/row_count": stored.select(pl.len()).collect().item(),
        "reasons": dg.MetadataValue.md(reasons_markdown(stored, by=("reason",))),
    })
    yield row_accounting_check("rows_accounted", "synthetic_seed_questions", raw.lazy().select("source_row"),
                               warehouse.scan("synthetic_seed_questions", [seed_set]), stored, ["source_row"])


def render_prompts(questions: pl.DataFrame) -> list[str]:
    """The evaluation prompt of each question: the stem, "K. text" option lines, the card's instruction."""
    return [render_prompt(q, options, INSTRUCTION) for q, options in questions.select("question", "options").iter_rows()]


def settings_key(generator: dict, config: GenerationConfig) -> str:
    """Attempts are reused only under the same model, decoding and prompt: their hash names them."""
    settings = {"generator": generator, "max_new_tokens": config.max_new_tokens, "temperature": config.temperature,
                "top_p": config.top_p, "seed": config.seed, "template": PROMPT_TEMPLATE,
                "suffix": INSTRUCTION}
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


@dg.multi_asset(
    specs=[
        dg.AssetSpec("synthetic_traces", partitions_def=seed_set_partitions, group_name="synthetic", owners=OWNERS,
                     deps=["synthetic_seed_questions"], kinds={"pytorch", "parquet"},
                     description="Generated traces whose boxed answer matches the gold option, "
                     "in the canonical trace schema (source = the seed set, source_row = the seed row)."),
        dg.AssetSpec("synthetic_attempts", partitions_def=seed_set_partitions, group_name="synthetic", owners=OWNERS,
                     deps=["synthetic_seed_questions"], kinds={"polars", "parquet"},
                     description="Every generation attempt: seed, response, extracted letter, correct, settings."),
        dg.AssetSpec("synthetic_rejects", partitions_def=seed_set_partitions, group_name="synthetic", owners=OWNERS,
                     deps=["synthetic_seed_questions"], kinds={"polars", "parquet"},
                     description="Questions with no correct answer after every attempt, with the reason."),
    ],
    check_specs=[dg.AssetCheckSpec("rows_accounted", asset="synthetic_traces", blocking=True)],
    pool="llm_api",
)
def synthetic_traces(context: dg.AssetExecutionContext, config: GenerationConfig, generator: LLM,
                     warehouse: Warehouse):
    """The generator (QwQ-32B in the recipe) answers each seed question with the evaluation prompt;
    `extract_choice` reads the boxed letter. A wrong or unreadable answer is retried (a new seed
    per attempt) up to `max_attempts`, then the question is rejected. Every attempt is stored as it
    is made, so a re-run after a crash generates only what is missing."""
    seed_set = context.partition_key
    questions = warehouse.read("synthetic_seed_questions", [seed_set])
    model = generator.describe()
    key = settings_key(model, config)
    partials = warehouse.partials_dir("synthetic_attempts", seed_set, key)
    attempts = warehouse.read_partials(partials, ATTEMPT_SCHEMA)
    reused = attempts.height
    started = time.perf_counter()
    generated = 0

    def to_rows(chunk: Chunk, completions: list[list[str]]) -> pl.DataFrame:
        responses = [texts[0] for texts in completions]
        extracted = extract_choices(responses, [{o["letter"]: o["text"] for o in opts}
                                                for opts in chunk.questions["options"]])
        return pl.DataFrame({
            "question_id": chunk.questions["question_id"], "attempt": [chunk.number] * chunk.questions.height,
            "seed": [chunk.seed] * chunk.questions.height, "response": responses, "extracted": extracted,
            "correct": [e is not None and e == g for e, g in zip(extracted, chunk.questions["gold"])],
            "settings": [key] * chunk.questions.height,
        }, schema=ATTEMPT_SCHEMA)

    while (todo := still_to_try(questions, attempts, config.max_attempts)).height:
        progress = Progress(context.log, f"{seed_set}: questions tried this round", todo.height)
        for (attempt,), round_rows in todo.group_by("attempt", maintain_order=True):
            slices = (round_rows.slice(start, config.chunk_questions)
                      for start in range(0, round_rows.height, config.chunk_questions))
            chunks = (Chunk(f"attempt{int(attempt):02d}-{part['question_id'][0]}", part, render_prompts(part),
                            config.seed + int(attempt), int(attempt)) for part in slices)
            for made in generate_chunks(warehouse, partials, generator, chunks, to_rows, progress,
                                        max_new_tokens=config.max_new_tokens, temperature=config.temperature,
                                        top_p=config.top_p):
                attempts = pl.concat([attempts, made])
                generated += made.height
    accepted, given_up = outcome(questions, attempts, config.max_attempts)
    traces = _as_traces(accepted, seed_set)
    with warehouse.commit("synthetic_traces", seed_set) as stage:
        stage.write("synthetic_traces", traces)
        stage.write("synthetic_attempts", attempts)
        stage.write("synthetic_rejects", as_rejects(
            given_up.select("question_id", "source_row", "sample_id", "gold", "tried", "reason"), "synthetic",
            source=pl.lit(seed_set), value="tried", threshold=pl.lit(config.max_attempts),
            evidence=pl.format("gold {}", pl.col("gold")),
        ))
    seconds = time.perf_counter() - started
    per_attempt = attempts.group_by("attempt").agg(tried=pl.len(), correct=pl.col("correct").sum(),
                                                   unreadable=pl.col("extracted").is_null().sum()).sort("attempt")
    yield dg.MaterializeResult(asset_key="synthetic_traces", metadata={
        "dagster/row_count": traces.height,
        "questions": questions.height,
        "yield": round(traces.height / questions.height, 4) if questions.height else None,
        "generator": model,
        "decoding": {"max_new_tokens": config.max_new_tokens, "temperature": config.temperature,
                     "top_p": config.top_p, "seed": config.seed, "max_attempts": config.max_attempts},
        "settings_key": key,
        "attempts_reused": reused,
        "attempts_generated": generated,
        "seconds": round(seconds, 2),
        "by_attempt": dg.MetadataValue.md(markdown_table(per_attempt)),
    })
    yield dg.MaterializeResult(asset_key="synthetic_attempts", metadata={"dagster/row_count": attempts.height})
    yield dg.MaterializeResult(asset_key="synthetic_rejects", metadata={"dagster/row_count": given_up.height})
    yield row_accounting_check(
        "rows_accounted", "synthetic_traces", questions.lazy().select("source_row"),
        warehouse.scan("synthetic_traces", [seed_set]), warehouse.scan("synthetic_rejects", [seed_set]),
        ["source_row"],
    )


def _as_traces(accepted: pl.DataFrame, seed_set: str) -> pl.DataFrame:
    """Accepted attempts as canonical traces: the prompt the generator saw, `<think>` split off."""
    prompts = render_prompts(accepted)
    rows = []
    for prompt, (source_row, response, gold) in zip(prompts, accepted.select("source_row", "response", "gold").iter_rows()):
        # An unclosed <think> has no final answer: the quality filters remove such a trace.
        reasoning, final = split_think(response)
        rows.append({"sample_id": sample_id(seed_set, prompt, reasoning, final), "source": seed_set,
                     "source_row": source_row, "prompt": prompt, "reasoning": reasoning, "response": final,
                     "answer": gold})
    return pl.DataFrame(rows, schema=TRACE_SCHEMA)
