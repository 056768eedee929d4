"""The SFT mix (recipe, "Training mix"): the decontaminated traces of every part, exact
duplicates removed, each part capped at its recipe count.

Plain functions on Polars frames with `part`, `source`, `source_row`, `sample_id`,
`prompt`, `response` columns (the canonical schema plus `part`).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import polars as pl

# Which copy of a duplicate is kept: the first part in this order (answer-verified synthetic
# traces, then the public medical sets, the curated R1 traces, the math supplement), then by
# source name and source row. The others are recorded with the `sample_id` they duplicate.
PART_PRIORITY: tuple[str, ...] = ("synthetic_qa", "public_medical", "curated_r1", "math")


def content_key() -> pl.Expr:
    """Hash of the normalized prompt + response (lowercased, whitespace collapsed): equal for
    rows that differ only in case or spacing."""
    def normalized(column: str) -> pl.Expr:
        return pl.col(column).fill_null("").str.to_lowercase().str.replace_all(r"\s+", " ").str.strip_chars()

    return pl.concat_str([normalized("prompt"), pl.lit("\x1f"), normalized("response")]).hash(seed=0)


def _priority(parts: Sequence[str]) -> pl.Expr:
    order = {part: i for i, part in enumerate(parts)}
    return pl.col("part").replace_strict(order, default=len(order), return_dtype=pl.UInt32)


def drop_duplicates(traces: pl.DataFrame, parts: Sequence[str] = PART_PRIORITY) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept, duplicates): one row per normalized prompt + response, the first by `parts` order,
    source and source row; each duplicate gets `duplicate_of`, the `sample_id` it repeats."""
    ranked = traces.with_columns(_key=content_key(), _rank=_priority(parts)).sort("_rank", "source", "source_row")
    ranked = ranked.with_columns(duplicate_of=pl.col("sample_id").first().over("_key"),
                                 _first=pl.int_range(pl.len()).over("_key") == 0)
    kept = ranked.filter(pl.col("_first")).drop("_key", "_rank", "_first", "duplicate_of")
    duplicates = ranked.filter(~pl.col("_first")).drop("_key", "_rank", "_first")
    return kept, duplicates


def cap_parts(traces: pl.DataFrame, caps: Mapping[str, int | None], seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept, over_cap): each part sampled down to its cap with `seed` (a part under its cap, or
    with no cap, is kept whole). The same rows and seed give the same mix."""
    kept, over = [], []
    for (part,), rows in traces.sort("source", "source_row").group_by("part", maintain_order=True):
        cap = caps.get(part)
        if cap is None or rows.height <= cap:
            kept.append(rows)
            continue
        chosen = rows.sample(cap, seed=seed, shuffle=False)
        kept.append(chosen)
        over.append(rows.join(chosen.select("sample_id", "source", "source_row"),
                              on=["sample_id", "source", "source_row"], how="anti")
                    .with_columns(cap=pl.lit(cap, dtype=pl.Int64)))
    empty = traces.clear()
    return (pl.concat(kept) if kept else empty,
            pl.concat(over) if over else empty.with_columns(cap=pl.lit(None, dtype=pl.Int64)))


def mix_table(mix: pl.DataFrame, targets: Mapping[str, int]) -> pl.DataFrame:
    """The card's mix table: part, recipe target, rows kept, share of the mix."""
    counts = dict(mix.group_by("part").len().iter_rows())
    total = max(mix.height, 1)
    return pl.DataFrame(
        [{"part": part, "recipe_target": target, "rows": counts.get(part, 0),
          "share": round(counts.get(part, 0) / total, 4)} for part, target in targets.items()],
        schema={"part": pl.String, "recipe_target": pl.Int64, "rows": pl.Int64, "share": pl.Float64},
    )
