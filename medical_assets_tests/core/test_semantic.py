"""The third decontamination step's pure parts: exact neighbour search and the confirmation signals."""

import math

import numpy as np
import pytest

from medical_assets.core import semantic

QUESTIONS = [
    "A 61-year-old woman has had fatigue and constipation for 3 months. Her calcium is 12.1 mg/dL and her "
    "parathyroid hormone is raised. Which of the following is the most likely diagnosis?",
    "Which drug reverses the anticoagulant effect of dabigatran?",
    "Investigation of choice for sarcoidosis is",
    "A 23-year-old runner collapses in a hot marathon with a temperature of 41.2 C. What is the first step?",
]


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_nearest_questions_are_the_exact_top_k_above_the_floor_across_chunks(monkeypatch):
    monkeypatch.setattr(semantic, "SEARCH_CHUNK_ROWS", 7)  # several chunks, the last one short
    rng = np.random.default_rng(0)
    prompts, questions = _unit(rng.normal(size=(30, 16))), _unit(rng.normal(size=(11, 16)))
    seen = []
    rows, cols, cosines, ranks = semantic.nearest_questions(prompts, questions, k=3, floor=0.2, progress=seen.append)
    scores = prompts @ questions.T
    expected = {(p, int(q)) for p in range(30) for q in np.argsort(-scores[p])[:3] if scores[p, q] >= 0.2}
    assert set(zip(rows.tolist(), cols.tolist())) == expected
    assert np.allclose(cosines, scores[rows, cols], atol=1e-5)
    assert all(ranks[i] == sorted(-scores[r]).index(-scores[r, c]) for i, (r, c) in enumerate(zip(rows, cols)))
    assert seen == [7, 14, 21, 28, 30]


def test_no_questions_or_no_prompts_give_no_pairs():
    rows, *_ = semantic.nearest_questions(np.zeros((0, 4), np.float32), _unit(np.ones((2, 4))), k=5, floor=0.0)
    assert len(rows) == 0
    rows, *_ = semantic.nearest_questions(_unit(np.ones((2, 4))), np.zeros((0, 4), np.float32), k=5, floor=0.0)
    assert len(rows) == 0


def test_words_are_cut_to_their_stem_and_numbers_kept_apart():
    words, numbers = semantic.words_and_numbers("The arteries, an artery: 3-year-old with 36.9 C and Kawasaki's")
    assert {"arteri", "artery", "3", "36.9", "year", "old", "kawasa"} <= words
    assert "the" not in words and "an" not in words and "c" not in words
    assert numbers == {"3", "36.9"}


@pytest.fixture(scope="module")
def rare() -> semantic.RareWords:
    return semantic.RareWords(QUESTIONS, [None, "Which drug reverses the anticoagulant effect of dabigatran?\n"
                                                "A. Idarucizumab\nB. Protamine", None, None])


def _confirmed(rare: semantic.RareWords, prompt: str, question: int) -> bool:
    dice, shared, numbers, _ = rare.signals(semantic.words_and_numbers(prompt), question)
    return semantic.Confirmation().confirms(dice, shared, numbers)


def test_a_reworded_vignette_with_its_numbers_is_a_rephrasing(rare):
    prompt = ("Practice item: a woman aged 61 reports fatigue plus constipation over 3 months; calcium measured "
              "12.1 mg/dL, parathyroid hormone elevated. What diagnosis is most probable?")
    assert _confirmed(rare, prompt, 0)


def test_the_same_findings_with_other_numbers_are_another_case(rare):
    prompt = ("A 35-year-old woman has had fatigue and constipation for 8 months. Her calcium is 10.2 mg/dL and "
              "her parathyroid hormone is raised. Which of the following is the most likely diagnosis?")
    dice, shared, numbers, _ = rare.signals(semantic.words_and_numbers(prompt), 0)
    assert dice > 0.6 and shared > 3  # the words agree...
    assert not _confirmed(rare, prompt, 0)  # ...the case does not


def test_a_short_question_on_the_same_topic_is_a_different_question(rare):
    assert not _confirmed(rare, "Explain how sarcoidosis causes hypercalcaemia and which organs it affects.", 2)


def test_a_rephrasing_of_a_short_question_is_confirmed_and_the_shared_words_listed_rarest_first(rare):
    prompt = "Quick one: what drug would reverse dabigatran's anticoagulant effects?"
    assert _confirmed(rare, prompt, 1)
    _, _, _, listed = rare.signals(semantic.words_and_numbers(prompt), 1)
    assert set(listed.split()) == {"drug", "revers", "dabiga", "antico", "effect"}


def test_the_options_form_counts_when_the_prompt_carries_the_options(rare):
    prompt = "Which drug reverses the anticoagulant effect of dabigatran? A. Idarucizumab B. Protamine"
    alone = semantic.RareWords(QUESTIONS, [None] * len(QUESTIONS))
    words = semantic.words_and_numbers(prompt)
    assert rare.signals(words, 1)[0] > alone.signals(words, 1)[0]


def test_the_judges_probability_is_normalized_over_the_two_choices():
    same, different = semantic.JUDGE_CHOICES
    assert semantic.same_probability({same: math.log(0.3), different: math.log(0.1)}) == pytest.approx(0.75)
    assert semantic.same_probability({same: -math.inf, different: -math.inf}) == 0.5
    assert "Text 1:\nabc" in semantic.judge_prompt("abcdef", "question", max_chars=3)
