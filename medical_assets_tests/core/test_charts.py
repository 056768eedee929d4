"""Charts for the UI: each is made from small numbers, says what it shows, and becomes a PNG."""

from __future__ import annotations

import base64
import math

from matplotlib.container import ErrorbarContainer

from medical_assets.core import charts


def test_the_wait_histogram_draws_the_limit_used_and_the_cards():
    figure = charts.wait_histogram([0, 0, 1, 3, 3, 3, 12, 60], limit=12, card_limit=47)
    axes = figure.axes[0]
    assert axes.get_title() == "'Wait' per trace" and axes.get_ylabel() == "traces"
    assert axes.get_xlabel() == "'Wait' count in the reasoning"
    assert sorted(line.get_xdata()[0] for line in axes.get_lines()) == [12, 47]
    assert sum(patch.get_height() for patch in axes.patches) == 8  # every trace is in a bar
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["limit used (12)", "card's limit (47)"]


def test_the_token_length_histogram_draws_the_max_length():
    figure = charts.token_length_histogram([120, 900, 4_000, 17_000], max_length=16_384)
    axes = figure.axes[0]
    assert axes.get_title() == "Tokens per training row" and axes.get_ylabel() == "rows"
    assert [line.get_xdata()[0] for line in axes.get_lines()] == [16_384]
    assert sum(patch.get_height() for patch in axes.patches) == 4


def test_the_accuracy_chart_has_a_bar_per_model_and_benchmark_and_intervals_where_known():
    figure = charts.accuracy_chart(
        ["ours", "card"], ["MedQA", "PubMed"], accuracy=[[40.0, None], [87.8, 78.2]],
        low=[[20.0, None], [None, None]], high=[[62.0, None], [None, None]])
    axes = figure.axes[0]
    assert axes.get_title() == "Accuracy per benchmark (95% intervals)" and axes.get_ylabel() == "accuracy (%)"
    assert [t.get_text() for t in axes.get_xticklabels()] == ["MedQA", "PubMed"]
    heights = [patch.get_height() for patch in axes.patches]
    assert heights[0] == 40.0 and math.isnan(heights[1]) and heights[2:] == [87.8, 78.2]
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["ours", "card"]
    ours = next(c for c in axes.containers if isinstance(c, ErrorbarContainer))
    error_bars = ours.lines[2][0].get_segments()  # ours: MedQA 20..62
    assert [tuple(point[1] for point in segment) for segment in error_bars][0] == (20.0, 62.0)


def test_a_figure_becomes_a_markdown_png_image():
    markdown = charts.markdown_image(charts.token_length_histogram([1, 2, 3], 2), "lengths")
    assert markdown.startswith("![lengths](data:image/png;base64,")
    png = base64.b64decode(markdown.split(",", 1)[1].rstrip(")"))
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1_000
