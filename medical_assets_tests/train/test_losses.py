"""What the trainers learn from: SFT's loss covers the assistant turn only (reasoning in <think>
and the answer), and DAPO's soft overlong punishment has the recipe's shape."""

from __future__ import annotations

import pytest

from medical_assets.assets.training import sft_examples
from medical_assets_tests.train.fixtures import Converted, mcq_traces, smol_checkpoint  # noqa: F401 (fixture)


def test_sft_loss_is_on_the_assistant_turn_only(smol_checkpoint: Converted, tmp_path):
    import datasets
    from trl import SFTConfig, SFTTrainer

    examples = sft_examples(mcq_traces(repeat=1).lazy(), max_rows=2)
    args = SFTConfig(output_dir=str(tmp_path), max_length=512, completion_only_loss=True, packing=False,
                     per_device_train_batch_size=2, report_to="none", use_cpu=True, bf16=False)
    trainer = SFTTrainer(model=str(smol_checkpoint.path), args=args,
                         train_dataset=datasets.Dataset.from_polars(examples.drop("sample_id")))
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(2)])
    tokenizer = trainer.processing_class
    for row in range(2):
        ids, labels = batch["input_ids"][row], batch["labels"][row]
        learned = tokenizer.decode(ids[labels != -100])
        prompt_only = tokenizer.decode(ids[(labels == -100) & (batch["attention_mask"][row] == 1)])
        completion = examples["completion"][row][0]["content"]
        assert learned.startswith("<think>") and completion.strip() in learned
        assert examples["prompt"][row][0]["content"] in prompt_only  # the question is never a target
        assert "<think>" not in prompt_only


@pytest.mark.parametrize(("length", "expected"), [(0, 0.0), (8, 0.0), (12, 0.0), (13, -0.25), (14, -0.5),
                                                  (16, -1.0), (20, -1.0)])
def test_soft_overlong_punishment_ramps_over_the_last_tokens(length, expected):
    from trl.rewards import get_soft_overlong_punishment

    # 16 tokens at most, the last 4 of them punished linearly (the recipe: 12,288 and 4,096)
    punish = get_soft_overlong_punishment(max_completion_len=16, soft_punish_cache=4)
    assert punish(completion_ids=[list(range(length))]) == [pytest.approx(expected)]


def test_recipe_punishment_is_zero_up_to_8192_tokens_then_reaches_minus_one_at_12288():
    from trl.rewards import get_soft_overlong_punishment

    from medical_assets.recipe import RECIPE

    limit, buffer = RECIPE.dapo.max_response_tokens, RECIPE.dapo.overlong_buffer_tokens
    punish = get_soft_overlong_punishment(max_completion_len=limit, soft_punish_cache=buffer)
    values = punish(completion_ids=[[0] * n for n in (limit - buffer, limit - buffer // 2, limit)])
    assert values == [0.0, pytest.approx(-0.5), pytest.approx(-1.0)]
