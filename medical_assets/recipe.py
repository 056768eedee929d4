"""Every number of the II-Medical-8B recipe, typed, in one place.

Sources: the model card (`II-Medical-8B` / `II-Medical-8B-SFT`) and the public
evaluation code it follows. Assets read these defaults and expose them as run
config, so a demo or an ablation overrides a value without editing code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping


@dataclass(frozen=True)
class MixTargets:
    """Training mix, 555,000 samples in the card (counts before filtering)."""

    public_medical: int = 103_031
    synthetic_qa: int = 225_700
    curated_r1: int = 338_055
    math: int = 15_000
    total: int = 555_000


@dataclass(frozen=True)
class Curation:
    """Curation of the R1 traces: embed, cluster, label exemplars, vote."""

    embedder: str = "sentence-transformers/all-MiniLM-L6-v2"  # 384-d vectors
    n_clusters: int = 50_000
    exemplars_per_cluster: int = 10
    labeller: str = "Qwen/Qwen2.5-32B-Instruct"
    kept_domains: tuple[str, ...] = ("Medical", "Biology")


@dataclass(frozen=True)
class Preprocessing:
    """Quality filters applied to every part of the mix."""

    min_prompt_words_exclusive: int = 3  # keep prompts of MORE than 3 words
    max_wait_count: int = 47  # the card's value; the pipeline recomputes it
    wait_percentile: float = 97.0


@dataclass(frozen=True)
class Decontamination:
    """Two steps against every evaluation set: open-r1 n-grams, then s1K fuzzy."""

    ngram_size: int = 10
    fuzzy_threshold: float = 90.0  # rapidfuzz fuzz.ratio, 0-100, >= removes


@dataclass(frozen=True)
class SFT:
    """Supervised fine-tuning of the base model."""

    base_model: str = "Qwen/Qwen3-8B"
    max_length: int = 16_378
    global_batch_size: int = 128
    learning_rate: float = 5e-5
    epochs: int = 8


@dataclass(frozen=True)
class DAPO:
    """DAPO after SFT, on a hard medical reasoning set."""

    clip_ratio_low: float = 0.2
    clip_ratio_high: float = 0.28
    responses_per_prompt: int = 16
    max_response_tokens: int = 12_288
    overlong_buffer_tokens: int = 4_096
    loss_type: str = "dapo"  # token-level loss
    dynamic_sampling: bool = True
    temperature: float = 1.0


@dataclass(frozen=True)
class Evaluation:
    """Prompt and sampling of the evaluation harness."""

    # The instruction after the question and its options, by template name: the wording of the
    # harness that produced the card's table (II-Medical-Evaluation), and the card's usage section's.
    prompt_templates: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({
            "ii_medical_harness": "Please reason step by step, and put your final answer within \\boxed{}.",
            "model_card_usage": "Please reason step-by-step, and put your final answer within \\boxed{}.",
        })
    )
    prompt_template: str = "ii_medical_harness"  # evaluation's default: comparable with the card's table
    training_prompt_template: str = "model_card_usage"  # synthetic traces and DAPO prompts: the card's usage
    stop: tuple[str, ...] = ("<eos>", "<end_of_turn>", "<|im_end|>", "<|eot_id|>")  # the harness's stop strings
    temperature: float = 0.6
    top_p: float = 0.9
    healthbench_examples: int = 5_000
    max_new_tokens: int = 30_768  # II-Medical-Evaluation's max_tokens: room for long reasoning
    # HealthBench grading as published (openai/simple-evals): one judge call per rubric item.
    healthbench_judge: str = "gpt-4.1-2025-04-14"
    healthbench_judge_temperature: float = 0.5
    # The model card's II-Medical-8B row: accuracy (%) by leaderboard column, the Avg it states
    # (the recomputed mean of the ten is 70.43) and its HealthBench score (about 40%).
    reference_model: str = "II-Medical-8B"
    reference_scores: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType(
            {"MedMC": 71.57, "MedQA": 87.82, "PubMed": 78.2, "MMLU-P": 80.46, "GPQA": 67.18, "Lancet": 70.38,
             "MedB-4": 78.25, "MedB-5": 72.07, "MedX": 25.26, "NEJM": 73.13}
        )
    )
    reference_avg_stated: float = 70.49
    reference_healthbench: float = 40.0


@dataclass(frozen=True)
class Recipe:
    """The whole recipe; `RECIPE` is the one instance the pipeline uses."""

    mix: MixTargets = MixTargets()
    curation: Curation = Curation()
    preprocessing: Preprocessing = Preprocessing()
    decontamination: Decontamination = Decontamination()
    sft: SFT = SFT()
    dapo: DAPO = DAPO()
    evaluation: Evaluation = Evaluation()


RECIPE = Recipe()
