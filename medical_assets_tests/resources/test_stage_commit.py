"""A step's tables commit as one unit, whatever moment its process is killed: a real
`raw_traces` + `raw_trace_rejects` materialization in a child process, killed with SIGKILL
at each point of the commit and at moments spread over its run. After every kill both tables
come from the same run, every source row is kept or rejected once, the DuckDB views answer,
and the next run leaves the same bytes as a run that was never interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from medical_assets.resources.storage import KILL_AT_ENV, Warehouse
from medical_assets_tests.conftest import write_jsonl

SOURCE = "openthoughts2"
CHILD = """
import sys
from medical_assets.resources.storage import Warehouse
from medical_assets_tests.conftest import materialize_source
result = materialize_source(Warehouse(home=sys.argv[1]), "openthoughts2", {"path": sys.argv[2]}, chunk_rows=500)
print("done" if result.success else "failed", flush=True)
"""


def corpus(path: Path, rows: int, bad_every: int) -> Path:
    """`rows` records; every `bad_every`-th one has no user turn (a reject)."""
    records = []
    for i in range(rows):
        if i % bad_every == 0:
            records.append({"id": i})
        else:
            records.append({"conversations": [
                {"from": "user", "value": f"Question {i} about the renal clearance of drug {i % 97}?"},
                {"from": "assistant", "value": f"<think>Reasoning {i}.</think>Answer {i}."}]})
    return write_jsonl(path, records)


def expected_counts(rows: int, bad_every: int) -> tuple[int, int]:
    rejected = len(range(0, rows, bad_every))
    return rows - rejected, rejected


def run_child(home: Path, source_file: Path, kill_at: str | None = None, kill_after_s: float | None = None) -> int:
    env = {k: v for k, v in os.environ.items() if k != KILL_AT_ENV}
    if kill_at:
        env[KILL_AT_ENV] = kill_at
    process = subprocess.Popen([sys.executable, "-c", CHILD, str(home), str(source_file)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if kill_after_s is not None:
        try:
            process.wait(timeout=kill_after_s)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
    _, stderr = process.communicate(timeout=120)
    if process.returncode not in (0, -signal.SIGKILL):
        pytest.fail(stderr.decode()[-3000:])
    return process.returncode


def table_state(home: Path) -> tuple[int, int]:
    """(kept, rejected) as a user's DuckDB session sees them; the rows must account for each other."""
    Warehouse(home=str(home)).refresh_views()
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        (kept,) = con.execute("SELECT count(*) FROM raw_traces").fetchone()
        (rejected,) = con.execute("SELECT count(*) FROM raw_trace_rejects").fetchone()
        (overlap,) = con.execute("SELECT count(*) FROM raw_traces JOIN raw_trace_rejects USING (source_row)").fetchone()
        (rows,) = con.execute("SELECT count(DISTINCT source_row) FROM (SELECT source_row FROM raw_traces "
                              "UNION ALL SELECT source_row FROM raw_trace_rejects)").fetchone()
    assert overlap == 0 and rows == kept + rejected
    return kept, rejected


def committed_bytes(home: Path) -> dict[str, bytes]:
    return {table: (home / "tables" / table / f"{SOURCE}.parquet").read_bytes()
            for table in ("raw_traces", "raw_trace_rejects")}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory):
    """A home holding the first run's tables, the second source file, and the bytes an
    uninterrupted run of it leaves (in another home)."""
    data = tmp_path_factory.mktemp("kill_sources")
    first, second = corpus(data / "first.jsonl", 3_000, 7), corpus(data / "second.jsonl", 6_000, 5)
    home = tmp_path_factory.mktemp("kill_home")
    assert run_child(home, first) == 0
    reference = tmp_path_factory.mktemp("kill_reference")
    started = time.monotonic()
    assert run_child(reference, second) == 0
    return home, second, committed_bytes(reference), time.monotonic() - started


@pytest.mark.parametrize(("point", "visible"), [("written", "first"), ("linked", "first"), ("switched", "second")])
def test_a_kill_at_each_point_of_the_commit_leaves_one_whole_run(runs, point, visible):
    home, second, _, _ = runs
    assert run_child(home, second, kill_at=point) == -signal.SIGKILL
    expected = expected_counts(3_000, 7) if visible == "first" else expected_counts(6_000, 5)
    assert table_state(home) == expected


def test_kills_at_moments_spread_over_the_run_never_tear_the_stage(runs):
    home, second, _, seconds = runs
    allowed = {expected_counts(3_000, 7), expected_counts(6_000, 5)}
    for fraction in (0.3, 0.55, 0.7, 0.8, 0.9):
        run_child(home, second, kill_after_s=seconds * fraction)
        assert table_state(home) in allowed, fraction


def test_the_run_after_the_kills_gives_the_bytes_of_an_uninterrupted_run_and_removes_the_leftovers(runs):
    home, second, reference, _ = runs
    assert run_child(home, second) == 0
    assert committed_bytes(home) == reference
    stage = Warehouse(home=str(home)).stage_dir("raw_traces", SOURCE)
    assert sorted(p.name for p in stage.iterdir() if p.name != "current") == [os.readlink(stage / "current")]
