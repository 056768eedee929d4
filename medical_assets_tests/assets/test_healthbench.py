"""healthbench_examples / healthbench_rejects materialized from HealthBench files written here:
every line is kept or rejected with its line and reason, and a file with nothing to grade fails
without touching the stored tables."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from medical_assets.assets.healthbench import healthbench_examples, healthbench_scores
from medical_assets.models import EMBEDDED_MODEL, ModelSpec, register_model
from medical_assets.resources.eval_files import EvalFiles
from medical_assets.resources.llm import LLM
from medical_assets.resources.storage import Warehouse, WarehouseIOManager


def conversation(prompt_id: str, points=4) -> dict:
    return {"prompt_id": prompt_id, "prompt": [{"role": "user", "content": f"Can I take paracetamol with {prompt_id}?"}],
            "rubrics": [{"criterion": "States the maximum daily dose.", "points": points, "tags": ["axis:accuracy"]}],
            "example_tags": ["theme:global_health"]}


def write_lines(path: Path, lines: list[dict | bytes]) -> Path:
    path.write_bytes(b"".join((line if isinstance(line, bytes) else json.dumps(line).encode()) + b"\n" for line in lines))
    return path


def materialize(warehouse: Warehouse, eval_files: EvalFiles, assets=(healthbench_examples,)) -> dg.ExecuteInProcessResult:
    instance = dg.DagsterInstance.ephemeral()
    register_model(ModelSpec(EMBEDDED_MODEL), instance, warehouse.root)
    return dg.materialize(
        list(assets), instance=instance, raise_on_error=False,
        partition_key=EMBEDDED_MODEL if healthbench_scores in assets else None,
        resources={"warehouse": warehouse, "io_manager": WarehouseIOManager(warehouse=warehouse),
                   "eval_files": eval_files, "llm": LLM(device="cpu"), "judge": LLM(device="cpu")},
    )


def step_error(result: dg.ExecuteInProcessResult) -> str:
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    return str(failure.event_specific_data.error)


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """Two good rows among a non-UTF-8 line, points "five", points null, a missing criterion,
    an empty conversation and a repeated prompt_id."""
    no_criterion = conversation("hb-5")
    del no_criterion["rubrics"][0]["criterion"]
    return write_lines(tmp_path / "hb.jsonl", [
        conversation("hb-1"), b'{"prompt_id": "hb-2", "prompt": "caf\xe9"}', conversation("hb-3", points="five"),
        conversation("hb-4", points=None), no_criterion, {**conversation("hb-6"), "prompt": []}, conversation("hb-1"),
        conversation("hb-7"),
    ])


def test_every_bad_row_is_rejected_with_file_line_and_reason(warehouse: Warehouse, hostile: Path):
    result = materialize(warehouse, EvalFiles(mode="harness", healthbench_file=str(hostile)))
    assert result.success
    assert warehouse.read("healthbench_examples").select("line", "prompt_id").rows() == [(1, "hb-1"), (8, "hb-7")]
    rejects = warehouse.read("healthbench_rejects")
    assert set(rejects["file"]) == {str(hostile)}
    assert rejects.select("line", "field", "reason").rows() == [
        (2, None, "not valid UTF-8 (byte 36: b'\\xe9\"}')"),
        (3, "rubrics[0].points", 'wrong type: str "five", expected an integer'),
        (4, "rubrics[0].points", "null, expected an integer"),
        (5, "rubrics[0].criterion", "missing field, expected a string"),
        (6, "prompt", "empty: no {role, content} turns"),
        (7, "prompt_id", "duplicate prompt_id 'hb-1' (first on line 1)"),
    ]
    assert warehouse.query("SELECT count(*) AS n FROM healthbench_rejects WHERE field LIKE 'rubrics%'")["n"].item() == 3
    (check,) = result.get_asset_check_evaluations()
    assert check.passed and check.metadata["rows_in"].value == 8
    metadata = {m.asset_key.to_user_string(): m.metadata for m in result.asset_materializations_for_node(
        "healthbench_examples")}
    assert metadata["healthbench_examples"]["dagster/row_count"].value == 2
    assert metadata["healthbench_rejects"]["dagster/row_count"].value == 6


def test_file_without_a_gradable_row_fails_and_keeps_the_stored_examples(warehouse: Warehouse, tmp_path: Path):
    good = write_lines(tmp_path / "good.jsonl", [conversation("hb-1")])
    assert materialize(warehouse, EvalFiles(mode="harness", healthbench_file=str(good))).success
    bad = write_lines(tmp_path / "bad.jsonl", [conversation("hb-2", points="five"), conversation("hb-3", points=True)])
    result = materialize(warehouse, EvalFiles(mode="harness", healthbench_file=str(bad)))
    assert not result.success
    assert (f"{bad}: no HealthBench row that can be graded: all 2 lines are rejected (first: line 1, rubrics[0].points: "
            'wrong type: str "five", expected an integer); fix the file') in step_error(result)
    assert warehouse.read("healthbench_examples")["prompt_id"].to_list() == ["hb-1"]


def test_empty_file_fails(warehouse: Warehouse, tmp_path: Path):
    (tmp_path / "hb.jsonl").write_text("")
    result = materialize(warehouse, EvalFiles(mode="harness", healthbench_file=str(tmp_path / "hb.jsonl")))
    assert not result.success
    assert "no HealthBench row that can be graded: the file is empty" in step_error(result)


def test_without_a_healthbench_file_the_tables_are_empty(warehouse: Warehouse):
    assert materialize(warehouse, EvalFiles(mode="harness")).success
    assert warehouse.read("healthbench_examples").height == warehouse.read("healthbench_rejects").height == 0


def test_demo_file_is_read_whole(warehouse: Warehouse):
    assert materialize(warehouse, EvalFiles(mode="demo")).success
    assert warehouse.read("healthbench_examples").height == 25
    assert warehouse.read("healthbench_rejects").height == 0


def test_grading_before_the_examples_are_loaded_says_what_to_materialize(warehouse: Warehouse):
    result = materialize(warehouse, EvalFiles(mode="demo"), assets=(healthbench_scores,))
    assert not result.success
    assert "healthbench_examples is not materialized: materialize it first" in step_error(result)
