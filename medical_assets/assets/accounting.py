"""Row accounting shared by every stage that drops rows: rows in = kept + rejected."""

from __future__ import annotations

import dagster as dg
import polars as pl


def row_accounting_check(
    check_name: str,
    asset: str,
    rows_in: pl.LazyFrame,
    kept: pl.LazyFrame,
    rejected: pl.LazyFrame,
    keys: list[str],
) -> dg.AssetCheckResult:
    """Recount what was written: every input row (identified by `keys`) sits in exactly
    one of `kept` and `rejected`, and nothing else does.

    Counts come from the stored tables, not from the run's counters.
    """
    written = pl.concat([kept.select(keys), rejected.select(keys)])
    n_in = rows_in.select(pl.len()).collect().item()
    n_kept = kept.select(pl.len()).collect().item()
    n_rejected = rejected.select(pl.len()).collect().item()
    counted_twice = written.group_by(keys).len().filter(pl.col("len") > 1).select(pl.len()).collect().item()
    missing = rows_in.select(keys).join(written, on=keys, how="anti").select(pl.len()).collect().item()
    unknown = written.join(rows_in.select(keys), on=keys, how="anti").select(pl.len()).collect().item()
    passed = n_kept + n_rejected == n_in and counted_twice == missing == unknown == 0
    return dg.AssetCheckResult(
        check_name=check_name,
        asset_key=asset,
        passed=passed,
        metadata={"rows_in": n_in, "rows_kept": n_kept, "rows_rejected": n_rejected,
                  "rows_counted_twice": counted_twice, "rows_missing": missing, "rows_unknown": unknown},
        description=None if passed else f"{n_in:,} in != {n_kept:,} kept + {n_rejected:,} rejected "
        f"({counted_twice} counted twice, {missing} missing, {unknown} not in the input)",
    )


def positions(n: int, column: str) -> pl.LazyFrame:
    """The row positions 0..n-1 of an input read in order, as the ids to account for."""
    return pl.LazyFrame({column: pl.int_range(0, n, eager=True, dtype=pl.Int64)})
