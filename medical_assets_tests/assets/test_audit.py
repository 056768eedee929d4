"""One audit of every removed row: each rejects table of the Definitions is a part of
`removed_samples`, and the view answers over whichever tables exist."""

from __future__ import annotations

import polars as pl

from medical_assets.assets.audit import REMOVED_BY_STAGE, create_audit_views
from medical_assets.definitions import defs
from medical_assets.resources.storage import Warehouse


def test_every_rejects_asset_of_the_definitions_is_in_removed_samples():
    rejects = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()
               if key.to_user_string().endswith("_rejects")}
    assert rejects and rejects == set(REMOVED_BY_STAGE)


def test_the_view_answers_over_the_tables_that_exist_and_grows_with_them(warehouse: Warehouse):
    warehouse.write("raw_trace_rejects", pl.DataFrame({
        "source": ["am_r1"], "file": ["/d/am.jsonl"], "source_row": [3], "field": ["messages"],
        "reason": ["missing field"], "record": ["{}"]}), partition="am_r1")
    assert create_audit_views(warehouse) == ["removed_samples"]  # no funnel before the later stages ran
    assert warehouse.query("SELECT stage, source, source_row, reason, value, evidence FROM removed_samples").rows() == [
        ("ingest", "am_r1", 3, "missing field", "messages", "/d/am.jsonl")]
    warehouse.write("sft_mix_rejects", pl.DataFrame({
        "sample_id": ["s1"], "source": ["m23k"], "source_row": [7], "part": ["public_medical"],
        "reason": ["duplicate of s0"]}))
    warehouse.write("dapo_prompt_rejects", pl.DataFrame({"prompt_id": ["s2"], "source": ["m23k"],
                                                         "reason": ["beyond max_prompts (4)"]}))
    create_audit_views(warehouse)
    rows = warehouse.query("SELECT stage, sample_id, reason FROM removed_samples ORDER BY stage").rows()
    assert rows == [("dapo_prompts", "s2", "beyond max_prompts (4)"), ("ingest", None, "missing field"),
                    ("mix", "s1", "duplicate of s0")]
