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


def test_the_cluster_size_histogram_uses_power_of_two_bins_on_log_scales():
    figure = charts.cluster_size_histogram([1, 1, 2, 3, 5, 40], empty=2)
    axes = figure.axes[0]
    assert axes.get_title() == "Rows per cluster" and axes.get_ylabel() == "clusters (log scale)"
    assert axes.get_xscale() == "log" and axes.get_yscale() == "log"
    bars = [(patch.get_x(), patch.get_height()) for patch in axes.patches]
    assert bars == [(1, 2), (2, 2), (4, 1), (8, 0), (16, 0), (32, 1)]  # 1 | 2-3 | 4-7 | ... | 32-63
    assert axes.get_legend().get_texts()[0].get_text() == "6 clusters (2 empty, not drawn)"


def test_the_domain_bars_count_clusters_and_rows_and_colour_the_kept_domains():
    figure = charts.domain_bars(["Medical", "Math"], clusters=[3, 5], rows=[30, 12], kept=["Medical"])
    clusters, rows = figure.axes
    assert clusters.get_title() == "Clusters per domain" and rows.get_title() == "Rows per domain"
    assert [p.get_width() for p in clusters.patches] == [3, 5] and [p.get_width() for p in rows.patches] == [30, 12]
    assert [t.get_text() for t in clusters.get_yticklabels()] == ["Medical", "Math"]
    kept, removed = (p.get_facecolor() for p in clusters.patches)
    assert kept != removed
    assert figure.get_suptitle() == "Cluster labels (kept: Medical; grey: removed)"


def test_the_funnel_stacks_each_sources_rows_by_the_stage_they_ended_at():
    figure = charts.funnel_bars(["a", "b"], ["quality", "kept"], [[2, 8], [0, 5]])
    axes = figure.axes[0]
    assert axes.get_title() == "Rows per source, by the stage they ended at" and axes.get_xlabel() == "rows read"
    segments = [(p.get_x(), p.get_width()) for p in axes.patches]
    assert segments == [(0, 2), (0, 0), (2, 8), (0, 5)]  # quality for a, b; then kept after it
    assert [t.get_text() for t in axes.get_legend().get_texts()] == ["quality", "kept"]


def test_training_curves_draw_a_panel_per_quantity_and_say_what_was_not_logged():
    figure = charts.training_curves("SFT", [1, 2, 3], {"loss": {"loss": [2.0, 1.5, 1.0]},
                                                       "clip ratio": {"low": [None, None, None]}})
    loss, clip = figure.axes
    assert loss.get_title() == "SFT" and loss.get_ylabel() == "loss" and clip.get_xlabel() == "optimizer step"
    assert list(loss.get_lines()[0].get_ydata()) == [2.0, 1.5, 1.0]
    assert not clip.get_lines() and clip.texts[0].get_text() == "not logged"


def test_a_figure_becomes_png_bytes():
    assert charts.png(charts.cluster_size_histogram([1, 2])).startswith(b"\x89PNG\r\n\x1a\n")
