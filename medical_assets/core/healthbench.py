"""HealthBench scoring (openai/simple-evals `healthbench_eval.py`), stricter where it is silent.

A judge grades each rubric item of a conversation as met or not, with a JSON
reply `{"explanation": str, "criteria_met": bool}`. An example scores the
points of its met items (negative items subtract) over its total positive
points; the overall score is the mean over examples clipped to [0, 1], with a
seeded bootstrap standard error. A reply that cannot be read is a judge
failure: counted and reported by the caller, never scored as "not met".
"""

from __future__ import annotations

import json
import re
from typing import Sequence

import numpy as np
import polars as pl

_FENCE = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.DOTALL)
_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def parse_grade(reply: str) -> bool | None:
    """`criteria_met` of a judge reply (bare JSON or inside a ```json fence); None if unreadable."""
    for candidate in (*_FENCE.findall(reply), *_OBJECT.findall(reply)):
        try:
            grade = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(grade, dict) and isinstance(grade.get("criteria_met"), bool):
            return grade["criteria_met"]
    return None


def score_example(points: list[float], met: list[bool]) -> float | None:
    """Points of met items (negatives included) / total positive points; None without positive points.

    Not clipped: an example can score below 0 (only the overall mean is clipped).
    """
    if len(points) != len(met):
        raise ValueError(f"{len(points)} rubric points but {len(met)} grades")
    possible = sum(p for p in points if p > 0)
    if possible == 0:
        return None
    return sum(p for p, m in zip(points, met) if m) / possible


def overall_score(example_scores: Sequence[float], n_bootstrap: int = 1_000, seed: int = 0) -> tuple[float, float]:
    """(mean clipped to [0, 1], bootstrap std of `n_bootstrap` clipped resampled means)."""
    scores = np.asarray(example_scores, dtype=np.float64)
    if scores.size == 0:
        raise ValueError("no scored examples")
    rng = np.random.default_rng(seed)
    resampled = scores[rng.integers(0, scores.size, size=(n_bootstrap, scores.size))].mean(axis=1)
    return float(np.clip(scores.mean(), 0, 1)), float(np.clip(resampled, 0, 1).std())


def tag_scores(items: pl.DataFrame) -> pl.DataFrame:
    """Per tag (theme:, axis:, ...): the mean over examples of the example score computed on that
    tag's items only; a tag is left out of an example that has no positive points for it.

    `items` has one row per graded rubric item: `example_id`, `tags` (list of str; example tags
    and the item's own tags), `points`, `met`.
    """
    per_example = (
        items.explode("tags").rename({"tags": "tag"})
        .group_by("tag", "example_id")
        .agg(
            earned=pl.when(pl.col("met")).then(pl.col("points")).otherwise(0).sum(),
            possible=pl.when(pl.col("points") > 0).then(pl.col("points")).otherwise(0).sum(),
        )
        .filter(pl.col("possible") > 0)
        .with_columns(score=pl.col("earned") / pl.col("possible"))
    )
    return (
        per_example.group_by("tag")
        .agg(examples=pl.len(), score=pl.col("score").mean().clip(0, 1))
        .sort("tag")
    )
