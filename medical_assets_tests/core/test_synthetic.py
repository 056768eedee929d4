import polars as pl
import pytest

from medical_assets.core.synthetic import (
    ATTEMPT_SCHEMA, gold_letter, outcome, sample_questions, seed_questions, split_options, still_to_try,
)

OPTIONS = [{"letter": "A", "text": "Iron deficiency"}, {"letter": "B", "text": "Vitamin B12 deficiency"},
           {"letter": "C", "text": "Thalassemia trait"}]


def test_options_are_split_from_the_end_of_the_prompt():
    stem, options = split_options("Microcytic anemia with low ferritin?\nA. Iron deficiency\nB) Vitamin B12 deficiency\n"
                                  "(C) Thalassemia trait")
    assert stem == "Microcytic anemia with low ferritin?"
    assert options == OPTIONS


def test_an_answer_choices_header_is_not_part_of_the_question():
    stem, options = split_options("Which deficiency?\nAnswer Choices:\nA. Iron\nB. Folate")
    assert stem == "Which deficiency?" and [o["letter"] for o in options] == ["A", "B"]


def test_letters_out_of_order_are_not_options():
    assert split_options("Pick one\nB. x\nA. y") == ("Pick one\nB. x\nA. y", [])


@pytest.mark.parametrize("answer, expected", [
    ("C", "C"), ("(b)", "B"), ("Iron deficiency", "A"), ("iron  deficiency.", "A"),
    ("Thalassemia trait. Explanation: target cells and a normal ferritin.", "C"),
    ("Anemia of chronic disease", None), ("", None), (None, None), ("E", None),
])
def test_gold_letter_from_a_letter_or_the_option_text(answer, expected):
    assert gold_letter(answer, OPTIONS) == expected


def raw(rows: list[tuple[int, str, str | None]]) -> pl.DataFrame:
    return pl.DataFrame({"sample_id": [f"id{r}" for r, _, _ in rows], "source_row": [r for r, _, _ in rows],
                         "prompt": [p for _, p, _ in rows], "answer": [a for _, _, a in rows]})


def test_unverifiable_seed_rows_are_rejected_with_the_reason():
    questions, rejects = seed_questions(raw([
        (0, "Which vitamin prevents scurvy?\nA. Vitamin C\nB. Vitamin D", "A"),
        (1, "Which vitamin prevents rickets? Vitamin D.", "Vitamin D"),
        (2, "Which vitamin prevents night blindness?\nA. Vitamin A\nB. Vitamin K", "Vitamin E"),
    ]), "medqa_seed")
    assert questions.select("question_id", "gold").rows() == [("medqa_seed:0", "A")]
    assert rejects["source_row"].to_list() == [1, 2]
    assert rejects["reason"][0].startswith("no lettered options")
    assert rejects["reason"][1] == "gold answer 'Vitamin E' is not one of the options A, B"


def test_sampling_is_seeded_and_capped_by_the_rows_there_are():
    questions = pl.DataFrame({"question_id": [f"q{i}" for i in range(100)], "source_row": range(100)})
    first, again = sample_questions(questions, 10, seed=3), sample_questions(questions, 10, seed=3)
    assert first.equals(again) and first.height == 10 and first["source_row"].is_sorted()
    assert not first.equals(sample_questions(questions, 10, seed=4))
    assert sample_questions(questions, 1_000, seed=3).height == 100


def attempts(rows: list[tuple[str, int, str | None, bool]]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"question_id": q, "attempt": a, "seed": a, "response": "", "extracted": x, "correct": c, "settings": "s"}
         for q, a, x, c in rows], schema=ATTEMPT_SCHEMA,
    )


QUESTIONS = pl.DataFrame({"question_id": ["q1", "q2", "q3", "q4"], "gold": ["A", "B", "C", "D"]})


def test_only_unsolved_questions_with_attempts_left_are_tried_again():
    stored = attempts([("q1", 0, "A", True), ("q2", 0, "C", False), ("q3", 0, None, False), ("q3", 1, "A", False)])
    todo = still_to_try(QUESTIONS, stored, max_attempts=2)
    assert todo.select("question_id", "attempt").rows() == [("q2", 1), ("q4", 0)]


def test_accepted_and_given_up_account_for_every_finished_question():
    stored = attempts([("q1", 0, "B", False), ("q1", 1, "A", True), ("q2", 0, "C", False), ("q2", 1, None, False),
                       ("q3", 0, "A", False)])
    accepted, given_up = outcome(QUESTIONS, stored, max_attempts=2)
    assert accepted.select("question_id", "attempt").rows() == [("q1", 1)]
    assert given_up.select("question_id", "reason").rows() == [
        ("q2", "no correct answer in 2 attempts (gold B; last answer unreadable)")]
    # q3 has an attempt left and q4 none yet: neither accepted nor given up.
