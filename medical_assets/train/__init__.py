"""Training entry points, each run as its own process (or `torchrun` group) by an asset.

- `sft`: supervised fine-tuning with TRL's `SFTTrainer` under DeepSpeed ZeRO-3;
- `dapo`: DAPO with TRL's `GRPOTrainer` plus dynamic sampling (`dynamic_sampling`);
- `launch`: the wrapper that keeps a copy of the child's stderr, so a crash fails
  the asset with the last lines of the traceback;
- `plan`: the checks an asset makes before it starts a run (batch arithmetic,
  context window), as plain functions;
- `reporting`: how a training process talks back to Dagster through Pipes.

`configs/` holds the DeepSpeed configs (`zero3.json` for GPUs, `zero3_cpu.json`
for CPU checks) and the run configs of the recipe's real runs.
"""

from pathlib import Path

CONFIGS = Path(__file__).parent / "configs"
