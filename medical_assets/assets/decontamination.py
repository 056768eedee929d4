"""Decontamination: no training prompt that overlaps an evaluation question reaches the mix."""

import random
from typing import Callable

import dagster as dg
import polars as pl
from pydantic import Field

from medical_assets.assets.accounting import row_accounting_check
from medical_assets.assets.audit import create_audit_views
from medical_assets.assets.metadata import chart_metadata, markdown_table
from medical_assets.assets.progress import Progress
from medical_assets.core import charts, decontamination, healthbench
from medical_assets.core.eval_questions import with_options_text
from medical_assets.core.rejects import as_rejects
from medical_assets.recipe import RECIPE
from medical_assets.resources.storage import Warehouse

ROW_KEYS = ["source", "source_row"]
OWNERS = ["team:curation"]
RECHECK_ROWS = 2_000  # kept rows re-verified by the independent n-gram check
PROMPT_CHUNK_ROWS = 200_000  # candidate prompts checked at a time by the n-gram and fuzzy steps (~100 MB of prompts)
HIT_KEYS = ["sample_id", "benchmark", "question_id"]


class DecontaminationConfig(dg.Config):
    ngram_size: int = Field(default=RECIPE.decontamination.ngram_size, ge=1,
                            description="Words per n-gram (open-r1: 10); a shared n-gram removes the prompt.")
    fuzzy_threshold: float = Field(default=RECIPE.decontamination.fuzzy_threshold, ge=0, le=100,
                                   description="rapidfuzz ratio (0-100) at or above which a prompt is removed "
                                   "(s1K: 90).")


def matches_in_chunks(warehouse: Warehouse, find: Callable, progress: Progress) -> pl.DataFrame:
    """`find(prompts, progress)` over the candidate prompts `PROMPT_CHUNK_ROWS` at a time (only
    `sample_id` and `prompt` read: one chunk in memory beside the eval index), its hits concatenated;
    a sample_id repeated across chunks (an exact duplicate row) keeps its first hit per question."""
    total, done, found = warehouse.count("quality_traces"), 0, []
    for chunk in warehouse.batches("quality_traces", ["sample_id", "prompt"], PROMPT_CHUNK_ROWS):
        found.append(find(chunk.unique("sample_id", keep="first", maintain_order=True),
                          lambda part, whole, before=done, rows=chunk.height: progress.update(
                              before + round(rows * part / max(whole, 1)), total)))
        done += chunk.height
    if not found:
        return find(pl.DataFrame(schema={"sample_id": pl.String, "prompt": pl.String}), None)
    return pl.concat(found).unique(HIT_KEYS, keep="first", maintain_order=True)


def eval_texts(warehouse: Warehouse) -> pl.DataFrame:
    """What training prompts are decontaminated against: the ten benchmarks' questions, plus the
    user turns of the checked HealthBench rows (no options)."""
    questions = warehouse.read("eval_questions").select("benchmark", "question_id", "question", "options")
    if not warehouse.exists("healthbench_examples"):
        raise dg.Failure("healthbench_examples is not materialized: materialize it first, so that HealthBench's "
                         "user turns are decontaminated too (empty when no HealthBench file is configured)")
    turns = healthbench.user_turns(warehouse.read("healthbench_examples"))
    return pl.concat([questions, turns.with_columns(options=pl.lit(None, dtype=questions.schema["options"]))])


@dg.asset(deps=["quality_traces", "eval_questions", "healthbench_examples"], group_name="decontamination",
          owners=OWNERS, kinds={"polars", "parquet"})
def ngram_matches(context: dg.AssetExecutionContext, config: DecontaminationConfig,
                  warehouse: Warehouse) -> dg.MaterializeResult:
    """Training prompts sharing a word 10-gram with an eval question (alone or with its options)
    or a HealthBench user turn, as open-r1 decontaminates: one row per (sample_id, benchmark,
    question_id) with the n-gram."""
    evals = eval_texts(warehouse)
    hits = matches_in_chunks(warehouse, lambda prompts, progress: decontamination.ngram_matches(
        prompts, evals, n=config.ngram_size, progress=progress), Progress(context.log, "prompts checked for shared n-grams", 0))
    warehouse.write("ngram_matches", hits)
    return dg.MaterializeResult(metadata={**_hit_metadata(hits), "ngram_size": config.ngram_size})


@dg.asset(deps=["quality_traces", "eval_questions", "healthbench_examples"], group_name="decontamination",
          owners=OWNERS, kinds={"polars", "parquet"})
def fuzzy_matches(context: dg.AssetExecutionContext, config: DecontaminationConfig,
                  warehouse: Warehouse) -> dg.MaterializeResult:
    """Training prompts whose rapidfuzz `fuzz.ratio` with an eval question is >= 90 (s1K):
    one row per pair with the score and both lengths."""
    evals = eval_texts(warehouse)
    hits = matches_in_chunks(warehouse, lambda prompts, progress: decontamination.fuzzy_matches(
        prompts, evals, threshold=config.fuzzy_threshold, progress=progress), Progress(context.log, "prompts fuzzy-matched", 0))
    warehouse.write("fuzzy_matches", hits)
    return dg.MaterializeResult(metadata={**_hit_metadata(hits), "fuzzy_threshold": config.fuzzy_threshold})


def _hit_metadata(hits: pl.DataFrame) -> dict:
    per_benchmark = hits.group_by("benchmark").agg(pairs=pl.len(), samples=pl.col("sample_id").n_unique())
    return {"dagster/row_count": hits.height, "contaminated_samples": hits["sample_id"].n_unique(),
            "by_benchmark": dg.MetadataValue.md(markdown_table(per_benchmark.sort("benchmark")))}


def semantic_evidence(warehouse: Warehouse, removing: bool) -> pl.LazyFrame:
    """The third step's rephrasings in the evidence shape: only those it removes (mode `remove`), or all
    it flagged. Empty before `semantic_matches` has run."""
    if not warehouse.exists("semantic_matches"):
        return pl.LazyFrame(schema=EVIDENCE_SCHEMA)
    matches = warehouse.scan("semantic_matches").filter(pl.col("removes") if removing
                                                        else pl.col("verdict") == "rephrasing")
    return matches.select("sample_id", pl.lit("semantic").alias("stage"), "benchmark", "question_id",
                          semantic_evidence_text().alias("evidence"))


def semantic_evidence_text() -> pl.Expr:
    return pl.format("cosine {}, rare words shared {} ({}), weighted dice {}, numbers {}",
                     pl.col("cosine").round(3), pl.col("shared_rare").round(1), "shared_words", pl.col("dice").round(2),
                     pl.col("numbers").round(2))


EVIDENCE_SCHEMA = {"sample_id": pl.String, "stage": pl.String, "benchmark": pl.String, "question_id": pl.String,
                   "evidence": pl.String}


def contamination_evidence(warehouse: Warehouse, semantic: str = "removes") -> pl.LazyFrame:
    """Every hit of the three steps in one shape: stage, benchmark, question, evidence text. The third
    step's rows are those it removes (`semantic="removes"`) or all it flagged (`"flagged"`)."""
    ngram = warehouse.scan("ngram_matches").select(
        "sample_id", pl.lit("ngram").alias("stage"), "benchmark", "question_id", pl.col("ngram").alias("evidence")
    )
    fuzzy = warehouse.scan("fuzzy_matches").select(
        "sample_id", pl.lit("fuzzy").alias("stage"), "benchmark", "question_id",
        pl.format("ratio {} (prompt {} chars, question {} chars)", pl.col("score").round(2),
                  "prompt_chars", "question_chars").alias("evidence"),
    )
    return pl.concat([ngram, fuzzy, semantic_evidence(warehouse, removing=semantic == "removes")])


STAGE_ORDER = {"ngram": 0, "fuzzy": 1, "semantic": 2}  # the evidence kept per removed trace: the first step's


@dg.multi_asset(
    specs=[
        dg.AssetSpec("decontaminated_traces", deps=["ngram_matches", "fuzzy_matches", "semantic_matches",
                                                    "quality_traces"],
                     group_name="decontamination", owners=OWNERS, kinds={"polars", "parquet"},
                     description="Quality traces whose prompt matches no evaluation question by n-grams or fuzzy "
                     "ratio, nor rephrases one when semantic_matches runs in mode remove."),
        dg.AssetSpec("decontamination_rejects", deps=["ngram_matches", "fuzzy_matches", "semantic_matches",
                                                      "quality_traces"],
                     group_name="decontamination", owners=OWNERS, kinds={"polars", "parquet"},
                     description="Removed traces: the first piece of evidence per trace (n-gram, then fuzzy, then "
                     "semantic); all of it is in ngram_matches, fuzzy_matches and semantic_matches."),
    ],
    check_specs=[
        dg.AssetCheckSpec("rows_accounted", asset="decontaminated_traces", blocking=True),
        dg.AssetCheckSpec("kept_rows_share_no_ngram", asset="decontaminated_traces", blocking=True,
                          description="A sample of kept prompts re-checked with plain Python sets of n-grams."),
    ],
)
def decontaminated_traces(config: DecontaminationConfig, warehouse: Warehouse):
    """Remove every trace with a hit in the n-gram or fuzzy step, or a rephrasing that semantic_matches
    removes (its mode `remove`); keep the evidence beside each removal."""
    traces = warehouse.scan("quality_traces")
    first_hit = (  # one row per contaminated trace: what memory holds besides a row group of the traces
        contamination_evidence(warehouse).with_columns(order=pl.col("stage").replace_strict(STAGE_ORDER,
                                                                                            return_dtype=pl.Int8))
        .sort("sample_id", "order", "benchmark", "question_id").unique("sample_id", keep="first").drop("order")
    ).collect()

    def outputs(rows: pl.LazyFrame) -> dict[str, pl.LazyFrame]:
        removed = rows.select("sample_id", *ROW_KEYS, "part").join(first_hit.lazy(), on="sample_id", how="inner",
                                                                    maintain_order="left")
        return {
            "decontaminated_traces": rows.join(first_hit.lazy().select("sample_id"), on="sample_id", how="anti",
                                               maintain_order="left"),
            "decontamination_rejects": as_rejects(removed, pl.col("stage"), reason=pl.format(
                "{} {} {}",
                pl.when(pl.col("stage") == "semantic").then(pl.lit("rephrases")).otherwise(pl.lit("matches")),
                pl.col("benchmark"), pl.col("question_id"))),
        }

    with warehouse.commit("decontaminated_traces") as stage:  # one pass over the traces, a row group at a time
        stage.split("quality_traces", outputs)
    kept = warehouse.scan("decontaminated_traces")
    rejects = warehouse.scan("decontamination_rejects")
    yield dg.MaterializeResult(asset_key="decontaminated_traces",
                               metadata={"dagster/row_count": warehouse.count("decontaminated_traces"),
                                         "rows_removed": warehouse.count("decontamination_rejects")})
    yield dg.MaterializeResult(asset_key="decontamination_rejects",
                               metadata={"dagster/row_count": warehouse.count("decontamination_rejects")})
    yield row_accounting_check("rows_accounted", "decontaminated_traces", traces, kept, rejects, ROW_KEYS)
    yield _recheck_kept(kept, warehouse, config.ngram_size)


def _recheck_kept(kept: pl.LazyFrame, warehouse: Warehouse, n: int) -> dg.AssetCheckResult:
    """Independent of the hashed pass: the open-r1 way (sets of n-gram strings) on a sample of kept rows."""
    evals = with_options_text(warehouse.read("eval_questions"))
    eval_ngrams: set[tuple[str, ...]] = set()
    for question, options in evals.select("question", "options_text").iter_rows():
        for text in (question, f"{question}\n{options}"):
            words = text.lower().split()
            eval_ngrams.update(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
    n_kept = kept.select(pl.len()).collect().item()
    rows = random.Random(0).sample(range(n_kept), min(RECHECK_ROWS, n_kept))
    prompts = (kept.select("sample_id", "prompt").with_row_index("row").filter(pl.col("row").is_in(rows))
               .collect(engine="streaming"))  # only the sampled rows' prompts are kept
    leaked = []
    for sample, prompt in prompts.select("sample_id", "prompt").iter_rows():
        words = prompt.lower().split()
        if any(tuple(words[i:i + n]) in eval_ngrams for i in range(len(words) - n + 1)):
            leaked.append(sample)
    return dg.AssetCheckResult(
        check_name="kept_rows_share_no_ngram", asset_key="decontaminated_traces", passed=not leaked,
        metadata={"rows_checked": len(rows), "rows_leaked": len(leaked), "leaked_sample_ids": ", ".join(leaked[:20])},
    )


@dg.asset(deps=["decontaminated_traces", "decontamination_rejects", "ngram_matches", "fuzzy_matches",
                "semantic_matches"], group_name="decontamination", owners=OWNERS, kinds={"polars", "duckdb"})
def contamination_report(warehouse: Warehouse) -> dg.MaterializeResult:
    """Hits per source and benchmark (the rephrasings the third step flagged, removed or not), and
    rows removed per source; also (re)creates the audit views (assets/audit.py): `removed_samples`
    (why and where each row left, at any stage), `flagged_samples` (kept rows flagged as suspected
    rephrasings) and `source_funnel` (rows per source per stage)."""
    traces = warehouse.scan("quality_traces").select("sample_id", "source").unique()
    report = (
        contamination_evidence(warehouse, semantic="flagged").join(traces, on="sample_id", how="left")
        .group_by("source", "benchmark").agg(
            ngram_hits=(pl.col("stage") == "ngram").sum(), fuzzy_hits=(pl.col("stage") == "fuzzy").sum(),
            semantic_flags=(pl.col("stage") == "semantic").sum(), samples=pl.col("sample_id").n_unique(),
        ).sort("source", "benchmark").collect()
    )
    warehouse.write("contamination_report", report)
    create_audit_views(warehouse)
    funnel = warehouse.query("SELECT * FROM source_funnel ORDER BY part, source")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": report.height,
        "report": dg.MetadataValue.md(markdown_table(report, max_rows=200)),
        "funnel": dg.MetadataValue.md(markdown_table(funnel, max_rows=50)),
        "contaminated_samples": int(funnel["contamination_removed"].sum()),
        "suspected_rephrasings_kept": int(funnel["suspected_rephrasing"].sum()),
        **_funnel_chart(funnel),
    })


# source_funnel's columns of rows that left at a stage, in stage order, then the rows kept
FUNNEL_STAGES = ("ingest_rejected", "domain_removed", "sampled_out", "synthetic_dropped", "quality_removed",
                 "contamination_removed", "kept")


def _funnel_chart(funnel: pl.DataFrame) -> dict:
    """Rows per source as stacked bars, one segment per stage that removed rows and the rows kept."""
    figure = charts.funnel_bars([f"{part} / {source}" for part, source in funnel.select("part", "source").iter_rows()],
                                list(FUNNEL_STAGES), [list(row) for row in funnel.select(FUNNEL_STAGES).iter_rows()])
    return chart_metadata("funnel_chart", figure, "rows per source by the stage they ended at", funnel)
