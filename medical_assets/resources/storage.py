"""The data home: one Parquet file per table asset (and per partition), and
one DuckDB file with a view over every table.

Layout under the data home (`MEDICAL_ASSETS_HOME`, default `./data`):

    tables/<asset>.parquet                 an unpartitioned table
    tables/<asset>/<partition>.parquet     one file per partition
    stages/<step>/<partition>/<version>/   the files one run of a step wrote, every table of it
    stages/<step>/<partition>/current      -> the version readers see
    partials/<asset>/<partition>/<key>/    chunks of a partition still being computed (resume)
    warehouse.duckdb                       views: SELECT * FROM <asset>

A step commits as one unit: every table it writes (kept rows, rejects,
evidence) goes into a new version folder, and one atomic rename of the
`current` link switches all of them at once. The files under `tables/` are
links through `current`, so readers and the DuckDB views follow the switch; a
process killed at any moment leaves either the previous run's tables or the
new run's, never one of each. The next commit of the step removes what a dead
run left. The DuckDB file only holds views (over a glob of the partition
files), so Dagster takes its write lock only to create a view the first time a
table appears; a user's open `duckdb` session never blocks a run.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import dagster as dg
from pydantic import Field
import duckdb
import polars as pl
import pyarrow.parquet as pq

from medical_assets.core.rejects import reject_column_faults

WAREHOUSE_FILE = "warehouse.duckdb"
CURRENT = "current"
UNPARTITIONED = "all"
# Parquet row groups are bounded in rows and in bytes, for every table: readers and writers hold a few groups
# at a time, so a stage's memory does not follow the corpus. Polars' streaming sink held more the more it wrote
# when groups were large: a file of Chinese traces (60 KB a row) in groups of 2,400 rows sunk in groups of 4,096
# took 0.87 → 1.77 → 2.93 GB anonymous at 2 → 8 → 24 groups; read and written in groups of ~600 rows, 0.44 → 0.56
# GB. A table whose rows carry a trace's text is written TEXT_ROW_GROUP_ROWS to a group (20 KB rows: 10 MB), other
# tables ROW_GROUP_ROWS, and appended chunks (ChunkWriter) in groups of at most ROW_GROUP_BYTES as well.
ROW_GROUP_ROWS = 4_096
ROW_GROUP_BYTES = 32 * 2**20
TEXT_ROW_GROUP_ROWS = 512
TEXT_COLUMNS = frozenset({"reasoning", "response", "messages", "record"})


def group_rows(schema: Mapping[str, pl.DataType]) -> int:
    """Rows per row group for a sink of a frame with this schema."""
    return TEXT_ROW_GROUP_ROWS if TEXT_COLUMNS.intersection(schema) else ROW_GROUP_ROWS


# Polars' streaming parquet source reads ahead: by default up to 128 row groups, from as many files at once as
# there are pipelines, so a scan over a partitioned table held more of it the longer it was (4 files of 20 KB traces,
# 0.8 → 2.4 GB of text: 0.9 → 1.4-1.9 GB anonymous). Two row groups from one file at a time: 0.73 → 0.91 GB, the same
# speed. Polars reads these variables at each query, so setting them here, before any scan, takes effect; a value
# the user exported wins.
POLARS_READ_AHEAD = {"POLARS_ROW_GROUP_PREFETCH_SIZE": "2", "POLARS_MAX_CONCURRENT_SCANS": "1"}


def bound_polars_read_ahead() -> None:
    for name, value in POLARS_READ_AHEAD.items():
        os.environ.setdefault(name, value)


bound_polars_read_ahead()

# Fault injection for the kill tests: the process SIGKILLs itself at this point of a commit
# ("written", "linked", "switched").
KILL_AT_ENV = "MEDICAL_ASSETS_TEST_KILL_AT"


def default_home() -> Path:
    return Path(os.environ.get("MEDICAL_ASSETS_HOME", "data")).resolve()


FILE_NAME_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_=-.")
MAX_FILE_NAME_BYTES = 240


def partition_file_name(partition: str) -> str:
    """A partition key as a file name, one to one: every character outside [A-Za-z0-9_=.-]
    is percent-encoded as UTF-8 (a multi-partition key 'medqa|my model' becomes
    'medqa%7Cmy%20model', a leading dot '%2E'), so two keys never share a file and
    `partition_key_of` gives the key back."""
    if not partition:
        raise ValueError("an empty partition key does not make a file name")
    encoded = "".join(c if c in FILE_NAME_SAFE else "".join(f"%{b:02X}" for b in c.encode()) for c in partition)
    if encoded.startswith("."):
        encoded = "%2E" + encoded[1:]
    name = encoded + ".parquet"
    if len(name.encode()) > MAX_FILE_NAME_BYTES:
        raise ValueError(f"partition key {partition!r} is too long for a file name ({len(name.encode())} bytes "
                         f"encoded, at most {MAX_FILE_NAME_BYTES}): use a shorter name")
    return name


def partition_key_of(file_name: str) -> str:
    """The partition key a `partition_file_name` came from."""
    from urllib.parse import unquote

    return unquote(file_name.removesuffix(".parquet"), errors="strict")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _writer_pid(name: str) -> int | None:
    """Versions and temporary files carry their writer's PID as the last dot- or dash-separated field."""
    field = re.split(r"[.-]", name.removesuffix(".tmp"))[-1]
    return int(field) if field.isdigit() else None


def _left_by_a_dead_process(name: str) -> bool:
    pid = _writer_pid(name)
    return pid is not None and pid != os.getpid() and not _pid_alive(pid)


def _fault_point(point: str) -> None:
    if os.environ.get(KILL_AT_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)


def _link(path: Path, target: str) -> None:
    """Make `path` a symlink to `target` (relative), replacing what is there atomically."""
    if path.is_symlink() and os.readlink(path) == target:
        return
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    os.symlink(target, temporary)
    os.replace(temporary, path)


class ChunkWriter:
    """Appends Polars frames to one Parquet file in row groups of at most `group_rows(schema)` rows and
    about ROW_GROUP_BYTES. Small frames are held until they fill a group (or the writer closes), so that a step
    that writes a few rows at a time does not leave a file of thousands of tiny groups."""

    def __init__(self, path: Path, schema: dict[str, pl.DataType]):
        self.path = path
        self.schema = schema
        self.rows = 0
        self._arrow_schema = pl.DataFrame(schema=schema).to_arrow().schema
        self._writer = pq.ParquetWriter(path, self._arrow_schema, compression="zstd")
        self._pending: list[pl.DataFrame] = []
        self._pending_rows = self._pending_bytes = 0
        self._group_rows = group_rows(schema)

    def write(self, frame: pl.DataFrame) -> None:
        if frame.height:
            self._pending.append(frame.select(list(self.schema)))
            self._pending_rows += frame.height
            self._pending_bytes += frame.estimated_size()
            self.rows += frame.height
            if self._pending_rows >= self._group_rows or self._pending_bytes >= ROW_GROUP_BYTES:
                self._flush(whole_groups_only=True)

    def _flush(self, whole_groups_only: bool = False) -> None:
        """Write what is held, in full groups; with `whole_groups_only`, keep the last partial group."""
        if not self._pending:
            return
        frame = pl.concat(self._pending, how="vertical_relaxed") if len(self._pending) > 1 else self._pending[0]
        rows = min(self._group_rows, max(1, ROW_GROUP_BYTES * frame.height // max(1, self._pending_bytes)))
        cut = frame.height - frame.height % rows if whole_groups_only else frame.height
        rest = frame.slice(cut)
        self._pending = [rest] if rest.height else []
        self._pending_rows, self._pending_bytes = rest.height, rest.estimated_size()
        if cut:
            self._writer.write_table(frame.slice(0, cut).to_arrow().cast(self._arrow_schema), row_group_size=rows)

    def close(self) -> None:
        try:
            self._flush()
        finally:
            self._writer.close()

    def discard(self) -> None:
        """Close the file without writing what is held (the step failed: its files are thrown away)."""
        self._pending = []
        self._writer.close()


def row_groups(path: Path, columns: Sequence[str] | None = None) -> Iterator[pl.DataFrame]:
    """The rows of one Parquet file, one row group at a time, read without memory-mapping the file:
    memory holds one group, whatever the file's size."""
    parquet = pq.ParquetFile(path, memory_map=False)
    for group in range(parquet.num_row_groups):
        yield pl.from_arrow(parquet.read_row_group(group, columns=list(columns) if columns else None))


def conform(frame: pl.DataFrame, schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """`frame` with exactly `schema`'s columns, in order: missing ones null, extra ones dropped, types cast
    (what `Warehouse.scan` does across partition files whose columns differ)."""
    return frame.select(pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype).alias(name)
                        for name, dtype in schema.items())


def rows_named(frame: pl.DataFrame, wanted: pl.DataFrame, on: str, where: pl.Expr | bool = True) -> pl.DataFrame:
    """The rows of `frame` that satisfy `where` and whose `on` value is in `wanted`: the join reads
    the key column alone, then one filter takes the rows. (Polars 1.44 panics joining a frame with
    an Array column when the result is empty: "concat requires input of at least one array".)"""
    where = pl.lit(where) if isinstance(where, bool) else where
    found = frame.select(pl.col(on).filter(where)).join(wanted.select(on), on=on, how="semi")[on]
    return frame.filter(where & pl.col(on).is_in(found.implode()))


def in_given_order(path: Path, order: pl.DataFrame, keys: Sequence[str], spill: Path,
                   bucket_rows: int) -> Iterator[pl.DataFrame]:
    """The rows of the Parquet file `path` that `order` names (by `keys`, with a `position` 0..n-1), in
    position order, in frames of at most `bucket_rows` rows; rows `order` does not name are skipped.

    An external bucket sort in two passes: the file is read one row group at a time and each
    group's rows are written to the bucket of their position (`position // bucket_rows`) under
    `spill`; each bucket is then read back and sorted. Memory holds `order` (keys only, a few dozen
    bytes a row), one row group and one bucket, never the file's text; disk holds the selected rows
    once more until the caller removes `spill`."""
    spill.mkdir(parents=True, exist_ok=True)
    index = order.select(*keys, pl.col("position").cast(pl.Int64))
    for group, rows in enumerate(row_groups(path)):
        placed = rows.join(index, on=list(keys), how="inner").with_columns(_bucket=pl.col("position") // bucket_rows)
        for (bucket,), piece in placed.partition_by("_bucket", as_dict=True, include_key=False).items():
            folder = spill / f"{bucket:09d}"
            folder.mkdir(exist_ok=True)
            piece.write_ipc(folder / f"{group:09d}.arrow", compression="lz4")
    for bucket in range(-(-index.height // bucket_rows)):
        pieces = sorted((spill / f"{bucket:09d}").glob("*.arrow"))
        if pieces:
            frame = pl.concat([pl.read_ipc(piece, memory_map=False) for piece in pieces])
            yield frame.sort("position").drop("position")
            shutil.rmtree(spill / f"{bucket:09d}", ignore_errors=True)


class StageCommit:
    """The tables one run of a step writes, made visible together by `Warehouse.commit`."""

    def __init__(self, warehouse: Warehouse, folder: Path, partition: str | None):
        self.warehouse, self.folder, self.partition = warehouse, folder, partition
        self.tables: list[str] = []

    def _file(self, table: str, schema: Mapping[str, pl.DataType]) -> Path:
        if table in self.tables:
            raise ValueError(f"table {table!r} is written twice in one commit")
        if table.endswith("_rejects") and (faults := reject_column_faults(dict(schema))):
            raise ValueError(f"{table} does not start with the rejects columns (core/rejects.py): " + "; ".join(faults))
        self.tables.append(table)
        return self.folder / f"{table}.parquet"

    @contextmanager
    def writer(self, table: str, schema: dict[str, pl.DataType]) -> Iterator[ChunkWriter]:
        chunk_writer = ChunkWriter(self._file(table, schema), schema)
        try:
            yield chunk_writer
        except BaseException:
            chunk_writer.discard()
            raise
        chunk_writer.close()

    def write(self, table: str, frame: pl.DataFrame) -> Path:
        with self.writer(table, dict(frame.schema)) as chunk_writer:
            chunk_writer.write(frame)
        return self.warehouse.table_path(table, self.partition)

    def sink(self, table: str, frame: pl.LazyFrame) -> Path:
        """Stream a lazy frame into the table's file without collecting it in memory."""
        schema = frame.collect_schema()
        frame.sink_parquet(self._file(table, schema), compression="zstd", row_group_size=group_rows(schema))
        return self.warehouse.table_path(table, self.partition)

    def split(self, source: str, outputs: Callable[[pl.LazyFrame], Mapping[str, pl.LazyFrame]],
              partitions: Sequence[str] | None = None) -> dict[str, int]:
        """Read table `source` one row group at a time and write each frame of `outputs(group)` into the
        table it is named for; rows written per table.

        One pass over the input for every table it feeds (kept rows and rejects), and memory for one row
        group plus each writer's unfinished group, however long the table. Polars' streaming sink over a
        computed column kept decoding ahead of its writer: a 96,000-row table of 20 KB traces peaked 260 MB
        above a 6,000-row one, where this loop held the same at both (`outputs` is lazy, so the frames it
        returns share their common work in one `collect_all`)."""
        schema = self.warehouse.scan(source, partitions).collect_schema()
        empty = {name: frame.collect_schema() for name, frame in outputs(pl.LazyFrame(schema=schema)).items()}
        with ExitStack() as stack:
            writers = {name: stack.enter_context(self.writer(name, dict(out))) for name, out in empty.items()}
            for group in self.warehouse.batches(source, None, 1, partitions):
                frames = outputs(conform(group, schema).lazy())
                for name, frame in zip(frames, pl.collect_all(list(frames.values()))):
                    writers[name].write(frame)
            return {name: writer.rows for name, writer in writers.items()}


class Warehouse(dg.ConfigurableResource):
    """Parquet tables under the data home, queryable together from one DuckDB file."""

    home: str | None = Field(default=None, description="The data home; None: $MEDICAL_ASSETS_HOME, else ./data.")

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
        return sorted(p for p in (self.root / "tables" / table).glob("*.parquet") if p.exists())

    def exists(self, table: str, partition: str | None = None) -> bool:
        if partition is not None:
            return self.table_path(table, partition).exists()
        return self.table_path(table).exists() or bool(self.partitions(table))

    def stage_dir(self, step: str, partition: str | None) -> Path:
        stem = UNPARTITIONED if partition is None else partition_file_name(partition).removesuffix(".parquet")
        return self.root / "stages" / step / stem

    @contextmanager
    def commit(self, step: str, partition: str | None = None) -> Iterator[StageCommit]:
        """Every table written in the block becomes visible together when it ends, or none
        does if it raises or the process dies: written into a new version folder, then one
        atomic switch of the step's `current` link (see the module docstring)."""
        stage = self.stage_dir(step, partition)
        stage.mkdir(parents=True, exist_ok=True)
        self._remove_leftovers(stage)
        version = stage / f"v{time.time_ns()}-{os.getpid()}"
        version.mkdir()
        commit = StageCommit(self, version, partition)
        try:
            yield commit
        except BaseException:
            shutil.rmtree(version, ignore_errors=True)
            raise
        _fault_point("written")
        for table in commit.tables:  # links through `current`: new tables dangle (unseen) until the switch
            final = self.table_path(table, partition)
            final.parent.mkdir(parents=True, exist_ok=True)
            for left in final.parent.glob(f".{final.name}.*.tmp"):  # an earlier run killed while linking
                if _left_by_a_dead_process(left.name):
                    left.unlink(missing_ok=True)
            _link(final, os.path.relpath(stage / CURRENT / f"{table}.parquet", final.parent))
        _fault_point("linked")
        _link(stage / CURRENT, version.name)
        _fault_point("switched")
        self._remove_leftovers(stage)
        for table in commit.tables:
            self.ensure_view(table)

    def _remove_leftovers(self, stage: Path) -> None:
        """Versions no longer current, and temporary links of dead processes."""
        current = os.readlink(stage / CURRENT) if (stage / CURRENT).is_symlink() else None
        for entry in stage.iterdir():
            if entry.name in (CURRENT, current):
                continue
            if entry.name.endswith(".tmp") or entry.name.startswith("v"):
                # this process's older versions, and whatever a dead process left
                if _writer_pid(entry.name) == os.getpid() or _left_by_a_dead_process(entry.name):
                    if entry.is_dir() and not entry.is_symlink():
                        shutil.rmtree(entry, ignore_errors=True)
                    else:
                        entry.unlink(missing_ok=True)

    @contextmanager
    def writer(self, table: str, partition: str | None, schema: dict[str, pl.DataType]) -> Iterator[ChunkWriter]:
        """Stream chunks into the table's file; it appears (atomically) only if the block succeeds."""
        with self.commit(table, partition) as stage, stage.writer(table, schema) as chunk_writer:
            yield chunk_writer

    def write(self, table: str, frame: pl.DataFrame, partition: str | None = None) -> Path:
        with self.commit(table, partition) as stage:
            return stage.write(table, frame)

    def sink(self, table: str, frame: pl.LazyFrame, partition: str | None = None) -> Path:
        """Stream a lazy frame into the table's file (atomically), without collecting it in memory."""
        with self.commit(table, partition) as stage:
            return stage.sink(table, frame)

    def partials_dir(self, table: str, partition: str | None, key: str) -> Path:
        """Where an asset keeps partial results while it runs (one file per finished chunk), so
        that a re-run after a crash resumes from them: partials/<table>/<partition>/<key>/."""
        stem = UNPARTITIONED if partition is None else partition_file_name(partition).removesuffix(".parquet")
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
        for left in directory.glob(".*.tmp"):  # a partial being written when its process died
            if _left_by_a_dead_process(left.name):
                left.unlink(missing_ok=True)
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

    def batches(self, table: str, columns: Sequence[str] | None, rows: int,
                partitions: Sequence[str] | None = None) -> Iterator[pl.DataFrame]:
        """The table's `columns` (None: all; of all partitions, or the ones named) in frames of about `rows` rows
        (whole row groups, at least one), file after file: a step holds one batch of the columns it
        needs, never the table."""
        if partitions is not None:
            files = [self.table_path(table, key) for key in partitions]
        else:
            files = [self.table_path(table)] if self.table_path(table).exists() else self.partitions(table)
        if not files or not all(f.exists() for f in files):
            raise FileNotFoundError(f"table {table!r} has not been materialized under {self.root / 'tables'} "
                                    f"(partitions: {', '.join(partitions) if partitions is not None else 'all'})")
        pending: list[pl.DataFrame] = []
        for path in files:
            for group in row_groups(path, columns):
                pending.append(group)
                if sum(frame.height for frame in pending) >= rows:
                    yield pl.concat(pending)
                    pending = []
        if pending:
            yield pl.concat(pending)

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

    warehouse: Warehouse = Field(description="Where the tables are written and read.")

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
