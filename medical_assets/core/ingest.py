"""Streaming normalization: records in, bounded chunks of canonical rows and rejects out,
with the per-source stats the input gate of ingestion decides on."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping

import polars as pl

from medical_assets.core.layouts import NOT_SELECTED, Layout, Unparsed, field_value, normalize_records

CHUNK_BYTES = 50_000_000  # UTF-8 bytes of text a chunk of records holds at most (2,500 traces of 20 KB)
PROBE_ROWS = 1_000  # a file whose first this-many records all fail to parse is not of the expected format
MAX_DISTINCT = 1_000  # distinct reasons / values counted per column; the rest are summed as OTHER
OTHER = "(other values)"
TOP_REASONS = 5  # reasons a failed input gate lists
EXAMPLES = 3  # invalid rows a failed input gate shows
FORMAT_FIX = ("check that it is JSONL (one JSON record per line), a JSON array of records or Parquet, "
              "in UTF-8, and that the source's `path`/`data_files` point at the data file")


class UnreadableSource(ValueError):
    """The whole input is unusable; the message names the file and what is wrong with it."""


def _count(counter: Counter, key: Any, rows: int = 1) -> None:
    """Count `key`, or OTHER once MAX_DISTINCT keys are counted (memory stays bounded)."""
    counter[key if key in counter or len(counter) < MAX_DISTINCT else OTHER] += rows


def value_label(value: Any) -> str:
    """A column value as a short label for value counts."""
    if value is None:
        return "(null or missing)"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 120 else text[:119] + "…"


@dataclass
class IngestStats:
    """Counts of one source's ingestion, updated chunk by chunk.

    `reasons` counts rejects by (field, reason) with the details in parentheses
    cut off ("not valid JSON (...)" -> "not valid JSON"); `value_counts` counts
    the values of chosen columns over every row read; `duplicate_rows` counts
    kept rows whose sample_id (prompt + reasoning + response) an earlier row had,
    from a set of 128-bit hashes (about 100 bytes a row).
    """

    rows_in: int = 0
    rows_kept: int = 0
    rows_rejected: int = 0
    rows_unparsed: int = 0
    rows_not_selected: int = 0
    duplicate_rows: int = 0
    reasons: Counter = field(default_factory=Counter)
    examples: list[dict[str, Any]] = field(default_factory=list)  # the first invalid rows, for a failed gate
    value_counts: dict[str, Counter] = field(default_factory=dict)
    _seen: set[int] = field(default_factory=set, repr=False)

    @property
    def rows_invalid(self) -> int:
        """Rejected rows that the source's filter selected: bad bytes, bad JSON, missing or wrong fields."""
        return self.rows_rejected - self.rows_not_selected

    @property
    def rows_selected(self) -> int:
        """Rows the source's filter selects: kept plus invalid."""
        return self.rows_in - self.rows_not_selected

    @property
    def invalid_percent(self) -> float:
        """Invalid rows as a share of the selected rows (0 when none is selected)."""
        return 100 * self.rows_invalid / self.rows_selected if self.rows_selected else 0.0

    def add(self, kept: pl.DataFrame, rejects: pl.DataFrame) -> None:
        """Count one normalized chunk."""
        self.rows_kept += kept.height
        self.rows_rejected += rejects.height
        for sid in kept["sample_id"].to_list():
            key = int(sid, 16)
            if key in self._seen:
                self.duplicate_rows += 1
            else:
                self._seen.add(key)
        if not rejects.height:
            return
        not_selected = pl.col("reason").str.starts_with(NOT_SELECTED)
        self.rows_not_selected += rejects.select(not_selected.sum()).item()
        grouped = rejects.group_by("field", pl.col("reason").str.split(" (").list.first()).len()
        for field_name, reason, rows in grouped.iter_rows():
            _count(self.reasons, (field_name, reason), rows)
        if len(self.examples) < EXAMPLES:
            invalid = rejects.filter(~not_selected).head(EXAMPLES - len(self.examples))
            self.examples += invalid.select("source_row", "field", "reason", "record").to_dicts()

    def count_values(self, chunk: list[tuple[int, Any]], columns: Iterable[str]) -> None:
        """Count the values of `columns` (field paths) in a chunk of records."""
        for column in columns:
            counter = self.value_counts.setdefault(column, Counter())
            for _, record in chunk:
                if not isinstance(record, Unparsed):
                    _count(counter, value_label(field_value(record, column)))

    def top_reasons(self, invalid_only: bool, n: int = TOP_REASONS) -> list[tuple[str | None, str, int]]:
        """The most frequent (field, reason, rows) of the rejects, invalid ones only or all."""
        ranked = sorted(self.reasons.items(), key=lambda item: (-item[1], str(item[0])))
        picked = [(f, r, n) for (f, r), n in ranked if not (invalid_only and r.startswith(NOT_SELECTED))]
        return picked[:n]


def record_bytes(value: Any) -> int:
    """UTF-8 bytes of text in a record (its strings, at any depth): what its rows will weigh in Arrow,
    where a Chinese character takes 3 bytes. An ASCII string's length is its size, without encoding it."""
    if isinstance(value, str):
        return len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, Mapping):
        return sum(record_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(record_bytes(v) for v in value)
    if isinstance(value, Unparsed):
        return record_bytes(value.text)
    return 0


def bounded_chunks(records: Iterable[tuple[int, Any]], chunk_rows: int,
                   chunk_bytes: int) -> Iterator[list[tuple[int, Any]]]:
    """Lists of `(source_row, record)` pairs, each of at most `chunk_rows` records and closed by the record
    that brings its text to `chunk_bytes` bytes (`record_bytes`): a chunk passes that by one record at most."""
    chunk: list[tuple[int, Any]] = []
    size = 0
    for pair in records:
        chunk.append(pair)
        size += record_bytes(pair[1])
        if len(chunk) >= chunk_rows or size >= chunk_bytes:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def normalize_stream(
    records: Iterable[tuple[int, Any]],
    layout: Layout,
    source: str,
    origin: str,
    chunk_rows: int,
    stats: IngestStats | None = None,
    value_columns: Iterable[str] = (),
    chunk_bytes: int = CHUNK_BYTES,
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """Normalize `(source_row, record)` pairs chunk by chunk; memory is bounded by `chunk_rows` records and
    `chunk_bytes` bytes of text a chunk (`bounded_chunks`): R1 traces run to 20 KB and more, so a count
    of rows alone does not bound it.

    Records that are `Unparsed` become rejects with their reason. If nothing at
    all can be parsed (in the whole input, or in its first PROBE_ROWS records)
    the input is not what the registry says it is: `UnreadableSource`.
    `stats` (if given) is updated after each chunk, including the value counts
    of `value_columns`.
    """
    stats = stats if stats is not None else IngestStats()
    value_columns = tuple(value_columns)
    first_error: str | None = None
    for chunk in bounded_chunks(records, chunk_rows, chunk_bytes):
        unparsed = [(row, r) for row, r in chunk if isinstance(r, Unparsed)]
        if unparsed and first_error is None:
            first_error = f"record {unparsed[0][0]}: {unparsed[0][1].reason}"
        stats.rows_unparsed += len(unparsed)
        stats.rows_in += len(chunk)
        if stats.rows_unparsed == stats.rows_in and stats.rows_in >= PROBE_ROWS:
            raise UnreadableSource(
                f"{origin}: none of the first {stats.rows_in:,} records could be read (first: {first_error}); "
                f"{FORMAT_FIX}"
            )
        kept, rejects = normalize_records(chunk, layout, source, origin)
        stats.add(kept, rejects)
        stats.count_values(chunk, value_columns)
        yield kept, rejects
    if stats.rows_in == 0:
        raise UnreadableSource(f"{origin}: no records (empty input); check the path, split or data_files")
    if stats.rows_unparsed == stats.rows_in:
        raise UnreadableSource(
            f"{origin}: none of its {stats.rows_in:,} records could be read (first: {first_error}); {FORMAT_FIX}"
        )


def input_gate(
    stats: IngestStats,
    max_invalid_percent: float,
    origin: str,
    source: str,
    keep_if: Mapping[str, tuple[Any, ...]],
    finished: bool = True,
) -> str | None:
    """Why a source's rows must not replace its table, or None when they may.

    The gate of ingestion: a file in the wrong layout, with missing or
    wrong-typed columns, rejects (nearly) every row; kept as a success it
    would replace a good table with an empty one. It fails when the invalid
    rows exceed `max_invalid_percent` of the rows the source's filter selects
    (rows the filter leaves out are not invalid), or when no row at all is
    kept. `max_invalid_percent` 0 turns the gate off. With `finished=False`
    (mid-stream) it fails only once PROBE_ROWS selected rows are all invalid,
    so a wrong layout stops a million-row source early.
    """
    if max_invalid_percent == 0 or stats.rows_in == 0:
        return None
    if not finished and not (stats.rows_kept == 0 and stats.rows_invalid >= PROBE_ROWS):
        return None
    limit = f"max_invalid_percent = {max_invalid_percent:g}%"
    fix_layout = (f"fix the file, or point the source at the right file or fields with an override "
                  f"(MEDICAL_ASSETS_SOURCE_OVERRIDES, e.g. `{source}: {{path: ..., layout: {{prompt: ...}}}}`)")
    kept_note = "nothing is written: raw_traces and raw_trace_rejects keep their previous tables"
    if stats.invalid_percent > max_invalid_percent:
        scope = f"the {stats.rows_selected:,} rows" if finished else f"the first {stats.rows_selected:,} rows"
        return "\n".join([
            (f"{origin}: {stats.invalid_percent:.1f}% of {scope} that the source's filter selects are invalid "
             f"({stats.rows_invalid:,} rows), above {limit}; {kept_note}. Top reasons:"),
            *_reason_lines(stats.top_reasons(invalid_only=True)),
            *_example_lines(stats.examples),
            (f"To do: {fix_layout}; or, if these rows are expected, raise max_invalid_percent in the run config "
             "of raw_traces (0 turns this check off)."),
        ])
    if stats.rows_kept == 0 and finished:
        filter_text = json.dumps({k: list(v) for k, v in keep_if.items()}, ensure_ascii=False, default=str)
        return "\n".join([
            (f"{origin}: no row kept: {stats.rows_not_selected:,} of its {stats.rows_in:,} rows are outside the "
             f"source's filter (keep_if {filter_text}) and {stats.rows_invalid:,} are invalid; {kept_note}. "
             "Top reasons:"),
            *_reason_lines(stats.top_reasons(invalid_only=False)),
            (f"To do: choose the filter from the values this file holds (value counts in this failure's "
             f"metadata) with an override (`{source}: {{layout: {{keep_if: {{column: [value, ...]}}}}}}`), or "
             f"{fix_layout}; max_invalid_percent = 0 turns this check off."),
        ])
    return None


def _reason_lines(reasons: list[tuple[str | None, str, int]]) -> list[str]:
    return [f"  - {rows:,} rows: {field or '(whole record)'}: {reason}" for field, reason, rows in reasons]


def _example_lines(examples: list[dict[str, Any]]) -> list[str]:
    lines = []
    for example in examples:
        record = example["record"] if len(example["record"]) <= 200 else example["record"][:199] + "…"
        where = example["field"] or "(whole record)"
        lines.append(f"  e.g. row {example['source_row']} ({where}: {example['reason']}): {record}")
    return lines
