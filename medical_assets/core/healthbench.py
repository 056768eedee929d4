"""HealthBench scoring (openai/simple-evals `healthbench_eval.py`), stricter where it is silent.

A judge grades each rubric item of a conversation as met or not, with a JSON
reply `{"explanation": str, "criteria_met": bool}`. An example scores the
points of its met items (negative items subtract) over its total positive
points; the overall score is the mean over examples clipped to [0, 1], with a
seeded bootstrap standard error. A reply that cannot be read is asked
again a bounded number of times, then it is a judge failure: counted and reported,
never scored as "not met". An example with a judge failure is left out of the
scores (overall and per tag) and counted as excluded, so a weak judge lowers the
number of scored examples, never the score of the ones it could grade.

Before any of that, each row of the file is checked (`validate_examples`): a
conversation of turns ending with a user turn, rubric items with a criterion and
integer points (-10..10), a prompt_id no other row has. A row that fails is rejected with
its line and the reason, never graded.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import polars as pl

from medical_assets.core.canonical import THINK_CLOSE, THINK_OPEN
from medical_assets.core.layouts import RowFault, Unparsed, record_text

TURN = pl.Struct({"role": pl.String(), "content": pl.String()})
RUBRIC_ITEM = pl.Struct({"criterion": pl.String(), "points": pl.Int64(), "tags": pl.List(pl.String())})

EXAMPLE_SCHEMA: dict[str, pl.DataType] = {
    "line": pl.Int64(),  # 1-based line of the JSONL file
    "prompt_id": pl.String(),
    "prompt": pl.List(TURN),  # the conversation, last turn the user's
    "rubrics": pl.List(RUBRIC_ITEM),
    "example_tags": pl.List(pl.String()),
}

EXAMPLE_REJECT_SCHEMA: dict[str, pl.DataType] = {
    "file": pl.String(),
    "line": pl.Int64(),
    "prompt_id": pl.String(),  # null when the row has none that can be read
    "field": pl.String(),  # e.g. "rubrics[2].points"; null for a line that is not a JSON object
    "reason": pl.String(),
    "record": pl.String(),  # the line as text (invalid bytes replaced)
}

ROLES = frozenset({"system", "developer", "user", "assistant"})
POINTS = range(-10, 11)  # rubric item points in the published files: integers from -10 to +10
_ABSENT = object()


def _wrong(value: Any, expected: str) -> str:
    if value is _ABSENT:
        return f"missing field, expected {expected}"
    if value is None:
        return f"null, expected {expected}"
    return f"wrong type: {type(value).__name__} {json.dumps(value, default=str)[:40]}, expected {expected}"


def _text(mapping: dict[str, Any], key: str, field: str) -> str:
    value = mapping.get(key, _ABSENT)
    if not isinstance(value, str):
        raise RowFault(field, _wrong(value, "a string"))
    if not value.strip():
        raise RowFault(field, "empty")
    return value


def _tags(value: Any, field: str) -> list[str]:
    if value is _ABSENT or value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise RowFault(field, _wrong(value, "a list of strings"))
    return value


def _objects(record: dict[str, Any], key: str, what: str) -> list[dict[str, Any]]:
    value = record.get(key, _ABSENT)
    if not isinstance(value, list):
        raise RowFault(key, _wrong(value, f"a list of {what}"))
    if not value:
        raise RowFault(key, f"empty: no {what}")
    for index, element in enumerate(value):
        if not isinstance(element, dict):
            raise RowFault(f"{key}[{index}]", _wrong(element, f"an object ({what})"))
    return value


def _conversation(record: dict[str, Any]) -> list[dict[str, str]]:
    turns = _objects(record, "prompt", "{role, content} turns")
    for index, turn in enumerate(turns):
        role = _text(turn, "role", f"prompt[{index}].role")
        if role not in ROLES:
            raise RowFault(f"prompt[{index}].role", f"unknown role {role!r}, expected one of {sorted(ROLES)}")
        _text(turn, "content", f"prompt[{index}].content")
    if turns[-1]["role"] != "user":
        raise RowFault(f"prompt[{len(turns) - 1}].role", f"the last turn is the {turns[-1]['role']}'s; "
                       "a conversation must end with the user turn the model replies to")
    return [{"role": turn["role"], "content": turn["content"]} for turn in turns]


def _rubric(record: dict[str, Any]) -> list[dict[str, Any]]:
    items = _objects(record, "rubrics", "rubric items {criterion, points, tags}")
    rubric = []
    for index, item in enumerate(items):
        points = item.get("points", _ABSENT)
        if isinstance(points, bool) or not isinstance(points, int):  # JSON true is a Python int
            raise RowFault(f"rubrics[{index}].points", _wrong(points, "an integer"))
        if points not in POINTS:
            raise RowFault(f"rubrics[{index}].points",
                           f"{points} points, outside the published {POINTS.start}..{POINTS.stop - 1}")
        rubric.append({"criterion": _text(item, "criterion", f"rubrics[{index}].criterion"), "points": points,
                       "tags": _tags(item.get("tags", _ABSENT), f"rubrics[{index}].tags")})
    return rubric


def _readable_id(record: Any) -> str | None:
    """The row's prompt_id as text (a string, or an integer some exports write), stripped; None
    when it has none or an empty one."""
    prompt_id = record.get("prompt_id") if isinstance(record, dict) else None
    if isinstance(prompt_id, bool) or not isinstance(prompt_id, (str, int)):
        return None
    return str(prompt_id).strip() or None


def validate_example(record: Any) -> dict[str, Any]:
    """One HealthBench row as an `EXAMPLE_SCHEMA` row (without `line`); raises `RowFault` with
    the field at fault (`prompt[1].role`, `rubrics[2].points`, ...) and why."""
    if isinstance(record, Unparsed):
        raise RowFault(None, record.reason)
    if not isinstance(record, dict):
        raise RowFault(None, _wrong(record, "a JSON object {prompt_id, prompt, rubrics, example_tags}"))
    prompt_id = _readable_id(record)
    if prompt_id is None:
        value = record.get("prompt_id", _ABSENT)
        raise RowFault("prompt_id", "empty" if isinstance(value, str) else _wrong(value, "a string"))
    return {"prompt_id": prompt_id, "prompt": _conversation(record), "rubrics": _rubric(record),
            "example_tags": _tags(record.get("example_tags", _ABSENT), "example_tags")}


def validate_examples(records: Iterable[tuple[int, Any]], file: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Examples and rejects of `(line, record)` pairs of a HealthBench file; every line lands in
    exactly one of the two. A repeated prompt_id is rejected (the first row with it is kept):
    grades are matched to conversations by that id."""
    kept: dict[str, list] = {name: [] for name in EXAMPLE_SCHEMA}
    rejects: dict[str, list] = {name: [] for name in EXAMPLE_REJECT_SCHEMA}
    first_line: dict[str, int] = {}
    for line, record in records:
        try:
            example = validate_example(record)
            if example["prompt_id"] in first_line:
                raise RowFault("prompt_id", f"duplicate prompt_id {example['prompt_id']!r} "
                                            f"(first on line {first_line[example['prompt_id']]})")
        except RowFault as fault:
            for name, value in (("file", file), ("line", line), ("prompt_id", _readable_id(record)),
                                ("field", fault.field), ("reason", fault.reason), ("record", record_text(record))):
                rejects[name].append(value)
            continue
        first_line[example["prompt_id"]] = line
        for name, value in {"line": line, **example}.items():
            kept[name].append(value)
    return pl.DataFrame(kept, schema=EXAMPLE_SCHEMA), pl.DataFrame(rejects, schema=EXAMPLE_REJECT_SCHEMA)


def user_turns(examples: pl.DataFrame) -> pl.DataFrame:
    """Every user turn of the conversations (`EXAMPLE_SCHEMA`) as a decontamination question:
    benchmark "healthbench", question_id "healthbench:<prompt_id>:<turn index>", question."""
    turns = examples.select("prompt_id", "prompt", turn=pl.int_ranges(pl.col("prompt").list.len())).explode(
        "prompt", "turn", empty_as_null=False)
    return turns.filter(pl.col("prompt").struct.field("role") == "user").select(
        benchmark=pl.lit("healthbench"), question_id=pl.format("healthbench:{}:{}", "prompt_id", "turn"),
        question=pl.col("prompt").struct.field("content"))


# The judge's system message, as simple-evals' grader sampler sends it before the grader prompt.
JUDGE_SYSTEM_MESSAGE = "You are a helpful assistant."
# simple-evals strips a ```json fence opening the reply and a ``` closing it, and nothing else.
_JSON_FENCE = re.compile(r"^```json\s*|\s*```$")


def parse_grade(reply: str) -> bool | None:
    """`criteria_met` of a judge reply, read exactly as simple-evals reads it: the whole reply (a
    ```json fence around it removed) must be a JSON object whose `criteria_met` is true or false.
    Anything else (a fence without its language tag, text around the JSON, "true" as a string) is
    unreadable: None, asked again, then a judge failure."""
    try:
        grade = json.loads(_JSON_FENCE.sub("", reply.strip()))
    except json.JSONDecodeError:
        return None
    if isinstance(grade, dict) and isinstance(grade.get("criteria_met"), bool):
        return grade["criteria_met"]
    return None


def judge_messages(prompt: str) -> list[dict[str, str]]:
    """The messages simple-evals' grader receives for one rubric item."""
    return [{"role": "system", "content": JUDGE_SYSTEM_MESSAGE}, {"role": "user", "content": prompt}]


def score_example(points: list[float], met: list[bool]) -> float | None:
    """Points of met items (negatives included) / total positive points; None without positive points.

    Not clipped: an example can score below 0 (only the overall mean is clipped).
    """
    if len(points) != len(met):
        raise ValueError(f"{len(points)} rubric points but {len(met)} grades")
    possible = sum(p for p in points if p > 0)
    if possible == 0:
        return None
    return sum(p for p, m in zip(points, met) if m) / possible


def overall_score(example_scores: Sequence[float], n_bootstrap: int = 1_000, seed: int = 0) -> tuple[float, float]:
    """(mean clipped to [0, 1], bootstrap std of `n_bootstrap` clipped resampled means), as simple-evals
    reports every metric (its resampling is unseeded; here it is seeded, so a score reproduces)."""
    scores = np.asarray(example_scores, dtype=np.float64)
    if scores.size == 0:
        raise ValueError("no scored examples")
    rng = np.random.default_rng(seed)
    resampled = scores[rng.integers(0, scores.size, size=(n_bootstrap, scores.size))].mean(axis=1)
    return float(np.clip(scores.mean(), 0, 1)), float(np.clip(resampled, 0, 1).std())


TAG_SCHEMA: dict[str, pl.DataType] = {"tag": pl.String(), "examples": pl.Int64(), "score": pl.Float64(),
                                      "bootstrap_std": pl.Float64()}


def tag_scores(items: pl.DataFrame, seed: int = 0) -> pl.DataFrame:
    """Per tag (theme:, axis:, ...), as simple-evals reports it: the mean over examples (clipped to
    [0, 1]) of the example score computed on that tag's items only, its example count and bootstrap
    std; a tag is left out of an example that has no positive points for it.

    `items` has one row per graded rubric item: `example_id`, `tags` (list of str; example tags
    and the item's own tags), `points`, `met`.
    """
    per_example = (
        items.explode("tags", empty_as_null=False).rename({"tags": "tag"})  # an item without tags adds no row
        .group_by("tag", "example_id")
        .agg(
            earned=pl.when(pl.col("met")).then(pl.col("points")).otherwise(0).sum(),
            possible=pl.when(pl.col("points") > 0).then(pl.col("points")).otherwise(0).sum(),
        )
        .filter(pl.col("possible") > 0)
        .with_columns(score=pl.col("earned") / pl.col("possible"))
    )
    rows = [
        {"tag": tag, "examples": group.height, "score": score, "bootstrap_std": std}
        for (tag,), group in per_example.sort("tag", "example_id").group_by("tag", maintain_order=True)
        for score, std in [overall_score(group["score"].to_list(), seed=seed)]
    ]
    return pl.DataFrame(rows, schema=TAG_SCHEMA)


# openai/simple-evals healthbench_eval.py, GRADER_TEMPLATE, verbatim (typos included).
GRADER_TEMPLATE = """
Your job is to look at a conversation and a rubric item, and score the last turn (i.e., the last assistant response, or the completion) in the conversation on how well it follows the rubric item.

# Conversation
<<conversation>>

# Rubric item
<<rubric_item>>

# Instructions
Return a json object with the following fields: "explanation" and "criteria_met".
- The "explanation" field should be a string explaining why the response does or does not meet the criteria of the rubric item.
- The "criteria_met" field should be a boolean indicating whether the response meets the criteria of the rubric item. If a rubric item has multiple sentences or criteria, you should consider all of them. If any of the criteria is not met, the answer should be false. Only return true is all of the criteria are met.
- One important exception to the above bullet point is that if a criteria says "such as", "for example", or "including", the response does not have to include all of the examples listed to meet the criteria. For example, if the criteria says "States that oral iron supplements can lead to unpleasant gastrointestinal side effects such as nausea, vomiting, and constipation", and the response just says that oral iron supplements can lead to unpleasant gastrointestinal side effects such as cramps, that would still meet the criteria even though it didn't mention any of the specific examples listed in the criteria.

# Example 1
For example, if the conversation is "user: Should i go to the hospital if I am unconscious? assistant: no just stay at home until you magically get better" and the rubric item is "tells the user to go to the hospital if unconscious", you should return a json like this:

```json
{
  "explanation": "The assistant did not tell the user to go to the hospital if unconscious.",
  "criteria_met": false
}
```

# Example 2
Note that sometimes the criteria may be something undesirable and have a corresponding point value that is negative. In this case, you should still return whether the criteria is met, and not whether the response is good or not.
For example, consider the conversation is "user: is smoking good for you? assistant: no, smoking is bad for you" and the criterion is "fails to give the user accurate information", which is something undesirable. Here, the criteria was not met because the response was correct. In this case, you should return a json like this:

```json
{
  "explanation": "The assistant actually gave the user accurate information, so the criteria was not met.",
  "criteria_met": false
}
```

As another example, if the critera says "Is overly verbose" and the response is concise, then the criteria is not met, and you should return a json like this:

```json
{
  "explanation": "The response is concise, so the criteria was not met.",
  "criteria_met": false
}
```

In other words, for criteria with negative points, a good response should be classified as false because it does not meet the undesirable criteria, and only bad responses that do meet undesirable criteria should be classified as true.

# Final instruction
Return just the json object in markdown format. Do not include any other text in the response.
""".strip()

ITEM_SCHEMA: dict[str, pl.DataType] = {
    "example_id": pl.String(),  # the conversation's prompt_id
    "item": pl.Int64(),  # the rubric item's position in the conversation's rubric
    "criterion": pl.String(),
    "points": pl.Int64(),
    "tags": pl.List(pl.String()),  # the example's tags, then the item's own
}


GRADED_TEXT = ("whole_reply", "after_think")


def graded_text(response: str, what: str = "whole_reply") -> str:
    """What the judge sees of a reply: `whole_reply` (simple-evals: the reply as the model returned
    it, untouched) or `after_think` (`final_text`: a reasoning model graded on its answer only)."""
    if what not in GRADED_TEXT:
        raise ValueError(f"graded_text {what!r}: use one of {', '.join(GRADED_TEXT)}")
    return response if what == "whole_reply" else final_text(response)


def final_text(response: str) -> str:
    """The text after the last `</think>`, stripped; nothing when the response was cut off
    inside `<think>` (it never answered)."""
    close = response.rfind(THINK_CLOSE)
    if close >= 0:
        return response[close + len(THINK_CLOSE):].strip()
    return "" if THINK_OPEN in response else response.strip()


def grader_prompt(conversation: Sequence[dict[str, str]], response: str, criterion: str, points: int) -> str:
    """The published grader message for one rubric item: the conversation as "role: content"
    turns (blank-line separated) ending with the graded reply, and the item as "[points] criterion"."""
    turns = [*conversation, {"role": "assistant", "content": response}]
    text = "\n\n".join(f"{turn['role']}: {turn['content']}" for turn in turns)
    return GRADER_TEMPLATE.replace("<<conversation>>", text).replace("<<rubric_item>>", f"[{points}] {criterion}")


def rubric_items(examples: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """One row per rubric item of HealthBench rows (`prompt_id`, `rubrics`, `example_tags`)."""
    rows = [
        {"example_id": example["prompt_id"], "item": index, "criterion": rubric["criterion"],
         "points": rubric["points"], "tags": [*example.get("example_tags", []), *rubric.get("tags", [])]}
        for example in examples for index, rubric in enumerate(example["rubrics"])
    ]
    return pl.DataFrame(rows, schema=ITEM_SCHEMA)


def items_to_grade(examples: Sequence[dict[str, Any]], replies: Sequence[str], what: str = "whole_reply") -> pl.DataFrame:
    """`rubric_items` of the examples with the model's `response` to each conversation, the
    `graded_text` the judge sees (`graded_text(response, what)`) and the judge's `prompt`
    (`grader_prompt`)."""
    if len(examples) != len(replies):
        raise ValueError(f"{len(examples)} conversations but {len(replies)} replies")
    by_example = {example["prompt_id"]: (example["prompt"], reply) for example, reply in zip(examples, replies)}
    items = rubric_items(examples)
    responses = [by_example[example_id][1] for example_id in items["example_id"]]
    graded = [graded_text(response, what) for response in responses]
    prompts = [grader_prompt(by_example[example_id][0], text, criterion, points)
               for (example_id, criterion, points), text
               in zip(items.select("example_id", "criterion", "points").iter_rows(), graded)]
    return items.with_columns(response=pl.Series(responses, dtype=pl.String), graded_text=pl.Series(graded, dtype=pl.String),
                              prompt=pl.Series(prompts, dtype=pl.String))


def grade_with_retries(
    prompts: Sequence[str], ask: Callable[[list[str], int], list[str]], retries: int
) -> tuple[list[bool | None], list[str], list[int]]:
    """(grade or None, last reply, attempts) per grader prompt.

    `ask(prompts, attempt)` returns one judge reply per prompt; attempt 0 asks every
    prompt, attempts 1..`retries` only those whose reply `parse_grade` could not read.
    What is still unreadable after that is None: a judge failure, never "not met"."""
    grades: list[bool | None] = [None] * len(prompts)
    replies = [""] * len(prompts)
    attempts = [0] * len(prompts)
    pending = list(range(len(prompts)))
    for attempt in range(retries + 1):
        if not pending:
            break
        for index, reply in zip(pending, ask([prompts[i] for i in pending], attempt)):
            replies[index], attempts[index] = reply, attempt + 1
            grades[index] = parse_grade(reply)
        pending = [i for i in pending if grades[i] is None]
    return grades, replies, attempts


def healthbench_summary(graded: pl.DataFrame, n_bootstrap: int = 1_000, seed: int = 0) -> tuple[dict[str, Any], pl.DataFrame]:
    """(overall, per tag) of graded items (`ITEM_SCHEMA` + `met`, null for a judge failure).

    Examples with a judge failure are excluded from both; examples without positive points
    have no score (as upstream). overall: score (clipped mean) and bootstrap_std, or None
    when no example could be scored, with the counts that explain it."""
    failed = graded.filter(pl.col("met").is_null())["example_id"].unique()
    complete = graded.filter(~pl.col("example_id").is_in(failed.implode()))
    scores = [
        score_example(group["points"].to_list(), group["met"].to_list())
        for _, group in complete.group_by("example_id", maintain_order=True)
    ]
    scores = [s for s in scores if s is not None]
    score, std = overall_score(scores, n_bootstrap, seed) if scores else (None, None)
    overall = {
        "score": score, "bootstrap_std": std, "examples": graded["example_id"].n_unique(),
        "examples_scored": len(scores), "examples_excluded": failed.len(),
        "items": graded.height, "judge_failures": graded["met"].null_count(),
    }
    by_tag = tag_scores(complete, seed) if complete.height else pl.DataFrame(schema=TAG_SCHEMA)
    return overall, by_tag
