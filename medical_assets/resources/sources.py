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

import dataclasses
import json
from pathlib import Path
from typing import Any, Iterator

import dagster as dg
import orjson
import yaml

from medical_assets.core.ingest import UnreadableSource
from medical_assets.core.layouts import Unparsed
from medical_assets.sources import SourceSpec, source_spec

SAMPLE_SOURCES = Path(__file__).resolve().parent.parent / "sample" / "sources"
DROP_SUFFIXES = (".jsonl", ".ndjson", ".json", ".parquet")  # what `read_local` reads
PARQUET_BATCH_ROWS = 4_096


def read_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """One record per line; bad bytes, bad JSON and blank lines become `Unparsed`."""
    with path.open("rb") as handle:
        for row, line in enumerate(handle):
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


def read_json_array(path: Path) -> Iterator[tuple[int, Any]]:
    """Items of a top-level JSON array, streamed (ijson), so a 1 GB file needs little memory."""
    import ijson

    count = 0
    with path.open("rb") as handle:
        try:
            for item in ijson.items(handle, "item", use_float=True):
                yield count, item
                count += 1
        except (ijson.JSONError, UnicodeDecodeError) as error:
            raise UnreadableSource(f"{path}: not a valid JSON array after {count} items ({error})") from error


def read_parquet(path: Path) -> Iterator[tuple[int, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as error:
        raise UnreadableSource(f"{path}: not a readable Parquet file ({error})") from error
    row = 0
    for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
        for record in batch.to_pylist():
            yield row, record
            row += 1


def _first_byte(path: Path) -> bytes:
    with path.open("rb") as handle:
        while chunk := handle.read(4096):
            stripped = chunk.lstrip()
            if stripped:
                return stripped[:1]
    return b""


def read_local(path: Path) -> Iterator[tuple[int, Any]]:
    """Pick the reader by content and suffix: Parquet, JSON array, or JSONL (also for `.json` files of JSONL)."""
    if not path.exists():
        raise UnreadableSource(f"{path}: no such file")
    if path.is_dir():
        raise UnreadableSource(f"{path}: is a directory; name the JSONL, JSON or Parquet file inside it")
    if path.suffix == ".parquet":
        return read_parquet(path)
    if path.suffix in {".json", ".jsonl", ".ndjson"}:
        return read_json_array(path) if _first_byte(path) == b"[" else read_jsonl(path)
    raise UnreadableSource(f"{path}: unknown file type {path.suffix!r}; expected .jsonl, .json or .parquet")


def read_hub(spec: SourceSpec) -> Iterator[tuple[int, Any]]:
    """Stream the hub dataset row by row (`datasets.load_dataset(..., streaming=True)`)."""
    import datasets

    stream = datasets.load_dataset(
        spec.hub_id, name=spec.config, split=spec.split, data_files=spec.data_files, streaming=True
    )
    row = -1
    try:
        for row, record in enumerate(stream):
            yield row, record
    except Exception as error:  # datasets raises many types; name the source and position
        raise UnreadableSource(f"{describe_hub(spec)}: reading failed after row {row} ({error})") from error


def describe_hub(spec: SourceSpec) -> str:
    config = f"/{spec.config}" if spec.config else ""
    files = f" [{spec.data_files}]" if spec.data_files else ""
    return f"{spec.hub_id}{config}:{spec.split}{files}"


def apply_overrides(spec: SourceSpec, overrides: dict[str, Any]) -> SourceSpec:
    """A copy of `spec` with fields replaced; `layout` overrides merge into the registry's layout."""
    fields = {f.name for f in dataclasses.fields(SourceSpec)} - {"name"}
    unknown = set(overrides) - fields
    if unknown:
        raise ValueError(f"source {spec.name!r}: unknown override keys {sorted(unknown)}; allowed: {sorted(fields)}")
    changes = dict(overrides)
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

    mode: str = "demo"  # "demo" | "hub"
    overrides_file: str | None = None  # YAML: {source: {path|hub_id|config|split|data_files|layout: ...}}
    drop_dir: str | None = None  # a file <source>.jsonl|.ndjson|.json|.parquet here is that source's data
    chunk_rows: int = 10_000

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

