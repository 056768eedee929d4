"""Map a source's own record layout to the canonical trace schema.

The recipe's datasets disagree on layout: chat-message lists, separate
reasoning columns, `<think>` inside the response, column names with
parentheses. A `Layout` names, for each canonical field, where the value sits
in a record, with a small path language:

    question                              a top-level key (any characters but . and [)
    reasoning (reasoning_content)         keys may hold spaces and parentheses
    messages[role=user].content           first list element whose role is user
    input[role=user,last].content         last such element
    conversations[0].value                by position (negative counts from the end)
    messages[role=assistant].info.think_content
    problem | messages[role=user].content   the first alternative the record has (v0 | v1 layouts)

`normalize_records` turns a chunk of parsed records into canonical rows and
reject rows (with the field at fault and why); nothing is dropped silently.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable, Literal, Mapping

import polars as pl

from medical_assets.core.canonical import (
    REJECT_SCHEMA,
    THINK_CLOSE,
    THINK_OPEN,
    TRACE_SCHEMA,
    sample_id,
)

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
NOT_SELECTED = "not selected"  # reason prefix of rows the source's own filter leaves out (not invalid rows)
ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"


@dataclass(frozen=True)
class Unparsed:
    """A record that could not be read at all (bad bytes, bad JSON, blank line)."""

    reason: str
    text: str


class LayoutError(ValueError):
    """A layout is itself malformed (a bad path): a configuration error, not bad data."""


@dataclass(frozen=True)
class Select:
    """One `[...]` step: an index, or the first/last element whose `key` equals `value`."""

    index: int | None = None
    key: str | None = None
    value: str | None = None
    last: bool = False


@dataclass(frozen=True)
class FieldPath:
    text: str
    steps: tuple[str | Select, ...]

    @classmethod
    def parse(cls, text: str) -> "FieldPath":
        steps: list[str | Select] = []
        for segment in _split_segments(text):
            match = re.fullmatch(r"([^\[\]]*)((?:\[[^\[\]]*\])*)", segment)
            if match is None or (not match.group(1) and not match.group(2)):
                raise LayoutError(f"bad field path {text!r}: cannot read segment {segment!r}")
            if match.group(1):
                steps.append(match.group(1))
            for selector in re.findall(r"\[([^\[\]]*)\]", match.group(2)):
                steps.append(_parse_selector(text, selector))
        return cls(text, tuple(steps))


def _split_segments(text: str) -> list[str]:
    segments, depth, current = [], 0, []
    for char in text:
        depth += char == "["
        depth -= char == "]"
        if char == "." and depth == 0:
            segments.append("".join(current))
            current = []
        else:
            current.append(char)
    segments.append("".join(current))
    return segments


def _parse_selector(path: str, selector: str) -> Select:
    selector = selector.strip()
    if re.fullmatch(r"-?\d+", selector):
        return Select(index=int(selector))
    match = re.fullmatch(r"([^=,]+)=([^=,]+)(,\s*(first|last))?", selector)
    if match is None:
        raise LayoutError(f"bad field path {path!r}: selector [{selector}] is neither [N] nor [key=value(,last)]")
    return Select(key=match.group(1).strip(), value=match.group(2).strip(), last=match.group(4) == "last")


@lru_cache(maxsize=256)
def parse_path(text: str) -> FieldPath:
    return FieldPath.parse(text)


@lru_cache(maxsize=256)
def parse_alternatives(text: str) -> tuple[FieldPath, ...]:
    """The paths of "a | b": the value is taken from the first one the record has."""
    alternatives, depth, current = [], 0, []
    for char in text:
        depth += char == "["
        depth -= char == "]"
        if char == "|" and depth == 0:
            alternatives.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    alternatives.append("".join(current).strip())
    if not all(alternatives):
        raise LayoutError(f"bad field path {text!r}: an empty alternative around '|'")
    return tuple(parse_path(alternative) for alternative in alternatives)


class Missing(LookupError):
    """The record has no value at this path (absent key, no matching element, or null)."""


def extract(record: Any, path: FieldPath) -> Any:
    """The value at `path` in `record`; raises `Missing` when a step finds nothing or null."""
    value = record
    for step in path.steps:
        if isinstance(step, str):
            if not isinstance(value, dict) or value.get(step) is None:
                raise Missing(path.text)
            value = value[step]
            continue
        if not isinstance(value, list):
            raise Missing(path.text)
        if step.index is not None:
            if not -len(value) <= step.index < len(value):
                raise Missing(path.text)
            value = value[step.index]
        else:
            found = None
            for item in reversed(value) if step.last else value:
                if isinstance(item, dict) and item.get(step.key) == step.value:
                    found = item
                    break
            value = found
        if value is None:
            raise Missing(path.text)
    return value


@dataclass(frozen=True)
class Layout:
    """Where each canonical field sits in one source's records.

    kind "traces": `prompt` and `response` are required; `reasoning` names a
    separate reasoning field, or is None when the response carries
    `<think>...</think>` (`think_tags=True`) or has no reasoning at all.
    kind "questions" (synthetic-QA seed sets): `prompt` and `answer` are
    required; `options` (one path, or one path per option A, B, ...) are
    appended to the prompt as "A. text" lines.
    `answer_tags`: the final answer after the think block is wrapped in
    `<answer>...</answer>` (AM), which is stripped.
    `keep_if` selects rows by value (e.g. only DeepSeek-R1 traces); the
    others are recorded as not selected, never dropped silently. A row
    without the selection field is invalid (missing field), not unselected:
    a file in another layout must not pass as "nothing selected".
    Any path may list alternatives, "a | b", for sources whose configs differ.
    """

    prompt: str
    response: str | None = None
    reasoning: str | None = None
    answer: str | None = None
    think_tags: bool = False
    answer_tags: bool = False
    options: str | tuple[str, ...] | None = None
    answer_kind: Literal["text", "letter", "index"] = "text"
    kind: Literal["traces", "questions"] = "traces"
    keep_if: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind == "traces" and self.response is None:
            raise LayoutError("a traces layout needs a response path")
        if self.kind == "questions" and self.answer is None:
            raise LayoutError("a questions layout needs an answer path")
        if self.answer_tags and not self.think_tags:
            raise LayoutError("answer_tags strips <answer> after the think block: it needs think_tags")
        for text in self._paths():
            parse_alternatives(text)

    def _paths(self) -> list[str]:
        options = (self.options,) if isinstance(self.options, str) else tuple(self.options or ())
        named = [self.prompt, self.response, self.reasoning, self.answer, *options, *self.keep_if]
        return [p for p in named if p is not None]


class RowFault(Exception):
    def __init__(self, field: str | None, reason: str):
        super().__init__(reason)
        self.field = field
        self.reason = reason


def field_value(record: Any, path: str) -> Any:
    """The value at `path` (its first alternative the record has), or None when missing or null."""
    for alternative in parse_alternatives(path):
        try:
            return extract(record, alternative)
        except Missing:
            continue
    return None


def _get(record: Any, path: str | None, *, required: bool) -> Any:
    if path is None:
        return None
    value = field_value(record, path)
    if value is None and required:
        raise RowFault(path, "missing field")
    return value


def _text(record: Any, path: str | None, *, required: bool) -> str | None:
    value = _get(record, path, required=required)
    if value is not None and not isinstance(value, str):
        raise RowFault(path, f"wrong type: {type(value).__name__}, expected string")
    return value


def split_think(text: str) -> tuple[str | None, str | None]:
    """Split "<think>R</think>A" into (R, A); an unclosed think gives (R, None), no tags (None, A)."""
    body = text.strip()
    if body.startswith(THINK_OPEN):
        body = body[len(THINK_OPEN):]
        if THINK_CLOSE not in body:
            return (body.strip() or None), None
    if THINK_CLOSE in body:
        reasoning, _, response = body.partition(THINK_CLOSE)
        return (reasoning.strip() or None), (response.strip() or None)
    return None, (body or None)


def strip_answer_tags(text: str | None) -> str | None:
    """"<answer>A</answer>" -> "A"; an unclosed <answer> is an unfinished generation (None); untagged text is kept."""
    if text is None or not text.startswith(ANSWER_OPEN):
        return text
    body = text[len(ANSWER_OPEN):]
    if ANSWER_CLOSE not in body:
        return None
    return body.partition(ANSWER_CLOSE)[0].strip() or None


def format_options(value: Any, field: str) -> str:
    """Options as "A. text" lines, from a dict, a [{key, value}] list (bigbio/med_qa), a list of
    texts, or a text (MedReason's "Answer Choices: ...")."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict):
        pairs = list(value.items())
    elif isinstance(value, list) and all(isinstance(o, dict) and "key" in o and "value" in o for o in value):
        pairs = [(o["key"], o["value"]) for o in value]
    elif isinstance(value, list) and all(isinstance(o, str) for o in value):
        pairs = list(zip(LETTERS, value))
    else:
        raise RowFault(field, f"wrong type: {type(value).__name__}, expected options as dict, list or string")
    if not pairs or not all(isinstance(k, str) and isinstance(v, str) for k, v in pairs):
        raise RowFault(field, "options must map letters to non-empty texts")
    return "\n".join(f"{key.strip()}. {text.strip()}" for key, text in pairs)


def _options_text(record: Any, layout: Layout) -> str | None:
    if layout.options is None:
        return None
    if isinstance(layout.options, str):
        return format_options(_get(record, layout.options, required=True), layout.options)
    texts = [_text(record, path, required=True) for path in layout.options]
    return format_options(texts, ",".join(layout.options))


def _gold_answer(record: Any, layout: Layout, required: bool) -> str | None:
    """The gold answer (whether it names one of the options is checked with the seed questions)."""
    value = _get(record, layout.answer, required=required)
    if value is None:
        return None
    if layout.answer_kind == "index":
        if isinstance(value, bool) or not isinstance(value, int):
            raise RowFault(layout.answer, f"wrong type: {type(value).__name__}, expected an option index")
        if not 0 <= value < len(LETTERS):
            raise RowFault(layout.answer, f"option index {value} out of range")
        return LETTERS[value]
    if not isinstance(value, str):
        raise RowFault(layout.answer, f"wrong type: {type(value).__name__}, expected string")
    value = value.strip()
    if layout.answer_kind == "letter" and not re.fullmatch(r"[A-Z]", value.upper()):
        raise RowFault(layout.answer, f"expected an option letter, got {value[:20]!r}")
    if required and not value:
        raise RowFault(layout.answer, "empty")
    return value.upper() if layout.answer_kind == "letter" else (value or None)


def _check_selected(record: Any, layout: Layout) -> None:
    for path, allowed in layout.keep_if.items():
        value = _get(record, path, required=True)
        if value not in allowed:
            raise RowFault(path, f"{NOT_SELECTED}: {value!r} is not one of {list(allowed)!r}")


def normalize_record(record: Any, layout: Layout) -> dict[str, str | None]:
    """One record as canonical fields (no ids); raises `RowFault` naming the field at fault."""
    if isinstance(record, Unparsed):
        raise RowFault(None, record.reason)
    if not isinstance(record, dict):
        raise RowFault(None, f"wrong type: record is {type(record).__name__}, expected an object")
    _check_selected(record, layout)
    prompt = _text(record, layout.prompt, required=True)
    if not prompt.strip():
        raise RowFault(layout.prompt, "empty")
    if layout.kind == "questions":
        options = _options_text(record, layout)
        prompt = prompt.strip() + ("\n" + options if options else "")
        reasoning = _text(record, layout.reasoning, required=False)
        return {"prompt": prompt, "reasoning": reasoning, "response": None,
                "answer": _gold_answer(record, layout, required=True)}
    raw_response = _text(record, layout.response, required=True)
    if layout.think_tags:
        reasoning, response = split_think(raw_response)
        if layout.answer_tags:
            response = strip_answer_tags(response)
    else:
        reasoning = _text(record, layout.reasoning, required=layout.reasoning is not None)
        reasoning, response = (reasoning.strip() or None) if reasoning else None, (raw_response.strip() or None)
    if reasoning is None and response is None:
        raise RowFault(layout.response, "empty")
    return {"prompt": prompt.strip(), "reasoning": reasoning, "response": response,
            "answer": _gold_answer(record, layout, required=False)}


def record_text(record: Any) -> str:
    if isinstance(record, Unparsed):
        return record.text
    return json.dumps(record, ensure_ascii=False, default=str)


def normalize_records(
    records: Iterable[tuple[int, Any]], layout: Layout, source: str, file: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Canonical traces and rejects for a chunk of `(source_row, parsed record)` pairs.

    Every input pair lands in exactly one of the two frames.
    """
    kept: dict[str, list] = {name: [] for name in TRACE_SCHEMA}
    rejects: dict[str, list] = {name: [] for name in REJECT_SCHEMA}
    for row, record in records:
        try:
            fields = normalize_record(record, layout)
        except RowFault as fault:
            for name, value in (("source", source), ("file", file), ("source_row", row), ("field", fault.field),
                                ("reason", fault.reason), ("record", record_text(record))):
                rejects[name].append(value)
            continue
        kept["sample_id"].append(sample_id(source, fields["prompt"], fields["reasoning"], fields["response"]))
        kept["source"].append(source)
        kept["source_row"].append(row)
        for name in ("prompt", "reasoning", "response", "answer"):
            kept[name].append(fields[name])
    return pl.DataFrame(kept, schema=TRACE_SCHEMA), pl.DataFrame(rejects, schema=REJECT_SCHEMA)
