"""The LLM resource on real components: the embedded SmolLM2 GGUF in-process,
and a live `transformers serve` of its converted checkpoint for the openai backend."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from medical_assets.resources.embedded_model import converted_checkpoint
from medical_assets.resources.llm import LLM, load_transformers_model, shared_prefix_length

PROMPTS = [
    "What is the capital of France?",
    [{"role": "system", "content": "You are a doctor."}, {"role": "user", "content": "What is hypertension?"}],
    "Name three organs of the human body.",
    "Is fire hot or cold? Answer with one word.",
]
GREEDY = dict(temperature=0.0, top_p=1.0, seed=0)


@pytest.fixture(scope="session")
def llm() -> LLM:
    load_transformers_model(None, "cpu", "auto")  # the one slow load (~15-35 s), shared by every test
    return LLM(device="cpu")


@pytest.fixture(scope="session")
def checkpoint() -> Path:
    return converted_checkpoint()[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory):
    """`transformers serve` of the converted checkpoint, as a child process stopped by its PID."""
    for module in ("fastapi", "uvicorn"):
        pytest.importorskip(module, reason='the openai tests need `pip install "transformers[serving]==5.24.0"`')
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    command = [str(Path(sys.executable).parent / "transformers"), "serve", str(checkpoint),
               "--port", str(port), "--device", "cpu"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=os.environ | {"HF_HUB_OFFLINE": "1"})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"transformers serve exited ({process.returncode}):\n{log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"transformers serve not healthy after 90 s:\n{log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield f"{base}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ---------------------------------------------------------------- generate


def test_generate_gives_n_completions_per_prompt_and_repeats_with_the_same_seed(llm: LLM):
    args = dict(max_new_tokens=8, temperature=0.9, top_p=0.95, seed=7, n=3)
    first = llm.generate(PROMPTS[:2], **args)
    assert [len(c) for c in first] == [3, 3]
    assert all(isinstance(text, str) and text for c in first for text in c)
    assert llm.generate(PROMPTS[:2], **args) == first
    assert len(set(first[0])) > 1  # sampling: the three differ


def test_temperature_zero_is_greedy_whatever_the_seed(llm: LLM):
    a = llm.generate(PROMPTS[:1], max_new_tokens=8, temperature=0.0, top_p=1.0, seed=1, n=2)
    b = llm.generate(PROMPTS[:1], max_new_tokens=8, temperature=0.0, top_p=0.5, seed=2, n=2)
    assert a == b and a[0][0] == a[0][1]
    assert "Paris" in llm.generate(PROMPTS[:1], max_new_tokens=12, **GREEDY)[0][0]


def test_batched_greedy_generation_matches_one_prompt_at_a_time(llm: LLM):
    batched = LLM(device="cpu", batch_size=4).generate(PROMPTS, max_new_tokens=12, **GREEDY)
    alone = LLM(device="cpu", batch_size=1).generate(PROMPTS, max_new_tokens=12, **GREEDY)
    assert batched == alone


def test_empty_prompt_list_gives_empty_result(llm: LLM):
    assert llm.generate([], max_new_tokens=4, **GREEDY) == []
    assert llm.choose([], ["a", "b"]) == []


# ------------------------------------------------------------------ choose


def test_choose_scores_exactly_the_given_labels(llm: LLM):
    labels = ["Cardiology", "Oncology", "Neurology", "Pediatrics", "Dermatology", "Psychiatry", "Other"]
    scores = llm.choose(PROMPTS, labels)
    assert [list(s) for s in scores] == [labels] * len(PROMPTS)
    assert all(math.isfinite(v) and v < 0 for s in scores for v in s.values())


@pytest.mark.parametrize("prompt, right, wrong", [
    ("Reply with one word: the color of the sky on a clear day is", "blue", "carrot"),
    ("What is the capital of France?", "Paris", "Banana"),
])
def test_choose_ranks_the_obvious_label_first(llm: LLM, prompt: str, right: str, wrong: str):
    [scores] = llm.choose([prompt], [wrong, right])
    assert max(scores, key=scores.get) == right


def test_batched_choose_matches_one_prompt_at_a_time(llm: LLM):
    labels = ["Yes", "No", "Blue sky", "Internal medicine"]  # one to three tokens each
    batched = LLM(device="cpu", batch_size=4).choose(PROMPTS, labels)
    alone = LLM(device="cpu", batch_size=1).choose(PROMPTS, labels)
    for b, a in zip(batched, alone):
        assert b == pytest.approx(a, abs=1e-3)


def test_a_shared_instruction_prefix_is_computed_once_with_the_same_scores(llm: LLM):
    instructions = {"role": "system", "content": "Sort each question into a school subject. " * 6}
    prompts = [[instructions, {"role": "user", "content": q}] for q in
               ["Why do we get fevers?", "Solve 2x + 3 = 7.", "What is a covalent bond between two atoms?"]]
    labels = ["Medicine", "Mathematics", "Chemistry"]
    shared = LLM(device="cpu", batch_size=2).choose(prompts, labels)
    whole = LLM(device="cpu", batch_size=2, share_prefix=False).choose(prompts, labels)
    for s, w in zip(shared, whole):
        assert s == pytest.approx(w, abs=1e-3)


@pytest.mark.parametrize("rows, expected", [
    ([[1, 2, 3, 4], [1, 2, 3, 5]], 3),
    ([[1, 2, 3], [1, 2, 3, 4]], 2),  # every row keeps at least one token of its own
    ([[7, 2], [1, 2]], 0),
    ([[1, 2, 3]], 2),
])
def test_shared_prefix_length(rows, expected):
    assert shared_prefix_length(rows) == expected


def test_choose_refuses_duplicate_labels(llm: LLM):
    with pytest.raises(ValueError, match="distinct"):
        llm.choose(PROMPTS[:1], ["Yes", "Yes"])


# ---------------------------------------------------------------- describe


def test_describe_traces_the_embedded_model(llm: LLM):
    info = llm.describe()
    assert info["backend"] == "transformers" and info["device"] == "cpu" and info["dtype"] == "float32"
    assert info["file"] == "SmolLM2-135M-Instruct.Q4_1.gguf" and len(info["sha256"]) == 64
    json.dumps(info)  # goes into asset metadata


# -------------------------------------------------------------------- vllm


def test_vllm_backend_without_vllm_names_the_gpu_extra():
    try:
        import vllm  # noqa: F401
        pytest.skip("vllm is installed here")
    except ImportError:
        pass
    with pytest.raises(ImportError, match=r'pip install "medical_assets\[gpu\]"'):
        LLM(backend="vllm", model="Qwen/Qwen3-8B").generate(["hi"], max_new_tokens=4, **GREEDY)


def test_unknown_backend_is_named():
    with pytest.raises(ValueError, match="llamacpp"):
        LLM(backend="llamacpp").describe()


# ------------------------------------------------------------------ openai


def test_converted_checkpoint_is_a_plain_checkpoint_with_its_tokenizer(checkpoint: Path):
    config = json.loads((checkpoint / "config.json").read_text())
    assert "quantization_config" not in config and config["architectures"] == ["LlamaForCausalLM"]
    assert (checkpoint / "model.safetensors").exists() and (checkpoint / "tokenizer.json").exists()
    assert (checkpoint / "chat_template.jinja").exists() or "chat_template" in (checkpoint / "tokenizer_config.json").read_text()


def test_openai_backend_generates_from_a_live_server(server: str, checkpoint: Path):
    remote = LLM(backend="openai", base_url=server, model=str(checkpoint), max_concurrency=2)
    completions = remote.generate(PROMPTS[:2], max_new_tokens=8, temperature=0.7, top_p=0.95, seed=3, n=2)
    assert [len(c) for c in completions] == [2, 2]  # the server ignores `n`: more requests fill in
    assert all(isinstance(text, str) and text for c in completions for text in c)
    assert remote.describe() == {"backend": "openai", "model": str(checkpoint), "base_url": server,
                                 "device": "server", "dtype": "server"}


def test_openai_choose_refuses_a_reply_outside_the_labels(server: str, checkpoint: Path):
    remote = LLM(backend="openai", base_url=server, model=str(checkpoint))
    with pytest.raises(ValueError, match="ignored the JSON-schema choice constraint"):
        remote.choose(["Reply with one word: the color of the sky on a clear day is"], ["blue", "carrot"])


def test_openai_backend_retries_then_names_the_url(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MEDICAL_ASSETS_LLM_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")  # nothing listens
    remote = LLM(backend="openai", model="m", max_retries=2, timeout_s=5)
    started = time.monotonic()
    with pytest.raises(ConnectionError, match=r"127\.0\.0\.1:\d+/v1/chat/completions failed after 3 attempts"):
        remote.generate(["hi"], max_new_tokens=4, **GREEDY)
    assert 1.4 < time.monotonic() - started < 10  # waited 0.5 s, then 1 s, between the attempts


def test_a_completion_ends_before_the_first_stop_string(llm: LLM):
    whole = llm.generate(["What is the capital of France?"], max_new_tokens=16, **GREEDY)[0][0]
    word = next(w for w in whole.split() if len(w) > 3)
    stopped = llm.generate(["What is the capital of France?"], max_new_tokens=16, stop=[word], **GREEDY)[0][0]
    assert word not in stopped and whole.startswith(stopped) and stopped == whole[:whole.index(word)]
