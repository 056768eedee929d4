"""The checks made before a training run starts: batch arithmetic, context window, GRPO groups."""

import pytest

from medical_assets.train import plan


def test_gradient_accumulation_makes_up_the_global_batch():
    assert plan.gradient_accumulation_steps(128, per_device_batch_size=2, world_size=8) == 8  # the recipe on 8 GPUs
    assert plan.gradient_accumulation_steps(128, per_device_batch_size=1, world_size=1) == 128


def test_a_global_batch_that_does_not_divide_is_refused_with_a_fix():
    with pytest.raises(plan.PlanError, match=r"global_batch_size 128 is not divisible by .* 3 x world size 1 = 3"):
        plan.gradient_accumulation_steps(128, per_device_batch_size=3, world_size=1)
    with pytest.raises(plan.PlanError, match="per_device_batch_size is 0"):
        plan.gradient_accumulation_steps(128, per_device_batch_size=0, world_size=1)


def test_max_length_above_the_context_window_is_refused():
    window = plan.context_window({"max_position_embeddings": 8192})
    plan.check_max_length(8192, window, "smol")
    with pytest.raises(plan.PlanError, match="max_length 16378 is above the context window of smol"):
        plan.check_max_length(16_378, window, "smol")


def test_the_context_window_of_a_multimodal_config_is_its_text_models():
    assert plan.context_window({"text_config": {"max_position_embeddings": 40960}}) == 40960
    assert plan.context_window({}) is None


def test_generation_batches_must_hold_whole_groups():
    plan.check_generation_batch(16, 1, 8, num_generations=16, dynamic_sampling=True)
    with pytest.raises(plan.PlanError, match="not divisible by num_generations 16"):
        plan.check_generation_batch(6, 1, 1, num_generations=16, dynamic_sampling=False)
    with pytest.raises(plan.PlanError, match="dynamic sampling drops whole groups on each process"):
        plan.check_generation_batch(2, 1, 8, num_generations=16, dynamic_sampling=True)  # 16 in all, 2 per process


def test_the_overlong_buffer_must_fit_in_the_completion():
    plan.check_overlong_buffer(12_288, 4_096)
    with pytest.raises(plan.PlanError, match="overlong_buffer 64 must be"):
        plan.check_overlong_buffer(64, 64)
