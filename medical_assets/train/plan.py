"""The checks a training asset makes before it starts a run, and the arithmetic they share.

Each failure says what is wrong and which setting fixes it: a run that cannot be
right should stop before it takes a GPU, not after an hour.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path


class PlanError(ValueError):
    """A training run that must not start; the message says why and how to fix it."""


def gradient_accumulation_steps(global_batch_size: int, per_device_batch_size: int, world_size: int) -> int:
    """global batch = per-device batch x gradient accumulation x world size (the recipe: 128)."""
    for name, value in (("global_batch_size", global_batch_size), ("per_device_batch_size", per_device_batch_size),
                        ("world size (nproc_per_node x nnodes)", world_size)):
        if value < 1:
            raise PlanError(f"{name} is {value}; it must be at least 1")
    per_step = per_device_batch_size * world_size
    if global_batch_size % per_step:
        raise PlanError(
            f"global_batch_size {global_batch_size} is not divisible by per_device_batch_size {per_device_batch_size} "
            f"x world size {world_size} = {per_step}: choose values whose product divides it "
            f"(e.g. per_device_batch_size {_divisor_hint(global_batch_size, world_size)})"
        )
    return global_batch_size // per_step


def _divisor_hint(global_batch_size: int, world_size: int) -> int:
    if global_batch_size % world_size:
        return 1
    per_device = global_batch_size // world_size
    return max(d for d in range(1, min(per_device, 8) + 1) if per_device % d == 0)


def model_config(checkpoint: str | Path) -> dict:
    """The `config.json` of a local checkpoint directory."""
    path = Path(checkpoint) / "config.json"
    if not path.exists():
        raise PlanError(f"{path} does not exist: the base model must be a checkpoint directory "
                        "(materialize base_model)")
    return json.loads(path.read_text())


def context_window(config: dict) -> int | None:
    """The model's context window (`max_position_embeddings`, or the text config's for multimodal models)."""
    for source in (config, config.get("text_config") or {}):
        if isinstance(source.get("max_position_embeddings"), int):
            return source["max_position_embeddings"]
    return None


def check_max_length(max_length: int, window: int | None, model: str) -> None:
    if max_length < 1:
        raise PlanError(f"max_length is {max_length}; it must be at least 1")
    if window is not None and max_length > window:
        raise PlanError(
            f"max_length {max_length} is above the context window of {model} (max_position_embeddings {window}): "
            f"set max_length to at most {window}, or train a model with a longer window"
        )


def check_generation_batch(per_device_batch_size: int, steps_per_generation: int, world_size: int,
                           num_generations: int, dynamic_sampling: bool) -> None:
    """GRPO groups `num_generations` completions of one prompt: a generation batch must hold whole groups
    (and, for dynamic sampling, each process's share must, so that a process can drop a group alone)."""
    if num_generations < 2:
        raise PlanError(f"num_generations is {num_generations}: a group needs at least 2 completions to compare")
    local = per_device_batch_size * steps_per_generation
    total = local * world_size
    if total % num_generations:
        raise PlanError(
            f"the generation batch (per_device_batch_size {per_device_batch_size} x steps_per_generation "
            f"{steps_per_generation} x world size {world_size} = {total}) is not divisible by num_generations "
            f"{num_generations}: make per_device_batch_size a multiple of num_generations"
        )
    if dynamic_sampling and local % num_generations:
        raise PlanError(
            f"dynamic sampling drops whole groups on each process, so per_device_batch_size {per_device_batch_size} x "
            f"steps_per_generation {steps_per_generation} = {local} must be divisible by num_generations "
            f"{num_generations}"
        )


def check_overlong_buffer(max_completion_length: int, overlong_buffer: int) -> None:
    if not 0 <= overlong_buffer < max_completion_length:
        raise PlanError(
            f"overlong_buffer {overlong_buffer} must be at least 0 and below max_completion_length "
            f"{max_completion_length} (the soft punishment applies over its last tokens)"
        )


def free_port() -> int:
    """A TCP port nobody listens on now (for MASTER_PORT of a single-node run)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
