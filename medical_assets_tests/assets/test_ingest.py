"""raw_traces as a real Dagster materialization: bad rows go to the rejects,
unreadable files fail the partition, and the rows are accounted for."""

from __future__ import annotations

import json

import dagster as dg
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
        *[user_turn(f"Which organ makes hormone number {i}?") for i in range(4)],  # 4 of 10 invalid: under 50%
    ])
    result = materialize_source(warehouse, "openthoughts2", {"path": str(path)})
    assert result.success
    kept = warehouse.read("raw_traces")
    assert kept["source_row"].to_list() == [0, 5, 6, 7, 8, 9]
    rejects = warehouse.read("raw_trace_rejects").sort("source_row")
    assert rejects.select("file", "source_row", "field", "reason").rows() == [
        (str(path), 1, "conversations[from=user].value", "missing field"),
        (str(path), 2, "conversations[from=user].value", "wrong type: int, expected string"),
        (str(path), 3, "conversations[from=user].value", "empty"),
        (str(path), 4, None, "not valid UTF-8 (byte 49: b'\\xe9\"}]')"),
    ]
    check = result.get_asset_check_evaluations()[0]
    assert check.passed and check.metadata["rows_in"].value == 10


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


def step_failure(result: dg.ExecuteInProcessResult):
    return next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE").event_specific_data


def ingest_good_table(warehouse: Warehouse, tmp_path) -> list[int]:
    good = write_jsonl(tmp_path / "good.jsonl", [user_turn(f"What does organ {i} secrete?") for i in range(3)])
    assert materialize_source(warehouse, "openthoughts2", {"path": str(good)}).success
    return warehouse.read("raw_traces")["source_row"].to_list()


def assert_previous_tables_kept(warehouse: Warehouse, rows: list[int]) -> None:
    assert warehouse.read("raw_traces")["source_row"].to_list() == rows
    assert warehouse.read("raw_trace_rejects").height == 0


def test_file_in_the_wrong_layout_fails_naming_share_limit_reasons_and_keeps_the_previous_table(
        warehouse: Warehouse, tmp_path):
    rows = ingest_good_table(warehouse, tmp_path)
    wrong = write_jsonl(tmp_path / "distill.jsonl", [
        {"question": f"Question {i}?", "reasoning (reasoning_content)": "r", "response (content)": "a"}
        for i in range(20)])
    result = materialize_source(warehouse, "openthoughts2", {"path": str(wrong)})
    assert not result.success
    failure = step_failure(result)
    message = failure.user_failure_data.description
    assert message.startswith(f"{wrong}: 100.0% of the 20 rows that the source's filter selects are invalid")
    assert "above max_invalid_percent = 50%" in message
    assert "- 20 rows: conversations[from=user].value: missing field" in message
    assert "raise max_invalid_percent in the run config of raw_traces" in message
    assert failure.user_failure_data.metadata["rows_invalid"].value == 20
    assert_previous_tables_kept(warehouse, rows)


def test_parquet_with_a_missing_column_fails_and_keeps_the_previous_table(warehouse: Warehouse, tmp_path):
    path = tmp_path / "gt.parquet"
    gt_rows(path, 10)
    assert materialize_source(warehouse, "generalthought", {"path": str(path)}).success
    pl.read_parquet(path).drop("model_reasoning").write_parquet(tmp_path / "no_reasoning.parquet")
    result = materialize_source(warehouse, "generalthought", {"path": str(tmp_path / "no_reasoning.parquet")})
    assert not result.success
    assert "- 10 rows: model_reasoning: missing field" in step_failure(result).user_failure_data.description
    assert warehouse.read("raw_traces").height == 10


def test_parquet_with_a_wrong_typed_column_fails(warehouse: Warehouse, tmp_path):
    path = tmp_path / "gt.parquet"
    gt_rows(path, 10)
    pl.read_parquet(path).with_columns(pl.lit(3).alias("question")).write_parquet(path)
    result = materialize_source(warehouse, "generalthought", {"path": str(path)})
    assert not result.success
    assert "- 10 rows: question: wrong type: int, expected string" in step_failure(result).user_failure_data.description
    assert not warehouse.exists("raw_traces", "generalthought")


def test_json_object_instead_of_an_array_fails_and_keeps_the_previous_table(warehouse: Warehouse, tmp_path):
    rows = ingest_good_table(warehouse, tmp_path)
    path = tmp_path / "ot.json"
    path.write_text(json.dumps({"rows": [user_turn("What is the normal heart rate?")]}, indent=2))
    result = materialize_source(warehouse, "openthoughts2", {"path": str(path)})
    assert not result.success
    message = step_failure(result).user_failure_data.description
    assert message.startswith(f"{path}: holds one JSON object (keys: 'rows')")
    assert_previous_tables_kept(warehouse, rows)


def test_threshold_is_run_config_and_zero_turns_the_gate_off(warehouse: Warehouse, tmp_path):
    path = write_jsonl(tmp_path / "ot.jsonl", [user_turn("What is the normal range of serum sodium?"),
                                               {"id": 1}, {"id": 2}, {"id": 3}])
    assert not materialize_source(warehouse, "openthoughts2", {"path": str(path)}).success
    assert not materialize_source(warehouse, "openthoughts2", {"path": str(path)},
                                  run_config={"max_invalid_percent": 70}).success
    assert materialize_source(warehouse, "openthoughts2", {"path": str(path)},
                              run_config={"max_invalid_percent": 75}).success
    result = materialize_source(warehouse, "openthoughts2", {"path": str(path)}, run_config={"max_invalid_percent": 0})
    assert result.success
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert (metadata["invalid_percent"].value, metadata["max_invalid_percent"].value) == (75.0, 0)


def gt_rows(path, rows: int, models: tuple[str, ...] = ("DeepSeek/DeepSeek-R1",), repeat_every: int = 0) -> None:
    pl.DataFrame([{
        "question": f"Which hormone number {i % repeat_every if repeat_every else i} lowers glucose?",
        "model_reasoning": "Think about the pancreas.", "model_answer": "Insulin.", "reference_answer": "insulin",
        "model_name": models[i % len(models)], "task": "Medicine" if i % 2 else "Biology",
        "question_source": "Meta/natural_reasoning"} for i in range(rows)]).write_parquet(path)


def test_rows_of_other_models_do_not_trip_the_gate(warehouse: Warehouse, tmp_path):
    path = tmp_path / "gt.parquet"
    gt_rows(path, 10, models=("DeepSeek/DeepSeek-R1", "Qwen/QwQ-32B-Preview", "Qwen/QwQ-32B-Preview",
                              "Qwen/QwQ-32B-Preview", "Qwen/QwQ-32B-Preview"))
    result = materialize_source(warehouse, "generalthought", {"path": str(path)})
    assert result.success
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert (metadata["rows_not_selected"].value, metadata["rows_invalid"].value) == (8, 0)


def test_metadata_reports_duplicates_and_value_counts_of_the_candidate_columns(warehouse: Warehouse, tmp_path):
    path = tmp_path / "gt.parquet"
    gt_rows(path, 10, repeat_every=4)
    result = materialize_source(warehouse, "generalthought", {"path": str(path)})
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["duplicate_rows"].value == 6
    assert warehouse.read("raw_traces").height == 10  # counted, not removed (the mix removes them)
    assert "| DeepSeek/DeepSeek-R1 | 10 |" in metadata["value_counts_model_name"].value
    assert "| Biology | 5 |" in metadata["value_counts_task"].value
    assert "| Meta/natural_reasoning | 10 |" in metadata["value_counts_question_source"].value


def test_nothing_selected_fails_with_the_values_the_file_holds(warehouse: Warehouse, tmp_path):
    path = tmp_path / "gt.parquet"
    gt_rows(path, 4, models=("deepseek-ai/DeepSeek-R1",))
    result = materialize_source(warehouse, "generalthought", {"path": str(path)})
    assert not result.success
    failure = step_failure(result).user_failure_data
    assert failure.description.startswith(f"{path}: no row kept: 4 of its 4 rows are outside the source's filter")
    assert "| deepseek-ai/DeepSeek-R1 | 4 |" in failure.metadata["value_counts_model_name"].value
    fixed = materialize_source(warehouse, "generalthought", {
        "path": str(path), "layout": {"keep_if": {"model_name": ["deepseek-ai/DeepSeek-R1"]}}})
    assert fixed.success and warehouse.read("raw_traces").height == 4
