"""Training: the base model, SFT, the DAPO prompt set and DAPO, each checkpoint a materialized asset.

The training itself never runs in the Dagster process: `sft_checkpoint` and `dapo_checkpoint`
start `python -m medical_assets.train.sft|dapo` (under `torchrun` for several processes)
through Dagster Pipes, as a subprocess or in a Kubernetes pod (the `training_launcher`
resource); the child logs every step back and reports the loss curve and the checkpoint path
as the materialization's metadata. Both are in the `gpu` pool, so two training runs never
share a GPU, and under the `k8s_job_executor` their step pods ask for a GPU (`GPU_STEP`).
A run's folder is named by a hash of its inputs and settings: materializing again after a
crash or a kill resumes from the newest checkpoint in it; changed settings or data start a
new run.

Layout under the data home: `training/<sft|dapo>/<run hash>/` (dataset, `checkpoint-N/`,
`final/`, `logs/`). The embedded base model is converted once per machine, outside any data
home (`resources/embedded_model.py`).
"""

import hashlib
import importlib.util
import json
from pathlib import Path

import dagster as dg
import polars as pl
from pydantic import Field

from medical_assets.assets.audit import create_audit_views
from medical_assets.assets.decontamination import DecontaminationConfig, eval_texts
from medical_assets.assets.metadata import chart_metadata, markdown_table
from medical_assets.assets.synthetic import SEED_SETS
from medical_assets.core import charts, decontamination
from medical_assets.core.canonical import to_messages
from medical_assets.core.dapo_prompts import DAPO_PROMPT_SCHEMA, DAPO_REJECT_SCHEMA, dapo_questions, pass_rate_split
from medical_assets.core.rejects import as_rejects
from medical_assets.recipe import RECIPE
from medical_assets.models import ModelSpec
from medical_assets.resources.launchers import TrainingFailed, TrainingLauncher, deepspeed_config
from medical_assets.resources.embedded_model import GGUF_MODEL_NAME, converted_checkpoint, packaged_gguf_path
from medical_assets.resources.llm import LLM
from medical_assets.resources.storage import Warehouse
from medical_assets.train import plan
from medical_assets.train.config import DapoRunConfig, LaunchConfig, SFTRunConfig
from medical_assets.train.rewards import accuracy_reward

GROUP = "training"
OWNERS = ["team:training"]

# Under the k8s_job_executor each step is a pod: a training step's pod asks for a GPU (more, or none
# when the training runs in its own pod, through per_step_k8s_config in deploy/k8s/executor.yaml).
# Other executors ignore the tag.
GPU_STEP = {"dagster-k8s/config": {"container_config": {"resources": {"limits": {"nvidia.com/gpu": "1"}}}}}


def training_dir(warehouse: Warehouse, stage: str) -> Path:
    return warehouse.root / "training" / stage


# ---------------------------------------------------------------- base model


class BaseModelConfig(dg.Config):
    model: str | None = Field(default=None, description="Hub id or local checkpoint directory (the recipe: "
                              f"{RECIPE.sft.base_model}); None: the embedded SmolLM2-135M-Instruct.")
    reconvert: bool = Field(default=False, description="Convert the embedded GGUF again even if this machine's "
                            "cached checkpoint exists.")


def _resolve_base_model(model: str | None, reconvert: bool) -> tuple[Path, str]:
    if model is None:
        target, converted = converted_checkpoint(reconvert)
        how = "converted now" if converted else "converted earlier on this machine"
        return target, f"{GGUF_MODEL_NAME}, {how} from {packaged_gguf_path()}"
    if Path(model).expanduser().is_dir():
        return Path(model).expanduser().resolve(), f"local checkpoint {model}"
    from huggingface_hub import snapshot_download

    try:
        local = snapshot_download(model, allow_patterns=["*.json", "*.safetensors", "*.jinja", "*.txt", "*.model",
                                                         "tokenizer*"])
    except Exception as error:  # offline without a cached copy, unknown id, gated model
        raise dg.Failure(f"base model {model!r} is neither a local directory nor a downloadable hub id ({error}). "
                         "Pass a checkpoint directory, or allow downloads (HF_HUB_OFFLINE=0) and log in if gated.")
    return Path(local), f"hub {model}"


def checkpoint_facts(checkpoint: Path) -> dict:
    """Parameter count and dtype read from the safetensors headers (no weights loaded)."""
    from safetensors import safe_open

    parameters, dtypes = 0, set()
    for shard in sorted(checkpoint.glob("*.safetensors")):
        with safe_open(str(shard), framework="pt") as handle:
            for name in handle.keys():
                tensor = handle.get_slice(name)
                size = 1
                for dim in tensor.get_shape():
                    size *= dim
                parameters += size
                dtypes.add(tensor.get_dtype())
    config = plan.model_config(checkpoint)
    return {"parameters": parameters, "dtype": ", ".join(sorted(dtypes)) or str(config.get("torch_dtype")),
            "architecture": ", ".join(config.get("architectures") or []),
            "context_window": plan.context_window(config) or 0}


@dg.asset(group_name=GROUP, owners=OWNERS, kinds={"pytorch", "safetensors"})
def base_model(context: dg.AssetExecutionContext, config: BaseModelConfig) -> dg.MaterializeResult:
    """The model SFT starts from, as a checkpoint directory: the recipe's Qwen/Qwen3-8B (hub id or
    local path in config), or by default the embedded SmolLM2-135M-Instruct GGUF converted once per
    machine to safetensors, in a folder named by the GGUF file's hash ($MEDICAL_ASSETS_MODEL_CACHE,
    default ~/.cache/medical_assets/models)."""
    path, source = _resolve_base_model(config.model, config.reconvert)
    facts = checkpoint_facts(path)
    context.log.info(f"base model: {path} ({facts['parameters']:,} parameters, {facts['dtype']})")
    return dg.MaterializeResult(metadata={**facts, "source": source,
                                          "checkpoint_path": dg.MetadataValue.path(str(path))})


# ---------------------------------------------------------------- launching a training process


def _run_training(context: dg.AssetExecutionContext, launcher: TrainingLauncher, module: str,
                  launch: LaunchConfig, run_dir: Path, extras: dict) -> dict:
    """Start the training process through the launcher; its reported metadata, or a Failure with its stderr tail."""
    try:
        return launcher.train(context, module, run_dir, extras, nproc_per_node=launch.nproc_per_node,
                              nnodes=launch.nnodes, rdzv_endpoint=launch.rdzv_endpoint,
                              cuda_visible_devices=launch.cuda_visible_devices, cpu_threads=launch.cpu_threads)
    except TrainingFailed as failed:
        raise dg.Failure(
            description=str(failed),
            metadata={"stderr_tail": dg.MetadataValue.md(f"```\n{failed.tail}\n```"),
                      "log": dg.MetadataValue.path(str(failed.log)), "run_dir": dg.MetadataValue.path(str(run_dir))},
        ) from failed


def _upstream_checkpoint(context: dg.AssetExecutionContext, asset: str) -> str:
    """The `checkpoint_path` an upstream training asset reported at its latest materialization."""
    event = context.instance.get_latest_materialization_event(dg.AssetKey(asset))
    materialization = event.asset_materialization if event else None
    value = materialization.metadata.get("checkpoint_path") if materialization else None
    if value is None:
        raise dg.Failure(f"{asset} has no materialization with a checkpoint_path: materialize {asset} first")
    return str(value.value)


# Settings that do not change what is trained: a run resumes across changes of these.
NOT_IN_RUN_HASH = ("stop_after_steps", "resume", "save_steps", "save_total_limit", "rdzv_endpoint",
                   "cuda_visible_devices", "cpu_threads", "vllm_server_base_url")


def _run_hash(settings: dict, sample_ids: list[str]) -> str:
    """Names a run's folder: the same data and settings resume there; anything else starts afresh."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    digest.update("\n".join(sample_ids).encode())
    return digest.hexdigest()[:16]


# The training charts: panel -> the logged series drawn in it (train/reporting.py LOGGED_KEYS).
SFT_PANELS = {"loss": ("loss",), "learning rate": ("learning_rate",), "tokens/s": ("tokens_per_s",)}
DAPO_PANELS = {"reward": ("reward", "reward_std"),
               "groups per batch": ("dynamic_sampling/kept_groups", "dynamic_sampling/padded_groups"),
               "clip ratio": ("clip_ratio/low_mean", "clip_ratio/high_mean", "clip_ratio/region_mean"),
               "loss": ("loss",)}


def _training_chart(title: str, reported: dict, panels: dict[str, tuple[str, ...]]) -> dict:
    """The curves of the logged steps the training process reported (`history`), one panel per
    quantity, with every step's values beside them."""
    history = reported.get("history")
    rows = list(history.value) if history is not None else []
    columns = list(dict.fromkeys(key for keys in panels.values() for key in keys))
    steps = [row["step"] for row in rows]
    figure = charts.training_curves(title, steps, {
        label: {key.split("/")[-1]: [row.get(key) for row in rows] for key in keys} for label, keys in panels.items()})
    numbers = pl.DataFrame([{"step": int(row["step"]), **{key: row.get(key) for key in columns}} for row in rows],
                           schema={"step": pl.Int64, **{key: pl.Float64 for key in columns}}, orient="row")
    return chart_metadata("training_chart", figure, f"{title}: curves per optimizer step", numbers)


def _refuse(error: plan.PlanError) -> dg.Failure:
    return dg.Failure(description=f"refusing to start: {error}", allow_retries=False)


# ---------------------------------------------------------------- SFT


def sft_examples(traces: pl.LazyFrame, max_rows: int | None) -> pl.DataFrame:
    """Conversational prompt/completion rows: the user turn, and the assistant turn with the
    reasoning inside <think>...</think> before the response (the loss is on the completion)."""
    traces = traces.filter(pl.col("response").is_not_null()).sort("sample_id")
    if max_rows is not None:
        traces = traces.head(max_rows)
    messages = to_messages(traces).collect()
    return messages.select("sample_id", prompt=pl.col("messages").list.slice(0, 1),
                           completion=pl.col("messages").list.slice(1, 1))


@dg.asset(deps=["base_model", "sft_mix"], group_name=GROUP, owners=OWNERS, pool="gpu", op_tags=GPU_STEP,
          kinds={"pytorch", "deepspeed", "trl"})
def sft_checkpoint(context: dg.AssetExecutionContext, config: SFTRunConfig, warehouse: Warehouse,
                   training_launcher: TrainingLauncher) -> dg.MaterializeResult:
    """Supervised fine-tuning of the base model on the SFT mix (TRL SFTTrainer,
    DeepSpeed ZeRO-3): max length 16,378, global batch 128, LR 5e-5, 8 epochs by default. Runs as
    a separate process reported through Pipes; resumes from its last checkpoint after a crash."""
    base = _upstream_checkpoint(context, "base_model")
    try:
        accumulation = plan.gradient_accumulation_steps(config.global_batch_size, config.per_device_batch_size,
                                                        config.nproc_per_node * config.nnodes)
        plan.check_max_length(config.max_length, plan.context_window(plan.model_config(base)), base)
        deepspeed = deepspeed_config(config.deepspeed, default_on_cpu="zero3_cpu")
    except plan.PlanError as error:
        raise _refuse(error)
    examples = sft_examples(warehouse.scan(config.input_table), config.max_rows)
    if examples.height == 0:
        raise _refuse(plan.PlanError(f"{config.input_table} has no trace with a response to train on"))
    settings = {k: v for k, v in config.model_dump().items() if k not in NOT_IN_RUN_HASH}
    run_dir = training_dir(warehouse, "sft") / _run_hash({**settings, "base": base}, examples["sample_id"].to_list())
    dataset = run_dir / "train.parquet"
    if not dataset.exists():
        run_dir.mkdir(parents=True, exist_ok=True)
        examples.drop("sample_id").write_parquet(dataset)
    extras = {**config.model_dump(), "base_model": base, "dataset": str(dataset), "output_dir": str(run_dir),
              "gradient_accumulation_steps": accumulation, "deepspeed": deepspeed}
    context.log.info(f"SFT of {base} on {examples.height:,} rows: global batch {config.global_batch_size} = "
                     f"{config.per_device_batch_size} per device x {accumulation} accumulation x "
                     f"{config.nproc_per_node * config.nnodes} processes; run folder {run_dir}")
    reported = _run_training(context, training_launcher, "medical_assets.train.sft", config, run_dir, extras)
    return dg.MaterializeResult(metadata={
        **reported, "rows": examples.height, "base_model": base, "gradient_accumulation_steps": accumulation,
        "run_dir": dg.MetadataValue.path(str(run_dir)),
        "hyperparameters": dg.MetadataValue.json({**settings, "gradient_accumulation_steps": accumulation}),
        **_training_chart("SFT", reported, SFT_PANELS),
    })


# ---------------------------------------------------------------- DAPO prompts


class DapoPromptsConfig(dg.Config):
    seed_sets: list[str] = Field(default=[], description="Also the seed question sets of raw_traces, among "
                                 f"{', '.join(SEED_SETS)}.")
    max_prompts: int | None = Field(default=None, ge=1, description="At most this many prompts (the rest go to "
                                    "dapo_prompt_rejects); None: all.")
    decontaminate_seed_sets: bool = Field(default=True, description="Seed rows never passed decontamination: "
                                          "pass them through its two steps first (rejected rows are listed).")
    decontamination: DecontaminationConfig = Field(
        default_factory=DecontaminationConfig, description="The decontamination stage's settings, for the seed rows.")
    pass_rate_samples: int = Field(default=0, ge=0, description="k > 0: the SFT checkpoint answers each prompt k "
                                   "times; prompts it always or never solves carry no DAPO signal and go to "
                                   "dapo_prompt_rejects with their pass rate. 0: no filter.")
    pass_rate_max_new_tokens: int = Field(default=RECIPE.dapo.max_response_tokens, ge=1,
                                          description="Tokens per pass-rate answer.")
    pass_rate_temperature: float = Field(default=RECIPE.dapo.temperature, ge=0,
                                         description="Sampling temperature of the pass-rate answers.")
    pass_rate_seed: int = Field(default=0, description="Seed of the pass-rate sampling.")


def _seed_rows(warehouse: Warehouse, config: DapoPromptsConfig) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(seed rows kept, seed rows rejected as contaminated): the seed sets never passed the
    decontamination stage, so they pass its two steps here, with its settings and eval texts."""
    rows = warehouse.read("raw_traces", config.seed_sets).select("sample_id", "source", "source_row", "prompt",
                                                                 "answer")
    if not config.decontaminate_seed_sets:
        return rows, pl.DataFrame(schema=DAPO_REJECT_SCHEMA)
    evals, train = eval_texts(warehouse), rows.select("sample_id", "prompt")
    hits = pl.concat([
        decontamination.ngram_matches(train, evals, n=config.decontamination.ngram_size)
        .select("sample_id", "question_id", how=pl.lit(f"a {config.decontamination.ngram_size}-gram")),
        decontamination.fuzzy_matches(train, evals, threshold=config.decontamination.fuzzy_threshold)
        .select("sample_id", "question_id", how=pl.format("fuzzy ratio {}", pl.col("score").round(1))),
    ]).unique("sample_id", keep="first", maintain_order=True)
    rejected = rows.join(hits, on="sample_id").select(
        prompt_id="sample_id", source="source", reason=pl.format("contaminated: {} shared with {}", "how", "question_id"))
    return rows.join(hits, on="sample_id", how="anti"), rejected


def _pass_counts(questions: pl.DataFrame, llm: LLM, config: DapoPromptsConfig) -> list[int]:
    """How many of k sampled answers of the model in `llm` are right, per question (the DAPO reward)."""
    completions = llm.generate(questions["prompt"].to_list(), max_new_tokens=config.pass_rate_max_new_tokens,
                               temperature=config.pass_rate_temperature, top_p=1.0, seed=config.pass_rate_seed,
                               n=config.pass_rate_samples)
    options = [json.dumps({o["letter"]: o["text"] for o in row}) for row in questions["options"].to_list()]
    return [int(sum(accuracy_reward(texts, [o] * len(texts), [g] * len(texts))))
            for texts, o, g in zip(completions, options, questions["gold"].to_list(), strict=True)]


@dg.multi_asset(
    specs=[
        dg.AssetSpec("dapo_prompts", deps=["decontaminated_traces", "sft_checkpoint"], group_name=GROUP,
                     owners=OWNERS, kinds={"polars", "parquet"},
                     description="The RL prompt set: multiple-choice questions with a verifiable gold letter "
                                 "(optionally only those the SFT model sometimes solves)."),
        dg.AssetSpec("dapo_prompt_rejects", deps=["decontaminated_traces", "sft_checkpoint"], group_name=GROUP,
                     owners=OWNERS, kinds={"polars", "parquet"},
                     description="Rows left out of dapo_prompts, with the reason: no verifiable options, a "
                                 "duplicate prompt, beyond max_prompts, or a pass rate of 0 or 1."),
    ],
)
def dapo_prompts(context: dg.AssetExecutionContext, config: DapoPromptsConfig, warehouse: Warehouse, llm: LLM):
    """The RL prompt set: multiple-choice questions with a verifiable gold letter, from the
    decontaminated traces (m23k-like rows: lettered options in the prompt, `answer` a letter or an
    option's text) and optionally the seed question sets, in the evaluation's prompt format.
    With `pass_rate_samples` k > 0, the SFT checkpoint answers each prompt k times and only
    the prompts it solves sometimes, neither always nor never, are kept."""
    rows = warehouse.scan("decontaminated_traces").filter(pl.col("answer").is_not_null())
    rows = rows.select("sample_id", "source", "source_row", "prompt", "answer").collect()
    rejects: list[pl.DataFrame] = []
    if config.seed_sets:
        unknown = sorted(set(config.seed_sets) - set(SEED_SETS))
        if unknown:
            raise dg.Failure(f"seed_sets {unknown} are not seed question sets; choose among {list(SEED_SETS)}")
        seeds, contaminated = _seed_rows(warehouse, config)
        rows = pl.concat([rows, seeds])
        rejects.append(contaminated)
    contaminated_seeds = sum(frame.height for frame in rejects)
    evaluation = RECIPE.evaluation  # the card's usage wording, as the synthetic traces were generated
    questions, unverifiable = dapo_questions(rows, evaluation.prompt_templates[evaluation.training_prompt_template])
    questions = questions.sort("prompt_id")
    first = pl.col("prompt").is_first_distinct()
    if unverifiable.height:
        rejects.append(unverifiable.select(prompt_id="sample_id", source="seed_set", reason="reason"))
    rejects.append(questions.filter(~first).select("prompt_id", "source", reason=pl.lit("same prompt as a kept row")))
    questions = questions.filter(first)
    if config.max_prompts is not None:
        rejects.append(questions.slice(config.max_prompts).select(
            "prompt_id", "source", reason=pl.lit(f"beyond max_prompts ({config.max_prompts})")))
        questions = questions.head(config.max_prompts)
    pass_rates = "not measured (pass_rate_samples 0)"
    if config.pass_rate_samples and questions.height:
        policy = _upstream_checkpoint(context, "sft_checkpoint")
        model = ModelSpec("sft_checkpoint", model=policy, backend="vllm" if llm.backend == "vllm" else "transformers").llm(llm)
        context.log.info(f"pass rates of {questions.height:,} prompts: {config.pass_rate_samples} samples each "
                         f"from {policy} ({model.backend})")
        questions, trivial = pass_rate_split(questions, _pass_counts(questions, model, config), config.pass_rate_samples)
        rejects.append(trivial.select("prompt_id", "source", "reason"))
        pass_rates = f"{config.pass_rate_samples} samples of {policy} ({model.backend})"
    rejected = pl.concat(rejects, how="diagonal_relaxed") if rejects else pl.DataFrame(schema=DAPO_REJECT_SCHEMA)
    with warehouse.commit("dapo_prompts") as stage:
        stage.write("dapo_prompts", questions.select(*DAPO_PROMPT_SCHEMA).cast(DAPO_PROMPT_SCHEMA))
        stage.write("dapo_prompt_rejects", as_rejects(rejected.select(*DAPO_REJECT_SCHEMA).cast(DAPO_REJECT_SCHEMA),
                                                      "dapo_prompts", sample_id="prompt_id"))
    create_audit_views(warehouse)  # the prompts left out, in removed_samples
    by_source = questions.group_by("source").len("prompts").sort("source")
    reasons = rejected.group_by(pl.col("reason").str.replace(r" \(.*\)$", "")).len("rows").sort("rows", descending=True)
    yield dg.MaterializeResult(asset_key="dapo_prompts", metadata={
        "dagster/row_count": questions.height,
        "rows_considered": rows.height,
        "rows_without_verifiable_options": unverifiable.height,
        "seed_rows_contaminated": contaminated_seeds,
        "pass_rates": pass_rates,
        "by_source": dg.MetadataValue.md(markdown_table(by_source)),
        "rejects": dg.MetadataValue.md(markdown_table(reasons) if rejected.height else "none"),
        "preview": dg.MetadataValue.md(markdown_table(questions.select("prompt_id", "source", "gold", "prompt").head(5),
                                                      max_chars=100)),
    })
    yield dg.MaterializeResult(asset_key="dapo_prompt_rejects", metadata={
        "dagster/row_count": rejected.height,
        "by_reason": dg.MetadataValue.md(markdown_table(reasons) if rejected.height else "none"),
    })


# ---------------------------------------------------------------- DAPO


def _use_vllm(choice: str) -> bool:
    if choice == "auto":
        import torch

        return importlib.util.find_spec("vllm") is not None and torch.cuda.is_available()
    if choice not in ("true", "false"):
        raise plan.PlanError(f"use_vllm={choice!r}: use auto, true or false")
    return choice == "true"


@dg.asset(deps=["sft_checkpoint", "dapo_prompts"], group_name=GROUP, owners=OWNERS, pool="gpu", op_tags=GPU_STEP,
          kinds={"pytorch", "deepspeed", "trl"})
def dapo_checkpoint(context: dg.AssetExecutionContext, config: DapoRunConfig, warehouse: Warehouse,
                    training_launcher: TrainingLauncher) -> dg.MaterializeResult:
    """DAPO from the SFT checkpoint (TRL GRPOTrainer, loss_type "dapo", clip 0.2/0.28, 16
    responses per prompt, 12,288 tokens with soft overlong punishment over the last 4,096) with
    dynamic sampling: groups whose accuracy rewards are all equal are dropped and refilled.
    Reward: the answer `extract_choice` reads equals the gold letter."""
    policy = _upstream_checkpoint(context, "sft_checkpoint")
    world = config.nproc_per_node * config.nnodes
    try:
        plan.check_generation_batch(config.per_device_batch_size, config.gradient_accumulation_steps, world,
                                    config.num_generations, config.dynamic_sampling)
        plan.check_overlong_buffer(config.max_completion_length, config.overlong_buffer)
        deepspeed = deepspeed_config(config.deepspeed, default_on_cpu=None)
        use_vllm = _use_vllm(config.use_vllm)
    except plan.PlanError as error:
        raise _refuse(error)
    prompts = warehouse.read("dapo_prompts").sort("prompt_id")
    if config.max_prompts is not None:
        prompts = prompts.head(config.max_prompts)
    if prompts.height == 0:
        raise _refuse(plan.PlanError("dapo_prompts is empty: no question with verifiable options to train on"))
    settings = {k: v for k, v in config.model_dump().items() if k not in NOT_IN_RUN_HASH}
    run_hash = _run_hash({**settings, "policy": policy}, prompts["prompt_id"].to_list())
    run_dir = training_dir(warehouse, "dapo") / run_hash
    dataset = run_dir / "prompts.parquet"
    if not dataset.exists():
        run_dir.mkdir(parents=True, exist_ok=True)
        prompts.select(
            prompt=pl.concat_list(pl.struct(role=pl.lit("user"), content=pl.col("prompt"))),
            options=pl.col("options").map_elements(lambda o: json.dumps({x["letter"]: x["text"] for x in o}),
                                                   return_dtype=pl.String),
            gold="gold",
        ).write_parquet(dataset)
    extras = {**config.model_dump(), "policy": policy, "dataset": str(dataset), "output_dir": str(run_dir),
              "deepspeed": deepspeed, "use_vllm": use_vllm}
    backend = f"vllm ({config.vllm_mode})" if use_vllm else "transformers"
    context.log.info(f"DAPO of {policy} on {prompts.height:,} prompts, {config.num_generations} completions each, "
                     f"generation with {backend}; run folder {run_dir}")
    reported = _run_training(context, training_launcher, "medical_assets.train.dapo", config, run_dir, extras)
    return dg.MaterializeResult(metadata={
        **reported, "prompts": prompts.height, "policy": policy, "generation_backend": backend,
        "run_dir": dg.MetadataValue.path(str(run_dir)), "hyperparameters": dg.MetadataValue.json(settings),
        **_training_chart("DAPO", reported, DAPO_PANELS),
    })
