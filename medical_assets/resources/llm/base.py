"""What the three LLM backends share: the prompt types, the calls each one
answers, and the lock that loads one model at a time in a process."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

Messages = list[dict[str, str]]
Prompts = Sequence[Messages] | Sequence[str]

LOAD_LOCK = threading.Lock()  # held while a backend loads a model into its process-wide cache


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """The text before the first stop string, as vLLM and OpenAI servers return it."""
    ends = [i for i in (text.find(s) for s in stop) if i >= 0]
    return text[:min(ends)] if ends else text


def as_messages(prompt: Messages | str) -> Messages:
    """A plain string is one user turn."""
    return [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)


def require_model(backend: str, model: str | None) -> str:
    """`model`, which the vllm and openai backends cannot do without."""
    if model is None:
        raise ValueError(
            f"LLM(backend={backend!r}) needs `model`: a hub id or checkpoint directory "
            "(the embedded GGUF runs on the transformers backend; `converted_checkpoint()` makes a "
            "checkpoint of it for the others). For openai, `model` is the name the server serves."
        )
    return model


class Backend(Protocol):
    """One backend of the `LLM` resource, built from its config for each call.
    The resource has already checked the arguments and left out empty prompt lists."""

    def generate(self, conversations: list[Messages], *, max_new_tokens: int, temperature: float, top_p: float,
                 seed: int, n: int, stop: list[str]) -> list[list[str]]: ...

    def choose(self, conversations: list[Messages], choices: list[str]) -> list[dict[str, float]]: ...

    def describe(self) -> dict[str, Any]: ...

    def where(self) -> str:
        """Where the calls run, for the log line of each call."""
        ...
