"""The third decontamination step: training prompts that rephrase an eval question
(`core/semantic.py`), found by embedding neighbours and confirmed, with evidence rows."""


import hashlib
import time
from typing import Iterator, Literal

import dagster as dg
import numpy as np
import polars as pl
import pyarrow.parquet as pq
from pydantic import Field, model_validator

from medical_assets.assets.curation import EMBED_CHUNK_ROWS, R1_SOURCES
from medical_assets.assets.decontamination import OWNERS, eval_texts, train_prompts
from medical_assets.assets.metadata import markdown_table
from medical_assets.assets.progress import Progress
from medical_assets.core import semantic
from medical_assets.core.eval_questions import with_options_text
from medical_assets.resources.embedder import Embedder
from medical_assets.resources.llm import LLM
from medical_assets.resources.storage import Warehouse

JUDGE_CHUNK_PAIRS = 64
READ_BATCH_ROWS = 65_536  # stored vectors read at once (each batch is filtered by the candidates' ids)
MATCH_SCHEMA = {
    "sample_id": pl.String, "benchmark": pl.String, "question_id": pl.String, "rank": pl.Int64,
    "cosine": pl.Float64, "dice": pl.Float64, "shared_rare": pl.Float64, "numbers": pl.Float64,
    "shared_words": pl.String, "judge_same": pl.Float64, "confirmed": pl.Boolean, "verdict": pl.String,
    "removes": pl.Boolean,
}
RULES = ("signals", "judge", "signals_and_judge", "signals_or_judge")


class SemanticConfig(dg.Config):
    mode: Literal["report", "remove"] = Field(
        default="report", description="report: flag rephrasings (audit view `flagged_samples`), keep them in the "
        "mix; remove: they leave with the other contaminated rows (decontamination_rejects, stage semantic).")
    k: int = Field(default=5, ge=1, description="Nearest eval questions searched per prompt (exact, faiss).")
    cosine_floor: float = Field(default=semantic.COSINE_FLOOR, ge=-1, le=1,
                                description="Pairs at or above this cosine go to confirmation.")
    min_dice: float = Field(default=semantic.Confirmation.min_dice, ge=0, le=1,
                            description="Weighted Dice of the two texts' words, at least.")
    min_shared_rare: float = Field(default=semantic.Confirmation.min_shared_rare, ge=0,
                                   description="Rare words shared (in units of the rarest word's weight), at least.")
    min_numbers: float = Field(default=semantic.Confirmation.min_numbers, ge=0, le=1,
                               description="Jaccard of the two texts' numbers, at least (1.0 when neither has any).")
    judge: bool = Field(default=False, description="Also ask the `labeller` LLM whether each pair above the floor "
                        "is the same question (its probability in `judge_same`).")
    rule: Literal["signals", "judge", "signals_and_judge", "signals_or_judge"] = Field(
        default="signals", description="What makes a pair a rephrasing: the signals' confirmation, the judge "
        "(judge_same >= judge_threshold), both, or either; the judge rules need judge: true.")
    judge_threshold: float = Field(default=0.5, ge=0, le=1,
                                   description="judge_same at or above which the judge says 'same question'.")
    judge_max_chars: int = Field(default=2_000, ge=1, description="Each text shown to the judge, cut here.")

    @model_validator(mode="after")
    def _judge_rule_needs_judge(self):
        if self.rule != "signals" and not self.judge:
            raise ValueError(f"rule {self.rule!r} reads the judge's verdict: set judge: true, or rule: signals")
        return self


def _text_key(texts: pl.Expr) -> pl.Expr:
    return texts.map_elements(lambda t: hashlib.sha256(t.encode()).hexdigest()[:32], return_dtype=pl.String)


def _question_vectors(warehouse: Warehouse, embedder: Embedder, name: str,
                      texts: pl.Series) -> tuple[np.ndarray, pl.DataFrame]:
    """One vector per distinct eval text, reused from the last run where the text and embedder are the same."""
    dim = embedder.dimension
    wanted = pl.DataFrame({"text": texts}).with_columns(key=_text_key(pl.col("text")))
    previous = (warehouse.scan("semantic_question_vectors").filter(pl.col("embedder") == name)
                .select("key", "embedding").collect() if warehouse.exists("semantic_question_vectors") else None)
    known = wanted.join(previous, on="key", how="inner") if previous is not None else wanted.clear().with_columns(
        embedding=pl.Series([], dtype=pl.Array(pl.Float32, dim)))
    todo = wanted.join(known.select("key"), on="key", how="anti")
    fresh = todo.with_columns(embedding=pl.Series(embedder.encode(todo["text"].to_list()),
                                                  dtype=pl.Array(pl.Float32, dim)))
    table = pl.concat([known, fresh]).with_columns(embedder=pl.lit(name))
    order = wanted.select("key").join(table, on="key", how="left", maintain_order="left")
    return order["embedding"].to_numpy(), table.select("key", "embedder", "embedding").with_columns(
        reused=pl.col("key").is_in(known["key"].implode()))


def _known_prompt_vectors(warehouse: Warehouse, name: str, wanted: set[str]) -> Iterator[pl.DataFrame]:
    """(sample_id, embedding) batches of the candidate prompts already embedded by this embedder:
    `prompt_embeddings` (the R1 prompts) and this step's own vectors of the other parts."""
    files = [p for s in R1_SOURCES if warehouse.exists("prompt_embeddings", s)
             for p in [warehouse.table_path("prompt_embeddings", s)]]
    if warehouse.exists("semantic_prompt_vectors"):
        files.append(warehouse.table_path("semantic_prompt_vectors"))
    ids = pl.Series(sorted(wanted))
    for path in files:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=READ_BATCH_ROWS,
                                                        columns=["sample_id", "embedder", "embedding"]):
            frame = pl.from_arrow(batch)
            yield frame.filter((pl.col("embedder") == name) & pl.col("sample_id").is_in(ids.implode())).select(
                "sample_id", "embedding")


@dg.asset(deps=["quality_traces", "eval_questions", "healthbench_examples", "prompt_embeddings"],
          group_name="decontamination", owners=OWNERS, kinds={"faiss", "sentence_transformers", "parquet"})
def semantic_matches(context: dg.AssetExecutionContext, config: SemanticConfig, embedder: Embedder, labeller: LLM,
                     warehouse: Warehouse) -> dg.MaterializeResult:
    """Training prompts that rephrase an eval question or HealthBench user turn: each prompt's
    `k` nearest eval texts by MiniLM cosine (exact faiss search; the R1 prompts' vectors reused
    from `prompt_embeddings`, the other parts' and the eval texts' embedded once and kept), the
    pairs at or above the cosine floor confirmed by the rare words, numbers and wording they
    share (`core/semantic.py`), and by the labeller LLM when `judge` is on. One row per pair
    above the floor with every signal and its `verdict`; `removes` marks the rephrasings that
    `decontaminated_traces` removes (mode `remove`); in mode `report` they stay, flagged in the
    audit view `flagged_samples`."""
    started = time.perf_counter()
    info = embedder.describe()
    name = f"{info['model']} ({info['precision']})"
    dim = info["dimension"]
    evals = with_options_text(eval_texts(warehouse)).with_columns(
        with_options=pl.when(pl.col("options_text").str.len_chars() > 0)
        .then(pl.format("{}\n{}", "question", "options_text")))
    distinct = evals.select("question").unique(maintain_order=True)["question"]
    question_vectors, question_table = _question_vectors(warehouse, embedder, name, distinct)
    first_options = evals.unique("question", keep="first", maintain_order=True)["with_options"]
    rare = semantic.RareWords(distinct.to_list(), first_options.to_list())
    text_row = {text: row for row, text in enumerate(distinct.to_list())}
    question_ids = evals.with_columns(text_row=pl.col("question").replace_strict(text_row, return_dtype=pl.Int64)) \
        .select("text_row", "benchmark", "question_id")

    train = train_prompts(warehouse)
    prompt_of = dict(zip(train["sample_id"].to_list(), train["prompt"].to_list()))
    progress = Progress(context.log, "prompts searched for rephrased questions", train.height)
    pairs: list[pl.DataFrame] = []

    def search(ids: list[str], vectors: np.ndarray) -> None:
        rows, cols, cosines, ranks = semantic.nearest_questions(vectors, question_vectors, config.k,
                                                                config.cosine_floor)
        if len(rows):
            pairs.append(pl.DataFrame({"sample_id": pl.Series([ids[r] for r in rows], dtype=pl.String),
                                       "text_row": cols, "rank": ranks, "cosine": cosines.astype(np.float64)}))
        progress.advance(len(ids))

    searched: set[str] = set()  # prompt_embeddings and this step's own vectors hold disjoint prompts
    for batch in _known_prompt_vectors(warehouse, name, set(prompt_of)):
        if batch.height:
            searched.update(batch["sample_id"].to_list())
            search(batch["sample_id"].to_list(), batch["embedding"].to_numpy())
    todo = train.filter(~pl.col("sample_id").is_in(pl.Series(list(searched), dtype=pl.String).implode()))
    reused_prompts = len(searched)
    new_vectors = []
    for start in range(0, todo.height, EMBED_CHUNK_ROWS):
        chunk = todo.slice(start, EMBED_CHUNK_ROWS)
        vectors = embedder.encode(chunk["prompt"].to_list())
        new_vectors.append(chunk.select("sample_id").with_columns(
            embedder=pl.lit(name), embedding=pl.Series(vectors, dtype=pl.Array(pl.Float32, dim))))
        search(chunk["sample_id"].to_list(), vectors)
    search_seconds = time.perf_counter() - started

    candidates = (pl.concat(pairs) if pairs else pl.DataFrame(schema={"sample_id": pl.String, "text_row": pl.Int64,
                                                                      "rank": pl.Int64, "cosine": pl.Float64}))
    candidates = candidates.sort("sample_id", "rank")
    signals = [rare.signals(semantic.words_and_numbers(prompt_of[s]), t)
               for s, t in candidates.select("sample_id", "text_row").iter_rows()]
    confirmation = semantic.Confirmation(config.min_dice, config.min_shared_rare, config.min_numbers)
    candidates = candidates.with_columns(
        dice=pl.Series([s[0] for s in signals], dtype=pl.Float64),
        shared_rare=pl.Series([s[1] for s in signals], dtype=pl.Float64),
        numbers=pl.Series([s[2] for s in signals], dtype=pl.Float64),
        shared_words=pl.Series([s[3] for s in signals], dtype=pl.String),
        confirmed=pl.Series([confirmation.confirms(*s[:3]) for s in signals], dtype=pl.Boolean),
        judge_same=_judge(context, labeller, config, candidates, prompt_of, distinct) if config.judge else None,
    ).with_columns(pl.col("judge_same").cast(pl.Float64))
    rephrasing = {
        "signals": pl.col("confirmed"),
        "judge": pl.col("judge_same") >= config.judge_threshold,
        "signals_and_judge": pl.col("confirmed") & (pl.col("judge_same") >= config.judge_threshold),
        "signals_or_judge": pl.col("confirmed") | (pl.col("judge_same") >= config.judge_threshold),
    }[config.rule]
    matches = candidates.join(question_ids, on="text_row", how="inner").with_columns(
        verdict=pl.when(rephrasing).then(pl.lit("rephrasing")).otherwise(pl.lit("different")),
    ).with_columns(removes=(pl.col("verdict") == "rephrasing") & (config.mode == "remove")).select(
        list(MATCH_SCHEMA)).sort("sample_id", "benchmark", "question_id")

    carried = _carried_prompt_vectors(warehouse, name, dim, set(prompt_of))
    with warehouse.commit("semantic_matches") as stage:
        stage.write("semantic_matches", matches)
        stage.write("semantic_prompt_vectors", pl.concat([carried, *new_vectors]) if new_vectors else carried)
        stage.write("semantic_question_vectors", question_table.drop("reused"))
    flagged = matches.filter(pl.col("verdict") == "rephrasing")
    per_benchmark = flagged.group_by("benchmark").agg(pairs=pl.len(), samples=pl.col("sample_id").n_unique())
    return dg.MaterializeResult(metadata={
        "dagster/row_count": matches.height,
        "mode": config.mode,
        "pairs_above_floor": matches.height,
        "flagged_pairs": flagged.height,
        "flagged_samples": flagged["sample_id"].n_unique(),
        "removed_samples": matches.filter("removes")["sample_id"].n_unique(),
        "by_benchmark": dg.MetadataValue.md(markdown_table(per_benchmark.sort("benchmark"))),
        "prompts": train.height,
        "prompts_embedded": todo.height,
        "prompt_vectors_reused": reused_prompts,
        "eval_texts": len(distinct),
        "eval_texts_embedded": int((~question_table["reused"]).sum()),
        "prompts_per_s": round(train.height / search_seconds, 1) if search_seconds > 0 else None,
        "confirmation": {"cosine_floor": config.cosine_floor, "k": config.k, "min_dice": config.min_dice,
                         "min_shared_rare": config.min_shared_rare, "min_numbers": config.min_numbers,
                         "rule": config.rule, "judge": config.judge},
        "embedder": info,
        "judge": labeller.describe() if config.judge else "not configured (signals only)",
    })


def _carried_prompt_vectors(warehouse: Warehouse, name: str, dim: int, wanted: set[str]) -> pl.DataFrame:
    """This step's earlier vectors of prompts still among the candidates (the others are dropped)."""
    schema = {"sample_id": pl.String, "embedder": pl.String, "embedding": pl.Array(pl.Float32, dim)}
    if not warehouse.exists("semantic_prompt_vectors"):
        return pl.DataFrame(schema=schema)
    return (warehouse.scan("semantic_prompt_vectors")
            .filter((pl.col("embedder") == name) & pl.col("sample_id").is_in(pl.Series(sorted(wanted)).implode()))
            .unique("sample_id").collect())


def _judge(context: dg.AssetExecutionContext, labeller: LLM, config: SemanticConfig, candidates: pl.DataFrame,
           prompt_of: dict[str, str], questions: pl.Series) -> pl.Series:
    """The labeller's P(same question) for every pair above the floor (a closed choice of two labels)."""
    pairs = candidates.select("sample_id", "text_row").rows()
    progress = Progress(context.log, "pairs judged by the labeller", len(pairs))
    probabilities: list[float] = []
    for start in range(0, len(pairs), JUDGE_CHUNK_PAIRS):
        chunk = pairs[start:start + JUDGE_CHUNK_PAIRS]
        prompts = [semantic.judge_prompt(prompt_of[s], questions[t], config.judge_max_chars) for s, t in chunk]
        probabilities += [semantic.same_probability(s) for s in labeller.choose(prompts, semantic.JUDGE_CHOICES)]
        progress.advance(len(chunk))
    return pl.Series(probabilities, dtype=pl.Float64)
