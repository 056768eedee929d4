"""The public parts of the mix as Dagster runs over small raw_traces partitions."""

import dagster as dg
import polars as pl

from medical_assets.assets import parts
from medical_assets.core.canonical import TRACE_SCHEMA
from medical_assets.resources.storage import Warehouse


def raw(source: str, n: int) -> pl.DataFrame:
    return pl.DataFrame([{"sample_id": f"{source}:{i}", "source": source, "source_row": i, "prompt": f"Question {i}?",
                          "reasoning": "Thinking.", "response": f"Answer {i}.", "answer": None} for i in range(n)],
                        schema=TRACE_SCHEMA)


def run(warehouse: Warehouse, asset, config: dict | None = None) -> dg.ExecuteInProcessResult:
    return dg.materialize([asset], resources={"warehouse": warehouse}, instance=dg.DagsterInstance.ephemeral(),
                          run_config={"ops": {asset.op.name: {"config": config or {}}}}, raise_on_error=False)


def test_public_medical_traces_take_the_four_sets_whole(warehouse: Warehouse):
    for source, n in (("generalthought_medical", 3), ("medical_r1_distill", 2), ("medical_r1_distill_zh", 1),
                      ("m23k", 4), ("light_r1", 5)):
        warehouse.write("raw_traces", raw(source, n), partition=source)
    result = run(warehouse, parts.public_medical_traces)
    rows = warehouse.read("public_medical_traces")
    assert result.success and rows.height == 10 and "light_r1" not in rows["source"].to_list()
    table = result.asset_materializations_for_node("public_medical_traces")[0].metadata["rows_by_source"].value
    assert "| m23k | 4 | 23487 |" in table


def test_math_traces_sample_with_a_seed_and_account_for_every_row(warehouse: Warehouse):
    warehouse.write("raw_traces", raw("light_r1", 20), partition="light_r1")
    result = run(warehouse, parts.math_traces, {"sample_size": 6, "seed": 3})
    kept, rejects = warehouse.read("math_traces"), warehouse.read("math_rejects")
    assert result.success and result.get_asset_check_evaluations()[0].passed
    assert kept.height == 6 and rejects.height == 14
    assert set(kept["source_row"]) | set(rejects["source_row"]) == set(range(20))
    assert rejects["reason"].unique().to_list() == ["not drawn: 6 of 20 rows sampled with seed 3"]
    assert run(warehouse, parts.math_traces, {"sample_size": 6, "seed": 3}).success
    assert warehouse.read("math_traces").equals(kept)  # same seed, same rows
    assert run(warehouse, parts.math_traces, {"sample_size": 6, "seed": 4}).success
    assert not warehouse.read("math_traces").equals(kept)


def test_math_traces_keep_everything_below_the_sample_size(warehouse: Warehouse):
    warehouse.write("raw_traces", raw("light_r1", 5), partition="light_r1")
    assert run(warehouse, parts.math_traces).success  # the card's 15,000
    assert warehouse.read("math_traces").height == 5 and warehouse.read("math_rejects").height == 0
    result = run(warehouse, parts.math_traces, {"sample_size": -1})
    assert not result.success
