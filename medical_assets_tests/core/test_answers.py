"""Reading the chosen option from a model's answer, as evaluation and the DAPO reward do."""

from __future__ import annotations

import pytest

from medical_assets.core.answers import extract_choice, extract_choices, is_correct

ANTIPLATELET = {"A": "Aspirin alone", "B": "Bleeding", "C": "Clopidogrel", "D": "Dipyridamole"}
PUBMEDQA = {"A": "yes", "B": "no", "C": "maybe"}
TEN = {letter: f"Finding {n}" for n, letter in enumerate("ABCDEFGHIJ", start=1)}

REASONING = (
    "<think>\nOkay, so the patient is a 67-year-old man with a drug-eluting stent placed last month "
    "who now needs a second antiplatelet agent. Let me think. Aspirin he already takes. "
    "Maybe the answer is B? Wait, bleeding is a complication, not a drug. "
    "Hmm, dipyridamole is used with aspirin for stroke prevention, not after stents. "
    "Wait, the standard dual antiplatelet therapy is aspirin plus a P2Y12 inhibitor, so clopidogrel.\n</think>\n\n"
)


def test_last_boxed_answer_wins_over_an_earlier_one():
    response = ("First guess: \\boxed{A}. Wait, aspirin alone is not enough after a stent; "
                "a P2Y12 inhibitor is needed.\n\nFinal answer: \\boxed{C}")
    assert extract_choice(response, ANTIPLATELET) == "C"


def test_boxed_distractor_in_reasoning_loses_to_the_answer_after_think():
    response = ("<think>\nCould it be \\boxed{B}? Wait, B is a complication. Let me reconsider.\n</think>\n\n"
                "Dual antiplatelet therapy needs a P2Y12 inhibitor.\n\n\\boxed{C}")
    assert extract_choice(response, ANTIPLATELET) == "C"


def test_boxed_inside_closed_reasoning_never_answers():
    response = "<think>\nI would say \\boxed{B}. Wait, no.\n</think>\n\nIt depends on the bleeding risk."
    assert extract_choice(response, ANTIPLATELET) is None


def test_statement_inside_closed_reasoning_never_answers():
    response = "<think>\nMaybe the answer is B... Wait, that is a complication.\n</think>\n\nLet me know more."
    assert extract_choice(response, ANTIPLATELET) is None


def test_nested_braces_in_boxed_are_brace_matched():
    options = {"A": "1/4", "B": "1/3", "C": "1/2", "D": "2/3"}
    response = REASONING + "The carrier probability is one half.\n\n\\boxed{C: \\frac{1}{2}}"
    assert extract_choice(response, options) == "C"


def test_text_command_inside_boxed_is_unwrapped():
    assert extract_choice(REASONING + "\\boxed{\\text{C}}", ANTIPLATELET) == "C"


@pytest.mark.parametrize(
    "boxed",
    ["\\boxed{C}", "\\boxed{(C)}", "\\boxed{C.}", "\\boxed{C. Clopidogrel}", "\\boxed{C: Clopidogrel}",
     "\\boxed{C) Clopidogrel}", "\\boxed{Option C}", "\\boxed{**C**}", "$\\boxed{C}$", "\\boxed{\\textbf{C}}",
     "\\boxed{\\mathrm{C}}", "\\boxed {C}", "\\fbox{C}", "\\boxed{ C }."],
)
def test_usual_spellings_of_a_boxed_letter_are_read(boxed):
    assert extract_choice(REASONING + "**Final Answer**\n" + boxed, ANTIPLATELET) == "C"


def test_boxed_option_text_reads_as_its_letter():
    assert extract_choice(REASONING + "\\boxed{Clopidogrel}", ANTIPLATELET) == "C"


def test_boxed_option_text_ignores_case_and_spacing():
    assert extract_choice(REASONING + "\\boxed{\\text{aspirin   ALONE}}", ANTIPLATELET) == "A"


def test_lowercase_single_boxed_letter_is_accepted():
    assert extract_choice(REASONING + "\\boxed{c}", ANTIPLATELET) == "C"


def test_boxed_letter_outside_the_options_is_none():
    assert extract_choice(REASONING + "\\boxed{F}", ANTIPLATELET) is None


def test_boxed_invalid_answer_does_not_fall_back_to_an_earlier_statement():
    response = "The answer is C.\n\nWait, on reflection:\n\n\\boxed{F}"
    assert extract_choice(response, ANTIPLATELET) is None


def test_boxed_drug_name_is_not_read_as_its_first_letter():
    options = {"A": "Aspirin alone", "B": "Bleeding", "C": "Cilostazol", "D": "Dipyridamole"}
    assert extract_choice(REASONING + "\\boxed{Clopidogrel}", options) is None


def test_boxed_two_letters_is_none():
    assert extract_choice(REASONING + "Both could work.\n\n\\boxed{C and D}", ANTIPLATELET) is None


def test_boxed_letter_with_another_options_text_is_none():
    assert extract_choice(REASONING + "\\boxed{C. Dipyridamole}", ANTIPLATELET) is None


def test_boxed_option_text_that_looks_like_a_letter_reads_as_that_option():
    options = {"A": "Staphylococcus aureus", "B": "C. difficile colitis", "C": "Norovirus", "D": "Giardiasis"}
    assert extract_choice("\\boxed{C. difficile colitis}", options) == "B"


def test_unclosed_last_box_falls_back_to_the_previous_complete_box():
    assert extract_choice("So \\boxed{C}. Restating: \\boxed{C", ANTIPLATELET) == "C"


@pytest.mark.parametrize("answer", ["C", "(C)", "**C**", "Answer: C", "**Answer:** C", "The answer is C.",
                                    "C. Clopidogrel", "Clopidogrel", "**Final Answer**\n\nC"])
def test_bare_answer_after_think_is_read(answer):
    assert extract_choice(REASONING + answer, ANTIPLATELET) == "C"


def test_last_explicit_statement_wins_without_think_tags():
    response = ("Maybe the answer is B. Wait, bleeding is a complication, not a therapy. "
                "After a stent the guideline is aspirin plus a P2Y12 inhibitor.\nSo the answer is D? No, "
                "dipyridamole is for stroke.\nTherefore, the answer is C.")
    assert extract_choice(response, ANTIPLATELET) == "C"


@pytest.mark.parametrize("statement", ["The answer is (C).", "the answer is C", "Answer: C",
                                       "The correct option is C.", "Final Answer: C",
                                       "The answer is C. Clopidogrel", "The answer is **C**, because it blocks P2Y12.",
                                       "The correct answer would be option C.", "The best answer choice is C."])
def test_explicit_statement_after_think_is_read(statement):
    response = REASONING + "Dual antiplatelet therapy needs a P2Y12 inhibitor.\n" + statement + "\nHope this helps."
    assert extract_choice(response, ANTIPLATELET) == "C"


def test_explanation_starting_with_a_letter_gives_way_to_its_final_statement():
    response = REASONING + ("C. Clopidogrel is tempting, but this patient had a stent thrombosis on it.\n\n"
                            "Dipyridamole adds nothing here.\nTherefore, the answer is A.")
    assert extract_choice(response, ANTIPLATELET) == "A"


def test_answer_on_the_line_after_answer_colon_is_read():
    response = REASONING + "Dual antiplatelet therapy is required.\n\nThe answer is:\n\n**C**\n"
    assert extract_choice(response, ANTIPLATELET) == "C"


def test_last_statement_naming_no_option_does_not_fall_back_to_an_earlier_one():
    response = ("Maybe the answer is B? Wait, bleeding is a complication. Hmm.\n"
                "So the answer is Ticagrelor, which is not listed, so none of these fits.")
    assert extract_choice(response, ANTIPLATELET) is None


def test_statement_after_text_that_changes_length_when_lowercased_is_found():
    response = "İzmir'de yaşayan hasta. Stent sonrası ikili tedavi gerekir.\nThe answer is C."
    assert extract_choice(response, ANTIPLATELET) == "C"


def test_answer_is_a_word_starting_with_an_option_letter_is_not_that_letter():
    options = {"A": "Thrombosis", "B": "Infection", "C": "Restenosis", "D": "Allergy"}
    assert extract_choice(REASONING + "So the answer is Bleeding.", options) is None


def test_answer_is_an_options_text_reads_as_its_letter():
    assert extract_choice(REASONING + "So the answer is Bleeding.", ANTIPLATELET) == "B"


def test_answer_is_letter_joined_to_a_word_is_not_that_letter():
    options = {"A": "Procalcitonin", "B": "ESR", "C": "Ferritin", "D": "Troponin"}
    assert extract_choice("The answer is C-reactive protein, which rises within hours.", options) is None


def test_pronoun_i_is_not_option_i_with_ten_options():
    response = "The marker rises early, so the answer is I think closer to finding 4, but I am not sure."
    assert extract_choice(response, TEN) is None


def test_statement_of_two_letters_is_none():
    assert extract_choice(REASONING + "So the answer is C or D.", ANTIPLATELET) is None


def test_statement_of_a_letter_outside_the_options_is_none():
    assert extract_choice(REASONING + "So the answer is E.", ANTIPLATELET) is None


def test_medxpertqa_boxed_j_with_ten_options():
    assert extract_choice(REASONING.replace("clopidogrel", "finding 10") + "\\boxed{J}", TEN) == "J"


def test_pubmedqa_boxed_yes_is_option_a():
    response = "<think>\nThe trial met its primary endpoint, so yes.\n</think>\n\n\\boxed{yes}"
    assert extract_choice(response, PUBMEDQA) == "A"


def test_option_text_alone_on_the_last_line_is_read():
    response = REASONING + "The guideline-recommended second agent after a stent is:\n\nClopidogrel."
    assert extract_choice(response, ANTIPLATELET) == "C"


def test_a_response_that_only_repeats_the_options_chose_none():
    response = "A. Aspirin alone\nB. Bleeding\nC. Clopidogrel\nD. Dipyridamole"
    assert extract_choice(response, ANTIPLATELET) is None


def test_last_line_matching_two_identical_options_is_none():
    options = {"A": "Clopidogrel", "B": "Aspirin", "C": "clopidogrel ", "D": "Heparin"}
    assert extract_choice(REASONING + "We would give:\nClopidogrel", options) is None


def test_option_text_mentioned_only_in_the_reasoning_is_none():
    response = REASONING + "Start dual antiplatelet therapy and review in clinic."
    assert extract_choice(response, ANTIPLATELET) is None


@pytest.mark.parametrize("response", ["", "   \n\t"])
def test_empty_response_is_none(response):
    assert extract_choice(response, ANTIPLATELET) is None


def test_unclosed_think_without_box_is_none():
    response = "<think>\nOkay, the answer is C. Wait, let me check the dose of"
    assert extract_choice(response, ANTIPLATELET) is None


def test_unclosed_think_with_a_box_reads_the_box():
    assert extract_choice("<think>\nSo it is \\boxed{C}. Let me double-check the", ANTIPLATELET) == "C"


def test_is_correct_when_the_chosen_letter_is_gold():
    assert is_correct(REASONING + "\\boxed{C}", ANTIPLATELET, "C")


def test_is_correct_counts_no_answer_as_wrong():
    assert not is_correct(REASONING + "Start dual antiplatelet therapy.", ANTIPLATELET, "C")


def test_is_correct_rejects_a_gold_letter_outside_the_options():
    with pytest.raises(ValueError, match="malformed"):
        is_correct("\\boxed{C}", ANTIPLATELET, "F")


def test_extract_choices_reads_each_response_with_its_own_options():
    responses = [REASONING + "\\boxed{C}", "\\boxed{yes}", "", "So the answer is J."]
    assert extract_choices(responses, [ANTIPLATELET, PUBMEDQA, TEN, TEN]) == ["C", "A", None, "J"]


def test_extract_choices_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="one option set per response"):
        extract_choices(["\\boxed{C}"], [])


def test_options_keyed_by_something_other_than_a_letter_are_an_error():
    with pytest.raises(ValueError, match="single capital letter"):
        extract_choice("\\boxed{C}", {"1": "Aspirin", "2": "Clopidogrel"})


READER_OPTIONS = {"A": "Aspirin", "B": "Heparin", "C": "Clopidogrel", "D": "Warfarin"}


@pytest.mark.parametrize(("response", "choice"), [
    ("Answer: b", "B"),
    ("<think>...</think>The answer is (c).", "C"),
    ("b. Heparin", "B"),
    ("(d) Warfarin", "D"),
    ("b. Warfarin", None),  # a letter with another option's text
    ("a. patient with a fever should rest", None),  # a sentence, not an answer
])
def test_lowercase_letters_in_explicit_answers_read_as_that_option(response, choice):
    assert extract_choice(response, READER_OPTIONS) == choice


@pytest.mark.parametrize(("response", "choice"), [
    ("The answer is either \\boxed{D} or \\boxed{A}.", None),
    ("$\\boxed{B}$ and $\\boxed{C}$", None),
    ("\\boxed{A}, \\boxed{C}", None),
    ("\\boxed{C} or \\boxed{C}", "C"),  # the same option twice is one answer
    ("\\boxed{B} ... no, wait: \\boxed{C}", "C"),  # a correction takes the last
    ("\\boxed{B}\n\nOn reflection \\boxed{C}", "C"),
])
def test_a_final_statement_offering_two_boxed_options_chooses_none(response, choice):
    assert extract_choice(response, READER_OPTIONS) == choice
