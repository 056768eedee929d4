"""Streaming normalization: records in, bounded chunks of canonical rows and rejects out."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from typing import Any, Iterable, Iterator

import polars as pl

from medical_assets.core.layouts import Layout, Unparsed, normalize_records

PROBE_ROWS = 1_000  # a file whose first this-many records all fail to parse is not of the expected format


class UnreadableSource(ValueError):
    """The whole input is unusable; the message names the file and what is wrong with it."""


@dataclass
class IngestStats:
    rows_in: int = 0
    rows_kept: int = 0
    rows_rejected: int = 0
    rows_unparsed: int = 0


def normalize_stream(
    records: Iterable[tuple[int, Any]],
    layout: Layout,
    source: str,
    origin: str,
    chunk_rows: int,
    stats: IngestStats | None = None,
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """Normalize `(source_row, record)` pairs chunk by chunk; memory is bounded by `chunk_rows`.

    Records that are `Unparsed` become rejects with their reason. If nothing at
    all can be parsed (in the whole input, or in its first PROBE_ROWS records)
    the input is not what the registry says it is: `UnreadableSource`.
    """
    stats = stats if stats is not None else IngestStats()
    iterator = iter(records)
    first_error: str | None = None
    while chunk := list(islice(iterator, chunk_rows)):
        unparsed = [(row, r) for row, r in chunk if isinstance(r, Unparsed)]
        if unparsed and first_error is None:
            first_error = f"record {unparsed[0][0]}: {unparsed[0][1].reason}"
        stats.rows_unparsed += len(unparsed)
        stats.rows_in += len(chunk)
        if stats.rows_unparsed == stats.rows_in and stats.rows_in >= PROBE_ROWS:
            raise UnreadableSource(
                f"{origin}: none of the first {stats.rows_in:,} records could be read (first: {first_error}); "
                "is the file in the format its name says (JSONL, JSON array, Parquet)?"
            )
        kept, rejects = normalize_records(chunk, layout, source, origin)
        stats.rows_kept += kept.height
        stats.rows_rejected += rejects.height
        yield kept, rejects
    if stats.rows_in == 0:
        raise UnreadableSource(f"{origin}: no records (empty input); check the path, split or data_files")
    if stats.rows_unparsed == stats.rows_in:
        raise UnreadableSource(f"{origin}: none of its {stats.rows_in:,} records could be read (first: {first_error})")
