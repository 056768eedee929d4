"""Benchmark scores: which responses still need generating, grading, accuracy with a 95%
interval, and the model card's leaderboard table.

The recipe's score (`RECIPE.evaluation`) is accuracy per benchmark, over every row of
the file as published, and "Avg" the unweighted mean of the ten. Here:

- a response is graded twice: strictly by `extract_choice` (one answer per response; none
  is wrong, and stays in the denominator), and by the verdict of the public harness that
  produced the model card's table (`core.harness.ii_medical_correct`: any of three readings,
  over-credits included), so a score can be held against the card's;
- with several samples per question, a row scores the mean of its samples (the
  rollouts averaged, as II-Medical-Evaluation does) and accuracy is the mean over rows;
- the 95% interval is Wilson's score interval with one observation per row of the
  file: samples of one question are not independent, so they do not narrow it. Rows
  that repeat a question (GPQA medical lists its 78 questions five times) are not
  independent either: the unique-question accuracy and its interval sit beside it.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any, Iterator, Mapping, Sequence

import polars as pl

from medical_assets.core.answers import extract_choices
from medical_assets.core.harness import harness_verdict

Z_95 = 1.959963984540054  # the standard normal's 97.5th percentile

# What generation stores, one row per (question, sample), before grading.
RESPONSE_SCHEMA: dict[str, pl.DataType] = {
    "question_id": pl.String(),
    "prompt_sha": pl.String(),  # content hash of the prompt the response answers
    "sample": pl.Int64(),  # 0 .. samples_per_question - 1
    "chunk": pl.Int64(),  # the chunk of questions it was generated in (its seed is seed + chunk)
    "response": pl.String(),
    "settings_hash": pl.String(),  # `settings_hash` of the generation settings
    "revision": pl.String(),  # the model's revision or file hash when known
}

# One row per (model, benchmark): the score and where it comes from.
SCORE_SCHEMA: dict[str, pl.DataType] = {
    "model": pl.String(),
    "benchmark": pl.String(),
    "column": pl.String(),  # the model card's leaderboard column
    "rows": pl.Int64(),  # rows scored: the file as published (GPQA: 390), or its first max_questions
    "file_rows": pl.Int64(),  # rows of the benchmark file
    "samples_per_question": pl.Int64(),
    "responses": pl.Int64(),
    "correct": pl.Int64(),  # correct responses
    "unanswered": pl.Int64(),  # responses with no readable answer (wrong, and counted)
    "accuracy": pl.Float64(),  # strict (extract_choice): mean over rows of the row's mean over its samples
    "ci_low": pl.Float64(),
    "ci_high": pl.Float64(),
    "accuracy_ii_medical": pl.Float64(),  # the published harness's verdict, comparable with the model card
    "ci_low_ii_medical": pl.Float64(),
    "ci_high_ii_medical": pl.Float64(),
    "gap_points": pl.Float64(),  # 100 x (harness - strict): what the harness credits beyond the stated answers
    "ci_method": pl.String(),
    "unique_questions": pl.Int64(),
    "unique_accuracy": pl.Float64(),  # the same, each distinct question counted once
    "unique_ci_low": pl.Float64(),
    "unique_ci_high": pl.Float64(),
    "model_id": pl.String(),
    "revision": pl.String(),
    "backend": pl.String(),
    "dtype": pl.String(),
    "decoding": pl.String(),  # e.g. "temperature=0.6 top_p=0.9 max_new_tokens=48 samples=1 seed=0"
    "seed": pl.Int64(),
    "prompt_template": pl.String(),  # the named instruction (RECIPE.evaluation.prompt_templates)
    "prompt_template_hash": pl.String(),
    "questions_hash": pl.String(),  # the benchmark file's questions this score was computed on
    "settings_hash": pl.String(),
}

CI_METHOD = "wilson 95%, one observation per row"


def settings_hash(settings: Mapping[str, Any]) -> str:
    """A short, stable hash of the generation settings (model, backend, decoding, seed, prompt):
    responses are reused only under the same hash."""
    return hashlib.sha256(json.dumps(dict(settings), sort_keys=True).encode("utf-8")).hexdigest()[:16]


def decoding_text(max_new_tokens: int, temperature: float, top_p: float, samples: int, seed: int) -> str:
    return f"temperature={temperature:g} top_p={top_p:g} max_new_tokens={max_new_tokens} samples={samples} seed={seed}"


def wilson_interval(successes: float, n: int, z: float = Z_95) -> tuple[float, float] | tuple[None, None]:
    """Wilson's score interval for a proportion of `successes` out of `n` (successes may be
    fractional: a row scoring the mean of its samples). (None, None) when n is 0."""
    if n <= 0:
        return None, None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # At p = 0 or 1 the bound is exactly 0 or 1; the formula leaves a rounding error there.
    return (0.0 if p <= 0 else max(0.0, centre - half)), (1.0 if p >= 1 else min(1.0, centre + half))


def pending_chunks(
    questions: pl.DataFrame, stored: pl.DataFrame, samples: int, chunk_size: int
) -> Iterator[tuple[int, pl.DataFrame]]:
    """(chunk number, questions still to generate) for each chunk with work left.

    Chunks are fixed slices of `chunk_size` questions in position order, so an interrupted
    run resumes on the same chunks (and seeds) as an uninterrupted one. A question is done
    when `stored` holds all its samples for its current prompt (`prompt_sha`)."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size={chunk_size}: give at least 1 question per chunk")
    done = (
        stored.filter(pl.col("sample") < samples)
        .group_by("question_id", "prompt_sha").agg(pl.col("sample").n_unique().alias("have"))
        .filter(pl.col("have") == samples)
        .select("question_id", "prompt_sha")
    )
    ordered = questions.sort("position").with_row_index("order").with_columns(chunk=pl.col("order") // chunk_size)
    todo = ordered.join(done, on=["question_id", "prompt_sha"], how="anti").sort("order")
    for (chunk,), part in todo.group_by("chunk", maintain_order=True):
        yield int(chunk), part.drop("order", "chunk")


def response_rows(
    questions: pl.DataFrame, texts: Sequence[Sequence[str]], chunk: int, settings: str, revision: str | None
) -> pl.DataFrame:
    """`RESPONSE_SCHEMA` rows of one generated chunk: `texts[i]` holds the samples of question i."""
    samples = len(texts[0]) if texts else 0
    return pl.DataFrame(
        {"question_id": [q for q in questions["question_id"] for _ in range(samples)],
         "prompt_sha": [p for p in questions["prompt_sha"] for _ in range(samples)],
         "sample": [i for _ in range(questions.height) for i in range(samples)],
         "chunk": chunk, "response": [text for row in texts for text in row], "settings_hash": settings,
         "revision": revision},
        schema=RESPONSE_SCHEMA,
    )


def current_responses(questions: pl.DataFrame, stored: pl.DataFrame, samples: int) -> pl.DataFrame:
    """The stored responses that answer the questions' current prompts, one per (question, sample)
    (the latest chunk file wins when a pair was stored twice)."""
    keys = questions.select("question_id", "prompt_sha")
    return (
        stored.filter(pl.col("sample") < samples)
        .join(keys, on=["question_id", "prompt_sha"], how="semi")
        .unique(["question_id", "sample"], keep="last", maintain_order=True)
    )


def grade_responses(responses: pl.DataFrame, questions: pl.DataFrame) -> pl.DataFrame:
    """Each response with `position`, the extracted `answer` (`extract_choice`), the `gold`
    letter and `correct` (strict: no answer is wrong), `correct_ii_medical` (the published
    harness's verdict) and `scorer_disagreement` (why the two differ, or null). Rows in
    question position, then sample order."""
    joined = responses.join(
        questions.select("question_id", "position", "options", "answer_idx"), on="question_id", how="inner"
    ).sort("position", "sample")
    options = [{o["letter"]: o["text"] for o in row} for row in joined["options"].to_list()]
    texts, golds = joined["response"].to_list(), joined["answer_idx"].to_list()
    answers = extract_choices(texts, options)
    verdicts = [harness_verdict(t, o, g, a) for t, o, g, a in zip(texts, options, golds, answers, strict=True)]
    harness, why = [v[0] for v in verdicts], [v[1] for v in verdicts]
    answers = pl.Series("answer", answers, dtype=pl.String)
    return joined.drop("options").rename({"answer_idx": "gold"}).with_columns(
        answers, correct=answers.eq_missing(pl.col("gold")),
        correct_ii_medical=pl.Series(harness, dtype=pl.Boolean), scorer_disagreement=pl.Series(why, dtype=pl.String),
    )


def accuracy_with_interval(graded: pl.DataFrame) -> dict[str, Any]:
    """Accuracy over the rows of the file (each row the mean of its samples), its Wilson
    interval, and the same over unique questions (rows sharing a `prompt_sha` are one question)."""
    per_row = graded.group_by("question_id").agg(pl.col("prompt_sha").first(), score=pl.col("correct").mean(),
                                                 harness=pl.col("correct_ii_medical").mean())
    per_question = per_row.group_by("prompt_sha").agg(score=pl.col("score").mean())
    rows, unique = per_row.height, per_question.height
    accuracy = per_row["score"].mean() if rows else None
    harness = per_row["harness"].mean() if rows else None
    unique_accuracy = per_question["score"].mean() if unique else None
    low, high = wilson_interval(per_row["score"].sum(), rows)
    harness_low, harness_high = wilson_interval(per_row["harness"].sum(), rows)
    unique_low, unique_high = wilson_interval(per_question["score"].sum(), unique)
    return {
        "rows": rows, "responses": graded.height, "correct": int(graded["correct"].sum()),
        "unanswered": graded["answer"].null_count(),
        "accuracy": accuracy, "ci_low": low, "ci_high": high,
        "accuracy_ii_medical": harness, "ci_low_ii_medical": harness_low, "ci_high_ii_medical": harness_high,
        "gap_points": None if harness is None or accuracy is None else 100 * (harness - accuracy),
        "ci_method": CI_METHOD,
        "unique_questions": unique, "unique_accuracy": unique_accuracy,
        "unique_ci_low": unique_low, "unique_ci_high": unique_high,
    }


def _interval_se(low: float | None, high: float | None) -> float | None:
    return None if low is None or high is None else (high - low) / (2 * Z_95)


def _partial(column: str, score: Mapping[str, Any] | None) -> str | None:
    """"MedQA (12/35)" when the score covers fewer rows than its benchmark file holds."""
    if not score or score.get("rows") is None or score.get("file_rows") is None or score["rows"] >= score["file_rows"]:
        return None
    return f"{column} ({score['rows']}/{score['file_rows']})"


def leaderboard(
    scores: pl.DataFrame,
    columns: Sequence[str],
    reference: Mapping[str, Any] | None = None,
    healthbench: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The model card's table: one row per model, a column per benchmark with the accuracy (%)
    under the published harness's verdict, comparable with the card's row (`<col>_low` /
    `<col>_high`: its 95% interval), the strict accuracy beside it (`<col>_strict`), `Avg` /
    `Avg_strict` the unweighted means of the ten, only when all ten are present (else
    `missing` names the absent ones; `partial` names those scored on the first rows of the
    file only, "MedQA (12/35)"), and `HealthBench` (%) when graded.

    `scores`: rows of `SCORE_SCHEMA` (model, column, accuracy_ii_medical and its interval,
    accuracy, decoding).
    The Avg interval treats the benchmarks as independent: half-width 1.96 x sqrt(sum of
    the squared standard errors, each read off its interval) / 10.
    `reference`: {"model", "scores": {column: %}, "avg_stated", "healthbench"} from the
    model card: shown as published (no intervals), marked `reference`, with `Avg` recomputed
    and `Avg_stated` beside it. `healthbench`: model, score (0-1), bootstrap_std.
    """
    rows: list[dict[str, Any]] = []
    hb = {} if healthbench is None else {r["model"]: r for r in healthbench.iter_rows(named=True)}
    for model in sorted(set(scores["model"].to_list()) | set(hb)):
        group = scores.filter(pl.col("model") == model)
        by_column = {r["column"]: r for r in group.iter_rows(named=True)}
        row: dict[str, Any] = {"model": model, "reference": False}
        for column in columns:
            score = by_column.get(column)
            for suffix, field in (("", "accuracy_ii_medical"), ("_low", "ci_low_ii_medical"),
                                  ("_high", "ci_high_ii_medical"), ("_strict", "accuracy")):
                value = None if score is None or score[field] is None else 100 * score[field]
                row[column + suffix] = value
        missing = [c for c in columns if row[c] is None]
        if missing:
            row |= {"Avg": None, "Avg_low": None, "Avg_high": None, "Avg_strict": None}
        else:
            avg = sum(row[c] for c in columns) / len(columns)
            se = math.sqrt(sum(_interval_se(row[c + "_low"], row[c + "_high"]) ** 2 for c in columns)) / len(columns)
            # A normal interval on the mean, clipped to the possible range (scores near 0 or 100).
            row |= {"Avg": avg, "Avg_low": max(0.0, avg - Z_95 * se), "Avg_high": min(100.0, avg + Z_95 * se),
                    "Avg_strict": sum(row[c + "_strict"] for c in columns) / len(columns)}
        row["Avg_stated"] = None
        graded = hb.get(model)
        row["HealthBench"] = None if graded is None or graded["score"] is None else 100 * graded["score"]
        row["HealthBench_std"] = None if graded is None or graded["bootstrap_std"] is None else 100 * graded["bootstrap_std"]
        row["missing"] = ", ".join(missing) or None
        row["partial"] = ", ".join(p for c in columns if (p := _partial(c, by_column.get(c)))) or None
        decodings = sorted({d for d in group["decoding"].to_list() if d})
        row["decoding"] = decodings[0] if len(decodings) == 1 else f"mixed: {len(decodings)} settings" if decodings else None
        rows.append(row)
    if reference is not None:
        published = reference["scores"]
        row = {"model": f"{reference['model']} (model card)", "reference": True}
        for column in columns:
            row |= {column: published.get(column), column + "_low": None, column + "_high": None,
                    column + "_strict": None}
        missing = [c for c in columns if published.get(c) is None]
        avg = None if missing else sum(published[c] for c in columns) / len(columns)
        row |= {"Avg": avg, "Avg_low": None, "Avg_high": None, "Avg_strict": None,
                "Avg_stated": reference.get("avg_stated"),
                "HealthBench": reference.get("healthbench"), "HealthBench_std": None,
                "missing": ", ".join(missing) or None, "partial": None, "decoding": reference.get("decoding")}
        rows.append(row)
    schema: dict[str, pl.DataType] = {"model": pl.String(), "reference": pl.Boolean()}
    for column in [*columns, "Avg"]:
        schema |= {column: pl.Float64(), column + "_low": pl.Float64(), column + "_high": pl.Float64(),
                   column + "_strict": pl.Float64()}
    schema |= {"Avg_stated": pl.Float64(), "HealthBench": pl.Float64(), "HealthBench_std": pl.Float64(),
               "missing": pl.String(), "partial": pl.String(), "decoding": pl.String()}
    return pl.DataFrame(rows, schema=schema)
