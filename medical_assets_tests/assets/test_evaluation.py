"""eval_questions materialized from the bundled harness files and from hostile ones written here."""

from __future__ import annotations

import json

import dagster as dg

from medical_assets.assets.evaluation import eval_questions
from medical_assets.resources.eval_files import EvalFiles
from medical_assets.resources.storage import Warehouse, WarehouseIOManager


def materialize_benchmark(warehouse: Warehouse, key: str, eval_files: EvalFiles) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [eval_questions], partition_key=key, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
        resources={"warehouse": warehouse, "io_manager": WarehouseIOManager(warehouse=warehouse),
                   "eval_files": eval_files},
    )


def step_error(result: dg.ExecuteInProcessResult) -> str:
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    return str(failure.event_specific_data.error)


def write_nejm(folder, rows) -> EvalFiles:
    (folder / "m1_eval_data.json").write_text(json.dumps({"NEJM": rows}))
    return EvalFiles(mode="harness", directory=str(folder))


GOOD_ROW = {"question": "Which electrolyte disorder peaks the T waves?", "answer": "Hyperkalemia", "answer_idx": "B",
            "options": {"A": "Hyponatremia", "B": "Hyperkalemia", "C": "Hypocalcemia"}}


def test_malformed_medqa_row_of_the_demo_is_rejected_not_scored(warehouse: Warehouse):
    result = materialize_benchmark(warehouse, "medqa", EvalFiles(mode="demo"))
    assert result.success
    rejects = warehouse.read("eval_question_rejects")
    assert rejects.select("position", "field").rows() == [(7, "answer")]
    assert 7 not in warehouse.read("eval_questions")["position"].to_list()
    assert result.get_asset_check_evaluations()[0].passed


def test_gpqa_keeps_its_repeated_blocks_and_reports_unique_questions(warehouse: Warehouse):
    result = materialize_benchmark(warehouse, "gpqa_medical", EvalFiles(mode="demo"))
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["dagster/row_count"].value == 40
    assert metadata["unique_questions"].value == 8


def test_harness_folder_without_the_benchmark_fails_naming_the_file(warehouse: Warehouse, tmp_path):
    (tmp_path / "m1_eval_data.json").write_text('{"Lancet": []}')
    result = materialize_benchmark(warehouse, "nejm", EvalFiles(mode="harness", directory=str(tmp_path)))
    assert not result.success
    assert "m1_eval_data.json: no benchmark named 'NEJM' (found: ['Lancet'])" in step_error(result)


def test_benchmark_given_as_a_string_fails_and_keeps_the_stored_questions(warehouse: Warehouse, tmp_path):
    assert materialize_benchmark(warehouse, "nejm", write_nejm(tmp_path, [GOOD_ROW])).success
    result = materialize_benchmark(warehouse, "nejm", write_nejm(tmp_path, "rows are on the website"))
    assert not result.success
    assert "m1_eval_data.json: benchmark 'NEJM' is a string, expected a list of question rows" in step_error(result)
    assert warehouse.read("eval_questions", ["nejm"])["question"].to_list() == [GOOD_ROW["question"]]


def test_file_without_a_valid_question_fails_and_keeps_the_stored_questions(warehouse: Warehouse, tmp_path):
    assert materialize_benchmark(warehouse, "nejm", write_nejm(tmp_path, [GOOD_ROW])).success
    result = materialize_benchmark(warehouse, "nejm", write_nejm(tmp_path, [{**GOOD_ROW, "answer_idx": "F"}]))
    assert not result.success
    assert ("benchmark 'NEJM' has no question that can be scored: its only row is rejected (first: row 0, "
            "answer_idx: gold letter 'F' is not among the options ['A', 'B', 'C'])") in step_error(result)
    assert warehouse.read("eval_questions", ["nejm"]).height == 1
    assert warehouse.read("eval_question_rejects", ["nejm"]).height == 0


def test_empty_benchmark_list_fails(warehouse: Warehouse, tmp_path):
    result = materialize_benchmark(warehouse, "nejm", write_nejm(tmp_path, []))
    assert not result.success
    assert "benchmark 'NEJM' has no question that can be scored: its list is empty" in step_error(result)
    assert not warehouse.exists("eval_questions", "nejm")
