"""The data home: atomic Parquet tables and DuckDB views that never block a run."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import polars as pl
import pyarrow.parquet as pq
import pytest

from medical_assets.resources import storage
from medical_assets.resources.storage import POLARS_READ_AHEAD, Warehouse, partition_file_name, partition_key_of


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
    assert partition_file_name("medqa|smollm2") == "medqa%7Csmollm2.parquet"
    assert partition_file_name("..") == "%2E..parquet"


KEYS = ["my model", "my_model", "my%20model", "my/model", "medqa|my model", "medqa__my model", "Модель", "模型",
        "模 型", ".hidden", "%2Ehidden", "a\\b", "qwen3-8b", "UPPER", "upper"]


def test_every_partition_key_has_its_own_file_name_and_comes_back_from_it():
    names = [partition_file_name(key) for key in KEYS]
    assert len(set(names)) == len(KEYS)
    assert all("/" not in name and not name.startswith(".") for name in names)
    assert [partition_key_of(name) for name in names] == KEYS


def test_two_models_whose_names_differ_only_in_punctuation_keep_separate_tables(warehouse: Warehouse):
    warehouse.write("t", pl.DataFrame({"x": [1]}), partition="medqa|my model")
    warehouse.write("t", pl.DataFrame({"x": [2]}), partition="medqa|my_model")
    assert warehouse.read("t", ["medqa|my model"])["x"].to_list() == [1]
    assert warehouse.read("t", ["medqa|my_model"])["x"].to_list() == [2]


def test_a_partition_key_too_long_for_a_file_name_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="too long for a file name"):
        partition_file_name("模" * 90)


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


def test_rows_come_back_in_the_given_order_in_bounded_buckets_and_unnamed_rows_are_skipped(tmp_path):
    import random

    import pyarrow.parquet as pq

    from medical_assets.resources.storage import in_given_order

    rows = pl.DataFrame({"source": [f"s{i % 3}" for i in range(1_000)], "source_row": list(range(1_000)),
                         "text": [f"trace {i} " * (i % 7) for i in range(1_000)]})
    path = tmp_path / "t.parquet"
    pq.write_table(rows.to_arrow(), path, row_group_size=64)  # 16 row groups
    named = random.Random(1).sample(range(1_000), 700)  # a shuffled order over 700 of the rows
    order = rows[named].select("source", "source_row").with_row_index("position")
    batches = list(in_given_order(path, order, ["source", "source_row"], tmp_path / "spill", bucket_rows=50))
    assert [b.height for b in batches] == [50] * 14
    assert pl.concat(batches).equals(rows[named])
    assert list((tmp_path / "spill").iterdir()) == []  # every bucket removed once read


@pytest.mark.parametrize("exported", [None, "4"])
def test_polars_read_ahead_is_bounded_unless_the_user_exported_a_value(exported):
    env = {k: v for k, v in os.environ.items() if k not in POLARS_READ_AHEAD}
    if exported:
        env["POLARS_MAX_CONCURRENT_SCANS"] = exported
    code = ("import os, medical_assets.resources.storage; "
            "print(os.environ['POLARS_MAX_CONCURRENT_SCANS'], os.environ['POLARS_ROW_GROUP_PREFETCH_SIZE'])")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == [exported or POLARS_READ_AHEAD["POLARS_MAX_CONCURRENT_SCANS"],
                           POLARS_READ_AHEAD["POLARS_ROW_GROUP_PREFETCH_SIZE"]]


def test_row_groups_stay_small_in_bytes_for_long_rows_and_in_rows_for_sinks_of_traces(warehouse, monkeypatch):
    monkeypatch.setattr(storage, "ROW_GROUP_BYTES", 2**20)
    long_rows = pl.DataFrame({"sample_id": [f"s{i}" for i in range(1_000)], "reasoning": ["x" * 10_000] * 1_000})
    warehouse.write("long", long_rows)
    groups = pq.ParquetFile(warehouse.table_path("long")).metadata
    sizes = [groups.row_group(i).num_rows for i in range(groups.num_row_groups)]
    assert sum(sizes) == 1_000 and max(sizes) <= 2**20 // 10_000 + 1
    short_rows = pl.DataFrame({"sample_id": [f"s{i}" for i in range(5_000)]})
    warehouse.write("short", short_rows)
    assert pq.ParquetFile(warehouse.table_path("short")).metadata.row_group(0).num_rows == storage.ROW_GROUP_ROWS
    warehouse.sink("long_sunk", warehouse.scan("long"))
    warehouse.sink("short_sunk", warehouse.scan("short"))
    sunk = pq.ParquetFile(warehouse.table_path("long_sunk")).metadata
    assert max(sunk.row_group(i).num_rows for i in range(sunk.num_row_groups)) == storage.TEXT_ROW_GROUP_ROWS
    assert pq.ParquetFile(warehouse.table_path("short_sunk")).metadata.row_group(0).num_rows > storage.TEXT_ROW_GROUP_ROWS
    assert warehouse.read("long_sunk").equals(long_rows) and warehouse.read("short_sunk").equals(short_rows)


def test_a_split_reads_its_source_a_row_group_at_a_time_into_every_table_it_feeds(warehouse: Warehouse,
                                                                                  monkeypatch):
    monkeypatch.setattr(storage, "TEXT_ROW_GROUP_ROWS", 500)
    rows = pl.DataFrame({"sample_id": [f"s{i}" for i in range(3_000)], "reasoning": ["x" * 50] * 3_000,
                         "n": list(range(3_000))})
    warehouse.write("t", rows[:2_000], partition="a")
    warehouse.write("t", rows[2_000:].drop("reasoning"), partition="b")  # a partition without a column
    seen: list[int] = []

    def outputs(traces: pl.LazyFrame) -> dict[str, pl.LazyFrame]:
        seen.append(traces.select(pl.len()).collect().item())
        return {"kept": traces.filter(pl.col("n") % 100 != 0),
                "rejects_of_t": traces.filter(pl.col("n") % 100 == 0).select("sample_id", "n"),
                "none": traces.filter(pl.col("n") < 0)}

    with warehouse.commit("kept") as stage:
        written = stage.split("t", outputs)
    assert written == {"kept": 2_970, "rejects_of_t": 30, "none": 0}
    expected = warehouse.scan("t")
    assert warehouse.read("kept").equals(expected.filter(pl.col("n") % 100 != 0).collect())
    assert warehouse.read("rejects_of_t").equals(expected.filter(pl.col("n") % 100 == 0).select("sample_id", "n").collect())
    assert warehouse.read("none").schema == warehouse.read("kept").schema and warehouse.read("none").is_empty()
    assert seen == [0, 500, 500, 500, 500, 1_000]  # the schema, then a row group at a time, never the table
    rejects = pq.ParquetFile(warehouse.table_path("rejects_of_t")).metadata
    assert rejects.num_row_groups == 1  # the 30 rows, a few per row group read, held until they fill a group


def test_small_writes_are_held_until_they_fill_a_row_group(warehouse: Warehouse):
    with warehouse.writer("t", None, {"x": pl.Int64()}) as out:
        for start in range(0, 10_000, 10):
            out.write(pl.DataFrame({"x": list(range(start, start + 10))}))
    metadata = pq.ParquetFile(warehouse.table_path("t")).metadata
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [4_096, 4_096, 1_808]
    assert warehouse.read("t")["x"].to_list() == list(range(10_000))
