"""The curation stage as Dagster runs on small sources: embeddings (incremental),
k-means clusters, exemplars, LLM domain labels by vote, and the kept traces."""

from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest

from medical_assets.assets import curation
from medical_assets.assets.curation import R1_SOURCES
from medical_assets.core.canonical import TRACE_SCHEMA
from medical_assets.core.clustering import DOMAINS
from medical_assets.resources.embedder import Embedder
from medical_assets.resources.llm import LLM, load_transformers_model
from medical_assets.resources.sources import SourceCatalog
from medical_assets.resources.storage import Warehouse, WarehouseIOManager
from medical_assets_tests.conftest import materialize_source, write_jsonl

MEDICAL = [
    "A 54-year-old man has crushing chest pain radiating to the left arm. What is the first drug to give?",
    "Which antibiotic is first line for community-acquired pneumonia in an otherwise healthy adult?",
    "A child presents with a barking cough and stridor. What is the most likely diagnosis?",
    "What is the treatment of diabetic ketoacidosis in the emergency department?",
]
PHYSICS = [
    "A ball is thrown upward at 20 m/s. How high does it rise, ignoring air resistance?",
    "What is the force on a 2 C charge in a uniform electric field of 5 N/C?",
    "A 3 kg block slides down a frictionless incline of 30 degrees. What is its acceleration?",
    "Compute the kinetic energy of a 1,000 kg car moving at 15 m/s.",
]


def servicenow_rows(prompts: list[str]) -> list[dict]:
    """Rows in the ServiceNow R1 layout (`problem`, `<think>` inside the response)."""
    return [{"problem": p, "reannotated_assistant_content": f"<think>Let me work it out.</think>Answer {i}.",
             "solution": str(i)} for i, p in enumerate(prompts)]


@pytest.fixture(scope="module")
def labeller() -> LLM:
    load_transformers_model(None, "cpu", "auto")  # shared with the other tests of the session
    return LLM(device="cpu")


def resources(warehouse: Warehouse, labeller: LLM | None = None) -> dict:
    return {
        "warehouse": warehouse, "io_manager": WarehouseIOManager(warehouse=warehouse),
        "embedder": Embedder(device="cpu"), "labeller": labeller or LLM(device="cpu"),
        "catalog": SourceCatalog(mode="demo"),
    }


def run(warehouse: Warehouse, selection: list[str], partition: str | None = None, ops: dict | None = None,
        labeller: LLM | None = None, instance: dg.DagsterInstance | None = None) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        dg.load_assets_from_modules([curation]), selection=selection, partition_key=partition,
        resources=resources(warehouse, labeller), run_config={"ops": ops or {}},
        instance=instance or dg.DagsterInstance.ephemeral(), raise_on_error=False,
    )


def ingest(warehouse: Warehouse, tmp_path: Path, prompts: list[str], source: str = "servicenow_r1") -> None:
    path = write_jsonl(tmp_path / f"{source}.jsonl", servicenow_rows(prompts))
    assert materialize_source(warehouse, source, {"path": str(path)}).success


def metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    events = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(asset)]
    return {key: value.value for key, value in events[-1].materialization.metadata.items()}


def test_embeddings_are_unit_float32_vectors_of_384_dimensions(warehouse, tmp_path):
    ingest(warehouse, tmp_path, MEDICAL)
    assert run(warehouse, ["prompt_embeddings"], "servicenow_r1").success
    table = warehouse.read("prompt_embeddings", ["servicenow_r1"])
    assert table.schema["embedding"] == pl.Array(pl.Float32, 384)
    vectors = table["embedding"].to_numpy()
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    assert table["sample_id"].to_list() == warehouse.read("raw_traces", ["servicenow_r1"])["sample_id"].to_list()


def test_a_grown_source_embeds_only_its_new_rows(warehouse, tmp_path):
    ingest(warehouse, tmp_path, MEDICAL[:3])
    first = run(warehouse, ["prompt_embeddings"], "servicenow_r1")
    assert metadata(first, "prompt_embeddings")["rows_embedded"] == 3
    before = warehouse.read("prompt_embeddings", ["servicenow_r1"])
    again = run(warehouse, ["prompt_embeddings"], "servicenow_r1")
    assert (metadata(again, "prompt_embeddings")["rows_reused"], metadata(again, "prompt_embeddings")["rows_embedded"]) == (3, 0)
    ingest(warehouse, tmp_path, MEDICAL[:3] + PHYSICS[:2])
    grown = run(warehouse, ["prompt_embeddings"], "servicenow_r1")
    assert (metadata(grown, "prompt_embeddings")["rows_reused"], metadata(grown, "prompt_embeddings")["rows_embedded"]) == (3, 2)
    after = warehouse.read("prompt_embeddings", ["servicenow_r1"])
    assert after.height == 5
    kept = after.join(before, on="sample_id", suffix="_before")
    assert kept.height == 3 and (kept["embedding"].to_numpy() == kept["embedding_before"].to_numpy()).all()


def test_asking_for_more_clusters_than_prompts_fails_the_run_with_the_reason(warehouse, tmp_path):
    ingest(warehouse, tmp_path, MEDICAL)
    _embed_every_r1_source(warehouse, tmp_path, only="servicenow_r1")
    result = run(warehouse, ["prompt_clusters"], ops={"prompt_clusters": {"config": {"n_clusters": 5}}})
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "cannot make 5 clusters of 4 rows" in str(failure.event_specific_data.error)


def _embed_every_r1_source(warehouse: Warehouse, tmp_path: Path, only: str) -> None:
    """Clustering reads every R1 source: the others have no rows here."""
    for source in R1_SOURCES:
        if source != only:
            warehouse.write("raw_traces", pl.DataFrame(schema=TRACE_SCHEMA), source)
        assert run(warehouse, ["prompt_embeddings"], source).success


def test_the_stage_labels_clusters_and_keeps_the_rows_of_kept_domains(warehouse, tmp_path, labeller):
    ingest(warehouse, tmp_path, MEDICAL + PHYSICS)
    _embed_every_r1_source(warehouse, tmp_path, only="servicenow_r1")
    ops = {"prompt_clusters": {"config": {"n_clusters": 2, "seed": 3}},
           "cluster_exemplars": {"config": {"per_cluster": 3}}}
    result = run(warehouse, ["prompt_clusters", "cluster_exemplars", "exemplar_domains", "cluster_domains"],
                 ops=ops, labeller=labeller)
    assert result.success

    clusters = warehouse.read("prompt_clusters")
    assert clusters.height == 8 and set(clusters["cluster"]) == {0, 1}
    exemplars = warehouse.read("cluster_exemplars")
    assert exemplars.group_by("cluster").len()["len"].to_list() == [3, 3]

    labels = warehouse.read("exemplar_domains")
    assert set(labels["domain"]) <= set(DOMAINS)  # the labeller cannot answer outside the set
    probabilities = labels.unnest("probabilities").select(DOMAINS).to_numpy()
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-4)
    labelled = metadata(result, "exemplar_domains")
    assert labelled["labeller"]["backend"] == "transformers" and labelled["calibrated"]

    domains = warehouse.read("cluster_domains")
    assert domains.height == 2 and all(sum(v.values()) == 3 for v in domains["votes"])

    # Keep whatever the first cluster was labelled: its rows are kept, the others rejected with the label.
    kept_label = domains.sort("cluster")["domain"][0]
    kept_clusters = set(domains.filter(pl.col("domain") == kept_label)["cluster"])
    selected = run(warehouse, ["domain_traces", "domain_rejects"],
                   ops={"domain_traces": {"config": {"kept_domains": [kept_label]}}})
    assert selected.success
    check = selected.get_asset_check_evaluations()[0]
    assert check.passed and check.metadata["rows_in"].value == 8
    kept = warehouse.read("domain_traces")
    assert set(kept["cluster"]) == kept_clusters
    assert kept.height == clusters.filter(pl.col("cluster").is_in(kept_clusters)).height
    for stage, reason, evidence, domain, cluster in warehouse.read("domain_rejects").select(
            "stage", "reason", "evidence", "domain", "cluster").iter_rows():
        assert domain != kept_label and stage == "curation" and reason == f"domain {domain} is not kept"
        assert evidence == f"cluster {cluster} labelled {domain}"


def test_rows_ingested_after_clustering_fail_the_selection_with_what_to_rerun(warehouse, tmp_path, labeller):
    ingest(warehouse, tmp_path, MEDICAL[:2] + PHYSICS[:2])
    _embed_every_r1_source(warehouse, tmp_path, only="servicenow_r1")
    ops = {"prompt_clusters": {"config": {"n_clusters": 1}}, "cluster_exemplars": {"config": {"per_cluster": 1}}}
    assert run(warehouse, ["prompt_clusters", "cluster_exemplars", "exemplar_domains", "cluster_domains"],
               ops=ops, labeller=labeller).success
    ingest(warehouse, tmp_path, MEDICAL[:2] + PHYSICS[:3])
    result = run(warehouse, ["domain_traces", "domain_rejects"])
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "servicenow_r1: 1" in str(failure.event_specific_data.error)


def test_kept_domains_outside_the_label_set_are_refused(warehouse):
    result = run(warehouse, ["domain_traces", "domain_rejects"],
                 ops={"domain_traces": {"config": {"kept_domains": ["Medicine"]}}})
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "['Medicine']" in str(failure.event_specific_data.error)


def test_the_clustered_matrix_holds_every_partitions_vectors_beside_their_keys(warehouse):
    rng = np.random.default_rng(0)
    frames = []
    for source, rows in zip(R1_SOURCES[:2], (5_000, 3_000)):  # 5,000 rows: two row groups
        frame = pl.DataFrame({"sample_id": [f"{source}-{i}" for i in range(rows)], "source": source,
                              "source_row": np.arange(rows), "embedder": "e",
                              "embedding": rng.standard_normal((rows, 4)).astype(np.float32)},
                             schema_overrides={"embedding": pl.Array(pl.Float32, 4)})
        warehouse.write("prompt_embeddings", frame, source)
        frames.append(frame)
    keys, vectors = curation._embedding_matrix(warehouse, R1_SOURCES[:2])
    expected = pl.concat(frames)
    assert vectors.dtype == np.float32 and vectors.shape == (8_000, 4)
    assert keys.equals(expected.select("sample_id", "source", "source_row"))
    np.testing.assert_array_equal(vectors, expected["embedding"].to_numpy())
