"""The shared leading columns of every rejects table."""

from __future__ import annotations

import polars as pl
import pytest

from medical_assets.core.rejects import REJECT_COLUMNS, as_rejects, reject_column_faults


def test_leading_columns_come_first_typed_and_own_columns_follow():
    frame = pl.DataFrame({"part": ["math"], "source_row": [4], "filter": ["wait"], "value": [52], "threshold": [47],
                          "source": ["light_r1"]})
    rejects = as_rejects(frame, "quality", reason="filter", evidence=pl.format("{} Wait", pl.col("value")))
    assert list(rejects.schema.items())[:len(REJECT_COLUMNS)] == list(REJECT_COLUMNS.items())
    assert rejects.columns[len(REJECT_COLUMNS):] == ["part", "filter"]
    assert rejects.row(0) == (None, "light_r1", 4, "quality", "wait", 52.0, 47.0, "52 Wait", "math", "wait")
    assert reject_column_faults(dict(rejects.schema)) == []


def test_a_lazy_frame_stays_lazy_and_the_stage_may_come_from_a_column():
    frame = pl.LazyFrame({"sample_id": ["a", "b"], "stage": ["ngram", "fuzzy"], "evidence": ["x y z", "ratio 93"]})
    rejects = as_rejects(frame, pl.col("stage"), reason=pl.lit("contaminated"))
    assert isinstance(rejects, pl.LazyFrame)
    assert rejects.collect().select("stage", "reason", "evidence").rows() == [
        ("ngram", "contaminated", "x y z"), ("fuzzy", "contaminated", "ratio 93")]


def test_an_unknown_leading_column_is_named():
    with pytest.raises(ValueError, match="not a leading rejects column: reasons"):
        as_rejects(pl.DataFrame({"source": ["s"]}), "mix", reasons="x")


def test_faults_name_the_position_the_expected_and_the_found_column():
    faults = reject_column_faults({"sample_id": pl.String(), "source": pl.Int64()})
    assert faults[0] == "column 2 should be source (String), it is source (Int64)"
    assert faults[1] == "column 3 should be source_row (Int64), the table ends before it"
