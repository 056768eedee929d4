"""DAPO's accuracy reward (recipe, "DAPO": the \\boxed{} answer matches the gold option), read by
`extract_choice`, the same reader as evaluation, so a response scores the same in both."""

from __future__ import annotations

import json
from typing import Any

from medical_assets.core.answers import extract_choice


def completion_text(completion: Any) -> str:
    """A completion's text: conversational completions are [{"role": "assistant", "content": ...}]."""
    if isinstance(completion, list):
        return "".join(str(turn.get("content") or "") for turn in completion if isinstance(turn, dict))
    return str(completion)


def accuracy_reward(completions: list, options: list[str], gold: list[str], **_: Any) -> list[float]:
    """1.0 when the completion's answer, read by `extract_choice`, is the gold letter; else 0.0.
    `options` holds each row's options as a JSON object {"A": text, ...} (a dataset column)."""
    return [1.0 if extract_choice(completion_text(c), json.loads(o)) == g else 0.0
            for c, o, g in zip(completions, options, gold, strict=True)]
