"""HealthBench scoring: example scores, the clipped mean with its bootstrap error,
tag scores, and judge replies that cannot be read."""

from __future__ import annotations

import polars as pl
import pytest

from medical_assets.core.healthbench import overall_score, parse_grade, score_example, tag_scores


def test_example_score_counts_negative_items_against_positive_points():
    assert score_example([5, 3, -4], [True, False, True]) == pytest.approx(1 / 8)


def test_example_score_can_go_below_zero():
    assert score_example([2, -6], [False, True]) == -3.0


def test_example_without_positive_points_has_no_score():
    assert score_example([-3, -1], [False, True]) is None


def test_mismatched_grades_are_an_error():
    with pytest.raises(ValueError, match="3 rubric points but 2 grades"):
        score_example([1, 2, 3], [True, False])


def test_overall_mean_is_clipped_to_the_unit_interval():
    mean, _ = overall_score([-1.0, -0.5, 0.2])
    assert mean == 0.0


def test_bootstrap_error_is_seeded_and_reproducible():
    scores = [0.1, 0.9, 0.4, 0.6, 0.3]
    assert overall_score(scores, seed=7) == overall_score(scores, seed=7)
    assert overall_score(scores)[1] > 0


@pytest.mark.parametrize(
    ("reply", "met"),
    [
        ('{"explanation": "It refers to emergency care.", "criteria_met": true}', True),
        ('Here is my grade:\n```json\n{"explanation": "no", "criteria_met": false}\n```', False),
        ('{"explanation": "unsure", "criteria_met": "yes"}', None),
        ("The response meets the criterion.", None),
        ('{"explanation": "cut off', None),
    ],
)
def test_judge_reply_is_read_or_reported_unreadable(reply, met):
    assert parse_grade(reply) is met


def test_tag_scores_use_only_that_tags_items():
    items = pl.DataFrame({
        "example_id": ["e1", "e1", "e2"],
        "tags": [["theme:hedging", "axis:accuracy"], ["theme:hedging", "axis:completeness"],
                 ["theme:communication", "axis:accuracy"]],
        "points": [4.0, 6.0, 5.0],
        "met": [True, False, False],
    })
    scores = dict(tag_scores(items).select("tag", "score").iter_rows())
    assert scores == {"axis:accuracy": pytest.approx(0.5), "axis:completeness": 0.0,
                      "theme:communication": 0.0, "theme:hedging": pytest.approx(0.4)}
