"""Parallel runs on PostgreSQL run and event storage: the `storage:` block of dagster.yaml
switched on as README.md says, a throwaway cluster, and several source partitions
materialized at once by separate processes."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[1]
DAGSTER = Path(sys.executable).parent / "dagster"
SOURCES = ("am_r1", "m23k", "medqa_seed")
IN_PROCESS = '{"execution": {"config": {"in_process": {}}}}'  # one process per run: less start-up on a small CPU


def postgres_bin() -> Path | None:
    """The folder of initdb/pg_ctl: on PATH, else Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def postgres() -> dict[str, str]:
    """A throwaway cluster on a free port; its connection as DAGSTER_PG_* variables.
    initdb refuses root, so as root the cluster runs as the `postgres` user."""
    binaries = postgres_bin()
    if binaries is None:
        pytest.skip("PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql/*/bin): "
                    "apt-get install postgresql")
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    folder = Path(tempfile.mkdtemp(prefix="medical-assets-pg-"))  # not under pytest's root-only tmp folder
    if as_user:
        shutil.chown(folder, "postgres", "postgres")
    data, sockets, port = folder / "data", folder / "sockets", free_port()
    subprocess.run([*as_user, "mkdir", str(sockets)], check=True)
    subprocess.run([*as_user, str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"],
                   check=True, capture_output=True, timeout=120)
    subprocess.run([*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w",
                    "-o", f"-p {port} -k {sockets} -h 127.0.0.1", "start"], check=True, capture_output=True,
                   timeout=120)
    pid = int((data / "postmaster.pid").read_text().split()[0])
    try:
        subprocess.run([*as_user, str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                        "dagster"], check=True, capture_output=True, timeout=60)
        yield {"DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": str(port), "DAGSTER_PG_USER": "postgres",
               "DAGSTER_PG_PASSWORD": "unused-with-trust-auth", "DAGSTER_PG_DB": "dagster"}
    finally:
        os.kill(pid, signal.SIGINT)  # fast shutdown
        for _ in range(300):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        shutil.rmtree(folder, ignore_errors=True)


def postgres_instance_config() -> dict:
    """The project's dagster.yaml with its commented `storage:` block switched on."""
    text = (ROOT / "dagster.yaml").read_text()
    lines = text.splitlines()
    start = lines.index("# storage:")
    block = []
    for line in lines[start:]:
        if not line.startswith("#"):
            break
        block.append(line[2:])
    return yaml.safe_load(text) | yaml.safe_load("\n".join(block))


def test_parallel_partition_runs_share_postgres_storage(home, postgres, monkeypatch):
    for name, value in postgres.items():
        monkeypatch.setenv(name, value)
    (home / "dagster" / "dagster.yaml").write_text(yaml.safe_dump(postgres_instance_config()))
    env = {**os.environ, "MEDICAL_ASSETS_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    subprocess.run([str(DAGSTER), "instance", "migrate"], cwd=ROOT, env=env, check=True, capture_output=True,
                   timeout=120)

    started = time.monotonic()
    runs = [subprocess.Popen([str(DAGSTER), "asset", "materialize", "-m", "medical_assets.definitions",
                              "--select", "raw_traces,raw_trace_rejects", "--partition", source,
                              "--config-json", IN_PROCESS],
                             cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for source in SOURCES]
    outputs = [run.communicate(timeout=240)[0] for run in runs]
    seconds = time.monotonic() - started

    for source, run, output in zip(SOURCES, runs, outputs):
        assert run.returncode == 0, f"{source}:\n{output[-3000:]}"
        assert "database is locked" not in output
    with dg.DagsterInstance.get() as instance:
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        finished = instance.get_runs()
        assert sorted(run.tags["dagster/partition"] for run in finished) == sorted(SOURCES)
        assert {run.status for run in finished} == {dg.DagsterRunStatus.SUCCESS}
        for run in finished:
            events = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
            assert {e.dagster_event.asset_key.to_user_string() for e in events} == {"raw_traces", "raw_trace_rejects"}
            assert {e.dagster_event.partition for e in events} == {run.tags["dagster/partition"]}
    print(f"{len(SOURCES)} runs in parallel: {seconds:.1f} s")
