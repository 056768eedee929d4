"""DAPO, run by the `dapo_checkpoint` asset: `python -m medical_assets.train.dapo` (under
`torchrun` for several processes), parameters in the Dagster Pipes extras.

TRL's `GRPOTrainer` in the DAPO configuration (token-level `loss_type="dapo"`, clip-higher
0.2/0.28, no KL, soft overlong punishment, truncated completions masked) plus dynamic
sampling, which TRL lacks: `DynamicSamplingGRPOTrainer` drops the groups whose accuracy
rewards are all equal and generates for more prompts until the batch is full.

Rewards: `accuracy_reward` (1.0 when `extract_choice` reads the gold letter, the same reader
as evaluation) and TRL's soft overlong punishment over the last `overlong_buffer` tokens.
"""

from __future__ import annotations

import random
import warnings
from pathlib import Path
from typing import Any

import torch
from trl import GRPOTrainer

from medical_assets.train.common import device_settings, last_checkpoint, read_dataset
from medical_assets.train.config import DapoParams, checked_params
from medical_assets.train.dynamic_sampling import fill_batch
from medical_assets.train.reporting import PipesProgress, pipes_session, train_and_report
from medical_assets.train.rewards import accuracy_reward


class DynamicSamplingGRPOTrainer(GRPOTrainer):
    """GRPOTrainer whose training batches hold only groups that carry signal (DAPO's dynamic
    sampling). Each generation batch is scored as usual; the groups whose accuracy rewards are
    all equal are dropped, and prompts drawn from the training set (the same prompt repeated
    `num_generations` times) are generated and scored until the batch is full again, for at
    most `max_refill_rounds` rounds (then zero-signal groups fill the rest)."""

    def __init__(self, *args, accuracy_reward_index: int = 0, max_refill_rounds: int = 8, **kwargs):
        super().__init__(*args, **kwargs)
        self.accuracy_reward_index = accuracy_reward_index
        self.max_refill_rounds = max_refill_rounds
        self._last_rewards: torch.Tensor | None = None
        self._refill_random = random.Random(self.args.seed + 1000 * self.accelerator.process_index)
        self._refill_order: list[int] = []

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._last_rewards = rewards  # every process's rows, gathered: (rows x processes, reward functions)
        return rewards

    def _refill_inputs(self, rows: int) -> list[dict[str, Any]]:
        """`rows` // num_generations prompts from a shuffled pass over the training set, each repeated."""
        inputs = []
        for _ in range(rows // self.num_generations):
            if not self._refill_order:
                self._refill_order = list(range(len(self.train_dataset)))
                self._refill_random.shuffle(self._refill_order)
            example = self.train_dataset[self._refill_order.pop()]
            inputs += [dict(example) for _ in range(self.num_generations)]
        return inputs

    def _generate_and_score_completions(self, inputs):
        if not self.model.training:
            return super()._generate_and_score_completions(inputs)
        rows = len(inputs)
        process = self.accelerator.process_index
        scalars: dict[str, Any] = {}

        def score(round_: int):
            batch_inputs = inputs if round_ == 0 else self._refill_inputs(rows)
            output = super(DynamicSamplingGRPOTrainer, self)._generate_and_score_completions(batch_inputs)
            unsupported = [k for k, v in output.items() if not isinstance(v, torch.Tensor)]
            if unsupported:
                raise NotImplementedError(f"dynamic sampling handles text-only batches; got {unsupported}")
            scalars.update({k: v for k, v in output.items() if v.dim() == 0})
            accuracy = self._last_rewards[process * rows:(process + 1) * rows, self.accuracy_reward_index]
            return output, accuracy.to(output["advantages"].device)

        def everyone_done(done: bool) -> bool:
            still_short = torch.tensor(0.0 if done else 1.0, device=self.accelerator.device)
            return self.accelerator.reduce(still_short, reduction="sum").item() == 0

        pad = self.processing_class.pad_token_id if hasattr(self.processing_class, "pad_token_id") else 0
        batch, stats = fill_batch(score, rows, self.num_generations, self.max_refill_rounds, everyone_done,
                                  pad_values={"prompt_ids": pad, "completion_ids": pad})
        loss_mask = batch["completion_mask"] * batch["tool_mask"] if "tool_mask" in batch else batch["completion_mask"]
        batch["num_items_in_batch"] = self.accelerator.gather(loss_mask.sum()).sum()
        for key, value in scalars.items():
            batch.setdefault(key, value)
        metrics = self._metrics["train"]
        metrics["dynamic_sampling/rounds"].append(float(stats.rounds))
        metrics["dynamic_sampling/kept_groups"].append(float(stats.groups_kept))
        metrics["dynamic_sampling/padded_groups"].append(float(stats.groups_padded))
        return batch


def train(params: dict[str, Any], pipes, log) -> None:
    from transformers import set_seed
    from trl import GRPOConfig
    from trl.rewards import get_soft_overlong_punishment

    set_seed(params["seed"])
    output_dir = Path(params["output_dir"])
    resume = last_checkpoint(output_dir) if params.get("resume", True) else None
    vllm = {}
    if params["use_vllm"]:
        vllm = {"use_vllm": True, "vllm_mode": params["vllm_mode"],
                "vllm_gpu_memory_utilization": params["vllm_gpu_memory_utilization"],
                "vllm_tensor_parallel_size": params["vllm_tensor_parallel_size"]}
        if params.get("vllm_server_base_url"):
            vllm["vllm_server_base_url"] = params["vllm_server_base_url"]
    args = GRPOConfig(
        output_dir=str(output_dir),
        loss_type=params["loss_type"],
        epsilon=params["epsilon"],
        epsilon_high=params["epsilon_high"],
        beta=params["beta"],
        num_generations=params["num_generations"],
        max_completion_length=params["max_completion_length"],
        temperature=params["temperature"],
        mask_truncated_completions=True,
        per_device_train_batch_size=params["per_device_batch_size"],
        gradient_accumulation_steps=params["gradient_accumulation_steps"],
        learning_rate=params["learning_rate"],
        num_train_epochs=params["epochs"],
        max_steps=params.get("max_steps") or -1,
        activation_checkpointing=params["gradient_checkpointing"],
        logging_steps=1,
        save_strategy="steps",
        save_steps=params["save_steps"],
        save_total_limit=params["save_total_limit"],
        seed=params["seed"],
        report_to="none",
        disable_tqdm=True,
        **vllm,
        **device_settings(params),
    )
    overlong = get_soft_overlong_punishment(params["max_completion_length"], params["overlong_buffer"])
    trainer_class = DynamicSamplingGRPOTrainer if params["dynamic_sampling"] else GRPOTrainer
    extra = {"max_refill_rounds": params["max_refill_rounds"]} if params["dynamic_sampling"] else {}
    progress = PipesProgress(log, kill_after_step=params.get("stop_after_steps"))
    trainer = trainer_class(model=params["policy"], reward_funcs=[accuracy_reward, overlong], args=args,
                            train_dataset=read_dataset(params["dataset"]), callbacks=[progress], **extra)
    final, rows, metadata = train_and_report(
        trainer, progress, resume, output_dir, pipes, log,
        generation_backend=f"vllm ({params['vllm_mode']})" if params["use_vllm"] else "transformers",
        dynamic_sampling=params["dynamic_sampling"],
    )
    if pipes is not None:
        rewards = [r["reward"] for r in rows if "reward" in r]
        metadata.update(mean_reward=sum(rewards) / len(rewards) if rewards else 0.0,
                        seconds_per_step=round(metadata["train_runtime_s"] / max(len(rows), 1), 2))
        log.info(f"saved the DAPO model in {final}")
        pipes.report_asset_materialization(metadata=metadata)


def main() -> None:
    warnings.filterwarnings("ignore", category=FutureWarning, module="torch.distributed")
    with pipes_session() as (pipes, extras, log):
        train(checked_params(DapoParams, extras), pipes, log)


if __name__ == "__main__":
    main()
