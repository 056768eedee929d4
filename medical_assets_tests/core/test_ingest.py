"""The ingestion stats and the input gate: invalid rows against a threshold, rows the
source's filter leaves out, duplicates and value counts."""

from __future__ import annotations

import pytest

from medical_assets.core.ingest import MAX_DISTINCT, OTHER, PROBE_ROWS, IngestStats, input_gate, normalize_stream
from medical_assets.core.layouts import Unparsed
from medical_assets.sources import source_spec

GT = source_spec("generalthought")


def gt_row(question: str, model: str = "DeepSeek/DeepSeek-R1", task: str = "Medicine") -> dict:
    return {"question": question, "model_reasoning": "Think it through.", "model_answer": "An answer.",
            "reference_answer": "", "model_name": model, "task": task, "question_source": "Meta/natural_reasoning"}


def ingest(records: list, chunk_rows: int = 4, layout=GT.layout) -> IngestStats:
    stats = IngestStats()
    columns = ("model_name", "task")
    for _ in normalize_stream(enumerate(records), layout, "generalthought", "gt.parquet", chunk_rows, stats, columns):
        pass
    return stats


def test_gate_fails_above_the_threshold_naming_file_share_limit_reasons_and_fix():
    rows = [gt_row(f"Question {i} about the kidney?") for i in range(4)] + [{"question": "no answer"}] * 5 + [7]
    stats = ingest(rows)
    message = input_gate(stats, 50, "/data/gt.parquet", "generalthought", GT.layout.keep_if)
    assert message is not None
    assert message.startswith("/data/gt.parquet: 60.0% of the 10 rows that the source's filter selects are invalid")
    assert "above max_invalid_percent = 50%" in message
    assert "  - 5 rows: model_name: missing field" in message
    assert "  - 1 rows: (whole record): wrong type: record is int, expected an object" in message
    assert "raise max_invalid_percent" in message and "generalthought: {path: ..., layout:" in message


def test_invalid_share_at_the_threshold_passes():
    stats = ingest([gt_row("Why does the heart beat?"), {"question": "broken"}])
    assert stats.invalid_percent == 50
    assert input_gate(stats, 50, "gt.parquet", "generalthought", GT.layout.keep_if) is None
    assert input_gate(stats, 49.9, "gt.parquet", "generalthought", GT.layout.keep_if) is not None


def test_rows_the_filter_leaves_out_are_not_invalid():
    rows = [gt_row("What causes gout?")] + [gt_row(f"Other model question {i}?", model="Qwen/QwQ-32B-Preview")
                                            for i in range(9)]
    stats = ingest(rows)
    assert (stats.rows_not_selected, stats.rows_invalid, stats.invalid_percent) == (9, 0, 0.0)
    assert input_gate(stats, 1, "gt.parquet", "generalthought", GT.layout.keep_if) is None


def test_a_row_without_the_selection_field_is_invalid_not_unselected():
    stats = ingest([{"question": "Which layout is this?", "answer": "another one"}])
    assert (stats.rows_not_selected, stats.rows_invalid) == (0, 1)
    assert stats.top_reasons(invalid_only=True) == [("model_name", "missing field", 1)]


def test_no_row_kept_fails_even_when_no_row_is_invalid():
    stats = ingest([gt_row(f"Question {i}?", model="deepseek-ai/DeepSeek-R1") for i in range(3)])
    message = input_gate(stats, 50, "gt.parquet", "generalthought", GT.layout.keep_if)
    assert message is not None and message.startswith("gt.parquet: no row kept: 3 of its 3 rows are outside the source's filter")
    assert "- 3 rows: model_name: not selected: 'deepseek-ai/DeepSeek-R1'" in message
    assert "keep_if" in message and "value counts" in message


def test_no_row_kept_fails_even_at_a_threshold_of_100():
    stats = ingest([{"question": "broken"}] * 2 + [gt_row("Other model?", model="Qwen/QwQ-32B-Preview")])
    message = input_gate(stats, 100, "gt.parquet", "generalthought", GT.layout.keep_if)
    assert message is not None
    assert "no row kept: 1 of its 3 rows are outside the source's filter" in message
    assert "and 2 are invalid" in message


def test_zero_turns_the_gate_off():
    stats = ingest([{"question": "broken"}] * 3)
    assert input_gate(stats, 0, "gt.parquet", "generalthought", GT.layout.keep_if) is None


def test_mid_stream_gate_stops_only_when_the_first_rows_are_all_invalid():
    stats = ingest([{"question": "broken"}] * (PROBE_ROWS - 1), chunk_rows=500)
    assert input_gate(stats, 50, "gt.parquet", "generalthought", GT.layout.keep_if, finished=False) is None
    stats = ingest([{"question": "broken"}] * PROBE_ROWS, chunk_rows=500)
    message = input_gate(stats, 50, "gt.parquet", "generalthought", GT.layout.keep_if, finished=False)
    assert message is not None and "100.0% of the first 1,000 rows" in message
    mixed = ingest([gt_row("One good row first?")] + [{"question": "broken"}] * PROBE_ROWS, chunk_rows=500)
    assert input_gate(mixed, 50, "gt.parquet", "generalthought", GT.layout.keep_if, finished=False) is None


def test_reasons_are_counted_without_their_details():
    layout = source_spec("openthoughts2").layout
    rows = [Unparsed("not valid JSON (Expecting value at column 3)", "{x"),
            Unparsed("not valid JSON (Unterminated string at column 9)", '{"a": "'), {"id": 1}]
    stats = ingest(rows, layout=layout)
    assert stats.top_reasons(invalid_only=True) == [(None, "not valid JSON", 2),
                                                     ("conversations[from=user].value", "missing field", 1)]


def test_duplicate_rows_are_counted_across_chunks():
    rows = [gt_row("Is this repeated?"), gt_row("A different question?"), gt_row("Is this repeated?")] * 3
    stats = ingest(rows, chunk_rows=2)
    assert (stats.rows_kept, stats.duplicate_rows) == (9, 7)


def test_value_counts_cover_every_row_read_and_stay_bounded():
    rows = [gt_row("Q?", model="Qwen/QwQ-32B-Preview"), gt_row("R?"), gt_row("S?"), {"question": "no model"}]
    stats = ingest(rows)
    assert stats.value_counts["model_name"] == {"DeepSeek/DeepSeek-R1": 2, "Qwen/QwQ-32B-Preview": 1,
                                                "(null or missing)": 1}
    many = ingest([gt_row(f"Q{i}?", model=f"model-{i}") for i in range(MAX_DISTINCT + 5)], chunk_rows=500)
    assert len(many.value_counts["model_name"]) == MAX_DISTINCT + 1
    assert many.value_counts["model_name"][OTHER] == 5


@pytest.mark.parametrize("share", [-1, 101])
def test_threshold_outside_0_to_100_is_refused(share):
    from pydantic import ValidationError

    from medical_assets.assets.ingest import RawTracesConfig

    with pytest.raises(ValidationError):
        RawTracesConfig(max_invalid_percent=share)
