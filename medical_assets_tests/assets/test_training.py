"""Training assets end to end on the converted SmolLM2: real Pipes subprocesses, real DeepSpeed
ZeRO-3 on CPU, a real crash and a real SIGKILL. Runs are a few steps of a few rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import dagster as dg
import polars as pl
import pytest

from medical_assets.assets.training import base_model, dapo_checkpoint, dapo_prompts, sft_checkpoint
from medical_assets.core.dapo_prompts import pass_rate_split
from medical_assets.core import healthbench
from medical_assets.core.canonical import TRACE_SCHEMA, sample_id
from medical_assets.demo import PROFILES
from medical_assets.resources.embedded_model import converted_checkpoint_path, file_sha256, packaged_gguf_path
from medical_assets.resources.launchers import TrainingLauncher
from medical_assets.resources.llm import LLM
from medical_assets.resources.storage import Warehouse
from medical_assets_tests.train.fixtures import Converted, mcq_traces, smol_checkpoint  # noqa: F401 (fixture)

ASSETS = [base_model, sft_checkpoint, dapo_prompts, dapo_checkpoint]
# A few steps of a few rows: 1 row per step, short sequences, a checkpoint every step; one torch
# thread per process (on a CPU shared with other work, more threads wait on each other: 10x slower).
TINY_SFT = {"cpu_threads": 1, "max_length": 192, "global_batch_size": 1, "per_device_batch_size": 1, "max_steps": 2,
            "save_steps": 1, "gradient_checkpointing": False, "learning_rate": 1e-4, "warmup": 0}


def resources(warehouse: Warehouse) -> dict[str, Any]:
    return {"warehouse": warehouse, "training_launcher": TrainingLauncher(),
            "llm": LLM(backend="transformers", device="cpu", batch_size=8)}


def materialize(asset: str, warehouse: Warehouse, instance: dg.DagsterInstance, config: dict | None = None):
    selection = [asset, "dapo_prompt_rejects"] if asset == "dapo_prompts" else [asset]
    return dg.materialize(ASSETS, selection=selection, resources=resources(warehouse), instance=instance,
                          run_config={"ops": {asset: {"config": config or {}}}}, raise_on_error=False)


def metadata_of(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, Any]:
    return {k: v.value for k, v in result.asset_materializations_for_node(asset)[0].metadata.items()}


def failure_text(result: dg.ExecuteInProcessResult) -> str:
    """Every failure's message, its cause's and its user-facing description together."""
    texts = []
    for event in result.all_events:
        if event.is_step_failure:
            data = event.step_failure_data
            error = data.error
            while error is not None:
                texts.append(error.message)
                error = error.cause
            if data.user_failure_data is not None:
                texts.append(data.user_failure_data.description or "")
    return "\n".join(texts)


def run_logs(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult) -> str:
    return "\n".join(entry.user_message for entry in instance.all_logs(result.run_id))


def with_base_model(warehouse: Warehouse, checkpoint: Path) -> dg.DagsterInstance:
    """An instance where base_model is materialized from a local checkpoint (no conversion)."""
    instance = dg.DagsterInstance.ephemeral()
    assert materialize("base_model", warehouse, instance, {"model": str(checkpoint)}).success
    return instance


# ---------------------------------------------------------------- base_model


def test_base_model_converts_the_embedded_gguf_to_a_checkpoint(smol_checkpoint: Converted):
    assert (smol_checkpoint.path / "model.safetensors").exists() and (smol_checkpoint.path / "tokenizer.json").exists()
    assert smol_checkpoint.path == converted_checkpoint_path()  # one per machine, named by the GGUF's hash
    assert file_sha256(packaged_gguf_path())[:16] in smol_checkpoint.path.name
    assert 130_000_000 < smol_checkpoint.metadata["parameters"] < 140_000_000
    assert smol_checkpoint.metadata["dtype"] == "F32" and "SmolLM2" in smol_checkpoint.metadata["source"]


def test_the_embedded_model_is_converted_once_per_machine(smol_checkpoint: Converted):
    result = dg.materialize([base_model], instance=dg.DagsterInstance.ephemeral())
    metadata = metadata_of(result, "base_model")
    assert metadata["checkpoint_path"] == str(smol_checkpoint.path)
    assert "converted earlier on this machine" in metadata["source"]


def test_base_model_takes_a_local_checkpoint_as_it_is(smol_checkpoint: Converted, warehouse: Warehouse):
    result = materialize("base_model", warehouse, dg.DagsterInstance.ephemeral(), {"model": str(smol_checkpoint.path)})
    metadata = metadata_of(result, "base_model")
    assert metadata["checkpoint_path"] == str(smol_checkpoint.path)
    assert metadata["source"].startswith("local checkpoint")
    assert not (warehouse.root / "models").exists()  # nothing converted


# ---------------------------------------------------------------- SFT: refusals


@pytest.mark.parametrize(
    ("config", "reason"),
    [
        ({"global_batch_size": 128, "per_device_batch_size": 3, "max_length": 256},
         "global_batch_size 128 is not divisible by per_device_batch_size 3"),
        ({"global_batch_size": 128, "per_device_batch_size": 4, "nproc_per_node": 3, "max_length": 256},
         "x world size 3 = 12"),
        ({}, "max_length 16378 is above the context window"),  # the recipe's length on SmolLM2 (8,192)
        ({"max_length": 256, "deepspeed": "zero9"}, "deepspeed='zero9' is neither a shipped config"),
    ],
)
def test_sft_refuses_to_start_with_the_reason(smol_checkpoint: Converted, warehouse: Warehouse, config, reason):
    warehouse.write("sft_mix", mcq_traces())
    instance = with_base_model(warehouse, smol_checkpoint.path)
    result = materialize("sft_checkpoint", warehouse, instance, config)
    assert not result.success
    assert "refusing to start" in failure_text(result) and reason in failure_text(result)
    assert not (warehouse.root / "training").exists()  # nothing launched


def test_sft_refuses_to_start_without_rows(smol_checkpoint: Converted, warehouse: Warehouse):
    warehouse.write("sft_mix", mcq_traces().clear())
    instance = with_base_model(warehouse, smol_checkpoint.path)
    result = materialize("sft_checkpoint", warehouse, instance, TINY_SFT)
    assert not result.success and "has no trace with a response to train on" in failure_text(result)


# ---------------------------------------------------------------- SFT: crash, kill, resume


@pytest.mark.training
def test_a_crashing_training_process_fails_the_asset_with_its_stderr(smol_checkpoint: Converted, warehouse: Warehouse,
                                                                       tmp_path: Path):
    broken = tmp_path / "broken_zero3.json"
    broken.write_text('{"zero_optimization": {"stage": 3,')  # cut off: the child dies parsing it
    warehouse.write("sft_mix", mcq_traces())
    instance = with_base_model(warehouse, smol_checkpoint.path)
    result = materialize("sft_checkpoint", warehouse, instance, {**TINY_SFT, "deepspeed": str(broken)})
    assert not result.success
    text = failure_text(result)
    assert "medical_assets.train.sft failed" in text and "last lines of its stderr" in text
    assert "Traceback" in text and "JSONDecodeError" in text


class KilledThenResumed(NamedTuple):
    warehouse: Warehouse
    instance: dg.DagsterInstance
    killed: dg.ExecuteInProcessResult
    resumed: dg.ExecuteInProcessResult


@pytest.fixture(scope="module")
def killed_then_resumed(smol_checkpoint: Converted, tmp_path_factory: pytest.TempPathFactory) -> KilledThenResumed:
    """SFT killed (SIGKILL, by the child itself) right after its checkpoint of step 1, then
    materialized again with the same data and settings."""
    warehouse = Warehouse(home=str(tmp_path_factory.mktemp("sft_home")))
    warehouse.write("sft_mix", mcq_traces())
    warehouse.write("decontaminated_traces", mcq_traces())  # for dapo_prompts
    instance = with_base_model(warehouse, smol_checkpoint.path)
    killed = materialize("sft_checkpoint", warehouse, instance, {**TINY_SFT, "stop_after_steps": 1})
    resumed = materialize("sft_checkpoint", warehouse, instance, TINY_SFT)
    return KilledThenResumed(warehouse, instance, killed, resumed)


@pytest.mark.training
def test_a_killed_training_process_fails_the_asset(killed_then_resumed: KilledThenResumed):
    assert not killed_then_resumed.killed.success
    assert "killed by signal SIGKILL" in failure_text(killed_then_resumed.killed)


@pytest.mark.training
def test_materializing_again_resumes_from_the_last_checkpoint(killed_then_resumed: KilledThenResumed):
    run = killed_then_resumed
    assert run.resumed.success
    assert "resumed from checkpoint-1" in run_logs(run.instance, run.resumed)
    metadata = metadata_of(run.resumed, "sft_checkpoint")
    assert metadata["resumed_from"] == "checkpoint-1" and metadata["steps"] == 2


@pytest.mark.training
def test_the_loss_curve_reaches_the_materialization_metadata(killed_then_resumed: KilledThenResumed):
    metadata = metadata_of(killed_then_resumed.resumed, "sft_checkpoint")
    losses = metadata["losses"]
    assert sorted(losses) == ["1", "2"] and all(0 < loss < 20 for loss in losses.values())
    assert metadata["final_loss"] == losses["2"]
    assert "| step | loss | learning_rate |" in metadata["loss_curve"]
    assert metadata["deepspeed"].endswith("zero3_cpu.json") and metadata["precision"] == "fp32"
    assert metadata["gradient_accumulation_steps"] == 1


@pytest.mark.training
def test_sft_writes_a_loadable_checkpoint(killed_then_resumed: KilledThenResumed):
    checkpoint = Path(metadata_of(killed_then_resumed.resumed, "sft_checkpoint")["checkpoint_path"])
    assert checkpoint.name == "final" and (checkpoint / "config.json").exists()
    assert (checkpoint / "model.safetensors").stat().st_size > 500_000_000 and (checkpoint / "tokenizer.json").exists()


# ---------------------------------------------------------------- DAPO


def not_multiple_choice() -> pl.DataFrame:
    prompt, response = "Explain why the sky is blue in two sentences please.", "Rayleigh scattering."
    return pl.DataFrame([{"sample_id": sample_id("am_r1", prompt, None, response), "source": "am_r1", "source_row": 0,
                          "prompt": prompt, "reasoning": None, "response": response, "answer": "Rayleigh"}],
                        schema=TRACE_SCHEMA)


def test_dapo_prompts_keep_questions_with_verifiable_options(warehouse: Warehouse):
    warehouse.write("decontaminated_traces", pl.concat([mcq_traces(), not_multiple_choice()]))
    result = materialize("dapo_prompts", warehouse, dg.DagsterInstance.ephemeral())
    prompts = warehouse.read("dapo_prompts")
    assert result.success and prompts.height == 8
    assert metadata_of(result, "dapo_prompts")["rows_without_verifiable_options"] == 1
    assert warehouse.read("dapo_prompt_rejects")["reason"].to_list() == [
        "no lettered options (A., B., ...) at the end of the prompt"]
    first = prompts.filter(pl.col("prompt").str.starts_with("Which drug reverses heparin? (case 0)")).row(0, named=True)
    assert first["gold"] == "A" and first["options"][0] == {"letter": "A", "text": "Protamine sulfate"}
    assert first["prompt"].endswith("A. Protamine sulfate\nB. Vitamin K\nC. Naloxone\nD. Flumazenil\n\n"
                                     "Please reason step-by-step, and put your final answer within \\boxed{}.")


def test_dapo_prompts_take_seed_sets_without_the_contaminated_rows(warehouse: Warehouse):
    warehouse.write("decontaminated_traces", mcq_traces())
    seeds = mcq_traces(repeat=1).with_columns(source=pl.lit("medqa_seed"), reasoning=None, response=None,
                                              prompt=pl.col("prompt").str.replace("(case 0)", "(seed)", literal=True))
    warehouse.write("raw_traces", seeds, partition="medqa_seed")
    stem, *options = seeds["prompt"][0].split("\n")
    warehouse.write("eval_questions", pl.DataFrame({
        "benchmark": ["MedQA"], "question_id": ["MedQA:0"], "question": [stem],
        "options": [[{"letter": o[0], "text": o[3:]} for o in options]]}))
    second_stem = seeds["prompt"][1]  # a HealthBench user turn (the whole seed question): decontaminated against too
    warehouse.write("healthbench_examples", pl.DataFrame({
        "line": [1], "prompt_id": ["hb1"], "prompt": [[{"role": "user", "content": second_stem}]],
        "rubrics": [[{"criterion": "Says so.", "points": 5, "tags": []}]], "example_tags": [[]]},
        schema=healthbench.EXAMPLE_SCHEMA))
    result = materialize("dapo_prompts", warehouse, dg.DagsterInstance.ephemeral(), {"seed_sets": ["medqa_seed"]})
    prompts, rejects = warehouse.read("dapo_prompts"), warehouse.read("dapo_prompt_rejects")
    assert result.success and metadata_of(result, "dapo_prompts")["seed_rows_contaminated"] == 2
    assert prompts.filter(pl.col("source") == "medqa_seed").height == 2 and prompts.height == 10
    contaminated = sorted(rejects.filter(pl.col("reason").str.starts_with("contaminated"))["reason"].to_list())
    assert contaminated == ["contaminated: a 10-gram shared with MedQA:0", "contaminated: a 10-gram shared with "
                            "healthbench:hb1:0"]


def test_pass_rate_split_keeps_prompts_solved_sometimes():
    questions = pl.DataFrame({"prompt_id": ["a", "b", "c", "d"], "source": ["m23k"] * 4})
    kept, rejects = pass_rate_split(questions, [0, 3, 8, 1], 8)
    assert kept["prompt_id"].to_list() == ["b", "d"] and kept["pass_rate"].to_list() == [0.375, 0.125]
    assert dict(rejects.select("prompt_id", "reason").iter_rows()) == {
        "a": "never solved by the SFT model (0/8 samples)", "c": "always solved by the SFT model (8/8 samples)"}


@pytest.mark.training
def test_dapo_prompts_filtered_by_the_sft_models_pass_rate_account_for_every_row(
        killed_then_resumed: KilledThenResumed):
    run = killed_then_resumed
    config = {"pass_rate_samples": 2, "pass_rate_max_new_tokens": 12, "max_prompts": 4}
    result = materialize("dapo_prompts", run.warehouse, run.instance, config)
    assert result.success, failure_text(result)
    prompts, rejects = run.warehouse.read("dapo_prompts"), run.warehouse.read("dapo_prompt_rejects")
    measured = rejects.filter(pl.col("reason").str.contains("solved by the SFT model"))
    assert prompts.height + measured.height == 4  # every prompt sampled is kept or rejected with its pass rate
    assert rejects.filter(pl.col("reason") == "beyond max_prompts (4)").height == 4  # 8 questions, 4 sampled
    assert measured["reason"].str.contains(r"^(never|always) solved by the SFT model \([02]/2 samples\)$").all()
    assert prompts["pass_rate"].to_list() == [0.5] * prompts.height
    assert rejects.filter(pl.col("reason") == "same prompt as a kept row").height == 0
    assert "2 samples of" in metadata_of(result, "dapo_prompts")["pass_rates"]


@pytest.mark.training
def test_dapo_refuses_a_generation_batch_of_partial_groups(killed_then_resumed: KilledThenResumed):
    run = killed_then_resumed
    assert materialize("dapo_prompts", run.warehouse, run.instance).success
    result = materialize("dapo_checkpoint", run.warehouse, run.instance,
                         {"num_generations": 4, "per_device_batch_size": 6})
    assert not result.success and "is not divisible by num_generations 4" in failure_text(result)


def test_dapo_trains_the_sft_checkpoint_with_dynamic_sampling(demo_home):
    """The demo's DAPO run (the suite trains once: SFT then DAPO, in the demo fixture)."""
    home, _ = demo_home
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    metadata, sft = (latest_metadata(instance, name) for name in ("dapo_checkpoint", "sft_checkpoint"))
    assert metadata["policy"] == sft["checkpoint_path"] and metadata["generation_backend"] == "transformers"
    assert metadata["dynamic_sampling"] is True and metadata["steps"] == 1
    step = metadata["history"][0]
    # 24 tokens never reach an answer: every group is all wrong, dropped, refilled once, then used as a
    # filler whose advantages are zero, so the step moves nothing
    assert step["reward"] <= 0 and step["dynamic_sampling/rounds"] == 2 and step["dynamic_sampling/padded_groups"] == 1
    assert step["loss"] == 0
    assert "dynamic_sampling/rounds" in metadata["loss_curve"]
    assert (Path(metadata["checkpoint_path"]) / "model.safetensors").exists()


def test_the_demos_sft_run_reports_its_loss_curve_and_writes_a_checkpoint(demo_home):
    home, _ = demo_home
    metadata = latest_metadata(dg.DagsterInstance.from_config(str(home / "dagster")), "sft_checkpoint")
    steps = PROFILES["test"]["sft_checkpoint"]["config"]["max_steps"]
    assert metadata["steps"] == steps and sorted(metadata["losses"], key=int) == [str(s) for s in range(1, steps + 1)]
    assert (Path(metadata["checkpoint_path"]) / "model.safetensors").exists()


def latest_metadata(instance: dg.DagsterInstance, asset: str) -> dict[str, Any]:
    event = instance.get_latest_materialization_event(dg.AssetKey(asset))
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}
