"""The recipe's quality filters, each a named unit that says why it removed a row."""

from __future__ import annotations

import polars as pl
import pytest

from medical_assets.core.quality import apply_filters, count_wait, count_words, recipe_filters, wait_threshold


def traces(**columns) -> pl.LazyFrame:
    base = {"sample_id": ["s"], "prompt": ["Which electrolyte disorder causes peaked T waves?"],
            "reasoning": ["Potassium. Wait, yes."], "response": ["Hyperkalemia."]}
    base.update({k: [v] for k, v in columns.items()})
    return pl.LazyFrame(base)


def decide(frame: pl.LazyFrame, max_wait: float = 47) -> tuple[pl.DataFrame, pl.DataFrame]:
    kept, rejected = apply_filters(frame, recipe_filters(3, max_wait))
    return kept.collect(), rejected.collect()


def test_count_wait_counts_the_word_not_substrings():
    assert count_wait("Wait, no. Wait! Awaiting the Waiting room. wait") == 2


def test_chinese_prompt_words_are_counted_per_character():
    assert count_words("高血压首选药物") == 7
    assert count_words("Krebs cycle?") == 2


def test_complete_trace_with_a_long_prompt_is_kept():
    kept, rejected = decide(traces())
    assert kept["sample_id"].to_list() == ["s"] and rejected.height == 0


def test_unclosed_generation_is_rejected_as_incomplete():
    _, rejected = decide(traces(response=None))
    assert rejected.select("filter", "value").row(0) == ("complete_generation", 0.0)


def test_whitespace_only_answer_is_incomplete():
    _, rejected = decide(traces(response="  \n"))
    assert rejected["filter"].item() == "complete_generation"


def test_prompt_of_three_words_is_rejected():
    _, rejected = decide(traces(prompt="Explain Krebs cycle"))
    assert rejected.select("filter", "value", "threshold", "rule").row(0) == ("prompt_words", 3.0, 3.0, "> 3 words")


def test_prompt_of_four_words_is_kept():
    kept, _ = decide(traces(prompt="Explain the Krebs cycle"))
    assert kept.height == 1


def test_wait_limit_is_inclusive():
    at_limit = traces(reasoning="Wait. " * 47)
    above = traces(reasoning="Wait. " * 48)
    assert decide(at_limit)[0].height == 1
    assert decide(above)[1].select("filter", "value", "threshold", "rule").row(0) == ("wait_count", 48.0, 47.0, "<= 47")


def test_a_row_failing_several_filters_is_reported_by_the_first():
    _, rejected = decide(traces(prompt="Hi", response=None, reasoning="Wait " * 80))
    assert rejected["filter"].to_list() == ["complete_generation"]


def test_wait_threshold_is_the_percentile_of_the_corpus():
    counts = pl.Series(list(range(101)))
    assert wait_threshold(counts, 97) == 97.0


def test_wait_threshold_of_an_empty_corpus_is_an_error():
    with pytest.raises(ValueError, match="empty corpus"):
        wait_threshold(pl.Series([], dtype=pl.Int64), 97)
