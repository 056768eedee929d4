"""The "vllm" backend: offline `vllm.LLM` on GPUs. `data_parallel_size > 1` runs
that many replicas, each in its own spawned process pinned to its GPUs."""

from __future__ import annotations

import importlib.metadata
import math
import os
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import dagster as dg

from medical_assets.resources.llm.base import LOAD_LOCK, Messages, require_model

_ENGINES: dict[tuple, Any] = {}  # this process's engine, or its replica pools, for each engine config


@dataclass(frozen=True)
class VllmBackend:
    """The `LLM` fields this backend reads, named as there."""

    name: ClassVar[str] = "vllm"
    model: str | None
    dtype: str
    tensor_parallel_size: int
    data_parallel_size: int
    gpu_memory_utilization: float

    def generate(self, conversations, *, max_new_tokens, temperature, top_p, seed, n, stop):
        return self._run("generate", conversations, {"max_new_tokens": max_new_tokens, "temperature": temperature,
                                                         "top_p": top_p, "seed": seed, "n": n, "stop": stop})

    def choose(self, conversations, choices):
        return self._run("choose", conversations, {"choices": choices})

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "model": require_model(self.name, self.model), "device": "cuda",
                "dtype": self.dtype, "tensor_parallel_size": self.tensor_parallel_size,
                "data_parallel_size": self.data_parallel_size, "vllm": _installed_version("vllm")}

    def where(self) -> str:
        return f"vllm on cuda (tp={self.tensor_parallel_size}, dp={self.data_parallel_size})"

    def _run(self, call: str, conversations: list[Messages], args: dict[str, Any]):
        """Runs `call` in-process (one replica) or split over `data_parallel_size` replica processes."""
        _import_vllm()
        engine_args = {"model": require_model(self.name, self.model), "dtype": self.dtype,
                       "tensor_parallel_size": self.tensor_parallel_size,
                       "gpu_memory_utilization": self.gpu_memory_utilization}
        replicas = max(1, self.data_parallel_size)
        if replicas == 1:
            key = tuple(sorted(engine_args.items()))
            with LOAD_LOCK:
                if key not in _ENGINES:
                    _ENGINES[key] = _load_engine(engine_args)
            return _ENGINE_CALLS[call](_ENGINES[key], conversations, **args)
        pools = _replica_pools(engine_args, replicas, self.tensor_parallel_size)
        shard = math.ceil(len(conversations) / replicas)
        futures = [pool.submit(_replica_call, call, conversations[r * shard:(r + 1) * shard], args)
                   for r, pool in enumerate(pools) if conversations[r * shard:(r + 1) * shard]]
        return [item for future in futures for item in future.result()]


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


def _load_engine(engine_args: dict[str, Any]):
    vllm = _import_vllm()
    started = time.perf_counter()
    engine = vllm.LLM(**engine_args)
    dg.get_dagster_logger().info(
        f"LLM: loaded {engine_args['model']} for the vllm backend on cuda "
        f"(tp={engine_args['tensor_parallel_size']}) in {time.perf_counter() - started:.1f} s"
    )
    return engine


def _engine_generate(engine, conversations, *, max_new_tokens, temperature, top_p, seed, n, stop):
    from vllm import SamplingParams

    params = SamplingParams(n=n, temperature=temperature, top_p=top_p, seed=seed, max_tokens=max_new_tokens,
                            stop=stop or None)
    outputs = engine.chat(conversations, params, use_tqdm=False)
    return [[completion.text for completion in output.outputs] for output in outputs]


def _engine_choose(engine, conversations, *, choices):
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


_ENGINE_CALLS = {"generate": _engine_generate, "choose": _engine_choose}
_REPLICA_ENGINE: list[Any] = []  # the engine of this replica process


def _replica_start(gpus: str, engine_args: dict[str, Any]) -> None:
    os.environ["CUDA_VISIBLE_DEVICES"] = gpus  # before anything touches CUDA in this process
    _REPLICA_ENGINE.append(_load_engine(engine_args))


def _replica_call(call: str, conversations, args):
    return _ENGINE_CALLS[call](_REPLICA_ENGINE[0], conversations, **args)


def _replica_pools(engine_args: dict[str, Any], replicas: int, tensor_parallel: int):
    """One single-worker process per replica, each on its own `tensor_parallel` GPUs; kept for the process's life."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import torch

    key = (tuple(sorted(engine_args.items())), replicas)
    with LOAD_LOCK:
        if key not in _ENGINES:
            visible = os.environ.get("CUDA_VISIBLE_DEVICES")
            gpus = visible.split(",") if visible else [str(i) for i in range(torch.cuda.device_count())]
            if len(gpus) < replicas * tensor_parallel:
                raise ValueError(f"data_parallel_size={replicas} x tensor_parallel_size={tensor_parallel} needs "
                                 f"{replicas * tensor_parallel} GPUs; {len(gpus)} visible")
            context = multiprocessing.get_context("spawn")
            _ENGINES[key] = [
                ProcessPoolExecutor(1, mp_context=context, initializer=_replica_start,
                                    initargs=(",".join(gpus[r * tensor_parallel:(r + 1) * tensor_parallel]), engine_args))
                for r in range(replicas)
            ]
        return _ENGINES[key]
