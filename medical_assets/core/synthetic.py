"""Synthetic QA traces (recipe, "Training mix": synthetic QA): seed questions with a
gold option are answered by a generator model; an answer counts only when its
`\\boxed{}` letter matches the gold one (the same `extract_choice` as evaluation),
and a question is retried a few times before it is given up.

Plain functions on Polars frames: the seed questions' normalization, the
recipe's sampling, and the bookkeeping of attempts that makes generation
resumable (what is still to try is computed from what is stored).
"""

from __future__ import annotations

import re

import polars as pl

OPTION_LINE = re.compile(r"^\s*\(?([A-J])[.):]\s+(\S.*?)\s*$")
CHOICES_HEADER = re.compile(r"^\s*(answer choices|options|choices)\s*:?\s*$", re.IGNORECASE)

OPTIONS_DTYPE = pl.List(pl.Struct({"letter": pl.String, "text": pl.String}))
SEED_QUESTION_SCHEMA: dict[str, pl.DataType] = {
    "question_id": pl.String,  # <seed set>:<source_row>
    "seed_set": pl.String,
    "source_row": pl.Int64,
    "sample_id": pl.String,  # the raw_traces row it came from
    "question": pl.String,
    "options": OPTIONS_DTYPE,
    "gold": pl.String,  # the gold option's letter
}
SEED_REJECT_SCHEMA: dict[str, pl.DataType] = {
    "seed_set": pl.String, "source_row": pl.Int64, "sample_id": pl.String, "reason": pl.String,
}
ATTEMPT_SCHEMA: dict[str, pl.DataType] = {
    "question_id": pl.String,
    "attempt": pl.Int32,  # 0, 1, ... (each with its own seed)
    "seed": pl.Int64,
    "response": pl.String,
    "extracted": pl.String,  # the letter extract_choice read, or null
    "correct": pl.Boolean,
    "settings": pl.String,  # hash of model, decoding parameters and prompt: attempts are reused only under the same
}


def split_options(prompt: str) -> tuple[str, list[dict[str, str]]]:
    """(question stem, [{letter, text}]) from a prompt that ends with lettered option lines
    ("A. text", "B) text", "(C) text"); a "Answer Choices:" header line before them is dropped.
    Options must run A, B, C, ... in order; otherwise there are none."""
    lines = prompt.rstrip().splitlines()
    options: list[dict[str, str]] = []
    end = len(lines)
    while end > 0 and (match := OPTION_LINE.match(lines[end - 1])):
        options.insert(0, {"letter": match.group(1), "text": match.group(2)})
        end -= 1
    letters = [o["letter"] for o in options]
    if len(options) < 2 or letters != [chr(ord("A") + i) for i in range(len(options))]:
        return prompt.strip(), []
    if end > 0 and CHOICES_HEADER.match(lines[end - 1]):
        end -= 1
    return "\n".join(lines[:end]).strip(), options


def _normalized(text: str) -> str:
    return " ".join(text.lower().split()).rstrip(".")


def gold_letter(answer: str | None, options: list[dict[str, str]]) -> str | None:
    """The gold option's letter: the answer itself when it is one of the letters, else the option
    whose text the answer is or begins with ("Systemic lupus. Explanation: ..."), the longest such."""
    if not answer or not options:
        return None
    letters = {o["letter"] for o in options}
    stripped = answer.strip().strip("()").rstrip(".")
    if stripped.upper() in letters and len(stripped) == 1:
        return stripped.upper()
    said = _normalized(answer)
    matches = [o for o in options if said == _normalized(o["text"]) or said.startswith(_normalized(o["text"]) + ".")
               or said.startswith(_normalized(o["text"]) + " ")]
    return max(matches, key=lambda o: len(o["text"]))["letter"] if matches else None


def seed_questions(raw: pl.DataFrame, seed_set: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Seed-set rows of `raw_traces` (prompt with its options, `answer` a letter, index or text)
    as (questions, rejects). A row without lettered options, or whose answer is not one of its
    options, is rejected with the reason: it could never be verified."""
    kept, rejected = [], []
    for sample_id, source_row, prompt, answer in raw.select("sample_id", "source_row", "prompt", "answer").iter_rows():
        question, options = split_options(prompt or "")
        gold = gold_letter(answer, options)
        row = {"seed_set": seed_set, "source_row": int(source_row), "sample_id": sample_id}
        if not options:
            rejected.append(row | {"reason": "no lettered options (A., B., ...) at the end of the prompt"})
        elif gold is None:
            rejected.append(row | {"reason": f"gold answer {answer!r} is not one of the options "
                                   f"{', '.join(o['letter'] for o in options)}"})
        else:
            kept.append(row | {"question_id": f"{seed_set}:{source_row}", "question": question,
                               "options": options, "gold": gold})
    return (pl.DataFrame(kept, schema=SEED_QUESTION_SCHEMA),
            pl.DataFrame(rejected, schema=SEED_REJECT_SCHEMA))


def sample_questions(questions: pl.DataFrame, n: int | None, seed: int) -> pl.DataFrame:
    """`n` questions drawn without replacement with `seed` (all of them when there are fewer),
    in source order. The same input, `n` and seed give the same rows."""
    if n is None or n >= questions.height:
        return questions.sort("source_row")
    return questions.sample(n, seed=seed, shuffle=False).sort("source_row")


def still_to_try(questions: pl.DataFrame, attempts: pl.DataFrame, max_attempts: int) -> pl.DataFrame:
    """Questions with no correct attempt yet and fewer than `max_attempts` attempts, with the
    `attempt` number to make next. `attempts` holds the stored attempts (`ATTEMPT_SCHEMA`) of the
    current settings only."""
    done = attempts.group_by("question_id").agg(tried=pl.len().cast(pl.Int32), solved=pl.col("correct").any())
    return (
        questions.join(done, on="question_id", how="left")
        .filter(~pl.col("solved").fill_null(False) & (pl.col("tried").fill_null(0) < max_attempts))
        .with_columns(attempt=pl.col("tried").fill_null(0).cast(pl.Int32))
        .drop("tried", "solved")
    )


def outcome(questions: pl.DataFrame, attempts: pl.DataFrame, max_attempts: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(accepted, given_up): each question's first correct attempt, and the questions that
    used up `max_attempts` without one (with the reason, what the last attempt answered)."""
    first_correct = (
        attempts.filter(pl.col("correct")).sort("attempt").group_by("question_id").first()
    )
    accepted = questions.join(first_correct, on="question_id", how="inner")
    last = attempts.sort("attempt").group_by("question_id").agg(
        tried=pl.len(), last_extracted=pl.col("extracted").last(),
    )
    given_up = (
        questions.join(first_correct.select("question_id"), on="question_id", how="anti")
        .join(last, on="question_id", how="inner")
        .filter(pl.col("tried") >= max_attempts)
        .with_columns(reason=pl.format(
            "no correct answer in {} attempts (gold {}; last answer {})",
            pl.col("tried"), pl.col("gold"), pl.col("last_extracted").fill_null("unreadable"),
        ))
    )
    return accepted, given_up
