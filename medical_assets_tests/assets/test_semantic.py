"""The third decontamination step as Dagster runs it: rephrased eval questions flagged (report) or
removed (remove) with their evidence, the vectors reused on the next run, the judge optional."""

import dagster as dg
import polars as pl
import pytest

from medical_assets.assets import decontamination, semantic
from medical_assets.assets.audit import create_audit_views
from medical_assets.core.eval_questions import EVAL_QUESTION_SCHEMA, OPTION
from medical_assets.core.healthbench import EXAMPLE_SCHEMA
from medical_assets.resources.embedder import Embedder
from medical_assets.resources.llm import LLM, load_transformers_model
from medical_assets.resources.storage import Warehouse, WarehouseIOManager

QUESTION = ("A 58-year-old man has had painless jaundice and weight loss for 2 months. A CT scan shows a mass in the "
            "head of the pancreas. Which tumour marker is most useful to follow him?")
PROMPTS = {
    "rephrased": "Help me with this: a man aged 58 with 2 months of painless jaundice plus weight loss; CT reveals a "
                 "mass of the pancreatic head. Which tumor marker helps most to follow him up?",
    "same_topic": "Explain why pancreatic cancer often presents late, and the role of imaging in staging it.",
    "unrelated": "A ball is thrown upward at 20 m/s. How high does it rise, ignoring air resistance?",
}


def _questions(texts: list[str]) -> pl.DataFrame:
    return pl.DataFrame({
        "benchmark": "medqa", "question_id": [f"medqa:{i}" for i in range(len(texts))], "position": range(len(texts)),
        "question": texts,
        "options": [[{"letter": "A", "text": "CA 19-9"}, {"letter": "B", "text": "AFP"}]] * len(texts),
        "answer_idx": "A", "question_as_loaded": texts, "options_as_loaded": [[]] * len(texts),
    }, schema={**EVAL_QUESTION_SCHEMA, "options_as_loaded": pl.List(OPTION)})


@pytest.fixture
def candidates(warehouse: Warehouse) -> Warehouse:
    warehouse.write("eval_questions", _questions([QUESTION, "Which vitamin deficiency causes scurvy?"]),
                    partition="medqa")
    warehouse.write("healthbench_examples", pl.DataFrame(schema=EXAMPLE_SCHEMA))
    warehouse.write("quality_traces", pl.DataFrame({
        "sample_id": list(PROMPTS), "source": "am_r1", "source_row": range(len(PROMPTS)), "part": "curated_r1",
        "prompt": list(PROMPTS.values()), "response": "CA 19-9.",
    }))
    for table in ("ngram_matches", "fuzzy_matches"):  # the other two steps found nothing
        warehouse.write(table, pl.DataFrame(schema={"sample_id": pl.String, "benchmark": pl.String,
                                                    "question_id": pl.String, "ngram": pl.String, "score": pl.Float64,
                                                    "prompt_chars": pl.Int64, "question_chars": pl.Int64}))
    return warehouse


def _run(warehouse: Warehouse, config: dict, labeller: LLM | None = None) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [semantic.semantic_matches, decontamination.decontaminated_traces],
        resources={"warehouse": warehouse, "io_manager": WarehouseIOManager(warehouse=warehouse),
                   "embedder": Embedder(device="cpu"), "labeller": labeller or LLM(device="cpu")},
        run_config={"ops": {"semantic_matches": {"config": config}}}, instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def _metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    events = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(asset)]
    return {key: value.value for key, value in events[-1].materialization.metadata.items()}


def test_report_mode_flags_the_rephrasing_with_its_evidence_and_keeps_it(candidates: Warehouse):
    result = _run(candidates, {})
    assert result.success
    matches = candidates.read("semantic_matches")
    flagged = matches.filter(pl.col("verdict") == "rephrasing")
    assert flagged.select("sample_id", "question_id").rows() == [("rephrased", "medqa:0")]
    assert flagged["cosine"][0] >= 0.75 and flagged["numbers"][0] == 1.0 and "pancre" in flagged["shared_words"][0]
    assert not matches["removes"].any() and matches["judge_same"].is_null().all()
    assert candidates.count("decontaminated_traces") == len(PROMPTS)  # report: nothing leaves
    assert "flagged_samples" in create_audit_views(candidates)
    (row,) = candidates.query("SELECT sample_id, reason, evidence FROM flagged_samples").rows()
    assert row[:2] == ("rephrased", "suspected rephrasing") and row[2].startswith("cosine 0.")
    meta = _metadata(result, "semantic_matches")
    assert meta["flagged_samples"] == 1 and meta["prompts_embedded"] == 3 and meta["eval_texts_embedded"] == 2


def test_remove_mode_removes_the_rephrasing_as_a_semantic_rejection(candidates: Warehouse):
    assert _run(candidates, {}).success
    result = _run(candidates, {"mode": "remove"})
    assert result.success
    meta = _metadata(result, "semantic_matches")
    assert meta["prompts_embedded"] == 0 and meta["prompt_vectors_reused"] == 3 and meta["eval_texts_embedded"] == 0
    kept = set(candidates.read("decontaminated_traces")["sample_id"])
    assert kept == {"same_topic", "unrelated"}
    rejects = candidates.read("decontamination_rejects")
    assert rejects.select("sample_id", "stage", "reason").rows() == [("rephrased", "semantic", "rephrases medqa medqa:0")]
    assert rejects["evidence"][0].startswith("cosine 0.")
    create_audit_views(candidates)
    assert candidates.query("SELECT sample_id, stage, benchmark FROM removed_samples WHERE stage = 'semantic'").rows() \
        == [("rephrased", "semantic", "medqa")]
    assert candidates.query("SELECT count(*) FROM flagged_samples").item() == 0


def test_a_changed_question_is_embedded_again_and_the_others_reused(candidates: Warehouse):
    assert _run(candidates, {}).success
    candidates.write("eval_questions", _questions([QUESTION, "Which vitamin deficiency causes pellagra?"]),
                     partition="medqa")
    meta = _metadata(_run(candidates, {}), "semantic_matches")
    assert meta["eval_texts_embedded"] == 1 and meta["prompts_embedded"] == 0


def test_a_floor_above_every_pair_flags_nothing(candidates: Warehouse):
    assert _run(candidates, {"cosine_floor": 0.999}).success
    assert candidates.count("semantic_matches") == 0
    assert candidates.count("decontaminated_traces") == len(PROMPTS)


def test_the_judge_rules_need_the_judge():
    with pytest.raises(ValueError, match="set judge: true"):
        semantic.SemanticConfig(rule="judge")


def test_the_labeller_judges_each_close_pair_when_configured(candidates: Warehouse):
    load_transformers_model(None, "cpu", "auto")  # the embedded SmolLM2, shared with the other tests
    config = {"judge": True, "rule": "signals_and_judge", "judge_threshold": 0.0}
    result = _run(candidates, config, LLM(device="cpu"))
    assert result.success
    matches = candidates.read("semantic_matches")
    assert matches.height and matches["judge_same"].is_between(0, 1).all()
    assert set(matches.filter(pl.col("verdict") == "rephrasing")["sample_id"]) == {"rephrased"}
    assert _metadata(result, "semantic_matches")["judge"]["backend"] == "transformers"


def test_stored_vectors_of_prompts_no_longer_among_the_candidates_are_skipped(candidates: Warehouse):
    """A source whose every row left before decontamination still has its prompt_embeddings partition:
    its vectors are read and none of them searched (an empty match of a vector table must not fail)."""
    embedder = Embedder(device="cpu")
    info = embedder.describe()
    name = f"{info['model']} ({info['precision']})"
    schema = {"sample_id": pl.String, "source": pl.String, "source_row": pl.Int64, "embedder": pl.String,
              "embedding": pl.Array(pl.Float32, info["dimension"])}
    with candidates.writer("prompt_embeddings", "servicenow_r1", schema) as out:
        out.write(pl.DataFrame({"sample_id": ["gone-1", "gone-2"], "source": "servicenow_r1", "source_row": [0, 1],
                                "embedder": name}).with_columns(
            embedding=pl.Series(embedder.encode(["a removed prompt", "another"]), dtype=schema["embedding"])))
    result = _run(candidates, {})
    assert result.success
    meta = _metadata(result, "semantic_matches")
    assert meta["prompt_vectors_reused"] == 0 and meta["prompts_embedded"] == len(PROMPTS)
