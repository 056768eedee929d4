"""Charts for the Dagster UI: matplotlib figures (Agg backend, no display) and the Markdown
that shows one as an image, its numbers kept beside it by the caller.

Every function takes plain numbers and returns a `Figure` with a title and axis labels, so a
test can read what it shows; `png` turns a figure into PNG bytes and `markdown_image` into a
Markdown image with a PNG data URI (the UI's Markdown renderer allows `data:` image sources).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Collection, Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display anywhere this runs

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

SIZE = (6.4, 3.2)
DPI = 90


KEPT, REMOVED = "#4c72b0", "#c4c4c4"
TOKEN_BINS = 50  # bins of the token length histogram


def png(figure: Figure) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()


def markdown_image(figure: Figure, alt: str) -> str:
    """The figure as a Markdown image (PNG, base64 data URI)."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png(figure)).decode()})"


def cluster_size_histogram(sizes: Sequence[int], empty: int = 0) -> Figure:
    """Clusters per size on log scales: bins of powers of two (1, 2-3, 4-7, ...) and a log count
    axis, so singletons and the largest clusters show side by side; empty clusters are named in
    the legend (a log axis has no 0)."""
    figure = Figure(figsize=SIZE)
    axes = figure.add_subplot()
    top = max([*sizes, 1])
    edges = [2 ** power for power in range(int(top).bit_length() + 1)]
    axes.hist(list(sizes), bins=edges, log=True, color=KEPT, edgecolor="white",
              label=f"{len(sizes):,} clusters" + (f" ({empty:,} empty, not drawn)" if empty else ""))
    axes.set_xscale("log", base=2)
    axes.set(title="Rows per cluster", xlabel="rows in the cluster (log scale, bins of powers of two)",
             ylabel="clusters (log scale)")
    axes.legend()
    return figure


def domain_bars(domains: Sequence[str], clusters: Sequence[int], rows: Sequence[int], kept: Collection[str]) -> Figure:
    """Clusters and rows per labelled domain, side by side; the kept domains in colour."""
    figure = Figure(figsize=(9.6, 3.4), layout="constrained")
    colours = [KEPT if domain in kept else REMOVED for domain in domains]
    panels = figure.subplots(1, 2, sharey=True)
    for index, (axes, values, what) in enumerate(zip(panels, (clusters, rows), ("clusters", "rows"))):
        axes.barh(list(domains), list(values), color=colours)
        axes.set(title=f"{what.capitalize()} per domain", xlabel=what, ylabel="domain" if index == 0 else "")
    panels[0].invert_yaxis()  # the first domain on top (the axis is shared)
    figure.suptitle(f"Cluster labels (kept: {', '.join(kept)}; grey: removed)")
    return figure


def funnel_bars(sources: Sequence[str], stages: Sequence[str], counts: Sequence[Sequence[int]]) -> Figure:
    """Where each source's rows went, as stacked horizontal bars: one segment per stage that removed
    rows, then the rows kept. `counts[i][j]`: rows of source i that ended at stage j."""
    figure = Figure(figsize=(9.6, max(2.4, 0.32 * len(sources) + 1.2)))
    axes = figure.add_subplot()
    left = [0] * len(sources)
    palette = matplotlib.colormaps["tab10"]
    for j, stage in enumerate(stages):
        widths = [row[j] for row in counts]
        axes.barh(list(sources), widths, left=left, label=stage, color=palette(j % 10))
        left = [a + b for a, b in zip(left, widths)]
    axes.invert_yaxis()
    axes.set(title="Rows per source, by the stage they ended at", xlabel="rows read", ylabel="source")
    axes.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.0, 0.5))
    return figure


def training_curves(title: str, steps: Sequence[float], panels: Mapping[str, Mapping[str, Sequence[float | None]]]
                    ) -> Figure:
    """One panel per quantity against the optimizer step, a line per series in it; a series
    without any value is left out, a panel with none says so."""
    figure = Figure(figsize=(6.4, 1.9 * max(len(panels), 1) + 0.6))
    axes_list = figure.subplots(max(len(panels), 1), 1, sharex=True, squeeze=False)[:, 0]
    for axes, (label, series) in zip(axes_list, panels.items()):
        drawn = 0
        for name, values in series.items():
            points = [(s, v) for s, v in zip(steps, values) if v is not None]
            if points:
                axes.plot(*zip(*points), marker="." if len(points) < 30 else None, label=name)
                drawn += 1
        if not drawn:
            axes.text(0.5, 0.5, "not logged", ha="center", va="center", transform=axes.transAxes)
        elif len(series) > 1:
            axes.legend(fontsize="small")
        axes.set_ylabel(label)
    axes_list[-1].set_xlabel("optimizer step")
    axes_list[-1].xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole numbers
    axes_list[0].set_title(title)
    return figure


def wait_bin_edges(waits: Sequence[int], limit: float, card_limit: float) -> list[float]:
    """The Wait histogram's bin edges: from 0 past the largest count or limit, at most 60 bins."""
    top = max([*waits, limit, card_limit, 1])
    bins = min(60, int(top) + 1)
    return [i * (top + 1) / bins for i in range(bins + 1)]


def wait_histogram(waits: Sequence[int], limit: float, card_limit: float) -> Figure:
    """Rows per count of "Wait" in the reasoning, with the chosen limit and the card's as lines."""
    figure = Figure(figsize=SIZE)
    axes = figure.add_subplot()
    axes.hist(list(waits), bins=wait_bin_edges(waits, limit, card_limit), color=KEPT)
    axes.axvline(limit, color="#c44e52", linestyle="-", label=f"limit used ({limit:g})")
    axes.axvline(card_limit, color="#55a868", linestyle="--", label=f"card's limit ({card_limit:g})")
    axes.set(title="'Wait' per trace", xlabel="'Wait' count in the reasoning", ylabel="traces")
    axes.legend()
    return figure


def token_length_histogram(tokens: Sequence[int], max_length: int) -> Figure:
    """Rows per prompt + response length in tokens, with the SFT max length as a line."""
    figure = Figure(figsize=SIZE)
    axes = figure.add_subplot()
    axes.hist(list(tokens), bins=TOKEN_BINS, color=KEPT)
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
