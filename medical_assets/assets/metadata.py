"""What the Dagster UI shows of a table: Markdown tables of counts and previews."""

from __future__ import annotations

import polars as pl


def markdown_table(frame: pl.DataFrame, max_rows: int = 20, max_chars: int = 80) -> str:
    """A Markdown table of the first rows; long texts are clipped and pipes escaped."""
    if frame.height == 0:
        return "(no rows)"

    def cell(value: object) -> str:
        text = "" if value is None else str(value)
        text = text.replace("\n", " ").replace("|", "\\|")
        return text if len(text) <= max_chars else text[: max_chars - 1] + "…"

    header = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * frame.width
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.head(max_rows).iter_rows()]
    return "\n".join([header, *rows])


def reasons_markdown(rejects: pl.DataFrame | pl.LazyFrame, by: tuple[str, ...] = ("field", "reason")) -> str:
    """Reject counts by field and reason."""
    counts = rejects.lazy().group_by(list(by)).len("rows").sort("rows", *by, descending=[True] + [False] * len(by))
    counts = counts.collect()
    return markdown_table(counts) if counts.height else "No rows rejected."
