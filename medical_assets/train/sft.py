"""Supervised fine-tuning, run by the `sft_checkpoint` asset: `python -m medical_assets.train.sft`
(under `torchrun` for several processes), with its parameters in the Dagster Pipes extras.

The dataset holds conversational prompt/completion rows (the user turn; the assistant turn
with its reasoning inside `<think>`), so the loss is on the assistant's tokens only
(`completion_only_loss`), whatever the model's chat template. A run resumes from its newest
checkpoint (weights, optimizer, scheduler, data position) when one exists in its folder.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from medical_assets.train.common import device_settings, last_checkpoint, read_dataset
from medical_assets.train.config import SFTParams, checked_params
from medical_assets.train.reporting import PipesProgress, pipes_session, train_and_report


def train(params: dict[str, Any], pipes, log) -> None:
    from transformers import set_seed
    from trl import SFTConfig, SFTTrainer

    set_seed(params["seed"])
    output_dir = Path(params["output_dir"])
    resume = last_checkpoint(output_dir) if params.get("resume", True) else None
    devices = device_settings(params)
    args = SFTConfig(
        output_dir=str(output_dir),
        max_length=params["max_length"],
        per_device_train_batch_size=params["per_device_batch_size"],
        gradient_accumulation_steps=params["gradient_accumulation_steps"],
        learning_rate=params["learning_rate"],
        num_train_epochs=params["epochs"],
        max_steps=params.get("max_steps") or -1,
        lr_scheduler_type=params["lr_scheduler"],
        warmup_steps=params["warmup"],
        activation_checkpointing=params["gradient_checkpointing"],
        completion_only_loss=True,
        packing=False,
        logging_steps=1,
        save_strategy="steps",
        save_steps=params["save_steps"],
        save_total_limit=params["save_total_limit"],
        seed=params["seed"],
        report_to="none",
        dataloader_num_workers=0,
        disable_tqdm=True,
        **devices,
    )
    progress = PipesProgress(log, kill_after_step=params.get("stop_after_steps"))
    trainer = SFTTrainer(model=params["base_model"], args=args, train_dataset=read_dataset(params["dataset"]),
                         callbacks=[progress])
    final, _, metadata = train_and_report(trainer, progress, resume, output_dir, pipes, log,
                                          deepspeed=str(params.get("deepspeed") or "none"))
    if pipes is not None:
        log.info(f"saved the fine-tuned model in {final}")
        pipes.report_asset_materialization(metadata=metadata)


def main() -> None:
    warnings.filterwarnings("ignore", category=FutureWarning, module="torch.distributed")
    with pipes_session() as (pipes, extras, log):
        train(checked_params(SFTParams, extras), pipes, log)


if __name__ == "__main__":
    main()
