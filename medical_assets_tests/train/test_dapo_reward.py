"""The DAPO accuracy reward reads answers with the evaluation's `extract_choice`."""

import json

from medical_assets.core.answers import extract_choice
from medical_assets.train.rewards import accuracy_reward

OPTIONS = json.dumps({"A": "Aspirin", "B": "Clopidogrel", "C": "Warfarin", "D": "Heparin"})


def reward(text: str, gold: str = "B") -> float:
    return accuracy_reward(completions=[[{"role": "assistant", "content": text}]], options=[OPTIONS], gold=[gold])[0]


def test_a_boxed_gold_letter_earns_the_reward():
    assert reward("<think>P2Y12 inhibitor.</think>\nThe answer is \\boxed{B}") == 1.0
    assert reward("<think>P2Y12 inhibitor.</think>\nThe answer is \\boxed{C}") == 0.0


def test_the_option_text_in_the_box_counts_as_its_letter():
    assert reward("\\boxed{Clopidogrel}") == 1.0


def test_an_unreadable_or_cut_off_answer_earns_nothing():
    assert reward("") == 0.0
    assert reward("<think>It could be B, it could be") == 0.0  # cut off inside <think>: answers only with a box


def test_the_reward_agrees_with_extract_choice_on_every_case():
    options = json.loads(OPTIONS)
    cases = ["Final Answer: B", "the answer is I think C", "**Answer: B**", "\\boxed{B and C}", "B. Clopidogrel",
             "<think>A?</think>\nOption (B)", "\\boxed{\\text{B}}"]
    rewards = accuracy_reward(completions=cases, options=[OPTIONS] * len(cases), gold=["B"] * len(cases))
    assert rewards == [1.0 if extract_choice(text, options) == "B" else 0.0 for text in cases]
