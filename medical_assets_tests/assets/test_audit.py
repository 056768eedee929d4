"""One audit of every removed row: each rejects table of the Definitions is a part of
`removed_samples`, and the view answers over whichever tables exist."""

from __future__ import annotations

import polars as pl
import pytest

from medical_assets.assets.audit import REMOVED_BY_STAGE, create_audit_views, stale_rejects_tables
from medical_assets.assets.ingest import ingest_rejects
from medical_assets.core.rejects import as_rejects
from medical_assets.definitions import defs
from medical_assets.resources.storage import Warehouse


def test_every_rejects_asset_of_the_definitions_is_in_removed_samples():
    rejects = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()
               if key.to_user_string().endswith("_rejects")}
    assert rejects and rejects == {table for table in REMOVED_BY_STAGE if table.endswith("_rejects")}
    assert set(REMOVED_BY_STAGE) - rejects == {"semantic_matches"}  # the third step's removals, by its evidence


def test_the_view_answers_over_the_tables_that_exist_and_grows_with_them(warehouse: Warehouse):
    warehouse.write("raw_trace_rejects", ingest_rejects(pl.DataFrame({
        "source": ["am_r1"], "file": ["/d/am.jsonl"], "source_row": [3], "field": ["messages"],
        "reason": ["missing field"], "record": ["{}"]})), partition="am_r1")
    assert create_audit_views(warehouse) == ["removed_samples"]  # no funnel before the later stages ran
    assert warehouse.query("SELECT stage, source, source_row, reason, value, evidence FROM removed_samples").rows() == [
        ("ingest", "am_r1", 3, "missing field", None, "messages in /d/am.jsonl")]
    warehouse.write("sft_mix_rejects", as_rejects(pl.DataFrame({
        "sample_id": ["s1"], "source": ["m23k"], "source_row": [7], "part": ["public_medical"],
        "reason": ["exact duplicate"]}), "mix"))
    warehouse.write("dapo_prompt_rejects", as_rejects(pl.DataFrame({
        "prompt_id": ["s2"], "source": ["m23k"], "reason": ["beyond max_prompts (4)"]}), "dapo_prompts",
        sample_id="prompt_id"))
    create_audit_views(warehouse)
    rows = warehouse.query("SELECT stage, sample_id, reason FROM removed_samples ORDER BY stage").rows()
    assert rows == [("dapo_prompts", "s2", "beyond max_prompts (4)"), ("ingest", None, "missing field"),
                    ("mix", "s1", "exact duplicate")]


def test_a_rejects_table_without_the_shared_columns_is_refused(warehouse: Warehouse):
    with pytest.raises(ValueError, match=r"sft_mix_rejects does not start with the rejects columns.*column 1 "
                                         r"should be sample_id \(String\), it is source"):
        warehouse.write("sft_mix_rejects", pl.DataFrame({"source": ["m23k"], "source_row": [7], "reason": ["x"]}))
    assert not warehouse.exists("sft_mix_rejects")


def test_a_table_of_an_older_shape_is_left_out_of_the_view_and_named(warehouse: Warehouse, tmp_path):
    warehouse.write("math_rejects", as_rejects(pl.DataFrame({
        "source": ["light_r1"], "source_row": [1], "reason": ["not drawn"]}), "sampling"))
    old = warehouse.table_path("sft_mix_rejects", None)  # as an earlier version wrote it, bypassing the check
    old.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame({"source": ["m23k"], "source_row": [7], "reason": ["x"]}).write_parquet(old)
    assert list(stale_rejects_tables(warehouse)) == ["sft_mix_rejects"]
    create_audit_views(warehouse)
    assert warehouse.query("SELECT stage, source_row FROM removed_samples").rows() == [("sampling", 1)]
