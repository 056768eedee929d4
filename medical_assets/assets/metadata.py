"""What the Dagster UI shows of a table: Markdown tables of counts and previews, Dagster tables
with a schema, and charts (PNG images in Markdown) with their numbers beside them."""

from __future__ import annotations

import dagster as dg
import polars as pl
from matplotlib.figure import Figure

from medical_assets.core import charts

_TABLE_TYPES = {pl.Boolean: "bool", pl.String: "string"}


def table_value(frame: pl.DataFrame) -> dg.TableMetadataValue:
    """The frame as Dagster table metadata, its columns typed (the UI renders it as a table)."""
    def kind(dtype: pl.DataType) -> str:
        return "int" if dtype.is_integer() else "float" if dtype.is_float() else _TABLE_TYPES.get(dtype.base_type(), "string")

    plain = frame.with_columns(pl.col(c).cast(pl.String) for c, t in frame.schema.items()
                               if kind(t) == "string" and t != pl.String)
    schema = dg.TableSchema(columns=[dg.TableColumn(name, kind(dtype)) for name, dtype in frame.schema.items()])
    return dg.MetadataValue.table([dg.TableRecord(row) for row in plain.iter_rows(named=True)], schema=schema)


def chart_metadata(key: str, figure: Figure, alt: str, numbers: pl.DataFrame) -> dict[str, dg.MetadataValue]:
    """A chart as a Markdown PNG image under `key` and the numbers it shows as a table under `<key>_data`."""
    return {key: dg.MetadataValue.md(charts.markdown_image(figure, alt)), f"{key}_data": table_value(numbers)}


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


def _score_cell(value: float | None, low: float | None = None, high: float | None = None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}" if low is None or high is None else f"{value:.2f} [{low:.1f}, {high:.1f}]"


def leaderboard_markdown(table: pl.DataFrame, columns: list[str]) -> str:
    """The leaderboard as the model card lays it out: score [95% interval] per benchmark, Avg,
    HealthBench; reference rows marked; a missing Avg says which benchmarks are missing."""
    header = ["Model", *columns, "Avg", "HealthBench", "Decoding"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    partial: list[str] = []
    for row in table.iter_rows(named=True):
        cells = [row["model"] + (" *(reference)*" if row["reference"] else "")]
        cells += [_score_cell(row[c], row[c + "_low"], row[c + "_high"]) + _strict(row.get(c + "_strict"))
                  for c in columns]
        avg = _score_cell(row["Avg"], row["Avg_low"], row["Avg_high"]) + _strict(row.get("Avg_strict"))
        if row["Avg"] is None and row["missing"]:
            avg = f"— (missing: {row['missing']})"
        if row["Avg_stated"] is not None:
            avg += f" (stated {row['Avg_stated']:.2f})"
        if row.get("partial"):
            avg += f" (partial: {row['partial'].count('(')} benchmarks)"
            partial.append(f"- {row['model']}: {row['partial']}")
        healthbench = _score_cell(row["HealthBench"])
        if row["HealthBench_std"] is not None:
            healthbench += f" ± {row['HealthBench_std']:.1f}"
        cells += [avg, healthbench, row["decoding"] or ""]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    notes = ("\n\nScores in %: the published harness's verdict (II-Medical-Evaluation, comparable with the model "
             "card's row) with its 95% interval (Wilson, per benchmark; Avg: the ten combined), then the strict "
             "reading (one stated answer, none is wrong).")
    if partial:
        notes += "\n\nScored on the first rows of the file only (rows scored / rows in the file):\n" + "\n".join(partial)
    return "\n".join(lines) + notes


def _strict(value: float | None) -> str:
    return "" if value is None else f" · strict {value:.2f}"


def bar_chart(table: pl.DataFrame, columns: list[str], width: int = 40) -> str:
    """A text bar chart (0-100%) of every model's score per benchmark, in a code block
    (no plotting library is installed)."""
    blocks = " ▏▎▍▌▋▊▉█"
    names = [row["model"] for row in table.iter_rows(named=True)]
    pad = max((len(n) for n in names), default=0)
    lines = []
    for column in [*columns, "Avg"]:
        lines.append(column)
        for name, value in zip(names, table[column].to_list()):
            if value is None:
                bar = "(not scored)"
            else:
                eighths = round(max(0.0, min(100.0, value)) / 100 * width * 8)
                bar = "█" * (eighths // 8) + (blocks[eighths % 8] if eighths % 8 else "") + f" {value:.2f}"
            lines.append(f"  {name:<{pad}}  {bar}")
    return "```\n" + "\n".join(lines) + "\n```"
