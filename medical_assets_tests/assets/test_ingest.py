"""raw_traces as a real Dagster materialization: bad rows go to the rejects,
unreadable files fail the partition, and the rows are accounted for."""

from __future__ import annotations

import polars as pl

from medical_assets.assets.accounting import positions, row_accounting_check
from medical_assets.resources.storage import Warehouse
from medical_assets_tests.conftest import materialize_source, write_jsonl


def user_turn(value):
    return {"conversations": [{"from": "user", "value": value},
                              {"from": "assistant", "value": "<think>thinking</think>An answer."}]}


def test_bad_rows_are_rejected_with_file_row_field_and_reason(warehouse: Warehouse, tmp_path):
    path = write_jsonl(tmp_path / "ot.jsonl", [
        user_turn("What is the normal range of serum sodium?"),
        {"id": 7},                                   # missing field
        user_turn(12),                               # wrong type
        user_turn(""),                               # empty
        b'{"conversations": [{"from": "user", "value": "caf\xe9"}]}',  # not UTF-8 (latin-1 byte)
        user_turn("Which enzyme does aspirin inhibit?"),
    ])
    result = materialize_source(warehouse, "openthoughts2", {"path": str(path)})
    assert result.success
    kept = warehouse.read("raw_traces")
    assert kept["source_row"].to_list() == [0, 5]
    rejects = warehouse.read("raw_trace_rejects").sort("source_row")
    assert rejects.select("file", "source_row", "field", "reason").rows() == [
        (str(path), 1, "conversations[from=user].value", "missing field"),
        (str(path), 2, "conversations[from=user].value", "wrong type: int, expected string"),
        (str(path), 3, "conversations[from=user].value", "empty"),
        (str(path), 4, None, "not valid UTF-8 (byte 49: b'\\xe9\"}]')"),
    ]
    check = result.get_asset_check_evaluations()[0]
    assert check.passed and check.metadata["rows_in"].value == 6


def test_unreadable_file_fails_the_partition_naming_the_file(warehouse: Warehouse, tmp_path):
    path = tmp_path / "ot.parquet"
    path.write_bytes(b"not a parquet file at all")
    result = materialize_source(warehouse, "openthoughts2", {"path": str(path)})
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = str(failure.event_specific_data.error)
    assert f"{path}: not a readable Parquet file" in message
    assert not warehouse.exists("raw_traces", "openthoughts2")


def test_a_failed_rerun_keeps_the_previous_good_table(warehouse: Warehouse, tmp_path):
    good = write_jsonl(tmp_path / "ot.jsonl", [user_turn("What does ferritin measure in blood?")])
    assert materialize_source(warehouse, "openthoughts2", {"path": str(good)}).success
    assert not materialize_source(warehouse, "openthoughts2", {"path": str(tmp_path / "gone.jsonl")}).success
    assert warehouse.read("raw_traces")["source_row"].to_list() == [0]


def test_streaming_in_small_chunks_gives_the_same_table(warehouse: Warehouse, tmp_path):
    path = write_jsonl(tmp_path / "ot.jsonl", [user_turn(f"Question number {i} about renal physiology?")
                                               for i in range(57)])
    assert materialize_source(warehouse, "openthoughts2", {"path": str(path)}, chunk_rows=10).success
    small = warehouse.read("raw_traces")
    assert materialize_source(warehouse, "openthoughts2", {"path": str(path)}, chunk_rows=1000).success
    assert small.equals(warehouse.read("raw_traces"))
    assert small.height == 57


def test_row_accounting_fails_when_a_row_is_lost():
    kept = pl.LazyFrame({"source_row": [0, 2]})
    rejected = pl.LazyFrame({"source_row": [3]})
    result = row_accounting_check("rows_accounted", "raw_traces", positions(4, "source_row"), kept, rejected,
                                  ["source_row"])
    assert not result.passed
    assert result.metadata["rows_missing"].value == 1


def test_row_accounting_fails_when_a_row_is_counted_twice():
    kept = pl.LazyFrame({"source_row": [0, 1]})
    rejected = pl.LazyFrame({"source_row": [1]})
    result = row_accounting_check("rows_accounted", "raw_traces", positions(2, "source_row"), kept, rejected,
                                  ["source_row"])
    assert not result.passed
    assert result.metadata["rows_counted_twice"].value == 1


def test_row_accounting_fails_when_a_row_appears_from_nowhere():
    kept = pl.LazyFrame({"source_row": [0, 1, 9]})
    rejected = pl.LazyFrame({"source_row": []}, schema={"source_row": pl.Int64})
    result = row_accounting_check("rows_accounted", "raw_traces", positions(3, "source_row"), kept, rejected,
                                  ["source_row"])
    assert not result.passed
    assert (result.metadata["rows_unknown"].value, result.metadata["rows_missing"].value) == (1, 1)


def test_materialization_metadata_reports_counts_and_origin(warehouse: Warehouse, tmp_path):
    path = write_jsonl(tmp_path / "ot.jsonl", [user_turn("What is the half-life of adenosine?"), {"id": 1}])
    result = materialize_source(warehouse, "openthoughts2", {"path": str(path)})
    events = {e.materialization.asset_key.path[-1]: e.materialization.metadata
              for e in result.get_asset_materialization_events()}
    assert events["raw_traces"]["dagster/row_count"].value == 1
    assert events["raw_traces"]["origin"].value == str(path)
    assert events["raw_trace_rejects"]["dagster/row_count"].value == 1
    assert "missing field" in events["raw_trace_rejects"]["reasons"].value
