"""HealthBench: rows of the file checked before grading; example scores, the clipped mean
with its bootstrap error, tag scores, and judge replies that cannot be read."""

from __future__ import annotations

import hashlib

import polars as pl
import pytest

from medical_assets.core.healthbench import (
    GRADER_TEMPLATE,
    final_text,
    graded_text,
    judge_messages,
    grade_with_retries,
    grader_prompt,
    healthbench_summary,
    overall_score,
    parse_grade,
    rubric_items,
    score_example,
    tag_scores,
    user_turns,
    validate_examples,
)
from medical_assets.core.layouts import Unparsed


def test_example_score_counts_negative_items_against_positive_points():
    assert score_example([5, 3, -4], [True, False, True]) == pytest.approx(1 / 8)


def test_example_score_can_go_below_zero():
    assert score_example([2, -6], [False, True]) == -3.0


def test_example_without_positive_points_has_no_score():
    assert score_example([-3, -1], [False, True]) is None


def test_mismatched_grades_are_an_error():
    with pytest.raises(ValueError, match="3 rubric points but 2 grades"):
        score_example([1, 2, 3], [True, False])


def test_overall_mean_is_clipped_to_the_unit_interval():
    mean, _ = overall_score([-1.0, -0.5, 0.2])
    assert mean == 0.0


def test_bootstrap_error_is_seeded_and_reproducible():
    scores = [0.1, 0.9, 0.4, 0.6, 0.3]
    assert overall_score(scores, seed=7) == overall_score(scores, seed=7)
    assert overall_score(scores)[1] > 0


@pytest.mark.parametrize(
    ("reply", "met"),
    [
        ('{"explanation": "It refers to emergency care.", "criteria_met": true}', True),
        ('```json\n{"explanation": "no", "criteria_met": false}\n```', False),
        # simple-evals reads nothing else: text around the JSON, a fence without "json", a string "true"
        ('Here is my grade:\n```json\n{"explanation": "no", "criteria_met": false}\n```', None),
        ('```\n{"explanation": "no", "criteria_met": false}\n```', None),
        ('{"explanation": "x", "criteria_met": "true"}', None),
        ('[{"criteria_met": true}]', None),
        ('{"explanation": "unsure", "criteria_met": "yes"}', None),
        ("The response meets the criterion.", None),
        ('{"explanation": "cut off', None),
    ],
)
def test_judge_reply_is_read_or_reported_unreadable(reply, met):
    assert parse_grade(reply) is met


def test_tag_scores_use_only_that_tags_items():
    items = pl.DataFrame({
        "example_id": ["e1", "e1", "e2"],
        "tags": [["theme:hedging", "axis:accuracy"], ["theme:hedging", "axis:completeness"],
                 ["theme:communication", "axis:accuracy"]],
        "points": [4.0, 6.0, 5.0],
        "met": [True, False, False],
    })
    scores = dict(tag_scores(items).select("tag", "score").iter_rows())
    assert scores == {"axis:accuracy": pytest.approx(0.5), "axis:completeness": 0.0,
                      "theme:communication": 0.0, "theme:hedging": pytest.approx(0.4)}


def test_grader_sees_the_conversation_then_the_reply_and_the_item_with_its_points():
    prompt = grader_prompt([{"role": "user", "content": "I feel dizzy."}], "Sit down and drink water.",
                           "Advises seeing a clinician.", -3)
    assert "# Conversation\nuser: I feel dizzy.\n\nassistant: Sit down and drink water.\n\n# Rubric item\n" \
           "[-3] Advises seeing a clinician.\n\n# Instructions" in prompt
    assert prompt.endswith("Return just the json object in markdown format. Do not include any other text in the response.")


@pytest.mark.parametrize(
    ("response", "graded"),
    [("<think>Maybe flu.</think>\n\nSee a doctor.", "See a doctor."),
     ("<think>Maybe flu. Or a cold", ""),
     ("See a doctor.", "See a doctor.")],
)
def test_judge_grades_only_the_text_after_the_reasoning(response, graded):
    assert final_text(response) == graded


class ScriptedJudge:
    """Replies from a script per attempt: a stand-in to count retries and failures."""

    def __init__(self, script: dict[int, list[str]]):
        self.script, self.asked = script, []

    def __call__(self, prompts: list[str], attempt: int) -> list[str]:
        self.asked.append(list(prompts))
        return self.script[attempt][:len(prompts)]


GOOD = '{"explanation": "ok", "criteria_met": true}'
BAD = '{"explanation": "no", "criteria_met": false}'


def test_unreadable_grades_are_asked_again_then_counted_as_failures_never_as_not_met():
    judge = ScriptedJudge({0: [GOOD, "garbled", "also garbled"], 1: [BAD, "still garbled"], 2: ["never"]})
    grades, replies, attempts = grade_with_retries(["p1", "p2", "p3"], judge, retries=2)
    assert judge.asked == [["p1", "p2", "p3"], ["p2", "p3"], ["p3"]]
    assert grades == [True, False, None]
    assert attempts == [1, 2, 3]
    assert replies[2] == "never"


def test_examples_with_a_judge_failure_are_excluded_and_counted():
    examples = [
        {"prompt_id": "e1", "example_tags": ["theme:hedging"],
         "rubrics": [{"criterion": "a", "points": 5, "tags": ["axis:accuracy"]},
                     {"criterion": "b", "points": -2, "tags": ["axis:accuracy"]}]},
        {"prompt_id": "e2", "example_tags": ["theme:hedging"],
         "rubrics": [{"criterion": "c", "points": 4, "tags": ["axis:completeness"]},
                     {"criterion": "d", "points": 4, "tags": ["axis:completeness"]}]},
    ]
    items = rubric_items(examples).with_columns(met=pl.Series([True, True, None, True], dtype=pl.Boolean))
    overall, by_tag = healthbench_summary(items)
    assert overall | {"bootstrap_std": None} == {
        "score": pytest.approx(3 / 5), "bootstrap_std": None, "examples": 2, "examples_scored": 1,
        "examples_excluded": 1, "items": 4, "judge_failures": 1}
    assert dict(by_tag.select("tag", "score").iter_rows()) == {"axis:accuracy": pytest.approx(0.6),
                                                              "theme:hedging": pytest.approx(0.6)}


def test_no_score_when_every_example_has_a_judge_failure():
    examples = [{"prompt_id": "e1", "rubrics": [{"criterion": "a", "points": 5, "tags": []}]}]
    overall, by_tag = healthbench_summary(rubric_items(examples).with_columns(met=pl.lit(None, dtype=pl.Boolean)))
    assert (overall["score"], overall["examples_excluded"], overall["judge_failures"]) == (None, 1, 1)
    assert by_tag.height == 0


def conversation(prompt_id: str | None = "hb-1", **fields) -> dict:
    """A HealthBench row written for these tests: one user turn, one positive and one negative item."""
    return {"prompt_id": prompt_id, "prompt": [{"role": "user", "content": "My ankle is swollen after a fall."}],
            "rubrics": [{"criterion": "Asks whether the person can bear weight.", "points": 6,
                         "tags": ["axis:context_awareness"]},
                        {"criterion": "Diagnoses a fracture with certainty.", "points": -5, "tags": ["axis:accuracy"]}],
            "example_tags": ["theme:context_seeking"], **fields}


def validate(*records) -> tuple[pl.DataFrame, pl.DataFrame]:
    return validate_examples(list(enumerate(records, start=1)), "hb.jsonl")


def only_reject(*records) -> tuple[str | None, str]:
    examples, rejects = validate(*records)
    assert examples.height == 0 and rejects.height == 1
    return rejects.row(0, named=True)["field"], rejects.row(0, named=True)["reason"]


def test_valid_row_is_kept_with_its_line_and_items():
    examples, rejects = validate(conversation())
    assert rejects.height == 0
    row = examples.row(0, named=True)
    assert (row["line"], row["prompt_id"], row["example_tags"]) == (1, "hb-1", ["theme:context_seeking"])
    assert [item["points"] for item in row["rubrics"]] == [6, -5]
    assert rubric_items(examples.to_dicts())["tags"].to_list()[0] == ["theme:context_seeking", "axis:context_awareness"]


def test_missing_tags_read_as_no_tags():
    row = conversation(rubrics=[{"criterion": "Asks about numbness.", "points": 3}])
    del row["example_tags"]
    examples, _ = validate(row)
    assert examples.select("example_tags", pl.col("rubrics").list.first().struct.field("tags")).row(0) == ([], [])


def test_empty_conversation_is_rejected():
    assert only_reject(conversation(prompt=[])) == ("prompt", "empty: no {role, content} turns")


def test_conversation_that_does_not_end_with_the_user_is_rejected():
    turns = [{"role": "user", "content": "Is ibuprofen fine?"}, {"role": "assistant", "content": "Usually, yes."}]
    field, reason = only_reject(conversation(prompt=turns))
    assert field == "prompt[1].role"
    assert "a conversation must end with the user turn" in reason


def test_turn_without_content_is_rejected():
    assert only_reject(conversation(prompt=[{"role": "user"}])) == ("prompt[0].content", "missing field, expected a string")


@pytest.mark.parametrize(
    ("points", "reason"),
    [("five", 'wrong type: str "five", expected an integer'), (None, "null, expected an integer"),
     (True, "wrong type: bool true, expected an integer"), (2.5, "wrong type: float 2.5, expected an integer"),
     (10**20, "100000000000000000000 points, outside the published -10..10")],
)
def test_points_that_are_not_an_integer_are_rejected(points, reason):
    row = conversation(rubrics=[{"criterion": "Asks about numbness.", "points": 3},
                                {"criterion": "Advises rest and ice.", "points": points}])
    assert only_reject(row) == ("rubrics[1].points", reason)


def test_rubric_item_without_criterion_is_rejected():
    row = conversation(rubrics=[{"points": 4, "tags": []}])
    assert only_reject(row) == ("rubrics[0].criterion", "missing field, expected a string")


def test_repeated_prompt_id_is_rejected_naming_the_first_line():
    examples, rejects = validate(conversation("hb-1"), conversation("hb-2"), conversation("hb-1"))
    assert examples["prompt_id"].to_list() == ["hb-1", "hb-2"]
    assert rejects.select("line", "prompt_id", "field", "reason").row(0) == (
        3, "hb-1", "prompt_id", "duplicate prompt_id 'hb-1' (first on line 1)")


def test_line_that_could_not_be_read_is_rejected_with_its_reason():
    examples, rejects = validate(Unparsed("not valid UTF-8 (byte 9: b'\\xe9')", "{\"prompt_id\": \"caf\ufffd\"}"),
                                 conversation())
    assert examples["line"].to_list() == [2]
    assert rejects.select("file", "line", "field", "reason").row(0) == (
        "hb.jsonl", 1, None, "not valid UTF-8 (byte 9: b'\\xe9')")


def test_every_line_lands_in_examples_or_rejects():
    records = [conversation("a"), ["not", "an", "object"], conversation("b", rubrics=[]), conversation("a"),
               conversation(None)]
    examples, rejects = validate(*records)
    assert sorted([*examples["line"], *rejects["line"]]) == [1, 2, 3, 4, 5]
    assert rejects["field"].to_list() == [None, "rubrics", "prompt_id", "prompt_id"]


def test_user_turns_are_the_decontamination_questions():
    turns = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Is my rash contagious?"},
             {"role": "assistant", "content": "Where is it?"}, {"role": "user", "content": "On my arm."}]
    examples, _ = validate(conversation("hb-9", prompt=turns))
    assert user_turns(examples).rows() == [("healthbench", "healthbench:hb-9:1", "Is my rash contagious?"),
                                           ("healthbench", "healthbench:hb-9:3", "On my arm.")]


def test_the_grader_template_is_simple_evals_byte_for_byte():
    # sha256 of GRADER_TEMPLATE in openai/simple-evals healthbench_eval.py (commit ee3b031)
    assert hashlib.sha256(GRADER_TEMPLATE.encode()).hexdigest() == \
        "2adffd51fd259554ebcd036ad1072d4aa2b7ce3aec2bbffe36271f911632ed3c"


def test_the_judge_receives_simple_evals_system_message_then_the_grader_prompt():
    assert judge_messages("grade this") == [{"role": "system", "content": "You are a helpful assistant."},
                                            {"role": "user", "content": "grade this"}]


def test_the_judge_sees_the_whole_reply_by_default_as_simple_evals_does():
    reply = "<think>hmm</think>  See a doctor today.\n"
    assert graded_text(reply) == reply
    assert graded_text(reply, "after_think") == "See a doctor today."


def test_tag_scores_carry_their_example_count_and_bootstrap_std():
    items = pl.DataFrame({"example_id": ["a", "a", "b"], "tags": [["theme:x", "axis:acc"], ["theme:x"], ["theme:x"]],
                          "points": [5, -2, 4], "met": [True, True, False]})
    table = tag_scores(items).sort("tag")
    assert table["tag"].to_list() == ["axis:acc", "theme:x"] and table["examples"].to_list() == [1, 2]
    # theme:x: example a (5 - 2) / 5 = 0.6, example b 0 / 4 = 0: mean 0.3
    assert table["score"].to_list() == pytest.approx([1.0, 0.3])
    assert table["bootstrap_std"][0] == 0.0 and table["bootstrap_std"][1] > 0
