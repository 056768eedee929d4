"""DAPO's dynamic sampling on hand-made rewards: which groups are dropped, how the batch is refilled."""

import pytest
import torch

from medical_assets.train.dynamic_sampling import concat_rows, fill_batch, informative_rows


def scored(accuracy: list[float], prompt_width: int = 3, completion_width: int = 4, tag: float = 0.0):
    """A scored batch as GRPOTrainer builds it: row-aligned tensors, the advantages tagged to trace rows."""
    rows = len(accuracy)
    batch = {
        "prompt_ids": torch.full((rows, prompt_width), 7),
        "prompt_mask": torch.ones(rows, prompt_width, dtype=torch.long),
        "completion_ids": torch.full((rows, completion_width), 9),
        "completion_mask": torch.ones(rows, completion_width, dtype=torch.long),
        "advantages": torch.arange(rows, dtype=torch.float) + tag,
        "num_items_in_batch": torch.tensor(rows * completion_width),
    }
    return batch, torch.tensor(accuracy)


def test_groups_with_all_equal_rewards_carry_no_signal():
    accuracy = torch.tensor([1, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0], dtype=torch.float)  # [mixed, mixed, all 0]
    assert informative_rows(accuracy, 4).tolist() == [True] * 8 + [False] * 4
    assert informative_rows(torch.ones(8), 4).tolist() == [False] * 8


def test_unscorable_completions_are_ignored_when_comparing_a_group():
    accuracy = torch.tensor([1.0, float("nan"), 1.0, 1.0, 0.0, float("nan"), 1.0, float("nan")])
    assert informative_rows(accuracy, 4).tolist() == [False] * 4 + [True] * 4


def test_a_full_batch_of_informative_groups_needs_no_refill():
    calls = []

    def score(round_):
        calls.append(round_)
        return scored([1, 0, 0, 1, 0, 1, 1, 1])

    batch, stats = fill_batch(score, target_rows=8, group_size=4, max_refill_rounds=3)
    assert calls == [0] and stats.groups_kept == 2 and stats.groups_padded == 0
    assert batch["advantages"].tolist() == list(range(8))


def test_dropped_groups_are_refilled_from_new_prompts_until_the_batch_is_full():
    rounds = {0: [1, 1, 1, 1, 0, 1, 0, 0],  # group 0 all right: dropped; group 1 kept
              1: [0, 0, 0, 0, 0, 0, 0, 0],  # nothing kept
              2: [1, 0, 1, 1, 1, 1, 1, 1]}  # group 0 kept; the batch is full
    batch, stats = fill_batch(lambda r: scored(rounds[r], tag=100 * r), target_rows=8, group_size=4,
                              max_refill_rounds=5)
    assert stats.rounds == 3 and stats.groups_seen == 6 and stats.groups_kept == 2 and stats.groups_padded == 0
    assert batch["advantages"].tolist() == [4, 5, 6, 7, 200, 201, 202, 203]
    assert "num_items_in_batch" not in batch  # recomputed by the trainer over the kept rows


def test_extra_informative_groups_are_trimmed_to_the_batch_size():
    batch, stats = fill_batch(lambda r: scored([1, 0] * 4, tag=100 * r), target_rows=4, group_size=2,
                              max_refill_rounds=0)
    assert batch["advantages"].tolist() == [0, 1, 2, 3] and stats.groups_kept == 2


def test_after_the_last_round_zero_signal_groups_fill_the_batch():
    batch, stats = fill_batch(lambda r: scored([1, 1, 0, 1] if r == 0 else [0, 0, 0, 0], tag=100 * r),
                              target_rows=4, group_size=2, max_refill_rounds=2)
    assert stats.rounds == 3 and stats.groups_kept == 1 and stats.groups_padded == 1
    assert batch["completion_ids"].shape[0] == 4 and batch["advantages"].tolist() == [2, 3, 0, 0]
    # the kept group first, then a dropped one whose advantages are zeroed: it moves nothing


def test_every_process_runs_the_same_number_of_rounds():
    """This process is done after round 0, another one only after round 1: both generate twice."""
    answers = []

    def everyone_done(done: bool) -> bool:
        answers.append(done)
        return done and len(answers) >= 2  # the other process's answer, "still short", the first time

    batch, stats = fill_batch(lambda r: scored([1, 0, 1, 0], tag=100 * r), target_rows=4, group_size=2,
                              max_refill_rounds=5, everyone_done=everyone_done)
    assert answers == [True, True] and stats.rounds == 2
    assert batch["advantages"].tolist() == [0, 1, 2, 3]


def test_batches_of_different_widths_are_padded_on_the_right_side():
    first, _ = scored([1, 0], prompt_width=2, completion_width=3)
    second, _ = scored([1, 0], prompt_width=4, completion_width=1)
    merged = concat_rows([{k: v for k, v in b.items() if v.dim()} for b in (first, second)],
                         pad_values={"prompt_ids": 0, "completion_ids": 0})
    assert merged["prompt_ids"].shape == (4, 4) and merged["completion_ids"].shape == (4, 3)
    assert merged["prompt_ids"][0].tolist() == [0, 0, 7, 7]  # prompts: padded on the left
    assert merged["completion_ids"][3].tolist() == [9, 0, 0]  # completions: padded on the right
    assert merged["completion_mask"][3].tolist() == [1, 0, 0]


def test_a_batch_that_is_not_whole_groups_is_refused():
    with pytest.raises(ValueError, match="whole number of groups"):
        fill_batch(lambda r: scored([1, 0, 1]), target_rows=3, group_size=2, max_refill_rounds=0)
