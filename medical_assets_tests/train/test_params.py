"""The training processes check their Pipes parameters against the run config's own model."""

from __future__ import annotations

import pytest

from medical_assets.train.config import DapoParams, DapoRunConfig, SFTParams, SFTRunConfig, checked_params

SFT_RESOLVED = {"deepspeed": None, "base_model": "/m/base", "dataset": "/r/train.parquet", "output_dir": "/r",
                "gradient_accumulation_steps": 2}


def test_what_the_sft_asset_sends_passes_the_childs_check():
    extras = {**SFTRunConfig(max_length=256).model_dump(), **SFT_RESOLVED}
    params = checked_params(SFTParams, extras)
    assert params["max_length"] == 256 and params["base_model"] == "/m/base"


@pytest.mark.parametrize(("change", "field"), [
    ({"max_length": "long"}, "max_length"),
    ({"global_batch_size": 0}, "global_batch_size"),
    ({"typo_field": 1}, "typo_field"),
])
def test_a_bad_or_unknown_parameter_is_refused_naming_the_field(change, field):
    extras = {**SFTRunConfig().model_dump(), **SFT_RESOLVED, **change}
    with pytest.raises(ValueError, match=f"SFTParams: the training parameters from Dagster are not valid: .*{field}"):
        checked_params(SFTParams, extras)


def test_a_missing_resolved_parameter_is_named():
    extras = {**SFTRunConfig().model_dump(), **{k: v for k, v in SFT_RESOLVED.items() if k != "dataset"}}
    with pytest.raises(ValueError, match="not valid: dataset: "):
        checked_params(SFTParams, extras)


def test_what_the_dapo_asset_sends_passes_the_childs_check():
    extras = {**DapoRunConfig(num_generations=4).model_dump(), "deepspeed": None, "use_vllm": False,
              "policy": "/r/sft/final", "dataset": "/r/prompts.parquet", "output_dir": "/r"}
    assert checked_params(DapoParams, extras)["num_generations"] == 4
