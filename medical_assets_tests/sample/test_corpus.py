"""The bundled demo corpus: present for every registry source, in the public
benchmark formats, and rebuilt byte for byte by its generator."""

from __future__ import annotations

import filecmp
import json
import subprocess
import sys
from pathlib import Path

import pytest

from medical_assets.sources import SOURCES

SAMPLE = Path(__file__).resolve().parents[2] / "medical_assets" / "sample"
TEN_BENCHMARKS = {
    "eval_data.json": ["MedMCQA_validation", "MedQA_USLME_test", "PubMedQA_test", "MMLU-Pro_Medical_test",
                       "GPQA_Medical_test"],
    "m1_eval_data.json": ["Lancet", "MedBullets_op4", "MedBullets_op5", "MedXpertQA", "NEJM"],
}


@pytest.mark.parametrize("spec", SOURCES, ids=lambda s: s.name)
def test_every_source_has_a_demo_file(spec):
    assert (SAMPLE / "sources" / spec.demo_file).is_file()


@pytest.mark.parametrize("spec", SOURCES, ids=lambda s: s.name)
def test_every_demo_source_passes_the_input_gate(spec):
    """The demo's planted bad rows stay under the default threshold of raw_traces' input gate."""
    from medical_assets.assets.ingest import RawTracesConfig
    from medical_assets.core.ingest import IngestStats, input_gate, normalize_stream
    from medical_assets.resources.sources import read_local

    path = SAMPLE / "sources" / spec.demo_file
    stats = IngestStats()
    for _ in normalize_stream(read_local(path), spec.layout, spec.name, str(path), 1_000, stats):
        pass
    assert stats.rows_kept and input_gate(stats, RawTracesConfig().max_invalid_percent, str(path), spec.name,
                                          spec.layout.keep_if) is None


@pytest.mark.parametrize("file_name", sorted(TEN_BENCHMARKS))
def test_benchmark_files_use_the_harness_layout(file_name):
    benchmarks = json.loads((SAMPLE / "benchmarks" / file_name).read_text())
    assert list(benchmarks) == TEN_BENCHMARKS[file_name]
    for name, rows in benchmarks.items():
        assert len(rows) >= 20, name
        for row in rows:
            assert isinstance(row["question"], str) and isinstance(row["options"], dict)
            letter = row["label"] if name == "MedXpertQA" else row["answer_idx"]
            assert letter in row["options"], (name, row["question"][:40])


def test_medxpertqa_rows_have_ten_options_and_a_label():
    rows = json.loads((SAMPLE / "benchmarks" / "m1_eval_data.json").read_text())["MedXpertQA"]
    assert all(list(row["options"]) == list("ABCDEFGHIJ") and "answer_idx" not in row for row in rows)


def test_healthbench_rows_have_conversations_and_rubrics():
    rows = [json.loads(line) for line in (SAMPLE / "benchmarks" / "healthbench_demo.jsonl").open()]
    assert len(rows) >= 20
    for row in rows:
        assert row["prompt"][-1]["role"] == "user"
        assert all(isinstance(item["points"], int) and item["points"] != 0 for item in row["rubrics"])
        assert any(item["points"] < 0 for r in rows for item in r["rubrics"])
        assert all(any(tag.startswith("axis:") for tag in item["tags"]) for item in row["rubrics"])


def test_generator_rebuilds_the_bundled_files_byte_for_byte(tmp_path):
    subprocess.run([sys.executable, "-m", "medical_assets.sample.generate", "--out", str(tmp_path)],
                   check=True, capture_output=True, timeout=300)
    for folder in ("sources", "benchmarks"):
        comparison = filecmp.dircmp(SAMPLE / folder, tmp_path / folder)
        assert not comparison.left_only and not comparison.right_only, folder
        _, mismatch, errors = filecmp.cmpfiles(SAMPLE / folder, tmp_path / folder, comparison.common_files,
                                               shallow=False)
        assert mismatch == errors == [], folder
    assert filecmp.cmp(SAMPLE / "truth.jsonl", tmp_path / "truth.jsonl", shallow=False)
