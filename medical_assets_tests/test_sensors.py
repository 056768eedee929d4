"""Sensors: a dropped source file starts its ingestion once per version; a new checkpoint is
registered as a model and evaluated on every benchmark once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from medical_assets.assets.ingest import raw_traces
from medical_assets.definitions import defs
from medical_assets.eval_sets import EVAL_SET_KEYS
from medical_assets.models import EMBEDDED_MODEL, model_partitions, read_models
from medical_assets.resources.sources import SourceCatalog
from medical_assets.resources.storage import Warehouse
from medical_assets.sensors import checkpoint_evaluation_sensor, dead_run_sensor, fail_dead_runs, source_drop_sensor
from medical_assets.sources import SOURCE_NAMES
from medical_assets_tests.conftest import write_jsonl

RECORD = {"conversations": [{"from": "user", "value": "What lowers preload?"},
                            {"from": "assistant", "value": "<think>venodilation</think>Nitrates."}]}


def tick(drop: Path, cursor: str | None = None) -> dg.SensorResult:
    context = dg.build_sensor_context(cursor=cursor, resources={"catalog": SourceCatalog(drop_dir=str(drop))})
    return source_drop_sensor(context)


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir()
    return folder


def test_new_file_requests_one_ingestion_of_its_source(drop):
    write_jsonl(drop / "openthoughts2.jsonl", [RECORD])
    result = tick(drop)
    assert [r.partition_key for r in result.run_requests] == ["openthoughts2"]
    assert result.run_requests[0].tags["medical_assets/dropped_file"] == str((drop / "openthoughts2.jsonl").resolve())
    assert defs.resolve_sensor_def("source_drop_sensor").job_name == "ingest_sources"


def test_same_file_on_the_next_tick_requests_nothing(drop):
    write_jsonl(drop / "openthoughts2.jsonl", [RECORD])
    first = tick(drop)
    second = tick(drop, first.cursor)
    assert not second.run_requests
    assert "no new or changed source file" in second.skip_reason.skip_message


def test_changed_file_requests_a_new_ingestion(drop):
    path = write_jsonl(drop / "m23k.jsonl", [RECORD])
    first = tick(drop)
    write_jsonl(path, [RECORD, RECORD])
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000_000))
    second = tick(drop, first.cursor)
    assert [r.partition_key for r in second.run_requests] == ["m23k"]
    assert second.run_requests[0].run_key != first.run_requests[0].run_key


def test_unknown_name_is_skipped_naming_the_file_and_the_sources(drop):
    write_jsonl(drop / "openthought2.jsonl", [RECORD])
    (drop / ".openthoughts2.jsonl").write_text("")  # a copy in progress: ignored
    result = tick(drop)
    assert not result.run_requests
    message = result.skip_reason.skip_message
    assert "openthought2.jsonl" in message and ", ".join(SOURCE_NAMES) in message


def test_two_files_for_one_source_are_refused(drop):
    write_jsonl(drop / "m23k.jsonl", [RECORD])
    write_jsonl(drop / "m23k.json", [RECORD])
    result = tick(drop)
    assert not result.run_requests
    assert "several files for source 'm23k' (m23k.jsonl, m23k.json)" in result.skip_reason.skip_message


def test_dropped_file_becomes_the_source_of_its_partition(drop):
    path = write_jsonl(drop / "openthoughts2.jsonl", [RECORD])
    catalog = SourceCatalog(mode="hub", drop_dir=str(drop))
    assert catalog.spec("openthoughts2").path == str(path)
    assert catalog.origin(catalog.spec("openthoughts2")) == str(path.resolve())
    assert catalog.spec("m23k").path is None


def test_ingestion_run_reads_the_dropped_file(drop, warehouse):
    path = write_jsonl(drop / "openthoughts2.jsonl", [RECORD, RECORD])
    result = dg.materialize(
        [raw_traces], partition_key="openthoughts2", instance=dg.DagsterInstance.ephemeral(),
        resources={"warehouse": warehouse, "catalog": SourceCatalog(mode="demo", drop_dir=str(drop))})
    metadata = result.asset_materializations_for_node("raw_traces")[0].metadata
    assert metadata["origin"].value == str(path.resolve())
    assert metadata["rows_in"].value == 2


def report_checkpoint(instance: dg.DagsterInstance, asset: str, checkpoint: Path) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization(
        asset, metadata={"checkpoint_path": dg.MetadataValue.path(str(checkpoint))}))


def evaluate(instance: dg.DagsterInstance, home: Path, cursor: str | None = None):
    context = dg.build_multi_asset_sensor_context(
        monitored_assets=[dg.AssetKey("sft_checkpoint"), dg.AssetKey("dapo_checkpoint")], instance=instance,
        definitions=defs, cursor=cursor, resources={"warehouse": Warehouse(home=str(home))})
    return checkpoint_evaluation_sensor(context), context


def test_new_checkpoint_is_registered_and_evaluated_on_every_benchmark_once(home):
    checkpoint = home / "training" / "sft" / "abc" / "final"
    checkpoint.mkdir(parents=True)
    (checkpoint / "config.json").write_text("{}")
    with dg.instance_for_test(temp_dir=str(home / "dagster")) as instance:
        report_checkpoint(instance, "sft_checkpoint", checkpoint)
        requests, context = evaluate(instance, home)

        name = requests[0].partition_key.keys_by_dimension["model"]
        assert name.startswith("sft-")
        assert sorted(r.partition_key.keys_by_dimension["benchmark"] for r in requests) == sorted(EVAL_SET_KEYS)
        assert {r.partition_key.keys_by_dimension["model"] for r in requests} == {name}
        assert read_models(home)[name].model == str(checkpoint.resolve())
        assert instance.has_dynamic_partition(model_partitions.name, name)
        assert defs.resolve_sensor_def("checkpoint_evaluation_sensor").job_name == "evaluate_model"

        again, _ = evaluate(instance, home, context.cursor)
        assert isinstance(again, dg.SkipReason)


def test_a_checkpoint_that_is_gone_is_not_registered_and_the_tick_goes_on(home):
    with dg.instance_for_test(temp_dir=str(home / "dagster")) as instance:
        report_checkpoint(instance, "sft_checkpoint", home / "training" / "sft" / "deleted" / "final")
        result, _ = evaluate(instance, home)
        assert isinstance(result, dg.SkipReason)
        assert read_models(home).keys() == {EMBEDDED_MODEL}
        assert not instance.get_dynamic_partitions(model_partitions.name)


def test_a_reingested_source_is_embedded_again_by_automation():
    """Downstream of a sensor's ingestion run: prompt_embeddings[source] follows raw_traces[source]."""
    instance = dg.DagsterInstance.ephemeral()
    downstream = dg.AssetSelection.assets("prompt_embeddings", "source_summary", "synthetic_seed_questions",
                                          "synthetic_seed_rejects")

    def ingested(*assets: str) -> None:
        for asset in assets:
            instance.report_runless_asset_event(dg.AssetMaterialization(asset, partition="am_r1"))

    ingested("raw_traces", "raw_trace_rejects", "prompt_embeddings")
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=downstream)
    assert first.total_requested == 0
    ingested("raw_traces", "raw_trace_rejects")
    second = dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=downstream,
                                               cursor=first.cursor)
    assert second.total_requested == 1
    assert second.get_requested_partitions(dg.AssetKey("prompt_embeddings")) == {"am_r1"}


SLEEPING_RUN = """
import time
import dagster as dg

@dg.asset
def slow_step():
    print("running", flush=True)
    time.sleep(120)

dg.materialize([slow_step], instance=dg.DagsterInstance.get())
"""


def test_a_run_whose_process_was_killed_is_marked_failed_and_a_live_one_is_left_alone(home: Path):
    instance = dg.DagsterInstance.get()
    child = subprocess.Popen([sys.executable, "-c", SLEEPING_RUN], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "DAGSTER_HOME": str(home / "dagster")})
    try:
        assert child.stdout.readline().strip() == "running"
        (run,) = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.STARTED
        assert fail_dead_runs(instance, min_age_s=0) == []  # its process is alive
    finally:
        child.kill()
        child.wait()
    assert fail_dead_runs(instance, min_age_s=0) == [run.run_id]
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
    failure = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[0]
    assert f"pid {child.pid}) is gone" in failure.message
    result = dead_run_sensor(dg.build_sensor_context(instance=instance))
    assert result.skip_message == "no dead run"
