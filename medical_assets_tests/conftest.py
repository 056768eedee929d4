"""Shared fixtures: a temporary data home and Dagster instance, a way to
materialize one source partition with per-source overrides, and the data home
that the demo fills (its test profile, built once per test session).

Tiers: a test that uses the demo's data home is marked `demo` here; modules that
need a browser, PostgreSQL or a training process carry `browser`, `postgres` and
`training` marks. `make check` runs everything else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
import yaml

from medical_assets.assets.ingest import raw_traces, source_summary
from medical_assets.resources.sources import SourceCatalog
from medical_assets.resources.storage import Warehouse, WarehouseIOManager

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "home"
    (data / "dagster").mkdir(parents=True)
    monkeypatch.setenv("MEDICAL_ASSETS_HOME", str(data))
    monkeypatch.setenv("DAGSTER_HOME", str(data / "dagster"))
    return data


@pytest.fixture
def warehouse(home: Path) -> Warehouse:
    return Warehouse(home=str(home))


DEMO_FIXTURES = frozenset({"demo_home", "ui_home"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if DEMO_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.demo)


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory) -> tuple[Path, str]:
    """A data home and DAGSTER_HOME filled by `python -m medical_assets.demo --profile test`
    (a few minutes), and its stdout."""
    home = tmp_path_factory.mktemp("demo")
    (home / "dagster").mkdir()
    env = {**os.environ, "MEDICAL_ASSETS_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"),
           "MEDICAL_ASSETS_SOURCES": "demo"}
    env.pop("MEDICAL_ASSETS_SOURCE_OVERRIDES", None)
    result = subprocess.run([sys.executable, "-m", "medical_assets.demo", "--profile", "test"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return home, result.stdout


def write_jsonl(path: Path, records: list[Any]) -> Path:
    """Records as JSONL; a `bytes` item is written as that raw line."""
    with path.open("wb") as handle:
        for record in records:
            line = record if isinstance(record, bytes) else json.dumps(record, ensure_ascii=False).encode()
            handle.write(line + b"\n")
    return path


def materialize_source(
    warehouse: Warehouse,
    source: str,
    overrides: dict[str, Any] | None = None,
    instance: dg.DagsterInstance | None = None,
    chunk_rows: int = 10_000,
    run_config: dict[str, Any] | None = None,
) -> dg.ExecuteInProcessResult:
    """Materialize raw_traces[source] (and its rejects) the way a Dagster run does;
    `run_config` is raw_traces' config (e.g. {"max_invalid_percent": 0})."""
    overrides_file = None
    if overrides:
        overrides_file = Path(warehouse.root) / "overrides.yaml"
        overrides_file.write_text(yaml.safe_dump({source: overrides}))
    return dg.materialize(
        [raw_traces, source_summary],
        selection=[dg.AssetKey("raw_traces"), dg.AssetKey("raw_trace_rejects")],
        partition_key=source,
        instance=instance or dg.DagsterInstance.ephemeral(),
        resources={
            "warehouse": warehouse,
            "io_manager": WarehouseIOManager(warehouse=warehouse),
            "catalog": SourceCatalog(
                mode="demo", overrides_file=str(overrides_file) if overrides_file else None, chunk_rows=chunk_rows
            ),
        },
        run_config={"ops": {"raw_traces": {"config": run_config}}} if run_config else None,
        raise_on_error=False,
    )
