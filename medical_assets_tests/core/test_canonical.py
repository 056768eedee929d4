"""The canonical schema's chat export."""

from __future__ import annotations

import datasets
import polars as pl

from medical_assets.core.canonical import TRACE_SCHEMA, to_messages


def traces() -> pl.DataFrame:
    return pl.DataFrame(
        {"sample_id": ["a", "b"], "source": ["s", "s"], "source_row": [0, 1],
         "prompt": ["Why do we shiver?", "Name a loop diuretic."], "reasoning": ["Heat from muscle.", None],
         "response": ["To make heat.", "Furosemide."], "answer": [None, None]},
        schema=TRACE_SCHEMA,
    )


def test_messages_put_reasoning_inside_think():
    messages = to_messages(traces())["messages"].to_list()
    assert messages[0] == [
        {"role": "user", "content": "Why do we shiver?"},
        {"role": "assistant", "content": "<think>\nHeat from muscle.\n</think>\n\nTo make heat."},
    ]
    assert messages[1][1]["content"] == "Furosemide."


def test_messages_parquet_loads_with_datasets(tmp_path):
    path = tmp_path / "messages.parquet"
    to_messages(traces()).write_parquet(path)
    loaded = datasets.load_dataset("parquet", data_files=str(path), split="train")
    assert loaded[0]["messages"][1]["role"] == "assistant"
