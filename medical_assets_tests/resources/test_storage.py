"""The data home: atomic Parquet tables and DuckDB views that never block a run."""

from __future__ import annotations

import subprocess
import sys
import time

import polars as pl
import pytest

from medical_assets.resources.storage import Warehouse, partition_file_name


def test_partitioned_table_is_one_file_per_partition_and_one_view(warehouse: Warehouse):
    warehouse.write("t", pl.DataFrame({"x": [1, 2]}), partition="a")
    warehouse.write("t", pl.DataFrame({"x": [3]}), partition="b")
    assert [p.name for p in warehouse.partitions("t")] == ["a.parquet", "b.parquet"]
    assert warehouse.query("SELECT sum(x) AS s FROM t")["s"].item() == 6
    assert warehouse.read("t", ["b"])["x"].to_list() == [3]


def test_failed_write_leaves_no_file(warehouse: Warehouse):
    with pytest.raises(RuntimeError):
        with warehouse.writer("t", "a", {"x": pl.Int64()}) as out:
            out.write(pl.DataFrame({"x": [1]}))
            raise RuntimeError("crash mid-table")
    assert not warehouse.table_path("t", "a").exists()
    assert list(warehouse.stage_dir("t", "a").iterdir()) == []  # the run's version folder is gone


def test_scan_of_a_missing_partition_names_it(warehouse: Warehouse):
    warehouse.write("t", pl.DataFrame({"x": [1]}), partition="a")
    with pytest.raises(FileNotFoundError, match="b.parquet"):
        warehouse.scan("t", ["a", "b"])


def test_multi_partition_keys_become_file_names():
    assert partition_file_name("smollm2|MedQA") == "smollm2__MedQA.parquet"
    with pytest.raises(ValueError):
        partition_file_name("..")


def test_a_user_session_holding_the_duckdb_file_does_not_fail_a_write(warehouse: Warehouse):
    warehouse.write("first", pl.DataFrame({"x": [1]}))
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True);"
         " time.sleep(60)", str(warehouse.duckdb_path)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        path = warehouse.write("second", pl.DataFrame({"x": [2]}))
        assert pl.read_parquet(path)["x"].to_list() == [2]
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    assert "second" in warehouse.refresh_views()
    assert warehouse.query("SELECT x FROM second")["x"].to_list() == [2]
