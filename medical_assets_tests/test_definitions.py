"""The Definitions load, in-process and through `dg check defs` as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from medical_assets.definitions import defs
from medical_assets.sources import SOURCE_NAMES

ROOT = Path(__file__).resolve().parents[1]


def test_definitions_hold_the_ingest_stage():
    keys = {key.to_user_string() for key in defs.resolve_all_asset_keys()}
    assert {"raw_traces", "raw_trace_rejects", "source_summary", "eval_questions", "eval_question_rejects"} <= keys
    partitions = defs.resolve_assets_def("raw_traces").partitions_def
    assert partitions.get_partition_keys() == list(SOURCE_NAMES)


def test_dg_check_defs_passes(tmp_path):
    dg = Path(sys.executable).parent / "dg"
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "VIRTUAL_ENV": str(Path(sys.executable).parents[1])}
    result = subprocess.run([str(dg), "check", "defs"], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr


def test_resources_name_the_environment_variable_they_read_so_the_ui_shows_it():
    code = ("from medical_assets.definitions import defs; r = defs.resources; "
            "print(type(r['labeller'].model).__name__, r['labeller'].model.env_var_name, r['llm'].batch_size, "
            "r['eval_files'].mode)")
    env = {**os.environ, "MEDICAL_ASSETS_LABELLER_MODEL": "Qwen/Qwen2.5-32B-Instruct", "MEDICAL_ASSETS_LLM_BATCH_SIZE": "4",
           "MEDICAL_ASSETS_EVAL_FILES": "harness"}
    shown = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert shown.stdout.split() == ["EnvVar", "MEDICAL_ASSETS_LABELLER_MODEL", "4", "harness"], shown.stderr[-2000:]
