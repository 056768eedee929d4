"""DAPO's dynamic sampling (recipe, "DAPO": drop groups whose rewards are all equal).

A group is the `group_size` completions of one prompt. When every completion of a
group earns the same accuracy reward (all right or all wrong), its advantages are
all zero: it adds tokens to the batch and nothing to the gradient. Dynamic sampling
drops such groups and generates for more prompts until the batch is full of groups
that carry signal.

The decision is made on the accuracy reward alone, not on the total: the soft
overlong punishment differs between completions of a group even when they are all
wrong, which would make every group look informative.

These functions work on a dict of row-aligned tensors (a scored generation batch
as TRL's `GRPOTrainer` builds it) and know nothing of the trainer, so the dropping
and refilling are tested with hand-made rewards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

Batch = dict[str, torch.Tensor]
LEFT_PADDED = frozenset({"prompt_ids", "prompt_mask"})  # TRL pads prompts on the left, completions on the right


def informative_rows(accuracy: torch.Tensor, group_size: int) -> torch.Tensor:
    """Row mask: True for the rows of groups whose accuracy rewards are not all equal.
    Rows are grouped in consecutive runs of `group_size`; NaN (unscorable) rewards are
    ignored, and a group with fewer than two scored completions carries no signal."""
    if accuracy.numel() % group_size:
        raise ValueError(f"{accuracy.numel()} rewards do not split into groups of {group_size}")
    groups = accuracy.float().view(-1, group_size)
    scored = ~torch.isnan(groups)
    high = torch.where(scored, groups, torch.full_like(groups, -torch.inf)).max(dim=1).values
    low = torch.where(scored, groups, torch.full_like(groups, torch.inf)).min(dim=1).values
    keep = (scored.sum(dim=1) >= 2) & (high > low)
    return keep.repeat_interleave(group_size)


def rows_of(batch: Batch, mask: torch.Tensor) -> Batch:
    """The rows of every row-aligned tensor where `mask` is True (other entries, such as the
    scalar `num_items_in_batch`, are left out: the caller recomputes them)."""
    rows = mask.numel()
    return {k: v[mask] for k, v in batch.items() if isinstance(v, torch.Tensor) and v.dim() >= 1 and v.size(0) == rows}


def concat_rows(parts: list[Batch], pad_values: dict[str, float] | None = None) -> Batch:
    """Row-wise concatenation of batches whose padded widths differ: prompts padded on the left,
    completions (and per-token values) on the right, with `pad_values[key]` (default 0)."""
    parts = [p for p in parts if p and next(iter(p.values())).size(0)]
    if not parts:
        raise ValueError("nothing to concatenate")
    pad_values = pad_values or {}
    merged: Batch = {}
    for key in parts[0]:
        tensors = [p[key] for p in parts]
        if tensors[0].dim() >= 2:
            width = max(t.size(1) for t in tensors)
            padded = []
            for t in tensors:
                missing = width - t.size(1)
                if missing:
                    pad = t.new_full((t.size(0), missing, *t.shape[2:]), pad_values.get(key, 0))
                    t = torch.cat([pad, t] if key in LEFT_PADDED else [t, pad], dim=1)
                padded.append(t)
            tensors = padded
        merged[key] = torch.cat(tensors, dim=0)
    return merged


def _without_signal(batch: Batch) -> Batch:
    """A dropped group used as filler: its advantages set to 0, so that it moves nothing (the
    overlong punishment alone would otherwise give its completions advantages of their own)."""
    return {k: torch.zeros_like(v) if k == "advantages" else v for k, v in batch.items()}


@dataclass
class SamplingStats:
    rounds: int = 0  # generation rounds, the first included
    groups_seen: int = 0
    groups_kept: int = 0  # informative groups in the returned batch
    groups_padded: int = 0  # zero-signal groups used to fill the batch after the last round


def fill_batch(
    score: Callable[[int], tuple[Batch, torch.Tensor]],
    target_rows: int,
    group_size: int,
    max_refill_rounds: int,
    everyone_done: Callable[[bool], bool] = lambda done: done,
    pad_values: dict[str, float] | None = None,
) -> tuple[Batch, SamplingStats]:
    """A batch of `target_rows` rows (whole groups) made of informative groups.

    `score(round)` generates and scores one batch (round 0: the prompts the dataloader gave;
    later rounds: refill prompts) and returns (rows, accuracy reward per row). Rounds go on
    until this process has enough informative rows, for at most `max_refill_rounds` extra
    rounds. `everyone_done(done)` makes several processes agree (all must be done), so that
    every process runs the same number of rounds and the collective operations inside
    `score` stay matched. When the rounds run out, the batch is filled with dropped groups
    whose advantages are set to 0: they move nothing, and the step still happens.
    """
    if target_rows % group_size:
        raise ValueError(f"target_rows {target_rows} is not a whole number of groups of {group_size}")
    kept: list[Batch] = []
    dropped: list[Batch] = []
    stats = SamplingStats()
    kept_rows = 0
    while True:
        batch, accuracy = score(stats.rounds)
        stats.rounds += 1
        stats.groups_seen += accuracy.numel() // group_size
        mask = informative_rows(accuracy, group_size)
        kept.append(rows_of(batch, mask))
        dropped.append(rows_of(batch, ~mask))
        kept_rows += int(mask.sum())
        if everyone_done(kept_rows >= target_rows) or stats.rounds > max_refill_rounds:
            break
    parts, rows = [], 0
    for part in kept + [_without_signal(part) for part in dropped]:  # informative groups first
        size = next(iter(part.values())).size(0) if part else 0
        take = min(size, target_rows - rows)
        if take > 0:
            parts.append({k: v[:take] for k, v in part.items()})
            rows += take
    stats.groups_kept = min(kept_rows, target_rows) // group_size
    stats.groups_padded = (rows - min(kept_rows, target_rows)) // group_size
    return concat_rows(parts, pad_values), stats
