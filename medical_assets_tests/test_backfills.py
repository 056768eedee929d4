"""A backfill launched from the command line, as README.md shows it: the runs it creates, their
partitions and their results (the evaluate_model backfill of a new model is in test_models.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import yaml


ROOT = Path(__file__).resolve().parents[1]
DAGSTER = Path(sys.executable).parent / "dagster"
# Launch submitted runs at once instead of queueing them for the daemon.
LAUNCH_AT_ONCE = {"run_coordinator": {"module": "dagster._core.run_coordinator", "class": "DefaultRunCoordinator"}}


def use_instance_config(home: Path, **changes) -> None:
    """The project's dagster.yaml in the test's DAGSTER_HOME, with `changes` on top."""
    config = yaml.safe_load((ROOT / "dagster.yaml").read_text()) | changes
    (home / "dagster" / "dagster.yaml").write_text(yaml.safe_dump(config))


def backfill(home: Path, job: str, partitions: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "MEDICAL_ASSETS_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    command = [str(DAGSTER), "job", "backfill", "-w", "workspace.yaml", "-j", job, "--noprompt",
               "--partitions", partitions]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_ingest_backfill_from_the_cli_runs_each_source_partition(home):
    use_instance_config(home, **LAUNCH_AT_ONCE)
    backfill(home, "ingest_sources", "am_r1,m23k")

    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        runs = instance.get_runs()
        assert sorted(run.tags["dagster/partition"] for run in runs) == ["am_r1", "m23k"]
        assert {run.status for run in runs} == {dg.DagsterRunStatus.SUCCESS}
        assert len({run.tags["dagster/backfill"] for run in runs}) == 1
        materialized = instance.get_materialized_partitions(dg.AssetKey("raw_traces"))
    assert materialized == {"am_r1", "m23k"}
    assert (home / "tables" / "raw_traces" / "am_r1.parquet").exists()
