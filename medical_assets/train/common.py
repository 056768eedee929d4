"""What the SFT and DAPO processes share: device settings, the resume point, the dataset file."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def device_settings(params: dict[str, Any]) -> dict[str, Any]:
    """TrainingArguments for the hardware: bf16 on a GPU that has it, fp32 on CPU (TRL's default
    bf16 on CPU, and bf16 DeepSpeed on CPU, learn far worse), and the DeepSpeed config if any."""
    import torch

    cuda = torch.cuda.is_available()
    bf16 = params.get("bf16")
    if bf16 is None:
        bf16 = cuda and torch.cuda.is_bf16_supported()
    return {"bf16": bool(bf16), "fp16": False, "use_cpu": not cuda, "deepspeed": params.get("deepspeed"),
            "model_init_kwargs": {"dtype": "bfloat16" if bf16 else "float32"}}


def last_checkpoint(output_dir: Path) -> str | None:
    """The newest `checkpoint-N` folder of a run that stopped before the end (None for a fresh run)."""
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None


def read_dataset(path: str):
    """A Parquet file written by the asset, as a `datasets.Dataset` (no cache files)."""
    import datasets
    import pyarrow.parquet as pq

    return datasets.Dataset(pq.read_table(path))
