"""Run config that explains and checks itself: every field has a description the launchpad
shows, and a value outside its range fails the run before any data is read, naming the key
and the allowed range."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import dagster as dg
import pytest

import medical_assets.assets
from medical_assets.definitions import defs


def config_classes() -> list[type[dg.Config]]:
    for module in pkgutil.iter_modules(medical_assets.assets.__path__):
        importlib.import_module(f"medical_assets.assets.{module.name}")
    found, todo = [], list(dg.Config.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__module__.startswith("medical_assets."):
            found.append(cls)
    return sorted(set(found), key=lambda c: c.__qualname__)


@pytest.mark.parametrize("config", config_classes(), ids=lambda c: c.__qualname__)
def test_every_run_config_field_has_a_description(config: type[dg.Config]):
    missing = [name for name, field in config.model_fields.items() if not field.description]
    assert not missing, f"{config.__qualname__}: fields without a description: {missing}"


def failure_text(result: dg.ExecuteInProcessResult) -> str:
    texts = []
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            while error is not None:
                texts.append(error.message)
                error = error.cause
    return "\n".join(texts)


def run(op: str, config: dict, selection: list[str] | None = None) -> dg.ExecuteInProcessResult:
    job = defs.resolve_implicit_global_asset_job_def()
    return job.execute_in_process(asset_selection=[dg.AssetKey(name) for name in selection or [op]],
                                  run_config={"ops": {op: {"config": config}}}, raise_on_error=False,
                                  instance=dg.DagsterInstance.ephemeral())


@pytest.mark.parametrize(("op", "config", "selection", "expected"), [
    ("ngram_matches", {"fuzzy_threshold": 150}, None, ["fuzzy_threshold", "less than or equal to 100"]),
    ("fuzzy_matches", {"fuzzy_threshold": -5}, None, ["fuzzy_threshold", "greater than or equal to 0"]),
    ("quality_traces", {"max_wait": -1}, ["quality_traces", "quality_rejects"], ["max_wait", "greater than or equal to 0"]),
    ("quality_traces", {"wait_percentile": 150}, ["quality_traces", "quality_rejects"], ["wait_percentile", "100"]),
    ("prompt_clusters", {"niter": 0}, None, ["niter", "greater than or equal to 1"]),
    ("sft_mix", {"caps": {"curated_rl": 10}}, ["sft_mix", "sft_mix_rejects", "sft_messages"],
     ["caps", "unknown parts ['curated_rl']", "curated_r1"]),
    ("sft_mix", {"caps": {"math": -3}}, ["sft_mix", "sft_mix_rejects", "sft_messages"], ["caps", ">= 0", "'math': -3"]),
    ("math_traces", {"sample_size": -1}, ["math_traces", "math_rejects"], ["sample_size", "greater than or equal to 0"]),
    ("domain_traces", {"kept_domains": ["Medicine"]}, ["domain_traces", "domain_rejects"],
     ["kept_domains", "outside the label set", "Medical"]),
])
def test_a_value_out_of_range_fails_before_any_data_is_read(home: Path, op, config, selection, expected):
    result = run(op, config, selection)  # an empty data home: reading anything would fail differently
    text = failure_text(result)
    assert not result.success
    assert "ValidationError" in text and "has not been materialized" not in text
    for part in expected:
        assert part in text


def test_a_choice_outside_its_set_is_refused_with_the_choices(home: Path):
    with pytest.raises(dg.DagsterInvalidConfigError, match="device not in enum type Literal\\['auto', 'cpu', 'gpu'\\]"):
        run("prompt_clusters", {"device": "tpu"})
