"""Row accounting shared by every stage that drops rows: rows in = kept + rejected."""

from __future__ import annotations

import dagster as dg
import polars as pl


def row_accounting_check(
    check_name: str, asset: str, rows_in: int, kept: pl.LazyFrame, rejected: pl.LazyFrame, row_column: str
) -> dg.AssetCheckResult:
    """Recount what was written: every input row sits in exactly one of `kept` and `rejected`.

    Counts come from the stored tables, not from the run's counters, and the
    `row_column` positions must cover 0..rows_in-1 once each.
    """
    positions = pl.concat([kept.select(row_column), rejected.select(row_column)]).collect()[row_column]
    n_kept = kept.select(pl.len()).collect().item()
    n_rejected = rejected.select(pl.len()).collect().item()
    duplicated = int(positions.is_duplicated().sum())
    expected = pl.Series(range(rows_in), dtype=positions.dtype)
    missing = int((~expected.is_in(positions.implode())).sum())
    passed = n_kept + n_rejected == rows_in and duplicated == 0 and missing == 0
    return dg.AssetCheckResult(
        check_name=check_name,
        asset_key=asset,
        passed=passed,
        metadata={"rows_in": rows_in, "rows_kept": n_kept, "rows_rejected": n_rejected,
                  "rows_counted_twice": duplicated, "rows_missing": missing},
        description=None if passed else f"{rows_in:,} in != {n_kept:,} kept + {n_rejected:,} rejected "
        f"({duplicated} counted twice, {missing} missing)",
    )
