"""The SFT mix: every part's decontaminated traces, exact duplicates removed, each part capped
at its recipe count; exported as chat messages for the trainer."""

import os
import shutil
import time
from pathlib import Path
from typing import Iterator

import dagster as dg
import numpy as np
import polars as pl
from pydantic import Field, field_validator

from medical_assets.assets.accounting import row_accounting_check
from medical_assets.assets.audit import create_audit_views
from medical_assets.assets.metadata import chart_metadata, markdown_table
from medical_assets.core import charts
from medical_assets.core.canonical import to_messages
from medical_assets.core.mix import (
    PART_PRIORITY, cap_parts, chat_texts, content_key, drop_duplicates, mix_table, token_lengths,
)
from medical_assets.core.rejects import as_rejects
from medical_assets.recipe import RECIPE
from medical_assets.resources.embedded_model import GGUF_MODEL_NAME, packaged_gguf_path
from medical_assets.resources.storage import Warehouse, in_given_order

RECIPE_CAPS = {"curated_r1": RECIPE.mix.curated_r1, "synthetic_qa": RECIPE.mix.synthetic_qa,
               "public_medical": RECIPE.mix.public_medical, "math": RECIPE.mix.math}
ROW_KEYS = ["sample_id", "source", "source_row"]
OWNERS = ["team:curation"]
LENGTH_EDGES = [0, 512, 1_024, 2_048, 4_096, 8_192, RECIPE.sft.max_length + 1]
MIX_BATCH_ROWS = 1_024  # rows ordered, tokenized and written at a time (20 MB of text at the card's 20 KB a row)


class MixConfig(dg.Config):
    caps: dict[str, int] = Field(default=dict(RECIPE_CAPS),
                                 description=f"Rows kept per part (the card's counts); parts: {', '.join(RECIPE_CAPS)}.")
    seed: int = Field(default=0, description="Seed of the sampling down to the caps.")
    tokenizer: str | None = Field(
        default=None, description="Tokenizer that counts tokens (hub id or path of the base model); "
        "default: the embedded SmolLM2-135M-Instruct's.")
    max_length: int = Field(default=RECIPE.sft.max_length, ge=1, description="The SFT max length, for the share above it.")

    @field_validator("caps")
    @classmethod
    def _known_parts_and_counts(cls, caps: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(caps) - set(RECIPE_CAPS))
        if unknown:
            raise ValueError(f"unknown parts {unknown}: a cap names one of {', '.join(RECIPE_CAPS)}")
        negative = {part: cap for part, cap in caps.items() if cap < 0}
        if negative:
            raise ValueError(f"caps must be >= 0 rows: {negative}")
        return caps


@dg.multi_asset(
    specs=[
        dg.AssetSpec("sft_mix", deps=["decontaminated_traces"], group_name="mix", owners=OWNERS,
                     kinds={"polars", "parquet"},
                     description="The SFT training rows: part, source, source_row, sample_id, the trace, its "
                     "token count."),
        dg.AssetSpec("sft_mix_rejects", deps=["decontaminated_traces"], group_name="mix", owners=OWNERS,
                     kinds={"polars", "parquet"},
                     description="Decontaminated traces left out of the mix: exact duplicates (with the row kept) "
                     "and rows over their part's cap."),
        dg.AssetSpec("sft_messages", deps=["decontaminated_traces"], group_name="mix", owners=OWNERS, kinds={"parquet"},
                     description="The mix as chat messages (user, assistant with <think> reasoning), loadable with "
                     "`datasets.load_dataset('parquet', ...)`."),
    ],
    check_specs=[dg.AssetCheckSpec("rows_accounted", asset="sft_mix", blocking=True)],
)
def sft_mix(context: dg.AssetExecutionContext, config: MixConfig, warehouse: Warehouse):
    """Union of the parts after quality filters and decontamination (only `decontaminated_traces`
    feeds it, so no row skips them), exact duplicates removed (normalized prompt + response; the copy
    of the first part in synthetic_qa, public_medical, curated_r1, math order is kept), then each part
    sampled to its cap with a seed. Memory does not follow the corpus's text: duplicates and caps are
    decided on a hash per row, and the chosen rows are put in the mix's order by an external bucket
    sort (`storage.in_given_order`), then tokenized and written one batch at a time."""
    traces = warehouse.scan("decontaminated_traces")
    keys = traces.select(*ROW_KEYS, "part", content_key=content_key()).collect(engine="streaming")
    unique, duplicates = drop_duplicates(keys, PART_PRIORITY)
    chosen, over_cap = cap_parts(unique, config.caps, config.seed)
    rejects = pl.concat([  # lazy: the reasons are written in the sink's batches, not held for every row
        as_rejects(duplicates.lazy().select(*ROW_KEYS, "part", "duplicate_of"), "mix",
                   reason=pl.lit("exact duplicate"),
                   evidence=pl.format("same prompt and response as {}", pl.col("duplicate_of"))),
        as_rejects(over_cap.lazy().select(*ROW_KEYS, "part", "cap"), "mix",
                   reason=pl.format("over the cap of {} rows for {}", pl.col("cap"), pl.col("part")),
                   threshold="cap", evidence=pl.lit(f"not drawn with seed {config.seed}")),
    ], how="diagonal")
    counter = TokenCounter(config.tokenizer)
    schema = {**traces.collect_schema(), "tokens": pl.Int64}
    lengths: list[pl.DataFrame] = []
    with warehouse.commit("sft_mix") as stage:
        with stage.writer("sft_mix", schema) as mix_out, stage.writer("sft_messages", MESSAGES_SCHEMA) as messages_out:
            for rows in _chosen_rows(warehouse, stage.folder, chosen, schema):
                rows = rows.with_columns(tokens=pl.Series(counter.count(rows), dtype=pl.Int64))
                mix_out.write(rows)
                messages_out.write(to_messages(rows).with_columns(part=rows["part"]))
                lengths.append(rows.select("part", "tokens"))
        stage.sink("sft_mix_rejects", rejects)
    counter.log()
    mix = pl.concat(lengths) if lengths else pl.DataFrame(schema={"part": pl.String, "tokens": pl.Int64})
    tokenizer_name = counter.name
    create_audit_views(warehouse)  # the mix's duplicates and caps in removed_samples
    table = mix_table(mix, config.caps)
    above = int((mix["tokens"] > config.max_length).sum())
    yield dg.MaterializeResult(asset_key="sft_mix", metadata={
        "dagster/row_count": mix.height,
        "rows_removed": duplicates.height + over_cap.height,
        "mix": dg.MetadataValue.md(markdown_table(table)),
        "token_lengths": dg.MetadataValue.md(_length_histogram(mix["tokens"])),
        **_length_chart(mix["tokens"], config.max_length),
        "tokenizer": tokenizer_name,
        "tokens_total": int(mix["tokens"].sum()),
        "rows_above_max_length": above,
        "share_above_max_length": round(above / mix.height, 4) if mix.height else 0.0,
        "max_length": config.max_length,
        "caps": config.caps,
        "seed": config.seed,
        "card_total": RECIPE.mix.total,  # the card's stated total (its parts' counts are before filtering)
    })
    yield dg.MaterializeResult(asset_key="sft_mix_rejects", metadata={
        "dagster/row_count": duplicates.height + over_cap.height, "duplicates": duplicates.height,
        "over_cap": over_cap.height,
    })
    yield dg.MaterializeResult(asset_key="sft_messages", metadata={
        "dagster/row_count": mix.height, "path": dg.MetadataValue.path(str(warehouse.table_path("sft_messages"))),
    })
    yield row_accounting_check("rows_accounted", "sft_mix", warehouse.scan("decontaminated_traces"),
                               warehouse.scan("sft_mix"), warehouse.scan("sft_mix_rejects"), ROW_KEYS)


MESSAGES_SCHEMA = {"sample_id": pl.String, "messages": pl.List(pl.Struct({"role": pl.String, "content": pl.String})),
                   "part": pl.String}


def _chosen_rows(warehouse: Warehouse, folder: Path, chosen: pl.DataFrame,
                 schema: dict[str, pl.DataType]) -> Iterator[pl.DataFrame]:
    """The full rows of the chosen keys in the mix's order (part, source, source_row), in batches of
    `MIX_BATCH_ROWS`, by an external bucket sort spilled beside the step's tables (removed after)."""
    order = chosen.select(*ROW_KEYS, "part").sort("part", "source", "source_row").with_row_index("position")
    columns = [c for c in schema if c != "tokens"]
    spill = folder / "order.tmp"
    try:
        for rows in in_given_order(warehouse.table_path("decontaminated_traces"), order.drop("part"), ROW_KEYS,
                                   spill, MIX_BATCH_ROWS):
            yield rows.select(columns).cast({c: schema[c] for c in columns})
    finally:
        shutil.rmtree(spill, ignore_errors=True)


class TokenCounter:
    """Tokens of each row as the trainer sees it (the chat template over user + assistant turns).

    The texts are made by Polars around the template's fixed parts (`core.mix.chat_texts`) and
    encoded in batches on every core. Tokenizers' thread pool is turned on for each call only:
    the step's process forks nothing while it runs, and it is turned off again after, so a
    process forked later does not inherit a used pool."""

    def __init__(self, tokenizer_name: str | None):
        from transformers import AutoTokenizer

        if tokenizer_name is None:
            gguf = packaged_gguf_path()
            self.tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            self.name = GGUF_MODEL_NAME
        else:
            self.tokenizer, self.name = AutoTokenizer.from_pretrained(tokenizer_name), tokenizer_name
        self.rows = self.tokens = 0
        self.seconds = self.rendering_seconds = 0.0
        self.rendering: set[str] = set()

    def count(self, rows: pl.DataFrame) -> list[int]:
        started = time.perf_counter()
        texts, rendering = chat_texts(to_messages(rows), self.tokenizer)
        self.rendering.add(rendering)
        self.rendering_seconds += time.perf_counter() - started
        before = os.environ.get("TOKENIZERS_PARALLELISM")
        os.environ["TOKENIZERS_PARALLELISM"] = "true"
        try:
            counts = token_lengths(texts, self.tokenizer)
        finally:
            if before is None:
                del os.environ["TOKENIZERS_PARALLELISM"]
            else:
                os.environ["TOKENIZERS_PARALLELISM"] = before
        self.seconds += time.perf_counter() - started
        self.rows += len(counts)
        self.tokens += sum(counts)
        return counts

    def log(self) -> None:
        dg.get_dagster_logger().info(
            f"counted {self.tokens:,} tokens of {self.rows:,} rows with {self.name} in {self.seconds:.1f} s "
            f"({self.rendering_seconds:.1f} s rendering by {' and '.join(sorted(self.rendering)) or 'nothing'}, "
            f"{self.tokens / max(self.seconds, 1e-9):,.0f} tokens/s)")


def _length_chart(tokens: pl.Series, max_length: int) -> dict:
    """Tokens per row as a histogram with the SFT max length as a line; the histogram's bins beside it."""
    figure = charts.token_length_histogram(tokens.to_list(), max_length)
    counts, edges = np.histogram(tokens.to_numpy(), bins=charts.TOKEN_BINS) if tokens.len() else ([], [0])
    bins = pl.DataFrame({"tokens_from": edges[:-1], "tokens_to": edges[1:], "rows": counts},
                        schema={"tokens_from": pl.Float64, "tokens_to": pl.Float64, "rows": pl.Int64})
    bins = bins.with_columns(pl.col("tokens_from", "tokens_to").round(1))
    return chart_metadata("token_length_chart", figure, "prompt + response tokens per row with the SFT max length",
                          bins.filter(pl.col("rows") > 0))


def _length_histogram(tokens: pl.Series) -> str:
    edges = LENGTH_EDGES + [float("inf")]
    rows = []
    for low, high in zip(edges, edges[1:]):
        count = int(((tokens >= low) & (tokens < high)).sum())
        label = f">= {low:,}" if high == float("inf") else f"{low:,}-{int(high) - 1:,}"
        rows.append({"tokens": label, "rows": count, "": "█" * round(40 * count / max(tokens.len(), 1))})
    return markdown_table(pl.DataFrame(rows))
