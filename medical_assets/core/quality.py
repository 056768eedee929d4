"""Preprocessing of the recipe: quality filters applied to every part of the mix.

1. complete generations only (the reasoning closed and a final answer present);
2. prompts of more than 3 words;
3. at most N occurrences of "Wait", N the 97th percentile of the corpus
   being filtered (the card found 47).

Each filter is a small named unit: a measured value per row and a rule on it.
`apply_filters` runs them in order; a rejected row keeps the first filter it
failed, with the measured value and the threshold, so every removal is
explained.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import polars as pl

# "Wait" as a word, case-sensitive as the card writes it ("Wait," "Wait." "Wait!").
WAIT_PATTERN = r"\bWait\b"
# A word is a run of non-space characters outside CJK scripts, or one CJK character
# (Chinese prompts have no spaces: "more than 3 words" counts characters there).
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
WORD_PATTERN = rf"[{_CJK}]|[^\s{_CJK}]+"
_WAIT = re.compile(WAIT_PATTERN)
_WORD = re.compile(WORD_PATTERN)


def count_wait(text: str) -> int:
    """Occurrences of the word "Wait" in a text (the recipe's self-correction count)."""
    return len(_WAIT.findall(text))


def count_words(text: str) -> int:
    """Words of a prompt: whitespace-separated tokens, each CJK character counting as one."""
    return len(_WORD.findall(text))


def wait_count_expr() -> pl.Expr:
    """Vectorized `count_wait` over the whole assistant text (reasoning and final answer)."""
    return (
        pl.col("reasoning").fill_null("").str.count_matches(WAIT_PATTERN)
        + pl.col("response").fill_null("").str.count_matches(WAIT_PATTERN)
    ).cast(pl.Int64)


def wait_threshold(wait_counts: pl.Series, percentile: float) -> float:
    """The recipe's N: the given percentile (linear interpolation) of the corpus's Wait counts."""
    if wait_counts.len() == 0:
        raise ValueError("cannot compute a Wait percentile of an empty corpus")
    return float(wait_counts.quantile(percentile / 100, interpolation="linear"))


@dataclass(frozen=True)
class TraceFilter:
    """One quality rule: `measure` gives each row's value, `keep(value)` says which pass;
    `threshold` is the limit the rule compares with and `rule` says the rule in words."""

    name: str
    measure: pl.Expr
    keep: Callable[[pl.Expr], pl.Expr]
    threshold: float
    rule: str


def recipe_filters(min_words_exclusive: int, max_wait: float) -> list[TraceFilter]:
    """The three preprocessing filters of the card, in order."""
    final_answer_chars = pl.col("response").fill_null("").str.strip_chars().str.len_chars()
    return [
        TraceFilter("complete_generation", final_answer_chars, lambda v: v > 0, 0, "a final answer (> 0 chars)"),
        TraceFilter("prompt_words", pl.col("prompt").str.count_matches(WORD_PATTERN),
                    lambda v: v > min_words_exclusive, min_words_exclusive, f"> {min_words_exclusive} words"),
        TraceFilter("wait_count", wait_count_expr(), lambda v: v <= max_wait, max_wait, f"<= {max_wait:g}"),
    ]


def apply_filters(traces: pl.LazyFrame, filters: list[TraceFilter]) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """(kept, rejected): a rejected row carries `filter`, `value`, `threshold` and `rule` of the first
    rule it fails.

    Both are lazy, so the caller can stream them to Parquet without holding the corpus in memory.
    """
    values = [f"_value_{i}" for i in range(len(filters))]
    measured = traces.with_columns(f.measure.cast(pl.Float64).alias(v) for f, v in zip(filters, values))
    reason = pl.lit(None, dtype=pl.String)
    value = pl.lit(None, dtype=pl.Float64)
    threshold = pl.lit(None, dtype=pl.Float64)
    rule = pl.lit(None, dtype=pl.String)
    for trace_filter, column in reversed(list(zip(filters, values))):
        failed = ~trace_filter.keep(pl.col(column))
        reason = pl.when(failed).then(pl.lit(trace_filter.name)).otherwise(reason)
        value = pl.when(failed).then(pl.col(column)).otherwise(value)
        threshold = pl.when(failed).then(pl.lit(float(trace_filter.threshold))).otherwise(threshold)
        rule = pl.when(failed).then(pl.lit(trace_filter.rule)).otherwise(rule)
    decided = measured.with_columns(filter=reason, value=value, threshold=threshold, rule=rule).drop(values)
    kept = decided.filter(pl.col("filter").is_null()).drop("filter", "value", "threshold", "rule")
    rejected = decided.filter(pl.col("filter").is_not_null())
    return kept, rejected
