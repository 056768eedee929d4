"""The model registry: names to specs in the data home, each a `models` dynamic partition,
from Python and from the command line the README documents."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from medical_assets.models import (
    EMBEDDED_MODEL,
    ModelSpec,
    evaluation_partitions,
    model_spec,
    read_models,
    register_model,
    remove_model,
)
from medical_assets.resources.llm import LLM

ROOT = Path(__file__).resolve().parents[1]


def checkpoint_dir(path: Path) -> str:
    """A directory that passes registration's check (a config.json); nothing loads it here."""
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    return str(path)


def test_registered_model_is_a_partition_and_resolves_to_its_spec(home: Path):
    instance = dg.DagsterInstance.ephemeral()
    spec = ModelSpec("qwen3-8b-sft", model=checkpoint_dir(home / "sft"), backend="vllm", dtype="bfloat16")
    register_model(spec, instance, home)
    assert instance.get_dynamic_partitions("models") == ["qwen3-8b-sft"]
    assert model_spec("qwen3-8b-sft", home) == spec
    assert (home / "models.yaml").exists()


def test_a_partition_without_registry_entry_is_read_as_a_hub_id_on_transformers(home: Path):
    assert model_spec("Qwen/Qwen3-8B", home) == ModelSpec("Qwen/Qwen3-8B", model="Qwen/Qwen3-8B")
    assert model_spec(EMBEDDED_MODEL, home).model is None  # the embedded GGUF is always known


def test_spec_replaces_model_and_backend_but_keeps_the_configured_device_and_batching():
    configured = LLM(device="cpu", batch_size=3, max_concurrency=5)
    llm = ModelSpec("served", model="my-model", backend="openai", base_url="http://127.0.0.1:9/v1").llm(configured)
    assert (llm.model, llm.backend, llm.base_url) == ("my-model", "openai", "http://127.0.0.1:9/v1")
    assert (llm.device, llm.batch_size, llm.max_concurrency, llm.dtype) == ("cpu", 3, 5, "auto")


@pytest.mark.parametrize("name", ["a|b", "a,b", "", " padded"])
def test_names_that_break_partition_keys_are_refused(home: Path, name: str):
    with pytest.raises(ValueError, match="cannot be a partition key"):
        register_model(ModelSpec(name), dg.DagsterInstance.ephemeral(), home)


def test_a_name_is_not_silently_re_pointed_at_another_model(home: Path):
    instance = dg.DagsterInstance.ephemeral()
    first, second = checkpoint_dir(home / "a"), checkpoint_dir(home / "b")
    register_model(ModelSpec("mine", model=first), instance, home)
    with pytest.raises(ValueError, match="already registered"):
        register_model(ModelSpec("mine", model=second), instance, home)
    register_model(ModelSpec("mine", model=second), instance, home, replace=True)
    assert model_spec("mine", home).model == second
    remove_model("mine", instance, home)
    assert "mine" not in read_models(home) and instance.get_dynamic_partitions("models") == []


@pytest.mark.parametrize(("spec", "reason"), [
    (ModelSpec("gone", model="/no/such/checkpoint"), "/no/such/checkpoint does not exist"),
    (ModelSpec("rel", model="./missing-dir"), "./missing-dir does not exist"),
    (ModelSpec("served", model="qwen3-8b", backend="openai"), "needs the server's URL: --base-url"),
])
def test_a_model_that_cannot_load_is_refused_at_registration(home: Path, monkeypatch, spec: ModelSpec, reason: str):
    monkeypatch.delenv("MEDICAL_ASSETS_LLM_BASE_URL", raising=False)
    instance = dg.DagsterInstance.ephemeral()
    with pytest.raises(ValueError, match=reason.replace(".", r"\.")):
        register_model(spec, instance, home)
    assert instance.get_dynamic_partitions("models") == [] and not (home / "models.yaml").exists()


def test_a_directory_without_config_json_is_not_a_checkpoint(home: Path):
    (home / "empty").mkdir()
    with pytest.raises(ValueError, match="not a checkpoint directory"):
        register_model(ModelSpec("empty", model=str(home / "empty")), dg.DagsterInstance.ephemeral(), home)


def test_a_hub_id_and_a_served_model_with_its_url_are_registered(home: Path):
    instance = dg.DagsterInstance.ephemeral()
    register_model(ModelSpec("qwen", model="Qwen/Qwen3-8B"), instance, home)
    register_model(ModelSpec("served", model="qwen3-8b", backend="openai", base_url="http://127.0.0.1:9/v1"),
                   instance, home)
    assert instance.get_dynamic_partitions("models") == ["qwen", "served"]


def test_evaluation_partitions_cover_the_ten_benchmarks():
    keys = evaluation_partitions("m")
    assert len(keys) == 10 and {k.keys_by_dimension["model"] for k in keys} == {"m"}
    assert str(keys[0]) == "medmcqa|m"


def test_cli_registers_a_model_and_a_job_backfill_queues_one_run_per_benchmark(home: Path):
    """The README's commands, in a temporary DAGSTER_HOME: `python -m medical_assets.models add`,
    then `dagster job backfill -j evaluate_model` over the model's ten partitions (the runs wait
    in the queue for the daemon that `make ui` starts)."""
    env = {**os.environ, "MEDICAL_ASSETS_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    (home / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    python = [sys.executable, "-m", "medical_assets.models"]
    added = subprocess.run([*python, "add", "ckpt-a", "--model", checkpoint_dir(home / "a")], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=120)
    assert added.returncode == 0, added.stderr[-2000:]
    keys = subprocess.run([*python, "partitions", "ckpt-a"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120).stdout.strip()
    dagster = Path(sys.executable).parent / "dagster"
    backfill = subprocess.run([str(dagster), "job", "backfill", "-w", "workspace.yaml", "-j", "evaluate_model",
                               "--partitions", keys, "--noprompt"], cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=180)
    assert backfill.returncode == 0, backfill.stdout[-2000:] + backfill.stderr[-2000:]
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    assert instance.get_dynamic_partitions("models") == ["ckpt-a"]
    runs = instance.get_runs()
    assert sorted(run.tags["dagster/partition"] for run in runs) == sorted(keys.split(","))
    assert {run.job_name for run in runs} == {"evaluate_model"}
