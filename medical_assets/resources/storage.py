"""The data home: one Parquet file per table asset (and per partition), and
one DuckDB file with a view over every table.

Layout under the data home (`MEDICAL_ASSETS_HOME`, default `./data`):

    tables/<asset>.parquet                 an unpartitioned table
    tables/<asset>/<partition>.parquet     one file per partition
    partials/<asset>/<partition>/<key>/    chunks of a partition still being computed (resume)
    warehouse.duckdb                       views: SELECT * FROM <asset>

Writes go to a temporary file renamed into place, so a crashed run never
leaves half a table. The DuckDB file only holds views (over a glob of the
partition files), so Dagster takes its write lock only to create a view the
first time a table appears; a user's open `duckdb` session never blocks a run.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import dagster as dg
import duckdb
import polars as pl
import pyarrow.parquet as pq

WAREHOUSE_FILE = "warehouse.duckdb"


def default_home() -> Path:
    return Path(os.environ.get("MEDICAL_ASSETS_HOME", "data")).resolve()


def partition_file_name(partition: str) -> str:
    """A partition key as a file name: multi-partition keys 'a|b' become 'a__b'."""
    safe = re.sub(r"[^A-Za-z0-9._=-]+", "_", partition.replace("|", "__"))
    if not safe or safe.startswith("."):
        raise ValueError(f"partition key {partition!r} does not make a usable file name")
    return safe + ".parquet"


class ChunkWriter:
    """Appends Polars frames to one Parquet file (one row group per chunk)."""

    def __init__(self, path: Path, schema: dict[str, pl.DataType]):
        self.path = path
        self.schema = schema
        self.rows = 0
        self._arrow_schema = pl.DataFrame(schema=schema).to_arrow().schema
        self._writer = pq.ParquetWriter(path, self._arrow_schema, compression="zstd")

    def write(self, frame: pl.DataFrame) -> None:
        if frame.height:
            self._writer.write_table(frame.select(list(self.schema)).to_arrow().cast(self._arrow_schema))
            self.rows += frame.height

    def close(self) -> None:
        self._writer.close()


class Warehouse(dg.ConfigurableResource):
    """Parquet tables under the data home, queryable together from one DuckDB file."""

    home: str | None = None  # None: $MEDICAL_ASSETS_HOME, else ./data

    @property
    def root(self) -> Path:
        return Path(self.home).resolve() if self.home else default_home()

    @property
    def duckdb_path(self) -> Path:
        return self.root / WAREHOUSE_FILE

    def table_path(self, table: str, partition: str | None = None) -> Path:
        tables = self.root / "tables"
        return tables / f"{table}.parquet" if partition is None else tables / table / partition_file_name(partition)

    def partitions(self, table: str) -> list[Path]:
        return sorted((self.root / "tables" / table).glob("*.parquet"))

    def exists(self, table: str, partition: str | None = None) -> bool:
        if partition is not None:
            return self.table_path(table, partition).exists()
        return self.table_path(table).exists() or bool(self.partitions(table))

    @contextmanager
    def _replacing(self, table: str, partition: str | None) -> Iterator[Path]:
        """A temporary path that replaces the table's file if the block succeeds, and vanishes if not."""
        final = self.table_path(table, partition)
        final.parent.mkdir(parents=True, exist_ok=True)
        temporary = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        try:
            yield temporary
            os.replace(temporary, final)
        finally:
            temporary.unlink(missing_ok=True)
        self.ensure_view(table)

    @contextmanager
    def writer(self, table: str, partition: str | None, schema: dict[str, pl.DataType]) -> Iterator[ChunkWriter]:
        """Stream chunks into the table's file; it appears (atomically) only if the block succeeds."""
        with self._replacing(table, partition) as temporary:
            chunk_writer = ChunkWriter(temporary, schema)
            try:
                yield chunk_writer
            finally:
                chunk_writer.close()

    def write(self, table: str, frame: pl.DataFrame, partition: str | None = None) -> Path:
        with self.writer(table, partition, dict(frame.schema)) as chunk_writer:
            chunk_writer.write(frame)
        return self.table_path(table, partition)

    def sink(self, table: str, frame: pl.LazyFrame, partition: str | None = None) -> Path:
        """Stream a lazy frame into the table's file (atomically), without collecting it in memory."""
        with self._replacing(table, partition) as temporary:
            frame.sink_parquet(temporary, compression="zstd")
        return self.table_path(table, partition)

    def partials_dir(self, table: str, partition: str | None, key: str) -> Path:
        """Where an asset keeps partial results while it runs (one file per finished chunk), so
        that a re-run after a crash resumes from them: partials/<table>/<partition>/<key>/."""
        stem = "all" if partition is None else partition_file_name(partition).removesuffix(".parquet")
        return self.root / "partials" / table / stem / key

    def write_partial(self, directory: Path, name: str, frame: pl.DataFrame) -> Path:
        """One partial file, written to a temporary name and renamed: it exists whole or not at all."""
        directory.mkdir(parents=True, exist_ok=True)
        final = directory / f"{name}.parquet"
        temporary = directory / f".{name}.{os.getpid()}.tmp"
        try:
            frame.write_parquet(temporary, compression="zstd")
            os.replace(temporary, final)
        finally:
            temporary.unlink(missing_ok=True)
        return final

    def read_partials(self, directory: Path, schema: dict[str, pl.DataType]) -> pl.DataFrame:
        """Every partial file of `directory`, oldest first (an empty frame when there are none)."""
        files = sorted(directory.glob("*.parquet"), key=lambda f: (f.stat().st_mtime_ns, f.name))
        if not files:
            return pl.DataFrame(schema=schema)
        return pl.concat([pl.read_parquet(f).select(list(schema)).cast(schema) for f in files])

    def count(self, table: str, partitions: Sequence[str] | None = None) -> int:
        return self.scan(table, partitions).select(pl.len()).collect().item()

    def scan(self, table: str, partitions: Sequence[str] | None = None) -> pl.LazyFrame:
        """A lazy frame over the table (all partitions, or the ones named)."""
        if partitions is not None:
            files = [self.table_path(table, key) for key in partitions]
            missing = [str(f) for f in files if not f.exists()]
            if missing:
                raise FileNotFoundError(f"table {table!r} has no file for partitions: {', '.join(missing)}")
        elif self.table_path(table).exists():
            files = [self.table_path(table)]
        else:
            files = self.partitions(table)
        if not files:
            raise FileNotFoundError(f"table {table!r} has not been materialized under {self.root / 'tables'}")
        return pl.scan_parquet([str(f) for f in files], missing_columns="insert", extra_columns="ignore")

    def read(self, table: str, partitions: Sequence[str] | None = None) -> pl.DataFrame:
        return self.scan(table, partitions).collect()

    def _view_sql(self, table: str) -> str | None:
        single = self.table_path(table)
        if single.exists():
            source = f"'{single}'"
        elif self.partitions(table):
            source = f"'{single.with_suffix('')}/*.parquet', union_by_name = true"
        else:
            return None
        return f'CREATE OR REPLACE VIEW "{table}" AS SELECT * FROM read_parquet({source})'

    def ensure_view(self, table: str) -> bool:
        """Create the table's DuckDB view; False (with a log line) if a user holds the file's lock."""
        sql = self._view_sql(table)
        return False if sql is None else self._execute(sql, table)

    def create_view(self, name: str, sql: str) -> bool:
        """A named SQL view over the table views (an audit query users run by name)."""
        return self._execute(f'CREATE OR REPLACE VIEW "{name}" AS {sql}', name)

    def _execute(self, sql: str, name: str) -> bool:
        try:
            with duckdb.connect(str(self.duckdb_path)) as connection:
                connection.execute(sql)
        except duckdb.IOException as error:
            dg.get_dagster_logger().warning(
                f"DuckDB view {name!r} not refreshed ({error}); the Parquet files are written. "
                f"Close other sessions on {self.duckdb_path} and run `python -m medical_assets.warehouse`."
            )
            return False
        return True

    def refresh_views(self) -> list[str]:
        """(Re)create a view for every table present under the data home."""
        tables_dir = self.root / "tables"
        names = sorted({p.stem for p in tables_dir.glob("*.parquet")} | {p.name for p in tables_dir.glob("*") if p.is_dir()})
        return [name for name in names if self.ensure_view(name)]

    def query(self, sql: str) -> pl.DataFrame:
        """Run SQL against the warehouse views (read-only) and return a Polars frame."""
        with duckdb.connect(str(self.duckdb_path), read_only=True) as connection:
            return connection.execute(sql).pl()


class WarehouseIOManager(dg.ConfigurableIOManager):
    """Stores Polars frames returned by assets as warehouse tables; loads them as (lazy) frames."""

    warehouse: Warehouse

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame | None) -> None:
        if obj is None:
            return  # the asset wrote its table itself (streaming) and returned metadata only
        table = context.asset_key.path[-1]
        partition = context.partition_key if context.has_partition_key else None
        path = self.warehouse.write(table, obj, partition)
        context.add_output_metadata({"dagster/row_count": obj.height, "path": dg.MetadataValue.path(str(path))})

    def load_input(self, context: dg.InputContext) -> pl.DataFrame | pl.LazyFrame:
        table = context.upstream_output.asset_key.path[-1]
        partitions = None
        if context.has_asset_partitions:
            partitions = list(context.asset_partition_keys)
        lazy = self.warehouse.scan(table, partitions)
        return lazy if context.dagster_type.typing_type is pl.LazyFrame else lazy.collect()
