"""The public parts of the mix, taken as published: the four public medical reasoning sets, and
the Light-R1 math supplement sampled to the card's count. Both feed `candidate_traces`, beside
the curated R1 traces and the synthetic QA traces, and pass the same filters downstream."""

import dagster as dg
import polars as pl
from pydantic import Field

from medical_assets.assets.accounting import row_accounting_check
from medical_assets.assets.metadata import markdown_table
from medical_assets.core.rejects import as_rejects
from medical_assets.core.synthetic import sample_questions
from medical_assets.recipe import RECIPE
from medical_assets.resources.storage import Warehouse
from medical_assets.sources import SOURCES

PUBLIC_MEDICAL_SOURCES = [s.name for s in SOURCES if s.part == "public_medical"]
MATH_SOURCES = [s.name for s in SOURCES if s.part == "math"]
RECIPE_COUNT = {s.name: s.recipe_count for s in SOURCES}
ROW_KEYS = ["sample_id", "source", "source_row"]
GROUP = "curation"
OWNERS = ["team:curation"]


def _per_source(frame: pl.DataFrame, column: str = "rows") -> pl.DataFrame:
    counts = frame.group_by("source").len(column).sort("source")
    return counts.with_columns(card_count=pl.col("source").replace_strict(RECIPE_COUNT, default=None))


@dg.asset(deps=["raw_traces"], group_name=GROUP, owners=OWNERS, kinds={"polars", "parquet"})
def public_medical_traces(warehouse: Warehouse) -> dg.MaterializeResult:
    """The four public medical reasoning sets of the recipe (GeneralThought's medical rows,
    Medical-R1-Distill in English and Chinese, m23k), every ingested row: the card takes them whole."""
    path = warehouse.sink("public_medical_traces", warehouse.scan("raw_traces", PUBLIC_MEDICAL_SOURCES))
    counts = _per_source(pl.read_parquet(path, columns=["source"]))
    return dg.MaterializeResult(metadata={
        "dagster/row_count": int(counts["rows"].sum()),
        "rows_by_source": dg.MetadataValue.md(markdown_table(counts)),
    })


class MathSampleConfig(dg.Config):
    sample_size: int | None = Field(default=RECIPE.mix.math, ge=0,
                                    description="Rows drawn from the math supplement (>= 0; None: all of them).")
    seed: int = Field(default=0, description="Seed of the draw: the same rows for the same input and seed.")


@dg.multi_asset(
    specs=[
        dg.AssetSpec("math_traces", deps=["raw_traces"], group_name=GROUP, owners=OWNERS, kinds={"polars", "parquet"},
                     description="The Light-R1 math supplement, sampled to the card's 15,000 rows with a seed."),
        dg.AssetSpec("math_rejects", deps=["raw_traces"], group_name=GROUP, owners=OWNERS, kinds={"polars", "parquet"},
                     description="Math supplement rows left out by the sampling, with the draw that left them out."),
    ],
    check_specs=[dg.AssetCheckSpec("rows_accounted", asset="math_traces", blocking=True)],
)
def math_traces(config: MathSampleConfig, warehouse: Warehouse):
    """`sample_size` rows of the math supplement drawn without replacement with `seed` (all rows
    when there are fewer); the rows not drawn go to `math_rejects`, so each is accounted for. The draw
    is made on the rows' keys; the drawn rows are copied from the source's table a row group at a time."""
    source_rows = warehouse.scan("raw_traces", MATH_SOURCES)
    rows = source_rows.select(ROW_KEYS).collect(engine="streaming")
    drawn = sample_questions(rows, config.sample_size, config.seed).sort("source", "source_row")
    reason = f"not drawn: {drawn.height:,} of {rows.height:,} rows sampled with seed {config.seed}"
    rejected = rows.join(drawn, on=ROW_KEYS, how="anti").select(*ROW_KEYS, reason=pl.lit(reason))
    with warehouse.commit("math_traces") as stage:  # the drawn rows, a row group of the source at a time
        stage.split("raw_traces", lambda traces: {"math_traces": traces.join(
            drawn.lazy(), on=ROW_KEYS, how="semi", maintain_order="left")}, MATH_SOURCES)
        stage.write("math_rejects", as_rejects(rejected, "sampling"))
    yield dg.MaterializeResult(asset_key="math_traces", metadata={
        "dagster/row_count": drawn.height, "rows_in": rows.height, "sample_size": config.sample_size, "seed": config.seed,
        "rows_by_source": dg.MetadataValue.md(markdown_table(_per_source(drawn))),
    })
    yield dg.MaterializeResult(asset_key="math_rejects", metadata={"dagster/row_count": rejected.height})
    yield row_accounting_check("rows_accounted", "math_traces", warehouse.scan("raw_traces", MATH_SOURCES),
                               warehouse.scan("math_traces"), warehouse.scan("math_rejects"), ROW_KEYS)
