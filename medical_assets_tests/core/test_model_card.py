"""The model card is written from the facts it is given: each section shows their numbers."""

from __future__ import annotations

import polars as pl

from medical_assets.core.model_card import ModelCardFacts, model_card_markdown, number


def facts(**changes) -> ModelCardFacts:
    fields = dict(
        model={"name": "ours", "weights": "/ckpt/final", "backend": "transformers", "dtype": "float32",
               "revision": None},
        lineage="`ours` is the checkpoint of the DAPO run below.",
        mix=pl.DataFrame({"part": ["math", "curated_r1", "curated_r1"], "source": ["light_r1", "am_r1", "dolphin"],
                          "samples": [3, 1_200, 7], "tokens": [900, 480_000, 2_100]}),
        mix_targets={"curated_r1": 338_055, "math": 15_000}, mix_stated_total=350_000,
        mix_removed=pl.DataFrame({"reason": ["exact duplicate"], "rows": [4]}),
        quality=pl.DataFrame({"filter": ["wait_count"], "threshold": [12.0], "rule": ["<= 12"], "removed": [5]}),
        quality_rows={"rows_in": 1_300, "kept": 1_295},
        wait={"limit": 12.0, "percentile": 97.0, "measured": 12.0, "published": 47},
        decontamination=pl.DataFrame({"step": ["n-gram overlap"], "setting": ["word 10-grams"],
                                      "samples_matched": [2], "pairs": [3]}),
        decontamination_rows={"rows_in": 1_295, "removed": 2, "kept": 1_293},
        sft={"asset": "sft_checkpoint", "hyperparameters": {"learning_rate": 1e-4, "max_length": 512},
             "steps": 4, "final_loss": 1.23456},
        dapo=None,
        recipe_sft={"learning_rate": 5e-5, "max_length": 16_378},
        recipe_dapo={},
        benchmarks=pl.DataFrame({"column": ["MedQA"], "harness": [40.0], "harness_low": [20.0], "harness_high": [62.5],
                                 "strict": [30.0], "rows": [10], "file_rows": [35], "published": [87.82]}),
        average={"harness": None, "strict": None, "published": 70.43, "stated": 70.49},
        reference_model="II-Medical-8B",
        healthbench={"score": 12.5, "bootstrap_std": 3.25, "examples_scored": 1, "examples": 2,
                     "judge": "transformers:smol", "judge_decoding": "temperature=0.5", "decoding": "greedy"},
        healthbench_published={"score": 40.0, "judge": "gpt-4.1"},
        provenance={"code commit": "abc123"},
    )
    return ModelCardFacts(**(fields | changes))


def test_the_data_section_lists_each_part_and_source_with_its_samples_beside_the_published_part():
    card = model_card_markdown(facts())
    assert "| curated_r1 |  | 1,207 | 482,100 | 338,055 |" in card  # the part: its sources added up
    assert "| curated_r1 | am_r1 | 1,200 | 480,000 |  |" in card
    assert "| math | light_r1 | 3 | 900 |  |" in card
    assert "| **total** |  | 1,210 | 483,000 | 353,055 (stated 350,000) |" in card
    assert "exact duplicate: 4" in card


def test_filters_decontamination_and_training_show_their_settings_beside_the_recipe():
    card = model_card_markdown(facts())
    assert "| wait_count | 12 | <= 12 | 5 |" in card and "1,300 candidate traces in, 1,295 kept" in card
    assert "percentile measures 12; the published limit is 47" in card
    assert "| n-gram overlap | word 10-grams | 2 | 3 |" in card and "1,295 traces in, 2 removed, 1,293 kept" in card
    assert "| learning_rate | 1.000e-04 | 5.000e-05 |" in card and "| final_loss | 1.235 |  |" in card
    assert "## DAPO\n\nNot trained by this pipeline." in card


def test_the_benchmark_table_has_both_scorers_beside_the_published_row():
    card = model_card_markdown(facts())
    assert "| MedQA | 40.00 [20.00, 62.50] | 30.00 | 10 / 35 | 87.82 |" in card
    assert "| **Avg** | — | — |  | 70.43 (stated 70.49) |" in card
    assert "| score (%) | 12.50 ± 3.25 |" in card and "| examples scored | 1 of 2 |" in card
    assert "Published: 40.00 (II-Medical-8B, judge gpt-4.1)." in card


def test_numbers_are_written_one_way():
    assert [number(v) for v in (3, 3.0, 0.5, 1e-6, True, None, "a|b")] == ["3", "3", "0.5", "1.000e-06", "yes", "—",
                                                                           "a\\|b"]
