"""eval_responses, benchmark_scores, healthbench_scores and leaderboard, materialized with the
real embedded SmolLM2 (a few tokens per answer) on small harness files written here."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from medical_assets.assets.evaluation import benchmark_scores, eval_questions, eval_responses, leaderboard
from medical_assets.assets.healthbench import healthbench_examples, healthbench_scores
from medical_assets.models import EMBEDDED_MODEL, ModelSpec, register_model
from medical_assets.resources.eval_files import EvalFiles
from medical_assets.resources.llm import LLM, load_transformers_model
from medical_assets.resources.storage import Warehouse, WarehouseIOManager

DRUGS = ["Aspirin", "Heparin", "Warfarin", "Clopidogrel"]
FEW_TOKENS = {"max_new_tokens": 4}


def harness_rows(stems: list[str]) -> list[dict]:
    return [{"question": stem, "options": dict(zip("ABCD", DRUGS)), "answer": DRUGS[i % 4], "answer_idx": "ABCD"[i % 4]}
            for i, stem in enumerate(stems)]


@pytest.fixture(scope="module")
def llm() -> LLM:
    load_transformers_model(None, "cpu", "auto")  # the one slow load, shared with every test of the session
    return LLM(device="cpu")


@pytest.fixture
def harness(tmp_path: Path) -> Path:
    """NEJM: six questions; GPQA: two questions in three identical blocks, as the public file repeats them."""
    folder = tmp_path / "harness"
    folder.mkdir()
    nejm = harness_rows([f"Which drug is first line in case {i}?" for i in range(6)])
    gpqa = harness_rows(["Which drug inhibits vitamin K epoxide reductase?", "Which drug blocks P2Y12?"]) * 3
    (folder / "m1_eval_data.json").write_text(json.dumps({"NEJM": nejm}))
    (folder / "eval_data.json").write_text(json.dumps({"GPQA_Medical_test": gpqa}))
    return folder


class Setup:
    def __init__(self, warehouse: Warehouse, harness: Path, llm: LLM):
        self.warehouse = warehouse
        self.instance = dg.DagsterInstance.ephemeral()
        register_model(ModelSpec(EMBEDDED_MODEL), self.instance, warehouse.root)
        self.resources = {"warehouse": warehouse, "io_manager": WarehouseIOManager(warehouse=warehouse),
                          "eval_files": EvalFiles(mode="harness", directory=str(harness)), "llm": llm, "judge": llm}

    def evaluate(self, benchmark: str, model: str = EMBEDDED_MODEL, **config) -> dg.ExecuteInProcessResult:
        if not self.warehouse.exists("eval_questions", benchmark):
            dg.materialize([eval_questions], partition_key=benchmark, instance=self.instance, resources=self.resources)
        key = dg.MultiPartitionKey({"model": model, "benchmark": benchmark})
        return dg.materialize([eval_responses, benchmark_scores], partition_key=key, instance=self.instance,
                              resources=self.resources, raise_on_error=False,
                              run_config={"ops": {"eval_responses": {"config": FEW_TOKENS | config}}})

    def score(self, benchmark: str) -> dict:
        return self.warehouse.read("benchmark_scores", [f"{benchmark}|{EMBEDDED_MODEL}"]).row(0, named=True)


@pytest.fixture
def setup(warehouse: Warehouse, harness: Path, llm: LLM) -> Setup:
    return Setup(warehouse, harness, llm)


@pytest.fixture
def generate_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts LLM.generate calls (prompts per call); `calls.fail_after = k` makes call k+1 raise,
    as a crash after k stored chunks."""
    calls = _Calls()
    real = LLM.generate

    def counting(self, prompts, **kwargs):
        if calls.fail_after is not None and len(calls) >= calls.fail_after:
            raise RuntimeError("simulated crash")
        calls.append(len(prompts))
        return real(self, prompts, **kwargs)

    monkeypatch.setattr(LLM, "generate", counting)
    return calls


class _Calls(list):
    fail_after: int | None = None


def test_interrupted_run_resumes_generating_only_the_missing_chunks(setup: Setup, generate_calls, tmp_path, harness, llm):
    sampled = {"questions_per_chunk": 2, "temperature": 0.6, "seed": 3}
    generate_calls.fail_after = 1
    crashed = setup.evaluate("nejm", **sampled)
    assert not crashed.success and generate_calls == [2]
    assert not setup.warehouse.exists("eval_responses", f"nejm|{EMBEDDED_MODEL}")

    generate_calls.fail_after = None
    resumed = setup.evaluate("nejm", **sampled)
    assert resumed.success
    assert generate_calls == [2, 2, 2]  # chunks 1 and 2 only
    metadata = resumed.asset_materializations_for_node("eval_responses")[0].metadata
    assert (metadata["responses_reused"].value, metadata["responses_generated"].value) == (2, 4)
    responses = setup.warehouse.read("eval_responses")
    assert responses["question_id"].to_list() == [f"nejm:{i}" for i in range(6)]

    # The same responses as a run that never stopped: every chunk keeps its seed.
    uninterrupted = Setup(Warehouse(home=str(tmp_path / "other")), harness, llm)
    assert uninterrupted.evaluate("nejm", **sampled).success
    assert uninterrupted.warehouse.read("eval_responses")["response"].to_list() == responses["response"].to_list()


def test_changed_decoding_settings_never_reuse_stored_responses(setup: Setup, generate_calls):
    assert setup.evaluate("nejm", seed=0).success
    assert setup.evaluate("nejm", seed=0).success
    assert generate_calls == [6]  # the second run found every response stored
    assert setup.evaluate("nejm", seed=1).success
    assert generate_calls == [6, 6]
    assert setup.warehouse.read("eval_responses")["seed"].unique().to_list() == [1]


def test_models_whose_names_differ_in_punctuation_keep_their_own_responses(setup: Setup, generate_calls):
    for name in ("my model", "my_model"):  # one file name each, and neither reuses the other's responses
        register_model(ModelSpec(name), setup.instance, setup.warehouse.root)
        assert setup.evaluate("nejm", model=name).success
    assert generate_calls == [6, 6]
    responses = setup.warehouse.read("eval_responses")
    assert responses.group_by("model").len().sort("model").rows() == [("my model", 6), ("my_model", 6)]
    assert responses.group_by("model").agg(pl.col("settings_hash").n_unique())["settings_hash"].to_list() == [1, 1]
    assert responses["settings_hash"].n_unique() == 2


def test_same_partition_materialized_twice_gives_the_same_score(setup: Setup, generate_calls):
    sampled = {"temperature": 0.6, "seed": 7, "samples_per_question": 2}
    assert setup.evaluate("nejm", **sampled).success
    first = setup.score("nejm")
    first_responses = setup.warehouse.read("eval_responses")["response"].to_list()
    assert setup.evaluate("nejm", **sampled, reuse_responses=False).success
    assert generate_calls == [6, 6]  # regenerated, not reused
    assert setup.warehouse.read("eval_responses")["response"].to_list() == first_responses
    assert setup.score("nejm") == first
    assert first["responses"] == 12 and first["samples_per_question"] == 2


def test_gpqa_is_scored_over_its_rows_as_published_and_over_unique_questions(setup: Setup):
    assert setup.evaluate("gpqa_medical", temperature=0.0).success
    score = setup.score("gpqa_medical")
    graded = setup.warehouse.read("eval_responses")
    assert (score["rows"], score["unique_questions"]) == (6, 2)
    assert score["accuracy"] == graded["correct"].mean()
    # Greedy: the copies of a question get one answer, so both accuracies agree here.
    assert score["unique_accuracy"] == pytest.approx(score["accuracy"])
    assert score["ci_low"] <= score["accuracy"] <= score["ci_high"]
    assert score["unanswered"] == graded["answer"].null_count()
    assert score["model_id"].startswith("HuggingFaceTB/SmolLM2-135M-Instruct")
    assert score["revision"] and score["questions_hash"] and score["prompt_template_hash"]
    assert score["decoding"] == "temperature=0 top_p=0.9 max_new_tokens=4 samples=1 seed=0"


def test_leaderboard_puts_the_model_beside_the_card_and_names_what_is_missing(setup: Setup):
    assert setup.evaluate("gpqa_medical").success
    result = dg.materialize([leaderboard], instance=setup.instance, resources=setup.resources)
    with duckdb.connect(str(setup.warehouse.duckdb_path), read_only=True) as con:
        rows = con.execute('SELECT model, reference, GPQA, GPQA_low, Avg, Avg_stated, missing, GPQA_strict '
                           'FROM leaderboard ORDER BY reference').fetchall()
        disagreements = con.execute("SELECT count(*), count(category) FROM scorer_disagreements").fetchone()
        (differ,) = con.execute("SELECT count(*) FROM eval_responses WHERE correct <> correct_ii_medical").fetchone()
    model, reference = rows
    score = setup.score("gpqa_medical")
    assert model[0] == EMBEDDED_MODEL and model[2] == pytest.approx(100 * score["accuracy_ii_medical"])
    assert model[7] == pytest.approx(100 * score["accuracy"])
    assert score["gap_points"] == pytest.approx(100 * (score["accuracy_ii_medical"] - score["accuracy"]))
    assert disagreements == (differ, differ)  # every disagreement has its category
    assert model[4] is None and "GPQA" not in model[6] and model[6].startswith("MedMC, MedQA")
    assert reference[:3] == ("II-Medical-8B (model card)", True, 67.18)
    assert (reference[4], reference[5]) == (pytest.approx(70.432), 70.49)
    table = result.asset_materializations_for_node("leaderboard")[0].metadata["table"].value
    assert "(missing: MedMC, MedQA" in table and "*(reference)*" in table


def test_healthbench_grades_every_item_and_reports_judge_failures(setup: Setup, tmp_path: Path):
    conversation = {
        "prompt": [{"role": "user", "content": "I have had a headache for two days. What should I do?"}],
        "prompt_id": "hb-1", "example_tags": ["theme:context_seeking"],
        "rubrics": [{"criterion": "Asks how severe the headache is.", "points": 5, "tags": ["axis:context_awareness"]},
                    {"criterion": "Invents laboratory values.", "points": -4, "tags": ["axis:accuracy"]}],
    }
    (tmp_path / "hb.jsonl").write_text(json.dumps(conversation) + "\n")
    setup.resources["eval_files"] = EvalFiles(mode="harness", healthbench_file=str(tmp_path / "hb.jsonl"))
    dg.materialize([healthbench_examples], instance=setup.instance, resources=setup.resources)
    config = {"max_new_tokens": 8, "judge_max_new_tokens": 12, "judge_retries": 1}
    result = dg.materialize([healthbench_scores], partition_key=EMBEDDED_MODEL, instance=setup.instance,
                            resources=setup.resources, run_config={"ops": {"healthbench_scores": {"config": config}}})
    grades = setup.warehouse.read("healthbench_grades")
    assert grades.select("example_id", "item", "points").rows() == [("hb-1", 0, 5), ("hb-1", 1, -4)]
    assert grades["judge_failure"].to_list() == grades["met"].is_null().to_list()
    assert all(1 <= a <= 2 for a in grades["judge_attempts"])
    overall = setup.warehouse.read("healthbench_scores").filter(pl.col("scope") == "overall").row(0, named=True)
    failures = grades["judge_failure"].sum()
    assert overall["judge_failures"] == failures and overall["items"] == 2
    assert overall["examples_excluded"] == (1 if failures else 0)
    assert (overall["score"] is None) == bool(failures)  # never scored from a partial grading
    metadata = result.asset_materializations_for_node("healthbench_scores")
    assert {m.asset_key.to_user_string() for m in metadata} == {"healthbench_grades", "healthbench_scores"}


def test_max_questions_scores_the_first_rows_and_the_leaderboard_says_so(setup: Setup, generate_calls):
    assert setup.evaluate("nejm", max_questions=4).success
    assert generate_calls == [4]
    score = setup.score("nejm")
    assert (score["rows"], score["file_rows"]) == (4, 6)
    assert setup.warehouse.read("eval_responses")["question_id"].to_list() == [f"nejm:{i}" for i in range(4)]
    assert setup.evaluate("nejm").success  # every row: other settings, nothing reused
    assert generate_calls == [4, 6] and setup.score("nejm")["rows"] == 6
    assert setup.evaluate("nejm", max_questions=4).success
    dg.materialize([leaderboard], instance=setup.instance, resources=setup.resources)
    row = setup.warehouse.read("leaderboard").filter(~pl.col("reference")).row(0, named=True)
    assert row["partial"] == "NEJM (4/6)"
    assert not setup.evaluate("nejm", max_questions=0).success
