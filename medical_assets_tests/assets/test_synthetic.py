"""Synthetic QA traces as Dagster runs: seed questions drawn with a seed, answers checked
against the gold option, retries and rejects accounted for, resume after a crash."""

from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from medical_assets.assets import synthetic
from medical_assets.resources.llm import LLM, load_transformers_model
from medical_assets.resources.storage import Warehouse, WarehouseIOManager
from medical_assets_tests.conftest import materialize_source, write_jsonl

SEEDS = [  # MedQA seed layout: question, options {letter: text}, answer_idx
    {"question": "Which vitamin deficiency causes scurvy?", "options": {"A": "Vitamin C", "B": "Vitamin D"}, "answer_idx": "A"},
    {"question": "Which organ secretes insulin?", "options": {"A": "Liver", "B": "Pancreas"}, "answer_idx": "B"},
    {"question": "Which drug reverses heparin?", "options": {"A": "Protamine", "B": "Vitamin K"}, "answer_idx": "A"},
    {"question": "First-line drug for anaphylaxis?", "options": {"A": "Epinephrine", "B": "Atropine"}, "answer_idx": "A"},
    {"question": "Where is this answer?", "options": {"A": "Here", "B": "There"}, "answer_idx": "C"},
]
CALLS: list[int] = []  # questions per generate call of the scripted generator


class ScriptedGenerator(LLM):
    """Answers from a script: for each question (found by a phrase of it), the reply of each attempt.
    `crash_after_calls` raises on that call, as a crashing generation would."""

    replies: dict[str, list[str]]
    crash_after_calls: int | None = None

    def generate(self, prompts, *, max_new_tokens, temperature, top_p, seed, n=1):
        if self.crash_after_calls is not None and len(CALLS) >= self.crash_after_calls:
            raise RuntimeError("generator crashed")
        CALLS.append(len(prompts))
        attempt = seed  # the config's seed is 0: attempt k samples with seed k
        out = []
        for prompt in prompts:
            phrase = next(p for p in self.replies if p in prompt)
            out.append([self.replies[phrase][min(attempt, len(self.replies[phrase]) - 1)]] * n)
        return out

    def describe(self):
        return {"backend": "scripted", "model": "script"}


REPLIES = {
    "scurvy": ["<think>Collagen synthesis needs ascorbate.</think>\\boxed{A}"],
    "insulin": ["\\boxed{A}", "<think>Beta cells.</think>The answer is \\boxed{B}"],  # right on the second try
    "heparin": ["I am not sure.", "Maybe \\boxed{B}"],  # never right
    "anaphylaxis": ["\\boxed{Epinephrine}"],
}


@pytest.fixture
def seeded(warehouse: Warehouse, tmp_path: Path) -> Warehouse:
    path = write_jsonl(tmp_path / "medqa_seed.jsonl", SEEDS)
    assert materialize_source(warehouse, "medqa_seed", {"path": str(path)}).success
    CALLS.clear()
    return warehouse


def run(warehouse: Warehouse, selection: list[str], generator: LLM, ops: dict | None = None):
    return dg.materialize(
        dg.load_assets_from_modules([synthetic]), selection=selection, partition_key="medqa_seed",
        resources={"warehouse": warehouse, "io_manager": WarehouseIOManager(warehouse=warehouse),
                   "generator": generator},
        run_config={"ops": ops or {}}, instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
    )


QUESTIONS = ["synthetic_seed_questions", "synthetic_seed_rejects"]
TRACES = ["synthetic_traces", "synthetic_attempts", "synthetic_rejects"]
GENERATION = {"synthetic_traces": {"config": {"max_attempts": 2, "chunk_questions": 2, "max_new_tokens": 32}}}


def test_seed_questions_are_drawn_with_a_seed_and_every_row_accounted(seeded):
    ops = {"synthetic_seed_questions": {"config": {"sample_size": 2, "seed": 1}}}
    assert run(seeded, QUESTIONS, ScriptedGenerator(replies=REPLIES), ops).success
    first = seeded.read("synthetic_seed_questions", ["medqa_seed"])
    assert run(seeded, QUESTIONS, ScriptedGenerator(replies=REPLIES), ops).success
    assert first.equals(seeded.read("synthetic_seed_questions", ["medqa_seed"])) and first.height == 2
    reasons = seeded.read("synthetic_seed_rejects", ["medqa_seed"])["reason"].to_list()
    assert len(reasons) == 3
    assert sum(r.startswith("not drawn: 2 of 4 questions") for r in reasons) == 2
    assert sum(r == "gold answer 'C' is not one of the options A, B" for r in reasons) == 1


def test_right_answers_are_kept_wrong_ones_retried_then_rejected(seeded):
    assert run(seeded, QUESTIONS, ScriptedGenerator(replies=REPLIES)).success
    result = run(seeded, TRACES, ScriptedGenerator(replies=REPLIES), GENERATION)
    assert result.success and result.get_asset_check_evaluations()[0].passed
    traces = seeded.read("synthetic_traces", ["medqa_seed"]).sort("source_row")
    assert traces["source_row"].to_list() == [0, 1, 3]
    assert traces["answer"].to_list() == ["A", "B", "A"]
    assert traces["reasoning"].to_list() == ["Collagen synthesis needs ascorbate.", "Beta cells.", None]
    assert traces["prompt"][0].endswith("Please reason step-by-step, and put your final answer within \\boxed{}.")
    attempts = seeded.read("synthetic_attempts", ["medqa_seed"])
    assert attempts.group_by("question_id").len().sort("question_id").rows() == [
        ("medqa_seed:0", 1), ("medqa_seed:1", 2), ("medqa_seed:2", 2), ("medqa_seed:3", 1)]
    assert attempts.filter(pl.col("question_id") == "medqa_seed:2")["extracted"].to_list() == [None, "B"]
    (reason,) = seeded.read("synthetic_rejects", ["medqa_seed"])["reason"].to_list()
    assert reason == "no correct answer in 2 attempts (gold A; last answer B)"


def test_a_rerun_after_a_crash_generates_only_what_is_missing(seeded):
    assert run(seeded, QUESTIONS, ScriptedGenerator(replies=REPLIES)).success
    crashed = run(seeded, TRACES, ScriptedGenerator(replies=REPLIES, crash_after_calls=1), GENERATION)
    assert not crashed.success and CALLS == [2]  # the first chunk of two questions was answered and stored
    CALLS.clear()
    resumed = run(seeded, TRACES, ScriptedGenerator(replies=REPLIES), GENERATION)
    assert resumed.success
    meta = {k: v.value for k, v in resumed.get_asset_materialization_events()[0].materialization.metadata.items()}
    assert meta["attempts_reused"] == 2
    assert sum(CALLS) == meta["attempts_generated"] == 4  # the other two first attempts, two retries
    assert seeded.read("synthetic_traces", ["medqa_seed"]).height == 3


def test_changed_decoding_settings_never_reuse_old_attempts(seeded):
    assert run(seeded, QUESTIONS, ScriptedGenerator(replies=REPLIES)).success
    assert run(seeded, TRACES, ScriptedGenerator(replies=REPLIES), GENERATION).success
    CALLS.clear()
    hotter = {"synthetic_traces": {"config": {**GENERATION["synthetic_traces"]["config"], "temperature": 0.9}}}
    result = run(seeded, TRACES, ScriptedGenerator(replies=REPLIES), hotter)
    meta = {k: v.value for k, v in result.get_asset_materialization_events()[0].materialization.metadata.items()}
    assert meta["attempts_reused"] == 0 and sum(CALLS) == 6


def test_the_embedded_model_runs_the_real_generation_path(seeded):
    load_transformers_model(None, "cpu", "auto")
    assert run(seeded, QUESTIONS, ScriptedGenerator(replies=REPLIES)).success
    ops = {"synthetic_traces": {"config": {"max_attempts": 1, "max_new_tokens": 12}}}
    result = run(seeded, TRACES, LLM(device="cpu"), ops)
    assert result.success and result.get_asset_check_evaluations()[0].passed
    meta = {k: v.value for k, v in result.get_asset_materialization_events()[0].materialization.metadata.items()}
    assert meta["generator"]["backend"] == "transformers" and meta["questions"] == 4
    attempts = seeded.read("synthetic_attempts", ["medqa_seed"])
    assert attempts.height == 4 and attempts["response"].str.len_chars().min() > 0
