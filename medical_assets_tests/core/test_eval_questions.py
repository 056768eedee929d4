"""Benchmark rows in the harness layouts become one question schema; rows that
cannot be scored fairly are rejected with the reason."""

from __future__ import annotations

from medical_assets.core.eval_questions import normalize_questions, with_options_text, with_prompts


def mcq(question="Which drug reverses heparin?", answer="Protamine", idx="B", **extra):
    return {"question": question + "\n", "options": {"A": "Vitamin K", "B": "Protamine ", "C": "Naloxone"},
            "answer": answer, "answer_idx": idx, **extra}


def test_harness_row_is_normalized_and_stripped():
    questions, rejects = normalize_questions("medqa", [mcq()])
    row = questions.row(0, named=True)
    assert row["question_id"] == "medqa:0"
    assert row["question"] == "Which drug reverses heparin?"
    assert row["options"][1] == {"letter": "B", "text": "Protamine"}
    assert row["answer_idx"] == "B"
    assert rejects.height == 0


def test_answer_that_contradicts_the_gold_letter_is_rejected():
    questions, rejects = normalize_questions("medqa", [mcq(answer="Naloxone")])
    assert questions.height == 0
    assert rejects.row(0, named=True)["field"] == "answer"
    assert "is not option B" in rejects.row(0, named=True)["reason"]


def test_gold_letter_outside_the_options_is_rejected():
    _, rejects = normalize_questions("medqa", [mcq(idx="E")])
    assert rejects["reason"].item() == "gold letter 'E' is not among the options ['A', 'B', 'C']"


def test_row_without_options_is_rejected():
    row = mcq()
    row["options"] = {}
    _, rejects = normalize_questions("medqa", [row])
    assert (rejects["field"].item(), rejects["reason"].item()) == ("options", "no options")


def test_medxpertqa_rows_use_their_id_and_label():
    row = {"id": "MX-1", "question": "Pick J.", "options": {k: f"opt {k}" for k in "ABCDEFGHIJ"}, "label": "J"}
    questions, _ = normalize_questions("medxpertqa", [row])
    assert questions.select("question_id", "answer_idx").row(0) == ("medxpertqa:MX-1", "J")


def test_repeated_id_is_rejected():
    row = {"id": "MX-1", "question": "Pick J.", "options": {k: f"opt {k}" for k in "ABCDEFGHIJ"}, "label": "J"}
    questions, rejects = normalize_questions("medxpertqa", [row, dict(row)])
    assert questions.height == 1
    assert rejects["reason"].item() == "duplicate id 'MX-1'"


def test_options_given_as_a_list_are_lettered_in_order():
    row = {"question": "Yes or no?", "options": ["yes", "no", "maybe"], "answer_idx": "A"}
    questions, _ = normalize_questions("pubmedqa", [row])
    assert with_options_text(questions)["options_text"].item() == "A. yes\nB. no\nC. maybe"


def test_exact_duplicate_rows_without_ids_are_both_kept():
    questions, _ = normalize_questions("gpqa_medical", [mcq(), mcq()])
    assert questions["question_id"].to_list() == ["gpqa_medical:0", "gpqa_medical:1"]


def test_question_with_more_options_than_letters_is_rejected_not_cut():
    listed = {"question": "Which of these?", "options": [f"choice {i}" for i in range(27)], "answer_idx": "A"}
    keyed = {**listed, "options": {f"{i}": f"choice {i}" for i in range(27)}}
    questions, rejects = normalize_questions("medqa", [listed, keyed])
    assert questions.height == 0
    assert rejects.select("field", "reason").rows() == [("options", "27 options, more than the 26 letters A-Z can name")] * 2


def test_twenty_six_listed_options_are_lettered_a_to_z():
    row = {"question": "Which of these?", "options": [f"choice {i}" for i in range(26)], "answer_idx": "Z"}
    questions, _ = normalize_questions("medqa", [row])
    assert questions["options"].item()[-1] == {"letter": "Z", "text": "choice 25"}


def test_option_key_that_is_not_a_capital_letter_is_rejected():
    row = mcq()
    row["options"] = {"A": "Vitamin K", "B)": "Protamine"}
    _, rejects = normalize_questions("medqa", [row])
    assert rejects["reason"].item() == "option key 'B)' is not a capital letter A-Z"


def test_option_letter_given_twice_is_rejected():
    row = mcq()
    row["options"] = {"A": "Vitamin K", "B": "Protamine", "B ": "Naloxone"}
    _, rejects = normalize_questions("medqa", [row])
    assert rejects["reason"].item() == "option letter 'B' appears twice"


HARNESS_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."


def test_the_prompt_is_the_harness_prompt_byte_for_byte():
    """The public harness builds f"{question}\\n{options}\\n\\n{instruction}" from the row as loaded, its
    options sorted by letter as "K. text" lines; written here from that format by hand."""
    row = {"question": "A 60-year-old man has crushing chest pain. Which drug first? ",
           "options": {"B": "Heparin\n", "A": " Aspirin", "D": "Warfarin", "C": "Clopidogrel"},
           "answer": "Aspirin", "answer_idx": "A"}
    questions, rejects = normalize_questions("medqa", [row])
    assert rejects.height == 0 and questions["question"][0].endswith("first?")  # stripped for matching
    prompt = with_prompts(questions, HARNESS_INSTRUCTION)["prompt"][0]
    assert prompt == ("A 60-year-old man has crushing chest pain. Which drug first? \n"
                      "A.  Aspirin\nB. Heparin\n\nC. Clopidogrel\nD. Warfarin\n\n"
                      "Please reason step by step, and put your final answer within \\boxed{}.")


def test_medxpertqa_questions_are_cut_at_their_own_answer_choices_as_the_harness_does():
    row = {"id": "MM-1", "question": "Which finding is expected?\nAnswer Choices: (A) Fever (B) Rash",
           "options": {"A": "Fever", "B": "Rash"}, "label": "B"}
    questions, _ = normalize_questions("medxpertqa", [row], question_ends_at="Answer Choices:")
    assert questions["question_as_loaded"][0] == "Which finding is expected?"
    assert with_prompts(questions, HARNESS_INSTRUCTION)["prompt"][0].startswith("Which finding is expected?\nA. Fever")


def test_the_two_named_instructions_differ_only_in_step_by_step():
    from medical_assets.recipe import RECIPE

    templates = RECIPE.evaluation.prompt_templates
    assert templates["ii_medical_harness"] == HARNESS_INSTRUCTION
    assert templates["model_card_usage"] == HARNESS_INSTRUCTION.replace("step by step", "step-by-step")
    assert RECIPE.evaluation.prompt_template == "ii_medical_harness"
