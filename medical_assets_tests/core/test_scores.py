"""Benchmark scoring: grading, accuracy with its Wilson interval, unique questions,
what a resumed run still has to generate, and the leaderboard table."""

from __future__ import annotations

import math

import polars as pl
import pytest

from medical_assets.core.eval_questions import EVAL_QUESTION_SCHEMA, with_prompts
from medical_assets.core.scores import (
    RESPONSE_SCHEMA,
    accuracy_with_interval,
    current_responses,
    grade_responses,
    leaderboard,
    pending_chunks,
    settings_hash,
    wilson_interval,
)

COLUMNS = ["MedMC", "MedQA", "PubMed", "MMLU-P", "GPQA", "Lancet", "MedB-4", "MedB-5", "MedX", "NEJM"]
OPTIONS = [{"letter": "A", "text": "Aspirin"}, {"letter": "B", "text": "Heparin"}, {"letter": "C", "text": "Warfarin"}]


def questions(texts: list[str], gold: str = "B") -> pl.DataFrame:
    frame = pl.DataFrame(
        {"benchmark": "b", "question_id": [f"b:{i}" for i in range(len(texts))], "position": list(range(len(texts))),
         "question": texts, "options": [OPTIONS] * len(texts), "answer_idx": gold,
         "question_as_loaded": texts, "options_as_loaded": [OPTIONS] * len(texts)},
        schema=EVAL_QUESTION_SCHEMA,
    )
    return with_prompts(frame, "Please reason step-by-step, and put your final answer within \\boxed{}.")


def responses(qs: pl.DataFrame, texts: list[str], samples: int = 1) -> pl.DataFrame:
    return pl.DataFrame(
        {"question_id": [q for q in qs["question_id"] for _ in range(samples)],
         "prompt_sha": [p for p in qs["prompt_sha"] for _ in range(samples)],
         "sample": [s for _ in range(qs.height) for s in range(samples)], "chunk": 0, "response": texts,
         "settings_hash": "h", "revision": None},
        schema=RESPONSE_SCHEMA,
    )


def test_wilson_interval_of_7_out_of_10_matches_the_hand_computation():
    # p = 0.7, z^2 = 3.8415: centre (0.7 + 0.19207) / 1.38415 = 0.64449,
    # half-width 1.95996 * sqrt(0.021 + 0.0096036) / 1.38415 = 0.24772
    low, high = wilson_interval(7, 10)
    assert low == pytest.approx(0.39677, abs=1e-5)
    assert high == pytest.approx(0.89220, abs=1e-5)


def test_wilson_interval_stays_inside_the_unit_interval_at_zero_and_all_correct():
    assert [wilson_interval(0, n)[0] for n in (5, 6, 390)] == [0.0, 0.0, 0.0]
    assert [wilson_interval(n, n)[1] for n in (5, 6, 390)] == [1.0, 1.0, 1.0]
    assert wilson_interval(0, 0) == (None, None)


def test_empty_and_unparseable_responses_are_wrong_and_stay_in_the_denominator():
    qs = questions(["Which drug is an anticoagulant given IV?", "Which drug thins blood?", "Which one?", "And?"])
    graded = grade_responses(responses(qs, ["\\boxed{B}", "", "I am not sure.", "The answer is (A)."]), qs)
    assert graded["answer"].to_list() == ["B", None, None, "A"]
    assert graded["correct"].to_list() == [True, False, False, False]
    score = accuracy_with_interval(graded)
    assert (score["rows"], score["correct"], score["unanswered"], score["accuracy"]) == (4, 1, 2, 0.25)
    assert (score["ci_low"], score["ci_high"]) == pytest.approx(wilson_interval(1, 4))


def test_each_response_is_graded_by_both_verdicts_and_the_score_carries_both_with_the_gap():
    qs = questions(["Which drug is an anticoagulant given IV?", "Which one?", "And?", "Last?"])
    texts = ["\\boxed{B}", "<think>draft \\boxed{B}</think>unsure", "The answer is (A).", "\\boxed{b}"]
    graded = grade_responses(responses(qs, texts), qs)
    assert graded["correct"].to_list() == [True, False, False, True]
    assert graded["correct_ii_medical"].to_list() == [True, True, False, True]
    assert graded["scorer_disagreement"].to_list() == [None, "box only in the reasoning", None, None]
    score = accuracy_with_interval(graded)
    assert (score["accuracy"], score["accuracy_ii_medical"], score["gap_points"]) == (0.5, 0.75, 25.0)
    assert (score["ci_low_ii_medical"], score["ci_high_ii_medical"]) == pytest.approx(wilson_interval(3, 4))


def test_repeated_blocks_score_as_published_and_once_per_unique_question():
    """GPQA medical lists each question five times; here 2 questions x 3 blocks, and the copies
    of question 1 answered differently: right in 2 of its 3 rows, question 2 always wrong."""
    qs = questions(["Question one?", "Question two?"] * 3)
    graded = grade_responses(responses(qs, ["\\boxed{B}", "\\boxed{A}", "\\boxed{B}", "\\boxed{A}", "\\boxed{C}", "x"]), qs)
    score = accuracy_with_interval(graded)
    assert (score["rows"], score["accuracy"]) == (6, pytest.approx(2 / 6))
    assert (score["unique_questions"], score["unique_accuracy"]) == (2, pytest.approx((2 / 3 + 0) / 2))
    assert (score["unique_ci_low"], score["unique_ci_high"]) == pytest.approx(wilson_interval(2 / 3, 2))


def test_several_samples_average_per_row_and_the_interval_counts_rows_not_samples():
    qs = questions(["Q1?", "Q2?"])
    graded = grade_responses(responses(qs, ["\\boxed{B}", "\\boxed{A}", "\\boxed{B}", "\\boxed{B}"], samples=2), qs)
    score = accuracy_with_interval(graded)
    assert (score["responses"], score["correct"], score["accuracy"]) == (4, 3, 0.75)
    assert (score["ci_low"], score["ci_high"]) == pytest.approx(wilson_interval(1.5, 2))


def test_pending_chunks_keep_fixed_boundaries_and_skip_finished_questions():
    qs = questions([f"Question {i}?" for i in range(5)])
    done = responses(qs.filter(pl.col("position").is_in([0, 1, 3])), ["a", "b", "c"])
    chunks = [(chunk, part["question_id"].to_list()) for chunk, part in pending_chunks(qs, done, 1, 2)]
    assert chunks == [(1, ["b:2"]), (2, ["b:4"])]


def test_a_question_is_pending_until_all_its_samples_are_stored():
    qs = questions(["Q1?"])
    one_of_two = responses(qs, ["a"])
    assert [c for c, _ in pending_chunks(qs, one_of_two, samples=2, chunk_size=4)] == [0]
    assert list(pending_chunks(qs, one_of_two, samples=1, chunk_size=4)) == []


def test_an_edited_question_is_generated_again_and_its_old_response_dropped():
    old = questions(["Which drug is given IV?"])
    stored = responses(old, ["\\boxed{B}"])
    edited = questions(["Which drug is given orally?"])
    assert [part["question_id"].to_list() for _, part in pending_chunks(edited, stored, 1, 4)] == [["b:0"]]
    assert current_responses(edited, stored, 1).height == 0


def test_settings_hash_changes_with_each_setting():
    base = {"model": "m", "backend": "transformers", "temperature": 0.6, "top_p": 0.9, "seed": 0,
            "max_new_tokens": 64, "samples_per_question": 1, "prompt_template_hash": "p"}
    hashes = {settings_hash(base)} | {settings_hash(base | {key: "changed"}) for key in base}
    assert len(hashes) == len(base) + 1
    assert settings_hash(dict(reversed(base.items()))) == settings_hash(base)


def score_rows(model: str, accuracies: dict[str, float], n: int = 100, strict_below: float = 0.0) -> list[dict]:
    """Score rows whose harness accuracy is `accuracies` and strict accuracy `strict_below` lower."""
    rows = []
    for column, accuracy in accuracies.items():
        low, high = wilson_interval(accuracy * n, n)
        strict = max(0.0, accuracy - strict_below)
        rows.append({"model": model, "column": column, "accuracy_ii_medical": accuracy, "ci_low_ii_medical": low,
                     "ci_high_ii_medical": high, "accuracy": strict, "decoding": "temperature=0.6"})
    return rows


REFERENCE = {"model": "II-Medical-8B", "avg_stated": 70.49, "healthbench": 40.0,
             "scores": dict(zip(COLUMNS, [71.57, 87.82, 78.2, 80.46, 67.18, 70.38, 78.25, 72.07, 25.26, 73.13]))}


def test_leaderboard_avg_is_the_unweighted_mean_of_the_ten_with_a_combined_interval():
    accuracies = {c: (i + 1) / 20 for i, c in enumerate(COLUMNS)}  # 5%, 10%, ... 50%
    table = leaderboard(pl.DataFrame(score_rows("m", accuracies)), COLUMNS)
    row = table.row(0, named=True)
    assert row["Avg"] == pytest.approx(27.5)
    assert row["missing"] is None
    se = math.sqrt(sum(((row[c + "_high"] - row[c + "_low"]) / (2 * 1.959964)) ** 2 for c in COLUMNS)) / 10
    assert (row["Avg_low"], row["Avg_high"]) == pytest.approx((27.5 - 1.959964 * se, 27.5 + 1.959964 * se), abs=1e-4)


def test_leaderboard_shows_the_harness_verdict_comparable_with_the_card_and_the_strict_one_beside_it():
    table = leaderboard(pl.DataFrame(score_rows("m", {c: 0.5 for c in COLUMNS}, strict_below=0.125)), COLUMNS, REFERENCE)
    row, card = table.row(0, named=True), table.row(1, named=True)
    assert (row["MedQA"], row["MedQA_strict"], row["Avg"], row["Avg_strict"]) == (50.0, 37.5, 50.0, 37.5)
    assert card["MedQA"] == 87.82 and card["MedQA_strict"] is None  # the card has the harness's numbers only


def test_leaderboard_leaves_avg_empty_and_names_the_missing_benchmarks():
    partial = {c: 0.5 for c in COLUMNS if c not in ("Lancet", "NEJM")}
    table = leaderboard(pl.DataFrame(score_rows("m", partial)), COLUMNS)
    row = table.row(0, named=True)
    assert row["Avg"] is None
    assert row["missing"] == "Lancet, NEJM"
    assert row["MedMC"] == 50.0 and row["NEJM"] is None


def test_reference_row_shows_the_card_with_the_recomputed_avg_beside_the_stated_one():
    scores = pl.DataFrame(score_rows("m", {"MedQA": 0.25}))
    healthbench = pl.DataFrame({"model": ["m"], "score": [0.125], "bootstrap_std": [0.01]})
    table = leaderboard(scores, COLUMNS, REFERENCE, healthbench)
    assert table["model"].to_list() == ["m", "II-Medical-8B (model card)"]
    assert table["reference"].to_list() == [False, True]
    reference = table.row(1, named=True)
    assert reference["Avg"] == pytest.approx(70.432)
    assert reference["Avg_stated"] == 70.49
    assert reference["HealthBench"] == 40.0 and reference["MedQA_low"] is None
    assert table.row(0, named=True)["HealthBench"] == 12.5


def test_the_average_interval_stays_within_0_and_100():
    table = leaderboard(pl.DataFrame(score_rows("m", {c: 0.0 for c in COLUMNS})), COLUMNS)
    row = table.row(0, named=True)
    assert row["Avg"] == 0.0 and row["Avg_low"] == 0.0 and 0 < row["Avg_high"] <= 100


def test_leaderboard_names_benchmarks_scored_on_the_first_rows_only():
    rows = score_rows("m", {c: 0.5 for c in COLUMNS})
    for row in rows:
        row |= {"rows": 12 if row["column"] in ("MedQA", "NEJM") else 30, "file_rows": 30}
    row = leaderboard(pl.DataFrame(rows), COLUMNS).row(0, named=True)
    assert row["partial"] == "MedQA (12/30), NEJM (12/30)" and row["Avg"] == pytest.approx(50.0)
    whole = leaderboard(pl.DataFrame(score_rows("m", {c: 0.5 for c in COLUMNS})), COLUMNS).row(0, named=True)
    assert whole["partial"] is None
