"""The recipe's compute projection: work per stage, rates read from a gpu_check output, hours."""

import json

import pytest

from medical_assets.core.cost import Assumptions, Throughput, cost_table, gpu_check_rates, recipe_stages


def test_every_stage_of_the_recipe_has_its_work_from_the_recipes_sizes():
    stages = {stage.name: stage for stage in recipe_stages(Assumptions(tokens_per_trace=1_000))}
    assert list(stages) == ["embedding", "k-means", "domain labelling", "synthetic generation", "SFT", "DAPO",
                            "evaluation", "HealthBench"]
    assert stages["embedding"].work == 7_000_000
    assert stages["domain labelling"].work == 500_000
    assert stages["SFT"].work == 555_000 * 8 * 1_000


def test_hours_are_work_over_rate_and_the_target_scales_with_its_devices():
    stages = [s for s in recipe_stages(Assumptions()) if s.name == "embedding"]
    table = cost_table(stages, {"embedding": Throughput(700.0, "here")}, {"embedding": Throughput(10_000.0, "gpu")},
                       target_devices=4)
    row = table.row(0, named=True)
    assert row["hours_here"] == pytest.approx(7_000_000 / 700 / 3600)
    assert row["hours_target"] == pytest.approx(7_000_000 / 40_000 / 3600)
    assert (row["source_here"], row["source_target"]) == ("here", "gpu")


def test_a_stage_without_a_rate_says_so():
    table = cost_table(recipe_stages(Assumptions()), {}, {}, target_devices=8)
    assert table["hours_here"].is_null().all()
    assert set(table["source_target"]) == {"not measured: run benchmarks/gpu_check.py on it"}


def test_gpu_check_figures_become_per_device_rates_and_skipped_ones_are_left_out(tmp_path):
    path = tmp_path / "gpu.jsonl"
    lines = [{"figure": "embedding", "value": 20_000, "unit": "prompts/s", "device": "H200"},
             {"figure": "vllm_generation", "skipped": "no vllm"},
             {"figure": "sft", "value": 17_000, "unit": "tokens/s", "device": "H200"},
             {"figure": "summary", "ran": ["embedding", "sft"]}]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    rates = gpu_check_rates(path)
    assert set(rates) == {"embedding", "sft", "dapo"}
    assert rates["embedding"].value == 20_000 and "H200" in rates["embedding"].source
    assert rates["sft"].value == pytest.approx(17_000 * 1.7 / 8.2)  # a 1.7B-shaped run, scaled to 8B


def test_a_file_that_is_not_json_lines_is_named_with_its_line(tmp_path):
    path = tmp_path / "gpu.jsonl"
    path.write_text('{"figure": "embedding", "value": 1}\nnot json\n')
    with pytest.raises(ValueError, match=r"gpu.jsonl, line 2: not JSON"):
        gpu_check_rates(path)
