"""Charts for the Dagster UI: matplotlib figures (Agg backend, no display) and the Markdown
that shows one as an image, its numbers kept beside it by the caller.

Every function takes plain numbers and returns a `Figure` with a title and axis labels, so a
test can read what it shows; `markdown_image` turns a figure into a PNG data URI.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display anywhere this runs

from matplotlib.figure import Figure  # noqa: E402

SIZE = (6.4, 3.2)
DPI = 90


def markdown_image(figure: Figure, alt: str) -> str:
    """The figure as a Markdown image (PNG, base64 data URI)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return f"![{alt}](data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()})"


def wait_histogram(waits: Sequence[int], limit: float, card_limit: float) -> Figure:
    """Rows per count of "Wait" in the reasoning, with the chosen limit and the card's as lines."""
    figure = Figure(figsize=SIZE)
    axes = figure.add_subplot()
    top = max([*waits, limit, card_limit, 1])
    axes.hist(list(waits), bins=min(60, int(top) + 1), range=(0, top + 1), color="#4c72b0")
    axes.axvline(limit, color="#c44e52", linestyle="-", label=f"limit used ({limit:g})")
    axes.axvline(card_limit, color="#55a868", linestyle="--", label=f"card's limit ({card_limit:g})")
    axes.set(title="'Wait' per trace", xlabel="'Wait' count in the reasoning", ylabel="traces")
    axes.legend()
    return figure


def token_length_histogram(tokens: Sequence[int], max_length: int) -> Figure:
    """Rows per prompt + response length in tokens, with the SFT max length as a line."""
    figure = Figure(figsize=SIZE)
    axes = figure.add_subplot()
    axes.hist(list(tokens), bins=50, color="#4c72b0")
    axes.axvline(max_length, color="#c44e52", label=f"SFT max length ({max_length:,})")
    axes.set(title="Tokens per training row", xlabel="prompt + response tokens (chat template)", ylabel="rows")
    axes.legend()
    return figure


def accuracy_chart(models: Sequence[str], benchmarks: Sequence[str], accuracy: Sequence[Sequence[float | None]],
                   low: Sequence[Sequence[float | None]], high: Sequence[Sequence[float | None]]) -> Figure:
    """Accuracy per benchmark (grouped bars, one colour a model) with 95% intervals as error bars;
    a model without a score on a benchmark has no bar there; a row without intervals (a published
    reference) has no error bar."""
    figure = Figure(figsize=(max(6.4, 0.9 * len(benchmarks)), 3.6))
    axes = figure.add_subplot()
    width = 0.8 / max(len(models), 1)
    for index, model in enumerate(models):
        xs = [b + (index - (len(models) - 1) / 2) * width for b in range(len(benchmarks))]
        values = [v if v is not None else float("nan") for v in accuracy[index]]
        errors = [[(v - lo) if v is not None and lo is not None else 0 for v, lo in zip(accuracy[index], low[index])],
                  [(hi - v) if v is not None and hi is not None else 0 for v, hi in zip(accuracy[index], high[index])]]
        known = any(lo is not None for lo in low[index])
        axes.bar(xs, values, width, yerr=errors if known else None, capsize=2 if known else 0, label=model)
    axes.set_xticks(range(len(benchmarks)), benchmarks, rotation=30, ha="right")
    axes.set(title="Accuracy per benchmark (95% intervals)", xlabel="benchmark", ylabel="accuracy (%)", ylim=(0, 100))
    axes.legend(fontsize="small")
    return figure
