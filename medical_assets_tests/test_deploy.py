"""Where work runs: the pools of the local instance, and the shipped Kubernetes configs
(deploy/k8s/) checked against Dagster's and dagster-k8s's own config schemas, no cluster needed."""

from __future__ import annotations

import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._config import process_config, resolve_to_config_type
from dagster._core.instance.config import dagster_instance_config
from dagster._serdes.config_class import class_from_code_pointer

from medical_assets.definitions import defs
from medical_assets.resources.launchers import TrainingLauncher, run_executor

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
LLM_CALLERS = ("exemplar_domains", "synthetic_traces", "eval_responses", "healthbench_scores")
TRAINING = ("sft_checkpoint", "dapo_checkpoint")
INSTANCE_ENV = {"MEDICAL_ASSETS_IMAGE": "registry.example/medical-assets:1", "DAGSTER_K8S_NAMESPACE": "medical-assets",
                "DAGSTER_PG_HOST": "postgres", "DAGSTER_PG_PORT": "5432", "DAGSTER_PG_USER": "dagster",
                "DAGSTER_PG_PASSWORD": "secret", "DAGSTER_PG_DB": "dagster"}

k8s = pytest.importorskip("dagster_k8s", reason='dagster-k8s is not installed: pip install -e ".[k8s]"')


def test_training_is_in_the_gpu_pool_and_llm_callers_in_the_llm_api_pool():
    assert {name: defs.resolve_assets_def(name).op.pool for name in TRAINING} == dict.fromkeys(TRAINING, "gpu")
    pools = {name: defs.resolve_assets_def(name).op.pool for name in LLM_CALLERS}
    assert pools == dict.fromkeys(LLM_CALLERS, "llm_api")


def test_local_instance_limits_each_unset_pool_to_one_step(tmp_path):
    (tmp_path / "dagster.yaml").write_text((ROOT / "dagster.yaml").read_text())
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        pools = instance.get_concurrency_config().pool_config
    assert (pools.default_pool_limit, pools.pool_granularity.value) == (1, "op")


@pytest.mark.parametrize("instance_file", ["dagster.yaml", "deploy/k8s/dagster.yaml"])
def test_run_monitoring_is_on_so_dead_runs_are_failed(tmp_path, monkeypatch, instance_file):
    for name, value in INSTANCE_ENV.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "dagster.yaml").write_text((ROOT / instance_file).read_text())
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["run_monitoring"]["enabled"] is True


def test_k8s_instance_config_passes_the_instance_and_launcher_schemas(tmp_path, monkeypatch):
    for name, value in INSTANCE_ENV.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "dagster.yaml").write_text((K8S / "dagster.yaml").read_text())
    config, _ = dagster_instance_config(str(tmp_path))  # raises on any error, naming the field
    for key in ("run_launcher", "run_coordinator"):
        configured = config[key]
        cls = class_from_code_pointer(configured["module"], configured["class"])
        result = process_config(resolve_to_config_type(cls.config_type()), configured.get("config", {}))
        assert result.success, f"{key}: {[error.message for error in result.errors]}"
    assert config["run_launcher"]["class"] == "K8sRunLauncher"
    assert config["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"


def executor_config() -> dict:
    return yaml.safe_load((K8S / "executor.yaml").read_text())["execution"]["config"]


def test_k8s_executor_config_passes_the_executor_schema():
    result = process_config(k8s.k8s_job_executor.config_schema.config_type, executor_config())
    assert result.success, [error.message for error in result.errors]
    assets = {key.to_user_string() for key in defs.resolve_all_asset_keys()}
    assert set(executor_config()["per_step_k8s_config"]) <= assets


def test_training_step_pods_ask_for_gpus_through_the_op_tag_and_the_executor_config():
    from dagster_k8s.container_context import K8sContainerContext
    from dagster_k8s.job import UserDefinedDagsterK8sConfig, get_user_defined_k8s_config

    config = executor_config()
    step = K8sContainerContext(run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(config["step_k8s_config"]))
    for name in TRAINING:
        tagged = get_user_defined_k8s_config(defs.resolve_assets_def(name).op.tags)
        assert tagged.container_config["resources"]["limits"] == {"nvidia.com/gpu": "1"}
        override = UserDefinedDagsterK8sConfig.from_dict(config["per_step_k8s_config"][name])
        merged = step.merge(K8sContainerContext(run_k8s_config=tagged)).merge(
            K8sContainerContext(run_k8s_config=override))  # the order of K8sStepHandler
        assert merged.run_k8s_config.container_config["resources"]["limits"] == {"nvidia.com/gpu": "8"}


def test_executor_file_configures_the_k8s_executor_for_every_run():
    assert run_executor(None) is None
    executor = run_executor("k8s", str(K8S / "executor.yaml"))
    assert executor.name == "k8s" and executor.config_schema.as_field().is_required is False
    with pytest.raises(ValueError, match="MEDICAL_ASSETS_EXECUTOR='celery'"):
        run_executor("celery")


def test_training_pod_asks_for_one_gpu_per_process_and_mounts_the_data_home():
    from dagster_k8s.pipes import build_pod_body

    launcher = TrainingLauncher(kind="k8s", image="registry.example/medical-assets:1",
                                pod_spec_file=str(K8S / "training-pod.yaml"))
    command = launcher.pod_command([sys.executable, "-m", "medical_assets.train.launch", "log", "--",
                                    sys.executable, "-m", "medical_assets.train.sft"])
    pod = build_pod_body("sft", launcher.image, command, {"DAGSTER_PIPES_CONTEXT": "x"}, None,
                         launcher.pod_spec(processes=8))
    container = pod.spec.containers[0]
    assert container.command[0] == container.command[5] == "python"
    assert container.resources.limits == {"nvidia.com/gpu": "8"}
    assert {mount.mount_path for mount in container.volume_mounts} == {"/data", "/dev/shm"}
    assert pod.spec.restart_policy == "Never"


def test_k8s_launcher_without_an_image_names_the_setting():
    with pytest.raises(ValueError, match="MEDICAL_ASSETS_TRAINING_IMAGE"):
        TrainingLauncher(kind="k8s").pod_spec(processes=1)
