"""The SFT mix as a Dagster run over a small decontaminated table."""

import dagster as dg
import datasets
import polars as pl

from medical_assets.assets import mix
from medical_assets.core.canonical import TRACE_SCHEMA
from medical_assets.resources.storage import Warehouse, WarehouseIOManager


def decontaminated(rows: list[tuple[str, str, int, str, str]]) -> pl.DataFrame:
    frame = pl.DataFrame([{"part": p, "source": s, "source_row": r, "sample_id": f"{s}:{r}", "prompt": q,
                           "reasoning": "Thinking it through.", "response": a, "answer": None}
                          for p, s, r, q, a in rows])
    return frame.select(pl.col("part"), *[pl.col(c).cast(t) for c, t in TRACE_SCHEMA.items()])


ROWS = [("curated_r1", "am_r1", i, f"Which nerve supplies muscle {i}?", f"Nerve {i}.") for i in range(6)] + [
    ("public_medical", "m23k", 0, "Which nerve supplies muscle 0?", "nerve 0."),  # duplicates am_r1:0
    ("math", "light_r1", 0, "What is 7 x 6?", "42"),
]


def run(warehouse: Warehouse, caps: dict[str, int]) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [mix.sft_mix], resources={"warehouse": warehouse, "io_manager": WarehouseIOManager(warehouse=warehouse)},
        run_config={"ops": {"sft_mix": {"config": {"caps": caps, "seed": 7}}}},
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
    )


def test_the_mix_dedups_caps_accounts_and_exports_messages(warehouse):
    warehouse.write("decontaminated_traces", decontaminated(ROWS))
    result = run(warehouse, {"curated_r1": 3, "public_medical": 10, "math": 10, "synthetic_qa": 10})
    assert result.success and result.get_asset_check_evaluations()[0].passed
    rows = warehouse.read("sft_mix")
    assert dict(rows.group_by("part").len().iter_rows()) == {"curated_r1": 3, "public_medical": 1, "math": 1}
    rejects = warehouse.read("sft_mix_rejects")
    assert rejects.filter(pl.col("sample_id") == "am_r1:0").select("stage", "reason", "evidence").rows() == [
        ("mix", "exact duplicate", "same prompt and response as m23k:0")]
    assert rejects.filter(pl.col("reason").str.starts_with("over the cap of 3 rows for curated_r1")).height == 2
    assert (rows["tokens"] > 10).all()
    meta = {k: v.value for k, v in result.get_asset_materialization_events()[0].materialization.metadata.items()}
    assert "| synthetic_qa | 225700" not in meta["mix"] and "| synthetic_qa | 10 | 0 | 0.0 |" in meta["mix"]
    loaded = datasets.load_dataset("parquet", data_files=str(warehouse.table_path("sft_messages")), split="train")
    assert loaded.num_rows == 5
    assert [m["role"] for m in loaded[0]["messages"]] == ["user", "assistant"]
    assert loaded[0]["messages"][1]["content"].startswith("<think>\nThinking it through.\n</think>")


def test_the_same_seed_gives_the_same_mix(warehouse):
    warehouse.write("decontaminated_traces", decontaminated(ROWS))
    caps = {"curated_r1": 2, "public_medical": 10, "math": 10}
    assert run(warehouse, caps).success
    first = warehouse.read("sft_mix")
    assert run(warehouse, caps).success
    assert first.equals(warehouse.read("sft_mix"))
