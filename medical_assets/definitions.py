"""The one Definitions of the project: assets, checks, jobs and resources.

Resources are configured from the environment, never by code edits:
- MEDICAL_ASSETS_HOME      data home (Parquet tables + warehouse.duckdb), default ./data
- MEDICAL_ASSETS_SOURCES   "demo" (bundled mock files, the default) or "hub"
- MEDICAL_ASSETS_SOURCE_OVERRIDES  optional YAML of per-source overrides (local paths, columns, filters)
- MEDICAL_ASSETS_DROP_DIR  the drop folder: a file <source>.jsonl|.ndjson|.json|.parquet there is that
  source's data, and `source_drop_sensor` ingests it when it appears or changes (default <home>/drop)
- MEDICAL_ASSETS_EVAL_FILES "demo" (bundled benchmark files), "harness" (a folder given by
  MEDICAL_ASSETS_EVAL_DIR holding eval_data.json and m1_eval_data.json) or "hub" (owner in
  MEDICAL_ASSETS_EVAL_HUB_ORG)
- MEDICAL_ASSETS_HEALTHBENCH_FILE  HealthBench JSONL (its user turns join decontamination);
  the bundled demo file by default in "demo" mode
- MEDICAL_ASSETS_EMBEDDER_MODEL / _DEVICE  the prompt embedder (default: the packaged all-MiniLM-L6-v2, auto)
- MEDICAL_ASSETS_LABELLER_BACKEND / _MODEL  the domain labeller LLM (default: transformers with the
  embedded SmolLM2-135M-Instruct; the recipe's is Qwen/Qwen2.5-32B-Instruct); the openai backend reads
  its server from MEDICAL_ASSETS_LLM_BASE_URL
- MEDICAL_ASSETS_GENERATOR_BACKEND / _MODEL  the synthetic-QA generator LLM (default: the embedded model;
  the recipe's is Qwen/QwQ-32B)
- MEDICAL_ASSETS_LLM_BACKEND / _MODEL / _DEVICE / _BATCH_SIZE  the `llm` resource; evaluation takes its
  device and batching, and the model and backend from the partition's model (`medical_assets.models`)
- MEDICAL_ASSETS_TRAINING_LAUNCHER  where sft_checkpoint/dapo_checkpoint train: "subprocess" (default) or
  "k8s" (a pod through PipesK8sClient: MEDICAL_ASSETS_TRAINING_IMAGE, _NAMESPACE, _POD_SPEC)
- MEDICAL_ASSETS_EXECUTOR  "k8s": the k8s_job_executor, one pod per step, configured for every run by the
  run config file MEDICAL_ASSETS_EXECUTOR_CONFIG (deploy/k8s/executor.yaml) when set; unset: Dagster's default
- MEDICAL_ASSETS_JUDGE_BACKEND / _MODEL / _BASE_URL  the HealthBench judge (default: the embedded
  SmolLM2-135M-Instruct, which rarely writes readable grades; published grading used GPT-4.1 via
  backend "openai", its key from OPENAI_API_KEY)
"""

from __future__ import annotations

import os
import warnings

import dagster as dg

from medical_assets.assets import (
    cost, curation, decontamination, evaluation, healthbench, ingest, mix, model_card, parts, quality, semantic,
    synthetic, training,
)
from medical_assets.resources.embedder import Embedder
from medical_assets.resources.eval_files import EvalFiles
from medical_assets.resources.launchers import TrainingLauncher, run_executor
from medical_assets.resources.llm import LLM
from medical_assets.resources.sources import SourceCatalog
from medical_assets.resources.storage import Warehouse, WarehouseIOManager
from medical_assets.sensors import SENSORS

warehouse = Warehouse(home=os.environ.get("MEDICAL_ASSETS_HOME"))  # a plain path: the demo and CLIs use it directly


def _env(name: str, default: str | int | None = None, kind: type = str):
    """A free-text setting as `dg.EnvVar(name)` when the variable is set, so the UI shows which
    variable a resource's value comes from (and Dagster reads it when the run starts); the default
    otherwise. A number (`int`) or a choice among fixed values (`kind="choice"`) is read here: its
    range or set is checked on the value."""
    if not os.environ.get(name):
        return default
    if kind is int:
        return int(os.environ[name])
    return os.environ[name] if kind == "choice" else dg.EnvVar(name)
MODULES = [ingest, curation, parts, synthetic, quality, decontamination, semantic, mix, training, evaluation,
           healthbench, model_card, cost]

with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.BetaWarning)  # code references are beta: one warning per asset otherwise
    # Each asset links to the file and line that define it (the UI's Definition > Code references).
    asset_defs = dg.with_source_code_references(dg.load_assets_from_modules(MODULES))

defs = dg.Definitions(
    assets=asset_defs,
    asset_checks=dg.load_asset_checks_from_modules(MODULES),
    jobs=[
        dg.define_asset_job(
            "ingest_sources",
            selection=dg.AssetSelection.groups("ingest") - dg.AssetSelection.assets("source_summary"),
            partitions_def=ingest.source_partitions,
            description="Ingest one source partition (or a backfill of all) into raw_traces.",
        ),
        dg.define_asset_job(
            "evaluate_model",
            selection=dg.AssetSelection.assets("eval_responses", "benchmark_scores"),
            partitions_def=evaluation.model_benchmark_partitions,
            description="Responses and score of one model on one benchmark (a backfill: every benchmark).",
        ),
    ],
    sensors=SENSORS,
    executor=run_executor(os.environ.get("MEDICAL_ASSETS_EXECUTOR"),
                          os.environ.get("MEDICAL_ASSETS_EXECUTOR_CONFIG")),
    resources={
        "warehouse": warehouse,
        "io_manager": WarehouseIOManager(warehouse=warehouse),
        "eval_files": EvalFiles(
            mode=_env("MEDICAL_ASSETS_EVAL_FILES", "demo", "choice"),
            directory=_env("MEDICAL_ASSETS_EVAL_DIR"),
            hub_org=_env("MEDICAL_ASSETS_EVAL_HUB_ORG"),
            healthbench_file=_env("MEDICAL_ASSETS_HEALTHBENCH_FILE"),
        ),
        "embedder": Embedder(
            model=_env("MEDICAL_ASSETS_EMBEDDER_MODEL"),
            device=_env("MEDICAL_ASSETS_EMBEDDER_DEVICE", "auto"),
        ),
        "labeller": LLM(
            backend=_env("MEDICAL_ASSETS_LABELLER_BACKEND", "transformers"),
            model=_env("MEDICAL_ASSETS_LABELLER_MODEL"),
        ),
        "llm": LLM(
            backend=_env("MEDICAL_ASSETS_LLM_BACKEND", "transformers"),
            model=_env("MEDICAL_ASSETS_LLM_MODEL"),
            device=_env("MEDICAL_ASSETS_LLM_DEVICE", "auto"),
            batch_size=_env("MEDICAL_ASSETS_LLM_BATCH_SIZE", 16, int),
        ),
        "judge": LLM(
            backend=_env("MEDICAL_ASSETS_JUDGE_BACKEND", "transformers"),
            model=_env("MEDICAL_ASSETS_JUDGE_MODEL"),
            base_url=_env("MEDICAL_ASSETS_JUDGE_BASE_URL"),
        ),
        "training_launcher": TrainingLauncher(
            kind=_env("MEDICAL_ASSETS_TRAINING_LAUNCHER", "subprocess"),
            image=_env("MEDICAL_ASSETS_TRAINING_IMAGE"),
            namespace=_env("MEDICAL_ASSETS_TRAINING_NAMESPACE"),
            pod_spec_file=_env("MEDICAL_ASSETS_TRAINING_POD_SPEC"),
        ),
        "generator": LLM(
            backend=_env("MEDICAL_ASSETS_GENERATOR_BACKEND", "transformers"),
            model=_env("MEDICAL_ASSETS_GENERATOR_MODEL"),
            batch_size=16,
        ),
        "catalog": SourceCatalog(
            mode=_env("MEDICAL_ASSETS_SOURCES", "demo"),
            overrides_file=_env("MEDICAL_ASSETS_SOURCE_OVERRIDES"),
            drop_dir=_env("MEDICAL_ASSETS_DROP_DIR", str(warehouse.root / "drop")),
        ),
    },
)
