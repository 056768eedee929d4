"""The settings of a training run, one pydantic model per trainer: the run config the asset
shows in the launchpad (`SFTRunConfig`, `DapoRunConfig`), and what the training process receives
through Pipes (`SFTParams`, `DapoParams`: the same fields plus what the asset resolved), checked
by the child against the same model before anything loads."""

from __future__ import annotations

from typing import Any, Literal

import dagster as dg
from pydantic import ConfigDict, Field, ValidationError

from medical_assets.recipe import RECIPE


class LaunchConfig(dg.Config):
    nproc_per_node: int = Field(default=1, ge=1, description="Processes (GPUs) per node; more than 1 runs under "
                                "torchrun.")
    nnodes: int = Field(default=1, ge=1, description="Nodes; more than 1: start the same command on every node "
                        "(README, Training).")
    rdzv_endpoint: str | None = Field(default=None, description="host:port of node 0, for the torchrun rendezvous "
                                      "of several nodes.")
    cuda_visible_devices: str | None = Field(default=None, description='GPUs the training sees, e.g. "0,1,2,3,4,5,6" '
                                             "to leave GPU 7 to a `trl vllm-serve` server.")
    cpu_threads: int | None = Field(default=None, ge=1, description="Torch threads per process (OMP_NUM_THREADS); "
                                    "1 on a CPU shared with other work.")
    deepspeed: str = Field(default="auto", description="auto | none | zero3 | zero3_cpu | a path to a DeepSpeed "
                           "JSON config.")
    bf16: bool | None = Field(default=None, description="None: bf16 on a GPU that supports it, fp32 on CPU.")
    seed: int = Field(default=42, description="Seed of the trainer (data order, initialisation of new weights).")
    save_steps: int = Field(default=50, ge=1, description="A resumable checkpoint every this many steps.")
    save_total_limit: int = Field(default=2, ge=1, description="Checkpoints kept (a 135M one with optimizer state "
                                  "is ~2 GB; an 8B one ~100 GB).")
    resume: bool = Field(default=True, description="Continue from the newest checkpoint of the same run (same data "
                         "and settings).")
    stop_after_steps: int | None = Field(default=None, ge=1, description="Test hook: the child SIGKILLs itself after "
                                         "saving this step's checkpoint.")


class SFTRunConfig(LaunchConfig):
    input_table: str = Field(default="sft_mix", description="Table of canonical traces (sample_id, prompt, "
                             "reasoning, response) to train on: sft_mix, or e.g. decontaminated_traces.")
    max_rows: int | None = Field(default=None, ge=1, description="The first N rows only (the demo); None: all.")
    max_length: int = Field(default=RECIPE.sft.max_length, ge=16, description="Tokens per example (the recipe: "
                            "16,378); at most the model's context window.")
    global_batch_size: int = Field(default=RECIPE.sft.global_batch_size, ge=1, description="Examples per optimizer "
                                   "step (the recipe: 128) = per-device batch x gradient accumulation x processes.")
    per_device_batch_size: int = Field(default=1, ge=1, description="Examples per process per micro-step; with the "
                                       "world size it sets the gradient accumulation.")
    learning_rate: float = Field(default=RECIPE.sft.learning_rate, gt=0, description="Peak learning rate (the "
                                 "recipe: 5e-5).")
    epochs: float = Field(default=RECIPE.sft.epochs, gt=0, description="Passes over the data (the recipe: 8).")
    max_steps: int | None = Field(default=None, ge=1, description="Stop after this many optimizer steps (the "
                                  "demo); None: all epochs.")
    lr_scheduler: str = Field(default="cosine", description="A transformers scheduler name (cosine, linear, ...).")
    warmup: float = Field(default=0.1, ge=0, description="Warmup: a fraction (< 1) of all steps, or a number of "
                          "steps.")
    gradient_checkpointing: bool = Field(default=True, description="Recompute activations in the backward pass "
                                         "(less memory, ~30% slower).")


class DapoRunConfig(LaunchConfig):
    deepspeed: str = Field(default="auto", description="auto (ZeRO-3 on GPUs, none on CPU) | none | zero3 | "
                           "zero3_cpu | a path to a DeepSpeed JSON config.")
    num_generations: int = Field(default=RECIPE.dapo.responses_per_prompt, ge=2,
                                 description="Completions per prompt, one group (the recipe: 16).")
    max_completion_length: int = Field(default=RECIPE.dapo.max_response_tokens, ge=1,
                                       description="Tokens per completion (the recipe: 12,288).")
    overlong_buffer: int = Field(default=RECIPE.dapo.overlong_buffer_tokens, ge=0, description="The last tokens "
                                 "before the limit over which the soft overlong punishment ramps to -1 (the recipe: "
                                 "4,096).")
    epsilon: float = Field(default=RECIPE.dapo.clip_ratio_low, ge=0, le=1, description="Lower clip ratio (0.2).")
    epsilon_high: float = Field(default=RECIPE.dapo.clip_ratio_high, ge=0, le=1,
                                description="Upper clip ratio, clip-higher (0.28).")
    loss_type: str = Field(default=RECIPE.dapo.loss_type, description="TRL's GRPO loss type (dapo: token-level).")
    temperature: float = Field(default=RECIPE.dapo.temperature, gt=0, description="Rollout sampling temperature.")
    dynamic_sampling: bool = Field(default=RECIPE.dapo.dynamic_sampling, description="Drop groups whose rewards "
                                   "are all equal and generate more until the batch is full.")
    max_refill_rounds: int = Field(default=8, ge=0, description="Extra generation rounds per batch before padding "
                                   "with zero-signal groups.")
    per_device_batch_size: int = Field(default=16, ge=1, description="Completions per device per micro-step "
                                       "(whole groups: a multiple of num_generations).")
    gradient_accumulation_steps: int = Field(default=1, ge=1, description="Micro-steps per optimizer step.")
    learning_rate: float = Field(default=1e-6, gt=0, description="Learning rate.")
    beta: float = Field(default=0.0, ge=0, description="KL coefficient (DAPO: 0, no KL term).")
    epochs: float = Field(default=1, gt=0, description="Passes over the prompts.")
    max_steps: int | None = Field(default=None, ge=1, description="Stop after this many steps; None: all epochs.")
    max_prompts: int | None = Field(default=None, ge=1, description="The first N prompts of dapo_prompts only.")
    use_vllm: Literal["auto", "true", "false"] = Field(default="auto", description="Generate with vLLM; auto: "
                                                       "when vllm is importable and a GPU is present.")
    vllm_mode: Literal["colocate", "server"] = Field(default="colocate", description="colocate (inside the "
                                                     "training processes) | server (`trl vllm-serve` on other GPUs).")
    vllm_server_base_url: str | None = Field(default=None, description="The `trl vllm-serve` URL in server mode.")
    vllm_gpu_memory_utilization: float = Field(default=0.3, gt=0, le=1, description="GPU memory share vLLM takes "
                                               "in colocate mode.")
    vllm_tensor_parallel_size: int = Field(default=1, ge=1, description="GPUs per vLLM engine.")
    gradient_checkpointing: bool = Field(default=True, description="Recompute activations in the backward pass.")


class SFTParams(SFTRunConfig):
    """What `python -m medical_assets.train.sft` receives: the run config and what the asset resolved."""

    model_config = ConfigDict(extra="forbid")
    deepspeed: str | None = Field(description="The resolved DeepSpeed JSON path; None: no DeepSpeed.")
    base_model: str = Field(description="The checkpoint directory training starts from.")
    dataset: str = Field(description="The prompt/completion Parquet file of the run.")
    output_dir: str = Field(description="The run folder: checkpoints, final/, logs/.")
    gradient_accumulation_steps: int = Field(ge=1, description="Micro-steps per optimizer step.")


class DapoParams(DapoRunConfig):
    """What `python -m medical_assets.train.dapo` receives: the run config and what the asset resolved."""

    model_config = ConfigDict(extra="forbid")
    deepspeed: str | None = Field(description="The resolved DeepSpeed JSON path; None: no DeepSpeed.")
    use_vllm: bool = Field(description="Whether the rollouts are generated with vLLM.")  # type: ignore[assignment]
    policy: str = Field(description="The SFT checkpoint DAPO starts from.")
    dataset: str = Field(description="The prompts Parquet file of the run.")
    output_dir: str = Field(description="The run folder: checkpoints, final/, logs/.")


def checked_params(model: type[SFTParams] | type[DapoParams], extras: dict[str, Any]) -> dict[str, Any]:
    """The Pipes extras validated against `model`; a ValueError naming every bad field otherwise
    (the asset and this process disagree: both come from one checkout, so reinstall it)."""
    try:
        return model.model_validate(extras).model_dump()
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in error.errors())
        raise ValueError(f"{model.__name__}: the training parameters from Dagster are not valid: {problems}") from None
