"""Curation of the R1 traces (recipe, "Curation of the R1 traces"): cluster the
prompt embeddings with k-means, take the prompts nearest each centre, label
their domain with an LLM over a closed set of labels, and give each cluster
the majority label of its exemplars.

Plain functions on numpy arrays and Polars frames; the LLM call itself is the
caller's (an `LLM.choose` over `DOMAINS`, which cannot answer outside them).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import polars as pl

DOMAINS: tuple[str, ...] = (
    "Medical", "Biology", "Chemistry", "Physics", "Mathematics", "Computer Science", "Other",
)

# The shared prefix of every labelling call (a server's prefix cache reuses it);
# only the question after it changes.
DOMAIN_INSTRUCTIONS = (
    "You sort exam and homework questions by the academic domain they belong to. "
    "The domains are: " + ", ".join(DOMAINS) + ". "
    "Medical: clinical medicine, diagnosis, treatment, drugs, patients, public health. "
    "Biology: cells, genetics, physiology, ecology, evolution, biochemistry of living things. "
    "Chemistry: reactions, molecules, elements, stoichiometry. Physics: forces, energy, fields, motion. "
    "Mathematics: proofs, equations, numbers, geometry, probability. "
    "Computer Science: programming, algorithms, software. Other: anything else. "
    "Reply with the domain's name only."
)


@dataclass(frozen=True)
class KMeansResult:
    centroids: np.ndarray  # [k, d] float32, unit rows
    assignment: np.ndarray  # [n] int64, the nearest centroid of each row
    distance: np.ndarray  # [n] float32, cosine distance (1 - cos) to that centroid
    inertia: float  # sum of squared L2 distances to the assigned centroids
    backend: str  # "faiss-gpu" or "faiss-cpu"
    seconds: float


def spherical_kmeans(
    vectors: np.ndarray,
    n_clusters: int,
    *,
    seed: int,
    niter: int = 20,
    gpu: bool | None = None,
    max_points_per_centroid: int = 256,
) -> KMeansResult:
    """Spherical k-means of unit vectors with faiss (recipe step 2: 50,000 clusters).

    `gpu=None` uses faiss-gpu when a GPU build and a device are present. The same
    vectors, `n_clusters`, `seed` and backend give the same clusters. Like faiss,
    training samples at most `max_points_per_centroid * n_clusters` rows (seeded);
    every row is then assigned. Distances are cosine distances (centroids are
    unit vectors), in [0, 2].
    """
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[0] == 0:
        raise ValueError(f"nothing to cluster: got an array of shape {vectors.shape}; embed some prompts first")
    n, dim = vectors.shape
    if not 1 <= n_clusters <= n:
        raise ValueError(
            f"cannot make {n_clusters:,} clusters of {n:,} rows: n_clusters must be between 1 and the number of "
            "rows (the recipe's 50,000 is for millions of prompts; set a smaller n_clusters for small data)"
        )
    if gpu is None:
        gpu = hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0
    started = time.perf_counter()
    kmeans = faiss.Kmeans(
        dim, n_clusters, niter=niter, seed=seed, spherical=True, gpu=bool(gpu), verbose=False,
        max_points_per_centroid=max_points_per_centroid, min_points_per_centroid=1,
    )
    kmeans.train(vectors)
    similarity, nearest = kmeans.index.search(vectors, 1)  # inner product index for spherical k-means
    similarity = np.clip(similarity[:, 0], -1.0, 1.0)
    distance = (1.0 - similarity).astype(np.float32)
    return KMeansResult(
        centroids=kmeans.centroids.copy(),
        assignment=nearest[:, 0].astype(np.int64),
        distance=distance,
        inertia=float((2.0 * distance.astype(np.float64)).sum()),  # |x - c|^2 = 2 - 2 cos for unit x, c
        backend="faiss-gpu" if gpu else "faiss-cpu",
        seconds=time.perf_counter() - started,
    )


def nearest_exemplars(clusters: pl.DataFrame, per_cluster: int) -> pl.DataFrame:
    """The `per_cluster` rows nearest each centroid (recipe step 3: 10), all rows of a smaller cluster.

    `clusters` has `cluster`, `distance` and `sample_id`; equal distances are
    ordered by `sample_id`, so the choice never depends on row order. Adds
    `rank` (1 = nearest) and `cluster_size`.
    """
    if per_cluster < 1:
        raise ValueError(f"per_cluster={per_cluster}: take at least one exemplar per cluster")
    return (
        clusters.sort("cluster", "distance", "sample_id")
        .with_columns(
            rank=pl.int_range(1, pl.len() + 1, dtype=pl.UInt32).over("cluster"),
            cluster_size=pl.len().over("cluster").cast(pl.UInt32),
        )
        .filter(pl.col("rank") <= per_cluster)
    )


def domain_prompt(question: str, max_chars: int) -> list[dict[str, str]]:
    """The labelling conversation for one exemplar: the shared instructions, then the question
    (cut to `max_chars`: the opening of a prompt says its domain)."""
    text = question if len(question) <= max_chars else question[:max_chars] + " ..."
    return [
        {"role": "system", "content": DOMAIN_INSTRUCTIONS},
        {"role": "user", "content": f"Question:\n{text}\n\nWhich domain is this question from?"},
    ]


def label_probabilities(log_probs: Sequence[dict[str, float]], labels: Sequence[str]) -> np.ndarray:
    """[n, len(labels)] probabilities renormalized over the closed set (softmax of the
    choices' log-probabilities); a hard choice (0 and -inf) becomes one-hot."""
    scores = np.array([[row[label] for label in labels] for row in log_probs], dtype=np.float64)
    if scores.size == 0:
        return np.zeros((0, len(labels)))
    scores -= scores.max(axis=1, keepdims=True)
    weights = np.exp(scores)
    return weights / weights.sum(axis=1, keepdims=True)


CONTENT_FREE_QUESTIONS = ("N/A", "", "[MASK]")


def calibrate(probabilities: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Contextual calibration (Zhao et al., 2021, "Calibrate before use"): divide each row by the
    labeller's prior over the labels, measured on content-free questions (`CONTENT_FREE_QUESTIONS`),
    and renormalize. A small model leans to a few labels whatever the question; this removes the lean.
    A prior with a zero (a hard-choice backend) cannot calibrate: the input is returned as it was."""
    prior = np.asarray(prior, dtype=np.float64)
    if probabilities.size == 0 or (prior <= 0).any():
        return probabilities
    weights = probabilities / prior
    return weights / weights.sum(axis=1, keepdims=True)


def probability_struct(probabilities: np.ndarray, labels: Sequence[str]) -> pl.Series:
    """The per-label probabilities as one Struct column, a field per label."""
    return pl.DataFrame(
        {label: probabilities[:, j].astype(np.float32) for j, label in enumerate(labels)},
        schema={label: pl.Float32 for label in labels},
    ).to_struct("probabilities")


def vote(exemplar_domains: pl.DataFrame, labels: Sequence[str] = DOMAINS) -> pl.DataFrame:
    """Each cluster's domain: the label most of its exemplars got (recipe step 3).

    Ties go to the tied label with the highest probability summed over the
    cluster's exemplars (how strongly the labeller leaned to it, votes or not);
    if that ties too, to the label listed first in `labels`.

    `exemplar_domains` has `cluster`, `domain` and the Struct `probabilities`.
    Returns one row per cluster: `domain`, `exemplars`, `votes` (a Struct of
    counts, one field per label), `winning_votes`, `tie_broken`.
    """
    order = {label: i for i, label in enumerate(labels)}
    per_label = (
        exemplar_domains.unnest("probabilities")
        .group_by("cluster")
        .agg(
            exemplars=pl.len().cast(pl.UInt32),
            **{f"votes:{l}": (pl.col("domain") == l).sum().cast(pl.UInt32) for l in labels},
            **{f"mass:{l}": pl.col(l).cast(pl.Float64).sum() for l in labels},
        )
    )
    long = per_label.unpivot(
        index=["cluster", "exemplars"], on=[f"votes:{l}" for l in labels], variable_name="label", value_name="votes",
    ).with_columns(pl.col("label").str.strip_prefix("votes:"))
    mass = per_label.unpivot(
        index="cluster", on=[f"mass:{l}" for l in labels], variable_name="label", value_name="mass",
    ).with_columns(pl.col("label").str.strip_prefix("mass:"))
    ranked = (
        long.join(mass, on=["cluster", "label"])
        .with_columns(order=pl.col("label").replace_strict(order, return_dtype=pl.UInt32))
        .sort(["cluster", "votes", "mass", "order"], descending=[False, True, True, False])
    )
    winners = ranked.group_by("cluster", maintain_order=True).agg(
        domain=pl.col("label").first(),
        winning_votes=pl.col("votes").first(),
        tie_broken=(pl.col("votes") == pl.col("votes").max()).sum() > 1,
    )
    votes = per_label.select(
        "cluster", "exemplars",
        pl.struct([pl.col(f"votes:{l}").alias(l) for l in labels]).alias("votes"),
    )
    return winners.join(votes, on="cluster").select(
        "cluster", "domain", "exemplars", "votes", "winning_votes", "tie_broken",
    ).sort("cluster")


def agreement(assigned: pl.DataFrame, reference: pl.DataFrame, kept: Sequence[str]) -> dict[str, float]:
    """How well cluster labels match known domains, on rows present in both frames.

    Both frames have `source`, `source_row` and `domain`. Returns the share of
    rows whose cluster label equals the reference, and precision/recall of the
    kept set (rows labelled one of `kept`) against the reference's kept set.
    With a `cluster` column in `assigned`, also the clusters' purity: the
    accuracy a perfect labeller could reach with these clusters (each labelled
    with its most common reference domain), which separates clustering errors
    from labelling errors.
    """
    joined = assigned.join(reference, on=["source", "source_row"], suffix="_reference")
    if joined.height == 0:
        return {"rows": 0}
    label_kept = joined["domain"].is_in(list(kept))
    truly_kept = joined["domain_reference"].is_in(list(kept))
    both = int((label_kept & truly_kept).sum())
    score = {
        "rows": joined.height,
        "accuracy": float((joined["domain"] == joined["domain_reference"]).mean()),
        "kept_precision": both / max(int(label_kept.sum()), 1),
        "kept_recall": both / max(int(truly_kept.sum()), 1),
    }
    if "cluster" in joined.columns:
        most_common = joined.group_by("cluster", "domain_reference").len().group_by("cluster").agg(pl.col("len").max())
        score["cluster_purity"] = int(most_common["len"].sum()) / joined.height
    return score
