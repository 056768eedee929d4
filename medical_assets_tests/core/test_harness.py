"""The published harness's verdict, rule by rule, over-credits included (cases written by us)."""

from __future__ import annotations

import pytest

from medical_assets.core.answers import extract_choice
from medical_assets.core.harness import (
    huatuo_choice, ii_medical_correct, ii_medical_credits, last_box, lenient_box, scorer_disagreement,
)

DRUGS = {"A": "Aspirin", "B": "Heparin", "C": "Clopidogrel", "D": "Warfarin"}
TEN = {letter: f"choice {letter.lower()}{i}" for i, letter in enumerate("ABCDEFGHIJ")}


# ---------------------------------------------------------------- reading 1: the last box, cleaned


@pytest.mark.parametrize(("response", "reading"), [
    ("so \\boxed{B}", "B"),
    ("first \\boxed{A}, then on reflection \\boxed{C}", "C"),
    ("\\boxed{C. Clopidogrel}", "C. Clopidogrel"),  # the option text stays: a miss for gold C
    ("\\boxed{\\textbf{C}}", "bfC"),  # \text is removed from \textbf
    ("\\boxed{\\text{D}}", "D"),
    ("\\boxed{ {B} }", "B"),
    ("an unclosed \\boxed{B", None),
    ("Answer: C. Clopidogrel, because it blocks P2Y12", "C"),
    ("Answer: first A. Then Answer: d. warfarin", "d"),
    ("no box and no answer line", None),
    ("Answer:   ", None),
])
def test_last_box_is_the_cleaned_content_of_the_last_box_or_the_answer_line(response, reading):
    assert last_box(response) == reading


# ---------------------------------------------------------------- reading 2: the lenient box


@pytest.mark.parametrize(("response", "reading"), [
    ("\\boxed{Clopidogrel}", "C"),  # over-credit: a drug name read by its first capital
    ("\\boxed{Option C}", "O"),
    ("\\boxed{c}", "c"),  # lowercase kept whole, equal to gold C case-insensitively
    ("\\boxed{A and C}", "A"),
    ("\\boxed{\\text{B}}", "\\text{B"),  # stops at the first closing brace
    ("\\boxed{B} then \\boxed{}", "B"),  # empty boxes are skipped
    ("\\boxed{\nB}", ""),  # a match never spans a newline
    ("no box", ""),
])
def test_lenient_box_reads_the_first_capital_of_the_last_non_empty_box(response, reading):
    assert lenient_box(response) == reading


# ---------------------------------------------------------------- reading 3: the Huatuo matcher


@pytest.mark.parametrize(("text", "options", "choice"), [
    ("I think the answer is B, not C", DRUGS, "B"),
    ("the answer is Bleeding risk", DRUGS, "B"),  # any capital A-N after "answer is"
    ("so the answer isD", DRUGS, "D"),
    ("The Answer is (C)", DRUGS, "C"),  # "Answer" capitalised: no match there, then the lone C
    ("the answer is E", DRUGS, "E"),  # A-N whatever the option count
    ("A patient on warfarin. Pick D.", DRUGS, "D"),  # "A " is an article
    ("options B or C", DRUGS, "C"),  # the last lone letter
    ("I would avoid it here.", TEN, "I"),  # the pronoun with 9+ options
    ("I would avoid it here.", DRUGS, "C"),  # no lone letter of A-D, no option text: the closest by difflib
    ("prefer clopidogrel over aspirin", DRUGS, "A"),  # the option text occurring latest
    ("", DRUGS, "D"),  # nothing at all: every similarity is 0 and the tie goes to the last option
])
def test_huatuo_choice_always_names_an_option(text, options, choice):
    assert huatuo_choice(text, options) == choice


def test_huatuo_reads_only_after_the_final_response_marker():
    assert huatuo_choice("The answer is A.\n## Final Response\n\nwarfarin", DRUGS) == "D"


def test_huatuo_needs_options():
    with pytest.raises(ValueError):
        huatuo_choice("anything", {})


# ---------------------------------------------------------------- the verdict: any reading


def test_a_draft_box_in_the_reasoning_is_credited_although_the_final_answer_differs():
    response = "<think>Maybe \\boxed{B}. No, heparin is wrong here.</think>The answer is C."
    assert ii_medical_correct(response, DRUGS, "B") and ii_medical_correct(response, DRUGS, "C")
    assert extract_choice(response, DRUGS) == "C"


def test_huatuo_reads_the_text_after_think_only():
    response = "<think>the answer is A</think>Final: warfarin"
    assert ii_medical_credits(response, DRUGS, "D") == {"last_box": False, "lenient_box": False, "huatuo": True}
    assert not ii_medical_correct(response, DRUGS, "A")


def test_an_empty_reply_is_credited_when_the_gold_is_the_last_option():
    assert ii_medical_correct("", DRUGS, "D") and not ii_medical_correct("", DRUGS, "A")
    assert extract_choice("", DRUGS) is None


def test_two_options_in_one_box_credit_either():
    response = "The answer is \\boxed{A and C}."
    assert ii_medical_correct(response, DRUGS, "A") and ii_medical_correct(response, DRUGS, "C")
    assert not ii_medical_correct(response, DRUGS, "B")


def test_a_drug_name_in_the_box_is_read_by_its_first_letter_and_found_again_by_its_text():
    assert ii_medical_credits("\\boxed{Clopidogrel}", DRUGS, "C")["lenient_box"]  # C for Clopidogrel
    assert ii_medical_credits("\\boxed{Heparin}", DRUGS, "B") == {"last_box": False, "lenient_box": False,
                                                                  "huatuo": True}  # H, then the option text


def test_an_answer_stated_as_option_text_after_answer_is_is_under_credited():
    response = "<think>...</think>The answer is Heparin."
    assert not ii_medical_correct(response, DRUGS, "B")  # read as H by "answer is"
    assert extract_choice(response, DRUGS) == "B"


def test_the_comparison_ignores_case():
    assert ii_medical_correct("\\boxed{b}", DRUGS, "B") and ii_medical_correct("\\boxed{B}", DRUGS, "b")


def test_a_box_with_the_option_text_is_credited_by_the_lenient_reading():
    credits = ii_medical_credits("\\boxed{C. Clopidogrel}", DRUGS, "C")
    assert credits["last_box"] is False and credits["lenient_box"] is True


# ---------------------------------------------------------------- what a disagreement is made of


@pytest.mark.parametrize(("response", "gold", "category"), [
    ("<think>\\boxed{B} maybe</think>I am not sure.", "B", "box only in the reasoning"),
    ("<think>hmm</think>", "D", "credited by the fallback"),  # empty final text: the last option by difflib
    ("The answer is \\boxed{A and C}.", "C", "no answer stated"),  # strict: two options, none chosen
    ("<think>...</think>\\boxed{B}\n\nWhy not D? Because D bleeds.", "D", "a second extractor matched"),
    ("<think>...</think>The answer is Heparin.", "B", "only the strict reading matched"),
    ("The answer is \\boxed{C}.", "C", None),
    ("The answer is \\boxed{C}.", "A", None),
])
def test_each_disagreement_between_the_two_verdicts_is_named(response, gold, category):
    assert scorer_disagreement(response, DRUGS, gold, extract_choice(response, DRUGS)) == category
