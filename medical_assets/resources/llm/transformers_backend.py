"""The "transformers" backend: in-process, batched, on CPU or one GPU; with no
`model`, the embedded SmolLM2-135M-Instruct GGUF."""

from __future__ import annotations

import copy
import importlib.metadata
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import dagster as dg

from medical_assets.resources.embedded_model import (
    GGUF_MODEL_NAME,
    GGUF_PACKAGE,
    file_sha256,
    packaged_gguf_path,
)
from medical_assets.resources.llm.base import LOAD_LOCK, Messages, cut_at_stop

SHARED_PREFIX_MIN_TOKENS = 16  # choose(): a common prompt opening this long is computed once per call

_MODELS: dict[tuple[str | None, str, str], tuple[Any, Any]] = {}


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
    with LOAD_LOCK:
        if key not in _MODELS:
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
            _MODELS[key] = (network, tokenizer)
            dg.get_dagster_logger().info(
                f"LLM: loaded {model or GGUF_MODEL_NAME} for the transformers backend on {device} "
                f"({torch_dtype}) in {time.perf_counter() - started:.1f} s"
            )
        return _MODELS[key]


def _left_padded(tokenizer, rows: list[list[int]], device: str):
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


def _prompt_ids(tokenizer, conversations: list[Messages]) -> list[list[int]]:
    """Token ids of each chat-formatted prompt, ending with the assistant turn's start."""
    texts = [tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in conversations]
    return tokenizer(texts, add_special_tokens=False)["input_ids"]


@dataclass(frozen=True)
class TransformersBackend:
    """The `LLM` fields this backend reads, named as there."""

    name: ClassVar[str] = "transformers"
    model: str | None
    device: str
    dtype: str
    batch_size: int
    share_prefix: bool

    def generate(self, conversations, *, max_new_tokens, temperature, top_p, seed, n, stop):
        import torch

        network, tokenizer = self._loaded()
        prompt_ids = _prompt_ids(tokenizer, conversations)
        greedy = temperature <= 0
        sampling = {"do_sample": False} if greedy else {"do_sample": True, "temperature": temperature, "top_p": top_p,
                                                        "top_k": 0, "num_return_sequences": n}
        results: list[list[str]] = [[] for _ in conversations]
        per_prompt = 1 if greedy else n
        # Seeded once per call, on a forked RNG (the caller's random state is left as it was):
        # the same prompts, seed and batch_size give the same samples.
        with torch.random.fork_rng(devices=[network.device] if network.device.type == "cuda" else []):
            torch.manual_seed(seed)
            for batch in self._batches(prompt_ids):
                ids, mask, _ = _left_padded(tokenizer, [prompt_ids[i] for i in batch], network.device)
                with torch.inference_mode():
                    output = network.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                                              pad_token_id=tokenizer.pad_token_id, **sampling,
                                              **({"stop_strings": stop, "tokenizer": tokenizer} if stop else {}))
                texts = [cut_at_stop(text, stop) for text in
                         tokenizer.batch_decode(output[:, ids.shape[1]:], skip_special_tokens=True)]
                for row, index in enumerate(batch):
                    mine = texts[row * per_prompt:(row + 1) * per_prompt]
                    results[index] = mine * n if greedy else mine
        return results

    def choose(self, conversations, choices):
        """Teacher-forced scoring: one forward over each batch of prompts fills a
        KV cache, which is repeated for every choice; a second forward over the
        choices' tokens (right-padded) scores them all at once.

        The prompts' common opening (a labelling task's shared instructions) is
        computed once per call and its cache copied into every batch, so each
        prompt costs only its own tokens."""
        import torch

        network, tokenizer = self._loaded()
        prompt_ids = _prompt_ids(tokenizer, conversations)
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
            ids, mask, positions = _left_padded(tokenizer, [prompt_ids[i][shared:] for i in batch], device)
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

    def describe(self) -> dict[str, Any]:
        device, dtype = self._device_and_dtype()
        info: dict[str, Any] = {"backend": self.name, "model": self.model or GGUF_MODEL_NAME, "device": device,
                                "dtype": dtype}
        if self.model is None:
            gguf = packaged_gguf_path()
            info |= {"file": gguf.name, "package": f"{GGUF_PACKAGE}=={importlib.metadata.version(GGUF_PACKAGE)}",
                     "sha256": file_sha256(gguf)}
        else:
            info["revision"] = self._loaded_revision()
        return info

    def where(self) -> str:
        device, dtype = self._device_and_dtype()
        return f"transformers on {device} ({dtype})"

    def _device_and_dtype(self) -> tuple[str, str]:
        """The device and dtype names that `auto` resolves to here."""
        device = _resolve_device(self.device)
        return device, str(_resolve_dtype(self.dtype, device)).removeprefix("torch.")

    def _loaded(self) -> tuple[Any, Any]:
        return load_transformers_model(self.model, self.device, self.dtype)

    def _loaded_revision(self) -> str | None:
        """The hub commit of the loaded model, when it came from the hub."""
        for (model, _, _), (network, _) in _MODELS.items():
            if model == self.model:
                return getattr(network.config, "_commit_hash", None)
        return None

    def _batches(self, prompt_ids: list[list[int]]) -> list[list[int]]:
        """Prompt indices in batches of `batch_size`, longest first (less padding)."""
        order = sorted(range(len(prompt_ids)), key=lambda i: -len(prompt_ids[i]))
        size = max(1, self.batch_size)
        return [order[start:start + size] for start in range(0, len(order), size)]
