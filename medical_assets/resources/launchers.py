"""Where the work runs. `TrainingLauncher`: a training process (its torchrun / DeepSpeed
command, `training_command` and `deepspeed_config`), reported back through Dagster Pipes, as a
local subprocess (the default) or a Kubernetes pod (`kind="k8s"`, with
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
import yaml
from dagster._core.errors import DagsterPipesExecutionError  # private: Dagster 1.13 exports no public name for it
from pydantic import Field

from medical_assets.train import CONFIGS, plan
from medical_assets.train.launch import stderr_tail

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


class TrainingFailed(RuntimeError):
    """A training process that failed: the message names it; `tail` is the end of its stderr."""

    def __init__(self, message: str, tail: str, log: Path):
        super().__init__(message)
        self.tail, self.log = tail, log


def deepspeed_config(choice: str, default_on_cpu: str | None) -> str | None:
    """The DeepSpeed JSON a run uses: `auto` is ZeRO-3 on GPUs and on CPU `default_on_cpu` (the CPU
    variant for SFT, none for DAPO); a shipped config's name (train/configs/) or a path; `none`."""
    import torch

    if choice == "auto":
        choice = "zero3" if torch.cuda.is_available() else (default_on_cpu or "none")
    if choice == "none":
        return None
    shipped = CONFIGS / f"{choice}.json"
    path = shipped if shipped.exists() else Path(choice).expanduser()
    if not path.is_file():
        shipped_names = ", ".join(sorted(p.stem for p in CONFIGS.glob("*.json")))
        raise plan.PlanError(f"deepspeed={choice!r} is neither a shipped config ({shipped_names}) "
                             "nor an existing JSON file")
    return str(path.resolve())


def training_command(module: str, run_id: str, log: Path, *, nproc_per_node: int = 1, nnodes: int = 1,
                     rdzv_endpoint: str | None = None, cuda_visible_devices: str | None = None,
                     cpu_threads: int | None = None) -> tuple[list[str], dict[str, str]]:
    """(command, environment) of a training child: one process with the distributed environment
    set, or torchrun (a c10d rendezvous across nodes); wrapped by `train.launch`, which copies its
    stderr to `log`."""
    env = {"TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1"}
    if cuda_visible_devices is not None:
        env["CUDA_VISIBLE_DEVICES"] = cuda_visible_devices
    if cpu_threads is not None:
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(cpu_threads)
    if nproc_per_node * nnodes > 1:
        runner = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc_per_node}"]
        if nnodes > 1:
            if not rdzv_endpoint:
                raise plan.PlanError(f"nnodes={nnodes} needs rdzv_endpoint (host:port of node 0)")
            runner += [f"--nnodes={nnodes}", "--rdzv_backend=c10d", f"--rdzv_endpoint={rdzv_endpoint}",
                       f"--rdzv_id={run_id}"]
        else:
            runner += ["--standalone"]
        command = runner + ["-m", module]
    else:
        command = [sys.executable, "-m", module]
        env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(plan.free_port()), RANK="0", WORLD_SIZE="1",
                   LOCAL_RANK="0", LOCAL_WORLD_SIZE="1")
    return [sys.executable, "-m", "medical_assets.train.launch", str(log), "--", *command], env


class TrainingLauncher(dg.ConfigurableResource):
    """Starts a training command through Pipes: as a local subprocess, or in a Kubernetes pod."""

    kind: str = Field(default="subprocess", description="subprocess (a child of the step) | k8s (a pod of its own).")
    image: str | None = Field(default=None, description="k8s: the image that runs the command.")
    namespace: str | None = Field(default=None, description='k8s: None is the namespace Dagster runs in (else "default").')
    pod_spec_file: str | None = Field(default=None, description="k8s: a YAML PodSpec merged under the pod (volumes, "
                                      "node selector, tolerations).")
    gpu_resource: str = Field(default="nvidia.com/gpu", description="k8s: the resource asked for once per training "
                              "process.")

    def train(self, context: dg.AssetExecutionContext, module: str, run_dir: Path, extras: dict,
              **launch: Any) -> dict:
        """Run `python -m module` (or torchrun of it, see `training_command`) for the run in `run_dir`
        through Pipes, with `extras` as its parameters; the metadata it reported. A failed process
        raises `TrainingFailed` with the end of its stderr (copied to run_dir/logs/)."""
        log = run_dir / "logs" / f"{context.run.run_id}.stderr.log"
        command, env = training_command(module, run_dir.name, log, **launch)
        context.log.info(f"starting {' '.join(command)} (stderr copy: {log})")
        try:
            invocation = self.run(context, command, env, extras, processes=launch.get("nproc_per_node", 1))
        except DagsterPipesExecutionError as error:
            tail = stderr_tail(log)
            raise TrainingFailed(f"{module} failed ({error}); last lines of its stderr ({log}):\n{tail}", tail,
                                 log) from error
        return dict(invocation.get_materialize_result().metadata)

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
