"""The training launcher's commands: one process with its distributed environment, torchrun on
one node, or a c10d rendezvous across nodes; DeepSpeed configs by name or path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from medical_assets.resources.launchers import deepspeed_config, training_command
from medical_assets.train import plan


def test_one_process_runs_the_module_with_a_single_rank_environment(tmp_path: Path):
    command, env = training_command("medical_assets.train.sft", "run1", tmp_path / "log", cpu_threads=1)
    assert command == [sys.executable, "-m", "medical_assets.train.launch", str(tmp_path / "log"), "--",
                       sys.executable, "-m", "medical_assets.train.sft"]
    assert (env["RANK"], env["WORLD_SIZE"], env["OMP_NUM_THREADS"]) == ("0", "1", "1")


def test_several_processes_run_under_torchrun_standalone(tmp_path: Path):
    command, env = training_command("medical_assets.train.sft", "run1", tmp_path / "log", nproc_per_node=8,
                                    cuda_visible_devices="0,1,2,3,4,5,6,7")
    assert command[5:] == [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=8", "--standalone",
                           "-m", "medical_assets.train.sft"]
    assert env["CUDA_VISIBLE_DEVICES"] == "0,1,2,3,4,5,6,7" and "RANK" not in env


def test_several_nodes_meet_at_the_rendezvous_of_node_0(tmp_path: Path):
    command, _ = training_command("medical_assets.train.dapo", "run7", tmp_path / "log", nproc_per_node=8, nnodes=2,
                                  rdzv_endpoint="node0:29500")
    assert {"--nnodes=2", "--rdzv_backend=c10d", "--rdzv_endpoint=node0:29500", "--rdzv_id=run7"} <= set(command)
    with pytest.raises(plan.PlanError, match="nnodes=2 needs rdzv_endpoint"):
        training_command("medical_assets.train.dapo", "run7", tmp_path / "log", nnodes=2)


def test_deepspeed_configs_by_shipped_name_or_path_and_a_clear_refusal(tmp_path: Path):
    assert deepspeed_config("zero3_cpu", None).endswith("zero3_cpu.json")
    assert deepspeed_config("none", "zero3_cpu") is None
    own = tmp_path / "mine.json"
    own.write_text("{}")
    assert deepspeed_config(str(own), None) == str(own.resolve())
    with pytest.raises(plan.PlanError, match="neither a shipped config"):
        deepspeed_config("zero9", None)
