"""Curation of the R1 traces: embed prompts, cluster them, label each cluster's
domain by a vote of LLM labels on its exemplars, keep the Medical and Biology ones."""

import time
from typing import Iterator, Literal

import dagster as dg
import numpy as np
import polars as pl
from pydantic import Field, field_validator

from medical_assets.assets.accounting import row_accounting_check
from medical_assets.assets.metadata import chart_metadata, markdown_table
from medical_assets.assets.progress import Progress
from medical_assets.core import charts
from medical_assets.core.clustering import (
    CONTENT_FREE_QUESTIONS, DOMAIN_INSTRUCTIONS, DOMAINS, agreement, calibrate, domain_prompt, label_probabilities, nearest_exemplars,
    probability_struct, spherical_kmeans, vote,
)
from medical_assets.core.rejects import as_rejects
from medical_assets.recipe import RECIPE
from medical_assets.resources.embedder import Embedder
from medical_assets.resources.llm import LLM
from medical_assets.resources.sources import SourceCatalog
from medical_assets.resources.storage import Warehouse, row_groups, rows_named
from medical_assets.sample import reference_domains
from medical_assets.sources import SOURCES

R1_SOURCES = [spec.name for spec in SOURCES if spec.part == "curated_r1"]
r1_source_partitions = dg.StaticPartitionsDefinition(R1_SOURCES)
ROW_KEYS = ["source", "source_row"]
OWNERS = ["team:curation"]
EMBED_CHUNK_ROWS = 8_192
LABEL_CHUNK_ROWS = 256


class ClusteringConfig(dg.Config):
    n_clusters: int = Field(default=RECIPE.curation.n_clusters, ge=1,
                            description="k of k-means (the recipe: 50,000); at most the number of prompts.")
    niter: int = Field(default=20, ge=1, description="k-means iterations (at least 1).")
    seed: int = Field(default=1234, description="Seed of the centroid initialisation and training sample.")
    device: Literal["auto", "cpu", "gpu"] = Field(default="auto", description="auto (faiss-gpu when present), cpu or gpu.")


class ExemplarConfig(dg.Config):
    per_cluster: int = Field(default=RECIPE.curation.exemplars_per_cluster, ge=1,
                             description="Prompts nearest each centre that the labeller reads (the recipe: 10).")


class LabelConfig(dg.Config):
    max_prompt_chars: int = Field(default=1_500, ge=1, description="Exemplar text shown to the labeller, cut here.")
    calibrate: bool = Field(
        default=True, description="Divide out the labeller's prior over the labels, measured on content-free "
        "questions (contextual calibration); the raw probabilities are kept beside the calibrated ones.")


class DomainConfig(dg.Config):
    kept_domains: list[str] = Field(default=list(RECIPE.curation.kept_domains), min_length=1,
                                    description=f"Cluster labels kept, among {', '.join(DOMAINS)}.")

    @field_validator("kept_domains")
    @classmethod
    def _known_labels(cls, kept: list[str]) -> list[str]:
        unknown = sorted(set(kept) - set(DOMAINS))
        if unknown:
            raise ValueError(f"labels outside the label set: {unknown}; use {list(DOMAINS)}")
        return kept


@dg.asset(
    partitions_def=r1_source_partitions,
    deps=[dg.AssetDep("raw_traces", partition_mapping=dg.IdentityPartitionMapping())],
    group_name="curation",
    owners=OWNERS,
    kinds={"sentence_transformers", "parquet"},
    automation_condition=dg.AutomationCondition.eager(),  # a re-ingested source is embedded again
)
def prompt_embeddings(context: dg.AssetExecutionContext, embedder: Embedder, warehouse: Warehouse):
    """Each R1 prompt embedded (all-MiniLM-L6-v2 by default, 384-d, L2-normalized float32, stored as a
    fixed-size array column). Incremental: rows whose `sample_id` was embedded before by the same
    embedder are reused, so a grown source embeds only its new rows. Memory holds the partition's
    row keys and one chunk of prompts or vectors: the earlier vectors are carried over a row group at
    a time, then the other prompts (not their reasoning and responses) read, embedded and written
    `EMBED_CHUNK_ROWS` at a time."""
    source = context.partition_key
    keys = warehouse.scan("raw_traces", [source]).select("sample_id", *ROW_KEYS).collect(engine="streaming")
    info = embedder.describe()
    name = f"{info['model']} ({info['precision']})"
    dim = info["dimension"]
    schema = {"sample_id": pl.String, "source": pl.String, "source_row": pl.Int64, "embedder": pl.String,
              "embedding": pl.Array(pl.Float32, dim)}
    started = time.perf_counter()
    with warehouse.writer("prompt_embeddings", source, schema) as out:
        reused = [keys.clear()]
        for earlier in _previous_embeddings(warehouse, source):
            still = keys.select("sample_id").join(pl.concat(reused).select("sample_id"), on="sample_id", how="anti")
            earlier = rows_named(earlier, still, "sample_id", where=pl.col("embedder") == name)
            if earlier.height:
                carried = keys.join(earlier.unique("sample_id").select("sample_id", "embedding"), on="sample_id")
                out.write(carried.with_columns(embedder=pl.lit(name)).select(*schema))
                reused.append(carried.select(keys.columns))
        done = pl.concat(reused)
        progress = Progress(context.log, f"{source}: prompts embedded", keys.height - done.height)
        for rows in warehouse.batches("raw_traces", ["sample_id", *ROW_KEYS, "prompt"], EMBED_CHUNK_ROWS, [source]):
            chunk = rows.join(done, on=["sample_id", *ROW_KEYS], how="anti")
            if chunk.height:
                vectors = embedder.encode(chunk["prompt"].to_list())
                out.write(chunk.select("sample_id", *ROW_KEYS).with_columns(
                    embedder=pl.lit(name), embedding=pl.Series(vectors, dtype=pl.Array(pl.Float32, dim))))
                progress.advance(chunk.height)
    seconds = time.perf_counter() - started
    embedded = keys.height - done.height
    return dg.MaterializeResult(metadata={
        "dagster/row_count": keys.height,
        "rows_reused": done.height,
        "rows_embedded": embedded,
        "prompts_per_s": round(embedded / seconds, 1) if embedded else None,
        "seconds": round(seconds, 2),
        "embedder": info,
    })


def _previous_embeddings(warehouse: Warehouse, source: str) -> Iterator[pl.DataFrame]:
    """The partition's earlier vectors (sample_id, embedder, embedding), a row group at a time."""
    if warehouse.exists("prompt_embeddings", source):
        yield from row_groups(warehouse.table_path("prompt_embeddings", source), ["sample_id", "embedder", "embedding"])


@dg.asset(deps=["prompt_embeddings"], group_name="curation", owners=OWNERS, kinds={"faiss", "parquet"})
def prompt_clusters(context: dg.AssetExecutionContext, config: ClusteringConfig, warehouse: Warehouse):
    """Spherical k-means of every R1 prompt embedding with faiss (the recipe: 50,000 clusters):
    each row's `cluster` and cosine `distance` to its centroid. Memory holds what k-means needs, the
    vectors as one float32 matrix (filled a row group at a time: 1.5 KB a prompt, 10.8 GB at 7M),
    and the rows' keys."""
    keys, vectors = _embedding_matrix(warehouse, R1_SOURCES)
    gpu = None if config.device == "auto" else config.device == "gpu"
    result = spherical_kmeans(vectors, config.n_clusters, seed=config.seed, niter=config.niter, gpu=gpu)
    del vectors
    clusters = keys.with_columns(
        cluster=pl.Series(result.assignment), distance=pl.Series(result.distance),
    )
    warehouse.write("prompt_clusters", clusters)
    sizes = clusters.group_by("cluster").len("size")["size"]
    context.log.info(f"k-means: {clusters.height:,} rows into {config.n_clusters:,} clusters "
                     f"with {result.backend} in {result.seconds:.1f} s")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": clusters.height,
        "n_clusters": config.n_clusters,
        "non_empty_clusters": sizes.len(),
        "backend": result.backend,
        "faiss": _faiss_version(),
        "inertia": round(result.inertia, 3),
        "mean_distance": round(float(result.distance.mean()), 4),
        "seconds": round(result.seconds, 2),
        "seed": config.seed,
        "niter": config.niter,
        "cluster_sizes": dg.MetadataValue.md(_size_histogram(sizes, config.n_clusters)),
        **_size_chart(sizes, config.n_clusters),
    })


def _embedding_matrix(warehouse: Warehouse, sources: list[str]) -> tuple[pl.DataFrame, np.ndarray]:
    """The keys (sample_id, source, source_row) and the vectors of `prompt_embeddings` for `sources`,
    the vectors copied into one preallocated float32 matrix, a row group at a time: never a second
    copy of them in a frame."""
    table = warehouse.scan("prompt_embeddings", sources)
    rows = table.select(pl.len()).collect().item()
    dim = table.collect_schema()["embedding"].size
    vectors = np.empty((rows, dim), dtype=np.float32)
    keys, at = [], 0
    for batch in warehouse.batches("prompt_embeddings", ["sample_id", *ROW_KEYS, "embedding"], EMBED_CHUNK_ROWS,
                                   sources):
        vectors[at:at + batch.height] = batch["embedding"].to_numpy()
        keys.append(batch.drop("embedding"))
        at += batch.height
    return pl.concat(keys) if keys else table.select("sample_id", *ROW_KEYS).head(0).collect(), vectors


def _faiss_version() -> str:
    import faiss

    return faiss.__version__


def _size_histogram(sizes: pl.Series, n_clusters: int) -> str:
    """Cluster sizes in power-of-two buckets, as a Markdown bar chart."""
    empty = n_clusters - sizes.len()
    buckets = (sizes.cast(pl.Float64).log(2).floor().cast(pl.Int64)).value_counts().sort(sizes.name)
    bar_scale = 40 / max(int(buckets["count"].max()), 1)
    rows = [{"rows per cluster": "0 (empty)", "clusters": empty, "": ""}] if empty else []
    for power, count in buckets.iter_rows():
        low, high = 2 ** power, 2 ** (power + 1) - 1
        rows.append({"rows per cluster": f"{low}" if low == high else f"{low}-{high}", "clusters": count,
                     "": "█" * max(1, round(count * bar_scale))})
    summary = (f"min {sizes.min()}, median {sizes.median():g}, max {sizes.max()}, "
               f"singletons {int((sizes == 1).sum())}\n\n")
    return summary + markdown_table(pl.DataFrame(rows), max_rows=64)


def _size_chart(sizes: pl.Series, n_clusters: int) -> dict:
    """Cluster sizes as a log-scale histogram, with its bins' counts beside it."""
    power = sizes.cast(pl.Float64).log(2).floor().cast(pl.Int64)
    bins = pl.DataFrame({"power": power}).group_by("power").len("clusters").sort("power").select(
        rows_from=pl.lit(2) ** pl.col("power"), rows_to=pl.lit(2) ** (pl.col("power") + 1) - 1, clusters="clusters")
    return chart_metadata("cluster_size_chart", charts.cluster_size_histogram(sizes.to_list(), n_clusters - sizes.len()),
                          "clusters per size, log scales", bins)


@dg.asset(deps=["prompt_clusters", "raw_traces"], group_name="curation", owners=OWNERS, kinds={"polars", "parquet"})
def cluster_exemplars(context: dg.AssetExecutionContext, config: ExemplarConfig, warehouse: Warehouse):
    """The prompts nearest each cluster's centre (the recipe: 10; all of a smaller cluster), with their text.
    Only the exemplars' prompts are read into memory, not every R1 prompt."""
    clusters = warehouse.read("prompt_clusters")
    exemplars = nearest_exemplars(clusters, config.per_cluster)
    keys = ["sample_id", *ROW_KEYS]
    prompts = (warehouse.scan("raw_traces", R1_SOURCES).select(*keys, "prompt")
               .join(exemplars.lazy().select(keys), on=keys, how="semi").collect(engine="streaming"))
    exemplars = exemplars.join(prompts, on=keys, how="left")
    warehouse.write("cluster_exemplars", exemplars)
    per_cluster = exemplars.group_by("cluster").len("n")
    short = per_cluster.filter(pl.col("n") < config.per_cluster)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": exemplars.height,
        "clusters": per_cluster.height,
        "per_cluster": config.per_cluster,
        "clusters_with_fewer": short.height,
        "preview": dg.MetadataValue.md(markdown_table(
            exemplars.select("cluster", "rank", "distance", "source", "prompt").head(12), max_chars=70)),
    })


@dg.asset(deps=["cluster_exemplars"], group_name="curation", owners=OWNERS, kinds={"pytorch", "parquet"},
          pool="llm_api")
def exemplar_domains(context: dg.AssetExecutionContext, config: LabelConfig, labeller: LLM, warehouse: Warehouse):
    """Each exemplar's domain from the labeller LLM (the recipe: Qwen2.5-32B-Instruct), constrained to
    a closed set of labels: every label's log-probability as the reply is scored and the most likely
    one taken, so the answer cannot fall outside the set. The labeller's lean to some labels, measured
    on content-free questions, is divided out (contextual calibration; config). Per-label
    probabilities are kept, raw and calibrated."""
    exemplars = warehouse.read("cluster_exemplars")
    labels = list(DOMAINS)
    started = time.perf_counter()
    progress = Progress(context.log, "exemplars labelled", exemplars.height)
    prior = label_probabilities(
        labeller.choose([domain_prompt(q, config.max_prompt_chars) for q in CONTENT_FREE_QUESTIONS], labels), labels,
    ).mean(axis=0)
    raw = []
    for start in range(0, exemplars.height, LABEL_CHUNK_ROWS):
        texts = exemplars["prompt"].slice(start, LABEL_CHUNK_ROWS).to_list()
        scores = labeller.choose([domain_prompt(t, config.max_prompt_chars) for t in texts], labels)
        raw.append(label_probabilities(scores, labels))
        progress.advance(len(texts))
    raw_probs = np.concatenate(raw) if raw else np.zeros((0, len(labels)))
    probs = calibrate(raw_probs, prior) if config.calibrate else raw_probs
    calibrated = config.calibrate and probs is not raw_probs
    labelled = exemplars.select("cluster", "rank", "sample_id", *ROW_KEYS).with_columns(
        domain=pl.Series([labels[i] for i in probs.argmax(axis=1)], dtype=pl.String),
        probabilities=probability_struct(probs, labels),
        raw_probabilities=probability_struct(raw_probs, labels),
    )
    warehouse.write("exemplar_domains", labelled)
    seconds = time.perf_counter() - started
    counts = labelled.group_by("domain").len("exemplars").sort("exemplars", descending=True)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": labelled.height,
        "labeller": labeller.describe(),
        "recipe_labeller": RECIPE.curation.labeller,
        "labels": labels,
        "instructions": DOMAIN_INSTRUCTIONS,
        "max_prompt_chars": config.max_prompt_chars,
        "calibrated": calibrated,
        "label_prior": {label: round(float(p), 4) for label, p in zip(labels, prior)},
        "seconds": round(seconds, 2),
        "exemplars_per_s": round(labelled.height / seconds, 2) if labelled.height else None,
        "mean_top_probability": round(float(probs.max(axis=1).mean()), 4) if len(probs) else None,
        "labels_given": dg.MetadataValue.md(markdown_table(counts)),
    })


@dg.asset(deps=["exemplar_domains"], group_name="curation", owners=OWNERS, kinds={"polars", "parquet"})
def cluster_domains(context: dg.AssetExecutionContext, catalog: SourceCatalog, warehouse: Warehouse):
    """Each cluster's domain: the majority label of its exemplars; a tie goes to the tied label with the
    highest summed probability, then to the first in the label list. The vote counts are kept.

    On the demo corpus, whose rows have known domains, the metadata reports how well the cluster
    labels agree with them."""
    domains = vote(warehouse.read("exemplar_domains"))
    warehouse.write("cluster_domains", domains)
    counts = domains.group_by("domain").len("clusters").sort("clusters", descending=True)
    metadata = {
        "dagster/row_count": domains.height,
        "ties_broken": int(domains["tie_broken"].sum()),
        "clusters_by_domain": dg.MetadataValue.md(markdown_table(counts)),
        **_domain_chart(domains, warehouse),
    }
    if catalog.mode == "demo":
        assigned = warehouse.read("prompt_clusters").join(domains.select("cluster", "domain"), on="cluster")
        score = agreement(assigned, reference_domains(), RECIPE.curation.kept_domains)
        metadata |= {f"agreement_{key}": round(value, 4) for key, value in score.items()}
        context.log.info(f"cluster labels vs the demo corpus's known domains: {score}")
    return dg.MaterializeResult(metadata=metadata)


def _domain_chart(domains: pl.DataFrame, warehouse: Warehouse) -> dict:
    """Clusters and rows per labelled domain (the recipe's kept domains in colour), the counts beside."""
    sizes = warehouse.scan("prompt_clusters").group_by("cluster").len("rows")
    per_domain = (domains.lazy().select("cluster", "domain").join(sizes, on="cluster", how="left")
                  .group_by("domain").agg(clusters=pl.len(), rows=pl.col("rows").sum().cast(pl.Int64))
                  .sort("rows", "domain", descending=[True, False]).collect())
    kept = RECIPE.curation.kept_domains
    figure = charts.domain_bars(per_domain["domain"].to_list(), per_domain["clusters"].to_list(),
                                per_domain["rows"].to_list(), kept)
    return chart_metadata("domain_chart", figure, "clusters and rows per labelled domain",
                          per_domain.with_columns(kept=pl.col("domain").is_in(kept)))


@dg.multi_asset(
    specs=[
        dg.AssetSpec("domain_traces", deps=["raw_traces", "prompt_clusters", "cluster_domains"],
                     group_name="curation", owners=OWNERS, kinds={"polars", "parquet"},
                     description="R1 traces whose cluster is labelled with a kept domain (Medical, Biology)."),
        dg.AssetSpec("domain_rejects", deps=["raw_traces", "prompt_clusters", "cluster_domains"],
                     group_name="curation", owners=OWNERS, kinds={"polars", "parquet"},
                     description="R1 traces of clusters with another domain: the cluster and its label."),
    ],
    check_specs=[dg.AssetCheckSpec("rows_accounted", asset="domain_traces", blocking=True)],
)
def domain_traces(context: dg.AssetExecutionContext, config: DomainConfig, warehouse: Warehouse):
    """Keep the R1 traces of clusters labelled with a kept domain; every other row is rejected with
    its cluster's label as the reason."""
    traces = warehouse.scan("raw_traces", R1_SOURCES)
    # maintain_order="left": the streaming engine then streams the traces past the (small) right side;
    # without it, it may hold the traces' side of the join in memory (2.3 GB at 2 GB of text).
    labelled = traces.join(
        warehouse.scan("prompt_clusters").select("sample_id", *ROW_KEYS, "cluster"), on=["sample_id", *ROW_KEYS],
        how="left", maintain_order="left",
    ).join(warehouse.scan("cluster_domains").select("cluster", "domain"), on="cluster", how="left",
           maintain_order="left")
    missing = labelled.filter(pl.col("domain").is_null()).group_by("source").len().collect()
    if missing.height:
        raise RuntimeError(
            "rows of raw_traces without a labelled cluster: "
            + ", ".join(f"{s}: {n:,}" for s, n in missing.iter_rows())
            + ". Re-materialize prompt_embeddings for those sources, then prompt_clusters and what follows."
        )
    kept = pl.col("domain").is_in(config.kept_domains)
    with warehouse.commit("domain_traces") as stage:
        stage.sink("domain_traces", labelled.filter(kept))
        stage.sink("domain_rejects", as_rejects(
            labelled.filter(~kept).select("sample_id", *ROW_KEYS, "cluster", "domain"), "curation",
            reason=pl.format("domain {} is not kept", pl.col("domain")),
            evidence=pl.format("cluster {} labelled {}", pl.col("cluster"), pl.col("domain")),
        ))
    by_source = labelled.group_by("source").agg(
        rows=pl.len(), kept=kept.sum(), **{d: (pl.col("domain") == d).sum() for d in DOMAINS}
    ).sort("source").collect()
    yield dg.MaterializeResult(asset_key="domain_traces", metadata={
        "dagster/row_count": warehouse.count("domain_traces"),
        "rows_removed": warehouse.count("domain_rejects"),
        "kept_domains": config.kept_domains,
        "rows_by_source_and_domain": dg.MetadataValue.md(markdown_table(by_source)),
    })
    yield dg.MaterializeResult(asset_key="domain_rejects",
                               metadata={"dagster/row_count": warehouse.count("domain_rejects")})
    yield row_accounting_check("rows_accounted", "domain_traces", traces, warehouse.scan("domain_traces"),
                               warehouse.scan("domain_rejects"), ROW_KEYS)
