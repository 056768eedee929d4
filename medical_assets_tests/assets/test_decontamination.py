"""The n-gram and fuzzy steps as Dagster runs them: the candidate prompts read in chunks give the
hits one pass over all of them gives."""

import dagster as dg
import polars as pl
import pytest

from medical_assets.assets import decontamination
from medical_assets.core.eval_questions import EVAL_QUESTION_SCHEMA, OPTION
from medical_assets.core.healthbench import EXAMPLE_SCHEMA
from medical_assets.resources.storage import Warehouse, WarehouseIOManager

QUESTIONS = [
    "A 41-year-old woman presents with fatigue, cold intolerance and weight gain over six months. "
    "Which laboratory test should be ordered first?",
    "A 7-year-old boy has a barking cough and inspiratory stridor that worsen at night. What is the most likely cause?",
]


@pytest.fixture
def candidates(warehouse: Warehouse) -> Warehouse:
    warehouse.write("eval_questions", pl.DataFrame({
        "benchmark": "medqa", "question_id": [f"medqa:{i}" for i in range(len(QUESTIONS))],
        "position": range(len(QUESTIONS)), "question": QUESTIONS,
        "options": [[{"letter": "A", "text": "TSH"}, {"letter": "B", "text": "Croup"}]] * len(QUESTIONS),
        "answer_idx": "A", "question_as_loaded": QUESTIONS, "options_as_loaded": [[]] * len(QUESTIONS),
    }, schema={**EVAL_QUESTION_SCHEMA, "options_as_loaded": pl.List(OPTION)}), partition="medqa")
    warehouse.write("healthbench_examples", pl.DataFrame(schema=EXAMPLE_SCHEMA))
    prompts = []
    for i in range(60):  # every fifth prompt copies a question, every seventh is one character off it
        if i % 5 == 0:
            prompts.append(f"Case {i}: " + QUESTIONS[i % 2])
        elif i % 7 == 0:
            prompts.append(QUESTIONS[i % 2].replace("most", "most "))
        else:
            prompts.append(f"Prompt {i} about renal physiology and the loop of Henle, with its own numbers {i * 3}.")
    rows = pl.DataFrame({"sample_id": [f"s{i}" for i in range(60)], "source": "am_r1", "source_row": range(60),
                         "part": "curated_r1", "prompt": prompts, "response": "TSH."})
    warehouse.write("quality_traces", pl.concat([rows, rows.head(3)]))  # three exact duplicate rows
    return warehouse


def _hits(warehouse: Warehouse) -> dict[str, pl.DataFrame]:
    result = dg.materialize([decontamination.ngram_matches, decontamination.fuzzy_matches],
                            resources={"warehouse": warehouse, "io_manager": WarehouseIOManager(warehouse=warehouse)},
                            instance=dg.DagsterInstance.ephemeral())
    assert result.success
    return {table: warehouse.read(table).sort("sample_id", "question_id") for table in ("ngram_matches", "fuzzy_matches")}


def test_prompts_checked_in_chunks_give_the_hits_of_one_pass(candidates: Warehouse, monkeypatch):
    one_pass = _hits(candidates)
    assert one_pass["ngram_matches"].height >= 12 and one_pass["fuzzy_matches"].height >= 4
    monkeypatch.setattr(decontamination, "PROMPT_CHUNK_ROWS", 7)
    monkeypatch.setattr("medical_assets.resources.storage.ROW_GROUP_ROWS", 5)
    candidates.write("quality_traces", candidates.read("quality_traces"))  # 13 row groups: 7 chunks
    chunked = _hits(candidates)
    for table, hits in one_pass.items():
        assert chunked[table].equals(hits), table
        assert hits.select("sample_id", "benchmark", "question_id").is_unique().all()
