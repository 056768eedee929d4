"""The "openai" backend: any OpenAI-compatible server over HTTP `/chat/completions`,
`max_concurrency` requests in flight, retried with exponential backoff."""

from __future__ import annotations

import json
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar

from medical_assets.resources.llm.base import Messages, require_model

BASE_URL_ENV = "MEDICAL_ASSETS_LLM_BASE_URL"
RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
BACKOFF_FIRST_S = 0.5  # then 1, 2, 4 ... seconds between attempts
BACKOFF_MAX_S = 30.0


@dataclass(frozen=True)
class OpenAIBackend:
    """The `LLM` fields this backend reads, named as there."""

    name: ClassVar[str] = "openai"
    model: str | None
    base_url: str | None
    api_key_env: str
    max_concurrency: int
    timeout_s: float
    max_retries: int

    def generate(self, conversations, *, max_new_tokens, temperature, top_p, seed, n, stop):
        model = require_model(self.name, self.model)

        def complete(client, messages: Messages) -> list[str]:
            texts: list[str] = []
            while len(texts) < n:  # servers that ignore `n` (transformers serve) get more requests
                body = {"model": model, "messages": messages, "max_tokens": max_new_tokens, "temperature": temperature,
                        "top_p": top_p, "seed": seed + len(texts), "n": n - len(texts)}
                if stop:
                    body["stop"] = stop
                texts += [c["message"]["content"] or "" for c in self._post_chat(client, body)["choices"]]
            return texts[:n]

        return self._map(complete, conversations)

    def choose(self, conversations, choices):
        """A hard choice: the server picks one label under a JSON-schema enum constraint."""
        model = require_model(self.name, self.model)
        schema = {"type": "object", "properties": {"label": {"type": "string", "enum": choices}},
                  "required": ["label"], "additionalProperties": False}
        response_format = {"type": "json_schema", "json_schema": {"name": "choice", "strict": True, "schema": schema}}
        url = self._base_url()

        def pick(client, messages: Messages) -> dict[str, float]:
            body = {"model": model, "messages": messages, "temperature": 0, "seed": 0,
                    "max_tokens": 16 + max(len(c) for c in choices), "response_format": response_format}
            reply = self._post_chat(client, body)["choices"][0]["message"]["content"] or ""
            try:
                label = json.loads(reply)["label"]
            except (json.JSONDecodeError, KeyError, TypeError):
                label = None
            if label not in choices:
                raise ValueError(
                    f"the server at {url} (model {model!r}) ignored the JSON-schema choice constraint: it replied "
                    f"{reply[:200]!r}. LLM.choose on the openai backend needs a server that enforces response_format "
                    "json_schema (vLLM, SGLang, OpenAI); `transformers serve` does not."
                )
            return {c: 0.0 if c == label else -math.inf for c in choices}

        return self._map(pick, conversations)

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": require_model(self.name, self.model), "base_url": self._base_url(),
                "device": "server", "dtype": "server"}

    def where(self) -> str:
        return f"openai server {self._base_url()}"

    def _base_url(self) -> str:
        url = self.base_url or os.environ.get(BASE_URL_ENV)
        if not url:
            raise ValueError(f"LLM(backend='openai') needs base_url or ${BASE_URL_ENV}, e.g. http://localhost:8000/v1")
        return url.rstrip("/")

    def _map(self, request, conversations: list[Messages]) -> list:
        """`request(client, messages)` for each conversation, `max_concurrency` at a time, in order."""
        import httpx

        key = os.environ.get(self.api_key_env)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        limits = httpx.Limits(max_connections=self.max_concurrency)
        with (httpx.Client(headers=headers, timeout=self.timeout_s, limits=limits) as client,
              ThreadPoolExecutor(max(1, self.max_concurrency)) as pool):
            return list(pool.map(lambda messages: request(client, messages), conversations))

    def _post_chat(self, client, body: dict[str, Any]) -> dict[str, Any]:
        """POST /chat/completions, retrying 429/5xx/network errors with exponential backoff."""
        import httpx

        url = f"{self._base_url()}/chat/completions"
        last_error = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(min(BACKOFF_FIRST_S * 2 ** (attempt - 1), BACKOFF_MAX_S))
            try:
                response = client.post(url, json=body)
            except httpx.TransportError as error:  # connection refused, timeouts, resets
                last_error = f"{type(error).__name__}: {error}"
                continue
            if response.status_code in RETRY_STATUS:
                last_error = f"HTTP {response.status_code}: {response.text[:300]}"
                continue
            if response.is_error:
                raise RuntimeError(f"{url} refused the request (model {body.get('model')!r}): "
                                   f"HTTP {response.status_code}: {response.text[:500]}")
            return response.json()
        raise ConnectionError(
            f"POST {url} failed after {self.max_retries + 1} attempts ({last_error}). Is the server running "
            f"there? Set LLM(base_url=...) or ${BASE_URL_ENV}; raise timeout_s or max_retries for a slow server."
        )
