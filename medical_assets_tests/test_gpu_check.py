"""benchmarks/gpu_check.py on CPU: the `--device cpu --tiny` run end to end (JSON lines on stdout and in
`--out`, real figures for the CPU parts, reasons for the GPU-only ones), and the pieces of the GPU parts
that run without a GPU: the faiss k-means measurement on faiss-cpu, the model folder vLLM is given, and
the parent/child plumbing of the vLLM part against a stand-in `vllm` package."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"

pytestmark = pytest.mark.training


@pytest.fixture(scope="module")
def gpu_check():
    """The script as a module (benchmarks/ on sys.path, as when it runs: it imports training.py beside it)."""
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import gpu_check

        yield gpu_check
    finally:
        sys.path.remove(str(SCRIPT.parent))


def test_tiny_cpu_run_prints_json_lines_and_writes_the_same_to_out(tmp_path):
    out = tmp_path / "gpu_check.jsonl"
    done = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--tiny", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    rows = [json.loads(line) for line in lines]  # every stdout line is JSON
    assert out.read_text(encoding="utf-8").splitlines() == lines
    by_figure = {row["figure"]: row for row in rows}
    assert list(by_figure) == ["embedding", "kmeans", "vllm_generation", "sft", "summary"]
    for figure in ("embedding", "sft"):
        row = by_figure[figure]
        assert "error" not in row and "skipped" not in row, row
        assert row["value"] > 0 and row["unit"] and row["seconds"] > 0 and row["device"].startswith("CPU")
    assert by_figure["embedding"]["unit"] == "prompts/s"
    assert 0 < by_figure["sft"]["mfu"] and by_figure["sft"]["parameters"] > 0
    for figure in ("kmeans", "vllm_generation"):  # GPU only: a reason, no value
        row = by_figure[figure]
        assert isinstance(row["skipped"], str) and row["skipped"], row
        assert row["value"] is None and "error" not in row
    summary = by_figure["summary"]
    assert summary["ran"] == ["embedding", "sft"] and summary["errors"] == []
    assert sorted(summary["skipped"]) == ["kmeans", "vllm_generation"]


def test_the_saved_output_is_what_recipe_cost_reads(tmp_path):
    from medical_assets.core.cost import gpu_check_rates

    out = tmp_path / "gpu_check.jsonl"
    subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--tiny", "--only", "sft", "--out", str(out)],
                   cwd=ROOT, capture_output=True, text=True, timeout=180, check=True)
    rates = gpu_check_rates(out)
    assert set(rates) == {"sft", "dapo"} and rates["sft"].value > 0


def test_an_unknown_part_is_refused():
    done = subprocess.run([sys.executable, str(SCRIPT), "--only", "embedding,bogus"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "unknown part(s) bogus" in done.stderr


def test_kmeans_measurement_on_faiss_cpu(gpu_check):
    import numpy as np

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((3000, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    result = gpu_check.run_kmeans(vectors, clusters=30, niter=3, seed=0, gpu=False)
    assert result["backend"] == "faiss-cpu" and result["trained_rows"] == 3000
    assert result["value"] == pytest.approx(3000 * 30 / result["seconds_per_iteration"])
    assert len(result["faiss_iteration_seconds"]) == 3 and 0 < result["mean_cosine_to_centroid"] <= 1


@pytest.mark.parametrize("tokenizer", ["synthetic", "smollm2"])
def test_the_vllm_model_folder_loads_with_transformers(gpu_check, tmp_path, tokenizer):
    from transformers import AutoConfig, AutoTokenizer

    written = gpu_check.write_vllm_model_dir(tmp_path / "model", gpu_check.QWEN3_8B, tokenizer, max_model_len=1024)
    config = AutoConfig.from_pretrained(tmp_path / "model")
    assert config.model_type == "qwen3" and config.architectures == ["Qwen3ForCausalLM"]
    assert (config.num_hidden_layers, config.hidden_size, config.num_key_value_heads, config.head_dim,
            config.vocab_size) == (36, 4096, 8, 128, 151936)
    loaded = AutoTokenizer.from_pretrained(tmp_path / "model")
    assert len(loaded) == written["tokenizer_vocab"] <= written["model_vocab"] == 151936
    assert config.eos_token_id == loaded.eos_token_id == written["eos_token_id"]
    if tokenizer == "smollm2":
        assert "SmolLM2" in written["tokenizer"] and written["tokenizer_vocab"] == 49152
    else:
        assert written["tokenizer_vocab"] == 151936


FAKE_VLLM = '''
"""A stand-in for vllm: checks the arguments gpu_check passes and returns outputs of the right shape."""
import json, os
from pathlib import Path
from types import SimpleNamespace

__version__ = "0.0-fake"


class SamplingParams:
    def __init__(self, *, max_tokens, ignore_eos, detokenize, temperature=1.0, top_p=1.0, seed=None):
        assert ignore_eos is True and detokenize is False
        self.max_tokens = max_tokens


class LLM:
    def __init__(self, model, *, load_format, dtype, seed, max_model_len, max_num_seqs, gpu_memory_utilization,
                 enforce_eager):
        assert load_format == "dummy" and dtype == "bfloat16"
        folder = Path(model)
        assert json.loads((folder / "config.json").read_text())["model_type"] == "qwen3"
        assert (folder / "tokenizer.json").exists() and (folder / "tokenizer_config.json").exists()
        Path(os.environ["FAKE_VLLM_CALLS"]).write_text(json.dumps(
            {"model": model, "max_model_len": max_model_len, "max_num_seqs": max_num_seqs}))

    def generate(self, prompts, params, *, use_tqdm):
        assert use_tqdm is False
        return [SimpleNamespace(prompt_token_ids=p["prompt_token_ids"],
                                outputs=[SimpleNamespace(token_ids=list(range(params.max_tokens)))])
                for p in prompts]
'''


def test_vllm_part_runs_its_child_and_reports_its_figure(gpu_check, tmp_path, monkeypatch):
    (tmp_path / "fake" / "vllm").mkdir(parents=True)
    (tmp_path / "fake" / "vllm" / "__init__.py").write_text(textwrap.dedent(FAKE_VLLM))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "fake"))
    monkeypatch.setenv("FAKE_VLLM_CALLS", str(tmp_path / "calls.json"))
    monkeypatch.syspath_prepend(str(tmp_path / "fake"))
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    args = type("Args", (), {"device": "cuda", "tiny": True, "vllm_prompts": 4, "vllm_prompt_len": 16,
                             "vllm_new_tokens": 8, "vllm_gpu_memory": 0.5, "vllm_enforce_eager": True,
                             "vllm_timeout": 120, "vllm_tokenizer": "synthetic", "seed": 0})()
    row = gpu_check.bench_vllm(args)
    assert row["unit"] == "generated tokens/s" and row["value"] > 0, row
    assert row["generated_tokens"] == 4 * 8 and row["prompt_tokens"] == 4 * 16 and row["vllm"] == "0.0-fake"
    calls = json.loads((tmp_path / "calls.json").read_text())
    assert calls["max_model_len"] == 16 + 8 + 64 and calls["max_num_seqs"] == 4
    assert not Path(calls["model"]).exists()  # the temporary model folder is gone


def test_a_failing_vllm_child_is_an_error_not_a_crash(gpu_check, tmp_path, monkeypatch):
    (tmp_path / "fake" / "vllm").mkdir(parents=True)
    (tmp_path / "fake" / "vllm" / "__init__.py").write_text("raise RuntimeError('no CUDA here')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "fake"))
    monkeypatch.syspath_prepend(str(tmp_path / "fake"))
    monkeypatch.setattr("torch.cuda.is_available", lambda: True)
    args = type("Args", (), {"device": "cuda", "tiny": True, "vllm_prompts": 2, "vllm_prompt_len": 8,
                             "vllm_new_tokens": 4, "vllm_gpu_memory": 0.5, "vllm_enforce_eager": True,
                             "vllm_timeout": 120, "vllm_tokenizer": "synthetic", "seed": 0})()
    with pytest.raises(RuntimeError, match="no CUDA here"):
        gpu_check.bench_vllm(args)
