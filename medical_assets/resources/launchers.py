"""Where the work runs. `TrainingLauncher`: a training process, reported back through Dagster
Pipes, as a local subprocess (the default) or a Kubernetes pod (`kind="k8s"`, with
`pip install -e ".[k8s]"`). `run_executor`: the steps of a run, as Dagster's default
processes or one Kubernetes pod each.

The pod runs the same command in `image` (this project installed). The dataset, the checkpoints
and the stderr copy are paths under the data home, so the data home must be a volume mounted at
the same path in the pod that runs the Dagster step and in the training pod: the pod spec file
(a Kubernetes PodSpec in YAML, e.g. deploy/k8s/training-pod.yaml) says how, along with node
selectors and tolerations. The pod asks for one GPU per training process (`nproc_per_node`),
unless the pod spec file sets that limit itself.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field
import yaml
from dagster._core.errors import DagsterPipesExecutionError

KINDS = ("subprocess", "k8s")


def run_executor(choice: str | None, config_file: str | None = None) -> dg.ExecutorDefinition | None:
    """"k8s": the k8s_job_executor (one pod per step), configured for every run (backfills and
    sensor runs included) by `execution.config` of the run config file `config_file` when given,
    else by each run's config; None or "": Dagster's default executor."""
    if not choice:
        return None
    if choice != "k8s":
        raise ValueError(f"MEDICAL_ASSETS_EXECUTOR={choice!r}: use k8s, or leave it unset for Dagster's default")
    from dagster_k8s import k8s_job_executor

    if not config_file:
        return k8s_job_executor
    run_config = yaml.safe_load(Path(config_file).read_text(encoding="utf-8")) or {}
    config = (run_config.get("execution") or {}).get("config") if isinstance(run_config, dict) else None
    if not isinstance(config, dict):
        raise ValueError(f"{config_file}: expected run config with an `execution: config:` mapping for the "
                         "k8s_job_executor (see deploy/k8s/executor.yaml)")
    return k8s_job_executor.configured(config, name="k8s")


class TrainingLauncher(dg.ConfigurableResource):
    """Starts a training command through Pipes: as a local subprocess, or in a Kubernetes pod."""

    kind: str = Field(default="subprocess", description="subprocess (a child of the step) | k8s (a pod of its own).")
    image: str | None = Field(default=None, description="k8s: the image that runs the command.")
    namespace: str | None = Field(default=None, description='k8s: None is the namespace Dagster runs in (else "default").')
    pod_spec_file: str | None = Field(default=None, description="k8s: a YAML PodSpec merged under the pod (volumes, "
                                      "node selector, tolerations).")
    gpu_resource: str = Field(default="nvidia.com/gpu", description="k8s: the resource asked for once per training "
                              "process.")

    def run(self, context: dg.AssetExecutionContext, command: list[str], env: dict[str, str], extras: dict,
            processes: int) -> dg.PipesClientCompletedInvocation:
        """Run `command` to completion; a failed process raises DagsterPipesExecutionError."""
        if self.kind == "subprocess":
            return dg.PipesSubprocessClient().run(command=command, context=context, extras=extras, env=env)
        if self.kind != "k8s":
            raise ValueError(f"TrainingLauncher.kind {self.kind!r} is not one of {', '.join(KINDS)} "
                             "(MEDICAL_ASSETS_TRAINING_LAUNCHER)")
        from dagster_k8s import PipesK8sClient
        from dagster_k8s.client import DagsterK8sError

        try:
            return PipesK8sClient().run(context=context, extras=extras, image=self.image,
                                        command=self.pod_command(command), namespace=self.namespace, env=env,
                                        base_pod_spec=self.pod_spec(processes))
        except DagsterK8sError as error:  # the pod failed: fail the asset the way a failed subprocess does
            raise DagsterPipesExecutionError(f"training pod failed: {error}") from error

    def pod_command(self, command: list[str]) -> list[str]:
        """The command inside the image: this interpreter's path becomes the image's `python`."""
        return ["python" if part == sys.executable else part for part in command]

    def pod_spec(self, processes: int) -> dict[str, Any]:
        """The pod spec file (or an empty spec) with one `gpu_resource` per process in the first
        container's limits, unless the file sets it."""
        spec: dict[str, Any] = {}
        if self.pod_spec_file:
            spec = yaml.safe_load(Path(self.pod_spec_file).read_text(encoding="utf-8")) or {}
            if not isinstance(spec, dict) or not isinstance(spec.get("containers", []), list):
                raise ValueError(f"{self.pod_spec_file}: expected a Kubernetes PodSpec mapping "
                                 "(containers: [...], volumes: [...], ...)")
        containers = spec.setdefault("containers", [])
        if not containers:
            containers.append({})
        if not self.image and "image" not in containers[0]:
            raise ValueError("TrainingLauncher.image is needed to train in a Kubernetes pod: set "
                             "MEDICAL_ASSETS_TRAINING_IMAGE (or the first container's image in the pod spec file)")
        if self.gpu_resource:
            limits = containers[0].setdefault("resources", {}).setdefault("limits", {})
            limits.setdefault(self.gpu_resource, str(processes))
        return spec
