import math

import numpy as np
import polars as pl
import pytest

from medical_assets.core.clustering import (
    DOMAIN_INSTRUCTIONS, DOMAINS, agreement, domain_prompt, label_probabilities, nearest_exemplars,
    probability_struct, spherical_kmeans, vote,
)


def unit_rows(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def planted_groups(per_group: int = 50, dim: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three tight groups around orthogonal directions."""
    rng = np.random.default_rng(seed)
    centres = np.eye(dim)[:3]
    truth = np.repeat(np.arange(3), per_group)
    return unit_rows(centres[truth] + 0.05 * rng.normal(size=(truth.size, dim))), truth


def test_same_seed_gives_the_same_clusters():
    rng = np.random.default_rng(1)
    vectors = unit_rows(rng.normal(size=(600, 32)))
    first = spherical_kmeans(vectors, 12, seed=7, niter=10)
    second = spherical_kmeans(vectors, 12, seed=7, niter=10)
    assert np.array_equal(first.assignment, second.assignment)
    assert np.array_equal(first.centroids, second.centroids)
    assert first.inertia == second.inertia
    assert first.backend == "faiss-cpu"


def test_planted_groups_are_recovered():
    vectors, truth = planted_groups()
    result = spherical_kmeans(vectors, 3, seed=0)
    # One cluster per planted group, whatever the numbering.
    pairs = set(zip(truth.tolist(), result.assignment.tolist()))
    assert len(pairs) == 3 and len({c for _, c in pairs}) == 3


def test_distance_is_the_cosine_distance_to_the_assigned_centroid():
    vectors, _ = planted_groups()
    result = spherical_kmeans(vectors, 3, seed=0)
    assert np.allclose(np.linalg.norm(result.centroids, axis=1), 1, atol=1e-5)
    expected = 1 - (vectors * result.centroids[result.assignment]).sum(axis=1)
    assert np.allclose(result.distance, expected, atol=1e-5)
    assert math.isclose(result.inertia, float((2 * expected).sum()), rel_tol=1e-4)


def test_more_clusters_than_rows_is_an_error():
    vectors, _ = planted_groups(per_group=2)
    with pytest.raises(ValueError, match="cannot make 7 clusters of 6 rows"):
        spherical_kmeans(vectors, 7, seed=0)


def test_clustering_nothing_is_an_error():
    with pytest.raises(ValueError, match="nothing to cluster"):
        spherical_kmeans(np.zeros((0, 384), dtype=np.float32), 2, seed=0)


def test_nearest_exemplars_take_the_closest_rows_of_each_cluster():
    clusters = pl.DataFrame({
        "sample_id": ["a", "b", "c", "d", "e", "f"],
        "cluster": [0, 0, 0, 0, 1, 1],
        "distance": [0.40, 0.05, 0.30, 0.10, 0.2, 0.1],
    })
    exemplars = nearest_exemplars(clusters, per_cluster=2)
    assert exemplars.select("cluster", "sample_id", "rank", "cluster_size").rows() == [
        (0, "b", 1, 4), (0, "d", 2, 4), (1, "f", 1, 2), (1, "e", 2, 2),
    ]


def test_a_cluster_smaller_than_the_quota_gives_all_its_rows():
    clusters = pl.DataFrame({"sample_id": ["a", "b", "c"], "cluster": [0, 1, 1], "distance": [0.3, 0.2, 0.1]})
    exemplars = nearest_exemplars(clusters, per_cluster=10)
    assert exemplars.group_by("cluster").len().sort("cluster").rows() == [(0, 1), (1, 2)]


def test_equal_distances_are_ordered_by_sample_id_not_row_order():
    clusters = pl.DataFrame({"sample_id": ["z", "y", "x"], "cluster": [0, 0, 0], "distance": [0.1, 0.1, 0.1]})
    assert nearest_exemplars(clusters, per_cluster=2)["sample_id"].to_list() == ["x", "y"]


def labelled(rows: list[tuple[int, str, dict[str, float]]], labels=("Medical", "Biology", "Other")) -> pl.DataFrame:
    probabilities = np.array([[p.get(label, 0.0) for label in labels] for _, _, p in rows])
    return pl.DataFrame({"cluster": [c for c, _, _ in rows], "domain": [d for _, d, _ in rows]}).with_columns(
        probability_struct(probabilities, labels)
    )


def test_the_majority_label_wins_and_the_votes_are_kept():
    exemplars = labelled([
        (0, "Medical", {"Medical": 0.6}), (0, "Medical", {"Medical": 0.5}), (0, "Biology", {"Biology": 0.9}),
    ])
    result = vote(exemplars, ("Medical", "Biology", "Other")).row(0, named=True)
    assert result["domain"] == "Medical"
    assert result["votes"] == {"Medical": 2, "Biology": 1, "Other": 0}
    assert result["winning_votes"] == 2 and result["exemplars"] == 3 and not result["tie_broken"]


def test_a_tie_goes_to_the_label_with_more_summed_probability():
    exemplars = labelled([
        (0, "Medical", {"Medical": 0.50, "Biology": 0.45}),
        (0, "Biology", {"Medical": 0.10, "Biology": 0.85}),
        (0, "Medical", {"Medical": 0.40, "Biology": 0.35}),
        (0, "Biology", {"Medical": 0.20, "Biology": 0.75}),
    ])
    result = vote(exemplars, ("Medical", "Biology", "Other")).row(0, named=True)
    assert result["domain"] == "Biology"  # 2-2 in votes; 2.40 vs 1.20 in probability
    assert result["tie_broken"]


def test_a_complete_tie_goes_to_the_label_listed_first():
    exemplars = labelled([(0, "Other", {"Other": 0.5, "Biology": 0.5}), (0, "Biology", {"Other": 0.5, "Biology": 0.5})])
    assert vote(exemplars, ("Medical", "Biology", "Other"))["domain"].item() == "Biology"


def test_probabilities_are_renormalized_over_the_label_set():
    probabilities = label_probabilities([{"a": math.log(0.2), "b": math.log(0.05)}], ["a", "b"])
    assert np.allclose(probabilities, [[0.8, 0.2]])


def test_a_hard_choice_becomes_one_hot():
    probabilities = label_probabilities([{"a": -math.inf, "b": 0.0, "c": -math.inf}], ["a", "b", "c"])
    assert probabilities.tolist() == [[0.0, 1.0, 0.0]]


def test_every_labelling_prompt_shares_the_instructions_and_cuts_long_questions():
    first, second = domain_prompt("What causes anemia?", 100), domain_prompt("x" * 500, 100)
    assert first[0] == second[0] == {"role": "system", "content": DOMAIN_INSTRUCTIONS}
    assert "What causes anemia?" in first[1]["content"]
    assert "x" * 100 + " ..." in second[1]["content"] and "x" * 101 not in second[1]["content"]
    assert all(label in DOMAIN_INSTRUCTIONS for label in DOMAINS)


def test_agreement_counts_matching_labels_and_the_kept_set():
    assigned = pl.DataFrame({"source": ["s"] * 4, "source_row": [0, 1, 2, 3],
                             "domain": ["Medical", "Biology", "Physics", "Medical"]})
    reference = pl.DataFrame({"source": ["s"] * 4, "source_row": [0, 1, 2, 3],
                              "domain": ["Medical", "Physics", "Physics", "Biology"]})
    score = agreement(assigned, reference, ["Medical", "Biology"])
    assert score == {"rows": 4, "accuracy": 0.5, "kept_precision": 2 / 3, "kept_recall": 1.0}


def test_purity_is_what_a_perfect_labeller_could_reach_with_these_clusters():
    assigned = pl.DataFrame({"source": ["s"] * 4, "source_row": [0, 1, 2, 3], "cluster": [0, 0, 0, 1],
                             "domain": ["Physics"] * 4})
    reference = pl.DataFrame({"source": ["s"] * 4, "source_row": [0, 1, 2, 3],
                              "domain": ["Medical", "Medical", "Biology", "Physics"]})
    score = agreement(assigned, reference, ["Medical"])
    assert score["cluster_purity"] == 0.75 and score["accuracy"] == 0.25
