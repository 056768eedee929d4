"""How a training process talks back to Dagster: Pipes on rank 0, a log line per
optimizer step, and the loss curve in the materialization's metadata.

Only rank 0 opens the Pipes session (one writer per message channel); the other
ranks of a `torchrun` group read the same run parameters (the Pipes "extras")
from the context file and report nothing.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from transformers import TrainerCallback

LOGGED_KEYS = ("loss", "learning_rate", "grad_norm", "reward", "reward_std", "frac_reward_zero_std",
               "completions/mean_length", "completions/clipped_ratio", "dynamic_sampling/rounds",
               "dynamic_sampling/kept_groups", "dynamic_sampling/padded_groups", "clip_ratio/low_mean",
               "clip_ratio/high_mean", "clip_ratio/region_mean")
SPARK = "▁▂▃▄▅▆▇█"


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


@contextmanager
def pipes_session() -> Iterator[tuple[Any, dict[str, Any], logging.Logger]]:
    """(Pipes context or None, the run's parameters, a logger). Outside Dagster (no Pipes
    environment) the parameters come from nowhere: run the module through its asset."""
    from dagster_pipes import PipesDefaultContextLoader, PipesEnvVarParamsLoader, open_dagster_pipes

    if rank() == 0:
        with open_dagster_pipes() as pipes:
            yield pipes, dict(pipes.extras), pipes.log
    else:
        params = PipesEnvVarParamsLoader().load_context_params()
        with PipesDefaultContextLoader().load_context(params) as data:
            extras = dict(data.get("extras") or {})
        yield None, extras, logging.getLogger(f"medical_assets.train.rank{rank()}")


class PipesProgress(TrainerCallback):
    """Logs each optimizer step (loss, learning rate, tokens/s, the RL metrics when there are
    any, and the time left at the pace of this process's steps so far) to Dagster, keeps the rows
    for the final metadata, and can kill its own process right after a checkpoint is saved
    (`kill_after_step`: the test of resuming after a lost node)."""

    def __init__(self, log: logging.Logger, kill_after_step: int | None = None):
        self.log = log
        self.kill_after_step = kill_after_step
        self.rows: list[dict[str, float]] = []
        self._since = self._began = time.monotonic()
        self._first_step = 0
        self._tokens = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        self._since = self._began = time.monotonic()
        self._first_step = state.global_step  # past 0 when resumed: the pace counts this process's steps
        if rank() == 0:
            self.log.info(f"training: {state.max_steps} optimizer steps, {args.world_size} process(es), "
                          f"per-device batch {args.per_device_train_batch_size}, "
                          f"gradient accumulation {args.gradient_accumulation_steps}")

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "loss" not in logs or not state.is_world_process_zero:
            return
        now = time.monotonic()
        row = {"step": state.global_step, **{k: float(logs[k]) for k in LOGGED_KEYS if k in logs}}
        tokens = logs.get("num_tokens")
        if tokens is not None:
            tokens = float(tokens)
            previous = self._tokens if tokens >= self._tokens else 0.0  # the count restarts after a resume
            row["tokens_per_s"] = (tokens - previous) / max(now - self._since, 1e-9)
            row["tokens"] = tokens
            self._tokens = tokens
        self._since = now
        self.rows.append(row)
        extras = "".join(f", {k.split('/')[-1]} {row[k]:.3f}" for k in ("reward", "frac_reward_zero_std") if k in row)
        speed = f", {row['tokens_per_s']:.0f} tokens/s" if "tokens_per_s" in row else ""
        left = time_left(state.global_step - self._first_step, state.max_steps - state.global_step, now - self._began)
        self.log.info(f"step {state.global_step}/{state.max_steps}: loss {row['loss']:.4f}, "
                      f"lr {row.get('learning_rate', float('nan')):.2e}{speed}{extras}, {left}")

    def on_save(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.log.info(f"saved checkpoint-{state.global_step} in {args.output_dir}")
        if self.kill_after_step is not None and state.global_step >= self.kill_after_step:
            if state.is_world_process_zero:
                self.log.warning(f"stop_after_steps={self.kill_after_step}: killing this process (SIGKILL)")
            for handler in logging.getLogger().handlers:
                handler.flush()
            os.kill(os.getpid(), signal.SIGKILL)


def time_left(steps_done: int, steps_left: int, seconds: float) -> str:
    """"about N s left" at the pace of the steps done so far (what the log line ends with)."""
    if steps_left <= 0:
        return "done"
    if steps_done <= 0:
        return "time left unknown"
    left = steps_left * seconds / steps_done
    return f"about {left:,.0f} s left" if left < 3600 else f"about {left / 3600:,.1f} h left"


def loss_history(log_history: list[dict[str, Any]], live_rows: list[dict[str, float]]) -> list[dict[str, float]]:
    """One row per logged step: the trainer's whole history (restored from the checkpoint when the
    run resumed) with the tokens/s measured live in this process where there is one."""
    live = {row["step"]: row for row in live_rows}
    rows = []
    for entry in log_history:
        if "loss" not in entry or "step" not in entry:
            continue
        row = {"step": entry["step"], **{k: float(entry[k]) for k in LOGGED_KEYS if k in entry}}
        row.update({k: v for k, v in live.get(entry["step"], {}).items() if k in ("tokens_per_s", "tokens")})
        rows.append(row)
    return rows


def sparkline(values: list[float]) -> str:
    if not values:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return "".join(SPARK[min(int((v - low) / span * (len(SPARK) - 1) + 0.5), len(SPARK) - 1)] for v in values)


def curve_markdown(rows: list[dict[str, float]], max_rows: int = 200) -> str:
    """The loss curve as the UI shows it: a sparkline, then a table of every logged step."""
    if not rows:
        return "(no step logged)"
    columns = ["step"] + [k for k in ("loss", "learning_rate", "tokens_per_s", "reward", "frac_reward_zero_std",
                                      "dynamic_sampling/rounds", "dynamic_sampling/padded_groups", "grad_norm")
                          if any(k in r for r in rows)]
    losses = [r["loss"] for r in rows if "loss" in r]
    lines = [f"loss `{sparkline(losses)}` {losses[0]:.4f} → {losses[-1]:.4f} over {len(rows)} logged steps", "",
             "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    step = max(1, len(rows) // max_rows)
    for row in rows[::step]:
        lines.append("| " + " | ".join(_cell(row.get(c)) for c in columns) + " |")
    return "\n".join(lines)


def _cell(value: float | None) -> str:
    if value is None:
        return ""
    if float(value).is_integer() and abs(value) < 1e12:
        return str(int(value))
    return f"{value:.3e}" if abs(value) < 1e-3 else f"{value:.4f}"


def md(text: str) -> dict[str, Any]:
    return {"raw_value": text, "type": "md"}


def path(text: str) -> dict[str, Any]:
    return {"raw_value": text, "type": "path"}


def run_metadata(rows: list[dict[str, float]], checkpoint: str, runtime_s: float) -> dict[str, Any]:
    """The metadata every training asset reports at the end."""
    losses = [r["loss"] for r in rows if "loss" in r]
    speeds = [r["tokens_per_s"] for r in rows if "tokens_per_s" in r]
    metadata: dict[str, Any] = {
        "checkpoint_path": path(checkpoint),
        "loss_curve": md(curve_markdown(rows)),
        "losses": {"raw_value": {str(int(r["step"])): r["loss"] for r in rows if "loss" in r}, "type": "json"},
        "history": {"raw_value": rows, "type": "json"},  # every logged value of every step
        "steps": int(rows[-1]["step"]) if rows else 0,
        "train_runtime_s": round(runtime_s, 1),
    }
    if losses:
        metadata.update(first_loss=losses[0], final_loss=losses[-1])
    if speeds:
        metadata["tokens_per_s"] = round(sum(speeds) / len(speeds), 1)
    return metadata


def train_and_report(trainer, progress: "PipesProgress", resume: str | None, output_dir: Path, pipes,
                     log: logging.Logger, **extra: Any) -> tuple[Path, list[dict[str, float]], dict[str, Any]]:
    """Train (from the `resume` checkpoint when given), save the final model in `output_dir/final`,
    and return (final dir, loss rows, the metadata both trainers report; `extra` is added to it)."""
    if resume:
        log.info(f"resumed from {Path(resume).name} ({resume})")
    started = time.monotonic()
    trainer.train(resume_from_checkpoint=resume)
    final = output_dir / "final"
    trainer.save_model(str(final))
    seconds = time.monotonic() - started
    rows = loss_history(trainer.state.log_history, progress.rows) if pipes is not None else []
    metadata = run_metadata(rows, str(final), seconds)
    metadata.update(resumed_from=Path(resume).name if resume else "none", world_size=trainer.args.world_size,
                    precision="bf16" if trainer.args.bf16 else "fp32", **extra)
    return final, rows, metadata
