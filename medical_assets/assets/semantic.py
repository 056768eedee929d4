"""The third decontamination step: training prompts that rephrase an eval question
(`core/semantic.py`), found by embedding neighbours and confirmed, with evidence rows."""


import hashlib
import time
from typing import Callable, Iterator, Literal

import dagster as dg
import numpy as np
import polars as pl
from pydantic import Field, model_validator

from medical_assets.assets.curation import EMBED_CHUNK_ROWS, R1_SOURCES
from medical_assets.assets.decontamination import OWNERS, PROMPT_CHUNK_ROWS, eval_texts
from medical_assets.assets.metadata import markdown_table
from medical_assets.assets.progress import Progress
from medical_assets.core import semantic
from medical_assets.core.eval_questions import with_options_text
from medical_assets.resources.embedder import Embedder
from medical_assets.resources.llm import LLM
from medical_assets.resources.storage import ChunkWriter, Warehouse, row_groups, rows_named

JUDGE_CHUNK_PAIRS = 64
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
    previous = rows_named(previous, wanted, "key").unique("key") if previous is not None else None
    known = wanted.join(previous, on="key") if previous is not None and previous.height else wanted.clear().with_columns(
        embedding=pl.Series([], dtype=pl.Array(pl.Float32, dim)))
    todo = wanted.join(known.select("key"), on="key", how="anti")
    fresh = todo.with_columns(embedding=pl.Series(embedder.encode(todo["text"].to_list()),
                                                  dtype=pl.Array(pl.Float32, dim)))
    table = pl.concat([known, fresh]).with_columns(embedder=pl.lit(name))
    order = wanted.select("key").join(table, on="key", how="left", maintain_order="left")
    return order["embedding"].to_numpy(), table.select("key", "embedder", "embedding").with_columns(
        reused=pl.col("key").is_in(known["key"].implode()))


def _search_every_prompt(warehouse: Warehouse, embedder: Embedder, name: str, candidate_ids: pl.DataFrame,
                         vectors_out: ChunkWriter, search: Callable[[list[str], np.ndarray], None]) -> tuple[int, int]:
    """`search` every candidate prompt's vector, batch by batch: the stored ones first (prompt_embeddings'
    and this step's earlier ones, which are carried into `vectors_out`), then the others embedded
    `PROMPT_CHUNK_ROWS` prompts at a time and written to `vectors_out`. (prompts reused, prompts embedded)."""
    searched = [candidate_ids.clear()]  # prompt_embeddings and this step's own vectors hold disjoint prompts
    for batch, own in _known_prompt_vectors(warehouse, name, candidate_ids):
        if own:  # this step's earlier vectors of prompts still among the candidates
            vectors_out.write(batch.with_columns(embedder=pl.lit(name)))
        searched.append(batch.select("sample_id"))
        search(batch["sample_id"].to_list(), batch["embedding"].to_numpy())
    reused = sum(frame.height for frame in searched)
    embedded = 0
    for chunk in warehouse.batches("quality_traces", ["sample_id", "prompt"], PROMPT_CHUNK_ROWS):
        todo = chunk.unique("sample_id", keep="first").join(pl.concat(searched), on="sample_id", how="anti")
        searched.append(todo.select("sample_id"))  # an exact duplicate row in a later chunk is not searched again
        for start in range(0, todo.height, EMBED_CHUNK_ROWS):
            part = todo.slice(start, EMBED_CHUNK_ROWS)
            vectors = embedder.encode(part["prompt"].to_list())
            vectors_out.write(part.select("sample_id").with_columns(
                embedder=pl.lit(name), embedding=pl.Series(vectors, dtype=pl.Array(pl.Float32, vectors.shape[1]))))
            search(part["sample_id"].to_list(), vectors)
        embedded += todo.height
    return reused, embedded


def _known_prompt_vectors(warehouse: Warehouse, name: str,
                          candidate_ids: pl.DataFrame) -> Iterator[tuple[pl.DataFrame, bool]]:
    """(sample_id, embedding) batches of the candidate prompts already embedded by this embedder, each
    with whether it is this step's own: `prompt_embeddings` (the R1 prompts), then this step's vectors
    of the other parts."""
    files = [(warehouse.table_path("prompt_embeddings", s), False) for s in R1_SOURCES
             if warehouse.exists("prompt_embeddings", s)]
    if warehouse.exists("semantic_prompt_vectors"):
        files.append((warehouse.table_path("semantic_prompt_vectors"), True))
    for path, own in files:
        for frame in row_groups(path, ["sample_id", "embedder", "embedding"]):
            frame = rows_named(frame, candidate_ids, "sample_id", where=pl.col("embedder") == name)
            if frame.height:
                yield frame.select("sample_id", "embedding"), own


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

    candidate_ids = warehouse.scan("quality_traces").select("sample_id").unique().collect(engine="streaming")
    progress = Progress(context.log, "prompts searched for rephrased questions", candidate_ids.height)
    pairs: list[pl.DataFrame] = []

    def search(ids: list[str], vectors: np.ndarray) -> None:
        rows, cols, cosines, ranks = semantic.nearest_questions(vectors, question_vectors, config.k,
                                                                config.cosine_floor)
        if len(rows):
            pairs.append(pl.DataFrame({"sample_id": pl.Series([ids[r] for r in rows], dtype=pl.String),
                                       "text_row": cols, "rank": ranks, "cosine": cosines.astype(np.float64)}))
        progress.advance(len(ids))

    # Memory holds the candidates' ids, one batch of prompts or vectors, and the pairs above the floor;
    # the vectors this step makes or keeps are written as they come.
    vector_schema = {"sample_id": pl.String, "embedder": pl.String, "embedding": pl.Array(pl.Float32, dim)}
    with warehouse.commit("semantic_matches") as stage:
        with stage.writer("semantic_prompt_vectors", vector_schema) as vectors_out:
            reused_prompts, embedded = _search_every_prompt(warehouse, embedder, name, candidate_ids, vectors_out, search)
        search_seconds = time.perf_counter() - started

        candidates = (pl.concat(pairs) if pairs else pl.DataFrame(schema={"sample_id": pl.String, "text_row": pl.Int64,
                                                                          "rank": pl.Int64, "cosine": pl.Float64}))
        candidates = candidates.unique(["sample_id", "text_row"]).sort("sample_id", "rank")  # a prompt searched once
        prompt_of = dict(warehouse.scan("quality_traces").select("sample_id", "prompt")
                         .join(candidates.lazy().select("sample_id").unique(), on="sample_id", how="semi")
                         .unique("sample_id").collect(engine="streaming").iter_rows())  # the pairs' prompts only
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

        stage.write("semantic_matches", matches)
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
        "prompts": candidate_ids.height,
        "prompts_embedded": embedded,
        "prompt_vectors_reused": reused_prompts,
        "eval_texts": len(distinct),
        "eval_texts_embedded": int((~question_table["reused"]).sum()),
        "prompts_per_s": round(candidate_ids.height / search_seconds, 1) if search_seconds > 0 else None,
        "confirmation": {"cosine_floor": config.cosine_floor, "k": config.k, "min_dice": config.min_dice,
                         "min_shared_rare": config.min_shared_rare, "min_numbers": config.min_numbers,
                         "rule": config.rule, "judge": config.judge},
        "embedder": info,
        "judge": labeller.describe() if config.judge else "not configured (signals only)",
    })


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
