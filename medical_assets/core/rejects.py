"""The columns every rejects table starts with, so one query answers for a row removed at any stage.

In this order:
- `sample_id`: the row's id where it has one (null for a record that never became a trace);
- `source`, `source_row`: where the row came from (the source or benchmark, its row or line);
- `stage`: the stage that removed it (`ingest`, `curation`, ..., `dapo_prompts`);
- `reason`: why, in words;
- `value`, `threshold`: the measured number and the limit it crossed, where a number decided;
- `evidence`: what the reason rests on (the field at fault, the cluster, the match, the file).

Each table keeps its own columns after these (the raw record, the filter's name, the part, ...).
"""

from __future__ import annotations

from typing import TypeVar

import polars as pl

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)

REJECT_COLUMNS: dict[str, pl.DataType] = {
    "sample_id": pl.String(),
    "source": pl.String(),
    "source_row": pl.Int64(),
    "stage": pl.String(),
    "reason": pl.String(),
    "value": pl.Float64(),
    "threshold": pl.Float64(),
    "evidence": pl.String(),
}


def as_rejects(frame: Frame, stage: str | pl.Expr, **columns: pl.Expr | str) -> Frame:
    """`frame` with the leading columns first and its own columns after them.

    A leading column is the expression (or column name) given for it, else the frame's own column
    of that name, else null; each is cast to its type. `stage` is the stage's name (or an expression
    where one table holds several stages' removals)."""
    names = frame.collect_schema().names()
    given = {name: pl.col(expr) if isinstance(expr, str) else expr for name, expr in columns.items()}
    unknown = set(given) - set(REJECT_COLUMNS)
    if unknown:
        raise ValueError(f"not a leading rejects column: {', '.join(sorted(unknown))} (they are {', '.join(REJECT_COLUMNS)})")
    given["stage"] = pl.lit(stage) if isinstance(stage, str) else stage
    leading = [
        given.get(name, pl.col(name) if name in names else pl.lit(None)).cast(dtype).alias(name)
        for name, dtype in REJECT_COLUMNS.items()
    ]
    return frame.select(*leading, *(pl.col(name) for name in names if name not in REJECT_COLUMNS))


def reject_column_faults(schema: dict[str, pl.DataType]) -> list[str]:
    """What keeps a table's schema from starting with the leading columns (empty when it does)."""
    found = list(schema.items())[: len(REJECT_COLUMNS)]
    faults = []
    for position, (name, dtype) in enumerate(REJECT_COLUMNS.items()):
        if position >= len(found):
            faults.append(f"column {position + 1} should be {name} ({dtype}), the table ends before it")
        elif found[position] != (name, dtype):
            faults.append(f"column {position + 1} should be {name} ({dtype}), it is {found[position][0]} "
                          f"({found[position][1]})")
    return faults
