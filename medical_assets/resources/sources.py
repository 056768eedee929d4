"""Where each registry source is read from, and the record readers.

`SourceCatalog.mode` picks the origin of every source at once:
- "demo": the mock files bundled in `medical_assets/sample/sources/`;
- "hub": the hub dataset of the registry (`datasets.load_dataset`, streamed).
An overrides file (YAML) changes any source's entry without a code edit, e.g.

    openthoughts2:
      path: /data/openthoughts2/train.jsonl      # a local file wins over the hub
    generalthought_medical:
      layout: {keep_if: {task: [Medicine, Biology, Health]}}
    light_r1:
      data_files: stage2-3k.json

A drop folder (`drop_dir`) holds local files named after their source
(`<source>.jsonl`, `.ndjson`, `.json` or `.parquet`): such a file is that
source's data, whatever the mode or the overrides' `path` say; the other
fields of the entry and its overrides still apply. `source_drop_sensor` starts
the ingestion of a file dropped there.

Readers yield `(source_row, record)`; a record that cannot be read becomes an
`Unparsed` with the reason, so it is counted and kept in the rejects.
"""

from __future__ import annotations

import codecs
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import dagster as dg
import orjson
import yaml
from pydantic import Field

from medical_assets.core.ingest import CHUNK_BYTES, UnreadableSource
from medical_assets.core.layouts import Unparsed
from medical_assets.sources import SourceSpec, source_spec

SAMPLE_SOURCES = Path(__file__).resolve().parent.parent / "sample" / "sources"
DROP_SUFFIXES = (".jsonl", ".ndjson", ".json", ".parquet")  # what `read_local` reads
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
PARQUET_BATCH_ROWS = 4_096
PARQUET_BATCH_BYTES = 16_000_000  # uncompressed bytes a batch of a Parquet source holds (about 800 traces of 20 KB)


def read_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """One record per line; bad bytes, bad JSON and blank lines become `Unparsed`. A UTF-8 BOM
    before the first line is skipped."""
    with path.open("rb") as handle:
        for row, line in enumerate(handle):
            if row == 0 and line.startswith(codecs.BOM_UTF8):
                line = line[len(codecs.BOM_UTF8):]
            try:
                yield row, orjson.loads(line)
                continue
            except orjson.JSONDecodeError:
                pass  # find out why, on this rare slow path
            yield row, _unparsed_line(line.rstrip(b"\r\n"))


def _unparsed_line(line: bytes) -> Any:
    if not line.strip():
        return Unparsed("empty line", "")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = line[error.start : error.start + 4]
        return Unparsed(f"not valid UTF-8 (byte {error.start}: {bad!r})", line.decode("utf-8", "replace"))
    try:
        return json.loads(text)  # what orjson refuses but JSON allows (NaN, huge integers)
    except json.JSONDecodeError as error:
        return Unparsed(f"not valid JSON ({error.msg} at column {error.colno})", text)


def _first_line(error: BaseException) -> str:
    message = error.args[0] if error.args else error
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return text.strip().splitlines()[0] if text.strip() else type(error).__name__


def read_json_array(path: Path, skip: int = 0) -> Iterator[tuple[int, Any]]:
    """Items of a top-level JSON array, streamed (ijson), so a 1 GB file needs little memory;
    `skip` bytes (a BOM) are skipped first."""
    import ijson

    count = 0
    with path.open("rb") as handle:
        handle.seek(skip)
        try:
            for item in ijson.items(handle, "item", use_float=True):
                yield count, item
                count += 1
        except (ijson.JSONError, UnicodeDecodeError) as error:
            raise UnreadableSource(
                f"{path}: not a valid JSON array after {count} items: item {count} (0-based) cannot be parsed, "
                f"within the first {handle.tell():,} bytes ({_first_line(error)}); the file is damaged or "
                "truncated (download it again), or not UTF-8 JSON (convert it to a JSON array or JSONL in UTF-8)"
            ) from error


def parquet_batch_rows(metadata) -> int:
    """Rows a batch of this Parquet file holds: `PARQUET_BATCH_ROWS`, fewer where its rows are wide, so that a
    batch is about `PARQUET_BATCH_BYTES` uncompressed (the row groups' own sizes, from the footer). A batch
    is held twice while it is read, as Arrow and as Python records: 4,096 traces of 40 KB would be 330 MB."""
    size = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    if not metadata.num_rows or not size:
        return PARQUET_BATCH_ROWS
    return max(1, min(PARQUET_BATCH_ROWS, PARQUET_BATCH_BYTES * metadata.num_rows // size))


def read_parquet(path: Path) -> Iterator[tuple[int, Any]]:
    """Rows of a Parquet file, in order, one record batch at a time (`parquet_batch_rows`), without
    pyarrow's pre-buffering: with it, `iter_batches` kept the ranges it had read, and a 64,000-row file
    of 40 KB records held 250 MB more at its end than at its start."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path, pre_buffer=False)
    except (pa.ArrowException, OSError) as error:
        raise UnreadableSource(
            f"{path}: not a readable Parquet file ({_first_line(error)}; the footer is read from the end of its "
            f"{path.stat().st_size:,} bytes); a Parquet file starts and ends with the bytes PAR1: download it "
            "again if it is damaged or truncated, or name a JSONL/JSON file .jsonl/.json"
        ) from error
    row, batch_rows = 0, parquet_batch_rows(parquet.metadata)
    try:
        for batch in parquet.iter_batches(batch_size=batch_rows):
            for record in batch.to_pylist():
                yield row, record
                row += 1
    except (pa.ArrowException, OSError) as error:
        raise UnreadableSource(
            f"{path}: Parquet data unreadable after row {row:,} (rows {row:,}-{row + batch_rows - 1:,} "
            f"of {parquet.metadata.num_rows:,}: {_first_line(error)}); the file is damaged: download or write "
            "it again"
        ) from error


@dataclass(frozen=True)
class _FileStart:
    """What the first bytes of a local file say about its format."""

    bom: int  # bytes of a UTF-8 byte order mark to skip (0 or 3)
    first: bytes  # the first byte after the BOM and blanks (b"" for an empty file)
    parquet: bool  # starts with Parquet's magic PAR1
    utf16: bool  # starts with a UTF-16/32 byte order mark


def _file_start(path: Path) -> _FileStart:
    with path.open("rb") as handle:
        head = handle.read(4096)
        bom = len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0
        text = head[bom:]
        while text and not text.lstrip() and (more := handle.read(4096)):
            text = more
    stripped = text.lstrip()
    return _FileStart(bom, stripped[:1], head.startswith(b"PAR1"),
                      head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)))


def _json_object_keys(path: Path, start: _FileStart) -> list[str] | None:
    """The top-level keys if the file is one JSON object rather than JSONL: pretty-printed over
    several lines, or (for a `.json` file) one line with nothing after it; None for JSONL."""
    import ijson

    with path.open("rb") as handle:
        handle.seek(start.bom)
        first = handle.readline()
        try:
            value = orjson.loads(first)
        except orjson.JSONDecodeError:
            value = None
        if value is not None:  # the first line is a whole value: JSONL, unless a .json file holds only it
            rest = any(line.strip() for line in handle)
            single = path.suffix == ".json" and not rest and isinstance(value, dict)
            return list(value) if single else None
        handle.seek(start.bom)
        keys: list[str] = []
        try:  # ijson refuses anything after the first value: only a whole-file object parses
            for prefix, event, item in ijson.parse(handle):
                if prefix == "" and event == "map_key":
                    keys.append(item)
        except (ijson.JSONError, UnicodeDecodeError):
            return None  # not one object: JSONL whose first line is bad (rejected as such)
    return keys


def read_local(path: Path) -> Iterator[tuple[int, Any]]:
    """Pick the reader by content and suffix: Parquet (by its magic bytes or suffix), a JSON array,
    or JSONL (also for `.json` files of JSONL). A JSON object is refused, not read as JSONL."""
    if not path.exists():
        raise UnreadableSource(f"{path}: no such file")
    if path.is_dir():
        raise UnreadableSource(f"{path}: is a directory; name the JSONL, JSON or Parquet file inside it")
    if path.suffix not in {".parquet", *JSON_SUFFIXES}:
        raise UnreadableSource(f"{path}: unknown file type {path.suffix!r}; expected .jsonl, .json or .parquet")
    start = _file_start(path)
    if path.suffix == ".parquet" or start.parquet:
        return read_parquet(path)
    if start.utf16:
        raise UnreadableSource(f"{path}: starts with a UTF-16 byte order mark (byte 0); save the file as UTF-8")
    if start.first == b"[":
        return read_json_array(path, skip=start.bom)
    if start.first == b"{" and (keys := _json_object_keys(path, start)) is not None:
        shown = ", ".join(repr(k) for k in keys[:10]) + (", ..." if len(keys) > 10 else "")
        raise UnreadableSource(
            f"{path}: holds one JSON object (keys: {shown or 'none'}) starting at byte {start.bom}, not records; "
            "expected a JSON array of records ([{...}, {...}]) or JSONL (one record per line). If the records "
            "sit under one of these keys, write that array to its own file (a one-record JSONL file is named .jsonl)"
        )
    return read_jsonl(path)


PARQUET_EXPORT = "refs/convert/parquet"  # the hub's auto-converted Parquet: one folder per config


def hub_features(description: Any) -> Any:
    """`datasets.Features` from the registry's plain description: a dict of fields, a one-item
    list for a list of such, and type names: "string", "json" (any JSON value, kept as a JSON
    string in Arrow: what a field that is a struct in some rows and a string in others needs),
    or another `datasets.Value` dtype such as "int64"."""
    import datasets

    def feature(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: feature(value) for key, value in node.items()}
        if isinstance(node, list) and len(node) == 1:
            return [feature(node[0])]
        if node == "json":
            return datasets.Json()
        if isinstance(node, str):
            return datasets.Value(node)
        raise ValueError(f"features: cannot read {node!r}; use a dict, a one-item list or a type name")

    return datasets.Features(feature(description))


def hub_arguments(spec: SourceSpec) -> dict[str, Any]:
    """The `datasets.load_dataset` arguments for a spec. In the Parquet export (revision
    refs/convert/parquet) a config is a folder without a card naming it, so it is read as `data_dir`."""
    arguments: dict[str, Any] = {"split": spec.split, "data_files": spec.data_files, "streaming": True}
    if spec.revision:
        arguments["revision"] = spec.revision
    arguments["data_dir" if spec.revision == PARQUET_EXPORT else "name"] = spec.config
    if spec.features:
        arguments["features"] = hub_features(spec.features)
    return arguments


def read_hub(spec: SourceSpec) -> Iterator[tuple[int, Any]]:
    """Stream the hub dataset row by row (`datasets.load_dataset(..., streaming=True)`)."""
    import datasets

    try:
        stream = datasets.load_dataset(spec.hub_id, **hub_arguments(spec))
    except Exception as error:  # datasets raises many types; name the dataset and the fix
        raise UnreadableSource(
            f"{describe_hub(spec)}: cannot open the hub dataset ({_first_line(error)}); check hub_id, config, "
            "revision, split and data_files (an override changes them), that the hub is reachable "
            "(HF_HUB_OFFLINE=0, a token for gated sets), or download the file and set the source's `path`"
        ) from error
    row = -1
    try:
        for row, record in enumerate(stream):
            yield row, record
    except Exception as error:  # datasets raises many types; name the source and position
        raise UnreadableSource(
            f"{describe_hub(spec)}: reading failed at row {row + 1:,} ({_first_line(error)}); a column whose type "
            "changes between rows needs `features` in the source's entry (see am_r1), else download the "
            "file and set the source's `path` to read it locally"
        ) from error


def describe_hub(spec: SourceSpec) -> str:
    config = f"/{spec.config}" if spec.config else ""
    files = f" [{spec.data_files}]" if spec.data_files else ""
    revision = f" @{spec.revision}" if spec.revision else ""
    return f"{spec.hub_id}{config}:{spec.split}{files}{revision}"


def apply_overrides(spec: SourceSpec, overrides: dict[str, Any]) -> SourceSpec:
    """A copy of `spec` with fields replaced; `layout` overrides merge into the registry's layout."""
    fields = {f.name for f in dataclasses.fields(SourceSpec)} - {"name"}
    unknown = set(overrides) - fields
    if unknown:
        raise ValueError(f"source {spec.name!r}: unknown override keys {sorted(unknown)}; allowed: {sorted(fields)}")
    changes = dict(overrides)
    for name in ("unconfirmed", "value_count_columns"):  # YAML lists for the tuple fields
        if isinstance(changes.get(name), list):
            changes[name] = tuple(changes[name])
    if "layout" in changes:
        layout_changes = dict(changes["layout"])
        if "keep_if" in layout_changes:
            layout_changes["keep_if"] = {k: tuple(v) for k, v in layout_changes["keep_if"].items()}
        if isinstance(layout_changes.get("options"), list):
            layout_changes["options"] = tuple(layout_changes["options"])
        changes["layout"] = dataclasses.replace(spec.layout, **layout_changes)
    return dataclasses.replace(spec, **changes)


class SourceCatalog(dg.ConfigurableResource):
    """Where the training sources are read from: bundled demo files or the hub, plus per-source overrides."""

    mode: str = Field(default="demo", description='"demo" (the bundled mock files) or "hub" (every source '
                      "streamed from the Hugging Face hub).")
    overrides_file: str | None = Field(
        default=None, description="A YAML file of per-source changes to the registry: {source: {path, hub_id, "
        "config, revision, split, data_files, features, value_count_columns, layout: {...}}}.")
    drop_dir: str | None = Field(default=None, description="A folder where a file <source>.jsonl|.ndjson|.json|"
                                 ".parquet is that source's data, whatever the mode and overrides say.")
    chunk_rows: int = Field(default=10_000, ge=1, description="Records normalized and written per chunk: bounds "
                            "the memory of ingestion.")
    chunk_bytes: int = Field(default=CHUNK_BYTES, ge=1, description="UTF-8 bytes of text per chunk at most (a "
                             "chunk closes at chunk_rows or at this, whichever comes first): 2,500 traces of 20 KB.")

    def spec(self, name: str) -> SourceSpec:
        spec = source_spec(name)
        if self.overrides_file:
            overrides = yaml.safe_load(Path(self.overrides_file).read_text()) or {}
            if name in overrides:
                spec = apply_overrides(spec, overrides[name])
        dropped = self.dropped_file(name)
        if dropped is not None:
            spec = dataclasses.replace(spec, path=str(dropped))
        return spec

    def dropped_file(self, name: str) -> Path | None:
        """The file of source `name` in the drop folder, if there is one."""
        if not self.drop_dir:
            return None
        found = [path for suffix in DROP_SUFFIXES if (path := Path(self.drop_dir) / f"{name}{suffix}").is_file()]
        if len(found) > 1:
            raise ValueError(f"{self.drop_dir}: several files for source {name!r} "
                             f"({', '.join(p.name for p in found)}); keep one")
        return found[0] if found else None

    def origin(self, spec: SourceSpec) -> str:
        """The file or hub dataset this spec is read from (shown in rejects and metadata)."""
        if spec.path:
            return str(Path(spec.path).resolve())
        if self.mode == "demo":
            return str(SAMPLE_SOURCES / spec.demo_file)
        if self.mode == "hub":
            return describe_hub(spec)
        raise ValueError(f"SourceCatalog.mode must be 'demo' or 'hub', not {self.mode!r}")

    def records(self, spec: SourceSpec) -> Iterator[tuple[int, Any]]:
        if spec.path or self.mode == "demo":
            return read_local(Path(self.origin(spec)))
        return read_hub(spec)

