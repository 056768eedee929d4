"""Normalize benchmark rows of the public harness to one question schema.

Rows are `{question, options: {"A": text, ...}, answer, answer_idx}`;
MedXpertQA rows carry `id, question, options, label` instead. Options may
also come as a list (lettered A, B, ... in order), as in II-Medical's hub sets.
A row that cannot be scored fairly (no options, more options than the 26
letters, an option key that is not one capital letter, gold letter not among
them, `answer` text that contradicts `options[answer_idx]`, a repeated id) is
rejected with the reason, never scored.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping, Sequence

import polars as pl

from medical_assets.core.layouts import LETTERS, record_text

OPTION = pl.Struct({"letter": pl.String(), "text": pl.String()})

EVAL_QUESTION_SCHEMA: dict[str, pl.DataType] = {
    "benchmark": pl.String(),
    "question_id": pl.String(),  # "<benchmark>:<position>", or "<benchmark>:<id>" where rows carry an id
    "position": pl.Int64(),  # 0-based row position in the benchmark's list
    "question": pl.String(),  # stripped
    "options": pl.List(OPTION),  # sorted by letter, texts stripped
    "answer_idx": pl.String(),  # the gold letter
    # The texts as the file holds them (MedXpertQA's question cut at "Answer Choices:", as the
    # harness does): the prompt shows these, byte for byte as the public harness builds it.
    "question_as_loaded": pl.String(),
    "options_as_loaded": pl.List(OPTION),
}

EVAL_REJECT_SCHEMA: dict[str, pl.DataType] = {
    "benchmark": pl.String(),
    "position": pl.Int64(),
    "field": pl.String(),
    "reason": pl.String(),
    "record": pl.String(),
}


class QuestionFault(Exception):
    def __init__(self, field: str | None, reason: str):
        super().__init__(reason)
        self.field, self.reason = field, reason


def _options(row: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(letter, stripped text, text as loaded) of each option, sorted by letter."""
    options = row.get("options")
    if not isinstance(options, (dict, list)):
        raise QuestionFault("options", "missing field" if options is None else f"wrong type: {type(options).__name__}")
    if not options:
        raise QuestionFault("options", "no options")
    if len(options) > len(LETTERS):
        # Lettering A-Z and cutting the rest would drop options, perhaps the gold one.
        raise QuestionFault("options", f"{len(options)} options, more than the {len(LETTERS)} letters A-Z can name")
    pairs = list(options.items()) if isinstance(options, dict) else list(zip(LETTERS, options))
    if not all(isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in pairs):
        raise QuestionFault("options", "options must map letters to non-empty texts")
    letters = [k.strip() for k, _ in pairs]
    if bad := [k for k in letters if len(k) != 1 or k not in LETTERS]:
        raise QuestionFault("options", f"option key {bad[0]!r} is not a capital letter A-Z")
    if repeated := [k for k in letters if letters.count(k) > 1]:
        raise QuestionFault("options", f"option letter {repeated[0]!r} appears twice")
    return sorted(zip(letters, (v.strip() for _, v in pairs), (v for _, v in pairs)))


def normalize_question(row: Any, question_ends_at: str | None = None) -> tuple[str | None, str, list[tuple[str, str, str]], str, str]:
    """(row id or None, question, options, gold letter, question as loaded) of one harness row; raises
    `QuestionFault`. `question_ends_at`: a marker the question is cut at (MedXpertQA's "Answer Choices:")."""
    if not isinstance(row, dict):
        raise QuestionFault(None, f"wrong type: row is {type(row).__name__}, expected an object")
    question = row.get("question")
    if not isinstance(question, str) or not question.strip():
        raise QuestionFault("question", "missing field" if question is None else "empty or not a string")
    if question_ends_at and question_ends_at in question:
        question = question.split(question_ends_at)[0].strip()
        if not question:
            raise QuestionFault("question", f"empty before {question_ends_at!r}")
    options = _options(row)
    letters = {letter: text for letter, text, _ in options}
    gold_field = "label" if "label" in row and "answer_idx" not in row else "answer_idx"
    gold = row.get(gold_field)
    if not isinstance(gold, str) or gold.strip() not in letters:
        raise QuestionFault(gold_field, f"gold letter {gold!r} is not among the options {list(letters)}")
    gold = gold.strip()
    answer = row.get("answer")
    if isinstance(answer, str) and answer.strip() and answer.strip() != letters[gold]:
        raise QuestionFault("answer", f"answer {answer.strip()[:60]!r} is not option {gold} ({letters[gold][:60]!r})")
    row_id = row.get("id")
    return (str(row_id) if row_id is not None else None), question.strip(), options, gold, question


def normalize_questions(benchmark: str, rows: list[Any], question_ends_at: str | None = None
                        ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Questions and rejects of one benchmark; every row lands in exactly one of the two."""
    kept: dict[str, list] = {name: [] for name in EVAL_QUESTION_SCHEMA}
    rejects: dict[str, list] = {name: [] for name in EVAL_REJECT_SCHEMA}
    seen: set[str] = set()
    for position, row in enumerate(rows):
        try:
            row_id, question, options, gold, as_loaded = normalize_question(row, question_ends_at)
            question_id = f"{benchmark}:{row_id if row_id is not None else position}"
            if question_id in seen:
                raise QuestionFault("id", f"duplicate id {row_id!r}")
        except QuestionFault as fault:
            for name, value in (("benchmark", benchmark), ("position", position), ("field", fault.field),
                                ("reason", fault.reason), ("record", record_text(row))):
                rejects[name].append(value)
            continue
        seen.add(question_id)
        for name, value in (("benchmark", benchmark), ("question_id", question_id), ("position", position),
                            ("question", question), ("options", [{"letter": k, "text": v} for k, v, _ in options]),
                            ("answer_idx", gold), ("question_as_loaded", as_loaded),
                            ("options_as_loaded", [{"letter": k, "text": raw} for k, _, raw in options])):
            kept[name].append(value)
    return pl.DataFrame(kept, schema=EVAL_QUESTION_SCHEMA), pl.DataFrame(rejects, schema=EVAL_REJECT_SCHEMA)


def with_options_text(questions: pl.DataFrame) -> pl.DataFrame:
    """Adds `options_text`: "A. text" lines, as the evaluation prompt shows them."""
    lines = pl.col("options").list.eval(
        pl.concat_str([pl.element().struct.field("letter"), pl.lit(". "), pl.element().struct.field("text")])
    )
    return questions.with_columns(options_text=lines.list.join("\n"))


# The evaluation harness's user message (II-Medical-Evaluation `medical.py`): the question, its
# options as "K. text" lines sorted by letter, a blank line, then the instruction of the named
# template (`RECIPE.evaluation.prompt_templates`). No system prompt; texts as loaded.
PROMPT_TEMPLATE = "{question}\n{options}\n\n{instruction}"


def render_prompt(question: str, options: Sequence[Mapping[str, str]], instruction: str) -> str:
    """The user message for one question; `options` as {"letter", "text"} items."""
    lines = "\n".join(f"{o['letter']}. {o['text']}" for o in sorted(options, key=lambda o: o["letter"]))
    return PROMPT_TEMPLATE.format(question=question, options=lines, instruction=instruction)


def prompt_template_hash(name: str, instruction: str) -> str:
    """Identifies the prompt wording: a changed template, name or instruction gives a new hash."""
    text = f"{name}\n" + PROMPT_TEMPLATE.replace("{instruction}", instruction)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def with_prompts(questions: pl.DataFrame, instruction: str) -> pl.DataFrame:
    """Adds `prompt` (the user message of `PROMPT_TEMPLATE`, from the texts as loaded when the
    frame has them) and `prompt_sha`, its content hash: identical questions (GPQA's repeated
    blocks) share it; an edited question gets a new one."""
    raw = "question_as_loaded" in questions.columns and "options_as_loaded" in questions.columns
    columns = ("question_as_loaded", "options_as_loaded", "question", "options") if raw else ("question", "options")
    prompts = []
    for row in questions.select(*columns).iter_rows():
        question, options = (row[0], row[1]) if raw and row[0] is not None and row[1] is not None else row[-2:]
        prompts.append(render_prompt(question, options, instruction))
    shas = [hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:16] for prompt in prompts]
    return questions.with_columns(prompt=pl.Series(prompts, dtype=pl.String), prompt_sha=pl.Series(shas, dtype=pl.String))


def questions_hash(questions: pl.DataFrame) -> str:
    """Content hash of a benchmark's questions (ids, texts, options, gold letters), in position order:
    which version of the benchmark file a score was computed on."""
    digest = hashlib.sha256()
    rows = questions.sort("position").select("question_id", "question", "options", "answer_idx").iter_rows()
    for row in rows:
        digest.update(json.dumps(row, ensure_ascii=False).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()[:16]
