"""What the whole recipe would cost in compute, projected from throughputs this project measured.

No public recipe states its compute; a lab decides on it before it starts. Each stage of the
recipe is a quantity of work in one unit (prompts embedded, exemplars labelled, tokens generated
or trained on) and a throughput in the same unit, measured by a materialization of the stage's
asset or read from a benchmark's output; hours = work / throughput. Every row says where its
throughput came from, and its assumptions (the recipe does not publish every size).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import polars as pl

from medical_assets.recipe import RECIPE

# HealthBench: 5,000 conversations graded on 48,562 rubric criteria (the HealthBench paper).
HEALTHBENCH_CRITERIA = 48_562
EVAL_QUESTIONS = 12_462  # the ten benchmarks' rows, as the public harness files hold them
R1_TRACES = 7_000_000  # the curated R1 traces the card's curation starts from


@dataclass(frozen=True)
class Assumptions:
    """Sizes the card does not publish, and the ones it does, in one place (each is a config field)."""

    tokens_per_trace: int = 6_126  # prompt + response tokens of a mix row: ~3.4G tokens / 555k rows
    response_tokens: int = 4_000  # tokens generated per synthetic trace, evaluation answer or rollout
    judge_tokens: int = 200  # tokens per HealthBench judge reply (a short JSON verdict)
    dapo_prompts: int = 10_000  # prompts of the DAPO set (not published)


@dataclass(frozen=True)
class Throughput:
    """A measured rate: `value` units per second per device, and where it came from."""

    value: float
    source: str


@dataclass(frozen=True)
class Stage:
    name: str
    work: float
    unit: str
    rate_key: str  # which throughput measures this stage
    note: str


def recipe_stages(assumptions: Assumptions) -> list[Stage]:
    """The recipe's stages with their amounts of work (sizes from `recipe.py` and `assumptions`)."""
    curation, mix, sft, dapo = RECIPE.curation, RECIPE.mix, RECIPE.sft, RECIPE.dapo
    exemplars = curation.n_clusters * curation.exemplars_per_cluster
    kmeans_work = R1_TRACES * curation.n_clusters * 20  # row-centroid distances over 20 iterations
    return [
        Stage("embedding", R1_TRACES, "prompts", "embedding", f"{R1_TRACES:,} R1 prompts, all-MiniLM-L6-v2"),
        Stage("k-means", kmeans_work, "row-centroid distances", "kmeans",
              f"{R1_TRACES:,} x {curation.n_clusters:,} centroids x 20 iterations"),
        Stage("domain labelling", exemplars, "exemplars", "labelling",
              f"{curation.n_clusters:,} clusters x {curation.exemplars_per_cluster} exemplars, {curation.labeller}"),
        Stage("synthetic generation", mix.synthetic_qa * assumptions.response_tokens, "tokens generated", "generation",
              f"{mix.synthetic_qa:,} kept traces x {assumptions.response_tokens:,} tokens (retries not counted)"),
        Stage("SFT", mix.total * sft.epochs * assumptions.tokens_per_trace, "tokens trained", "sft",
              f"{mix.total:,} rows x {sft.epochs} epochs x {assumptions.tokens_per_trace:,} tokens, {sft.base_model}"),
        Stage("DAPO", assumptions.dapo_prompts * dapo.responses_per_prompt * assumptions.response_tokens,
              "tokens trained", "dapo", f"{assumptions.dapo_prompts:,} prompts (assumed) x "
              f"{dapo.responses_per_prompt} responses x {assumptions.response_tokens:,} tokens"),
        Stage("evaluation", EVAL_QUESTIONS * assumptions.response_tokens, "tokens generated", "evaluation",
              f"{EVAL_QUESTIONS:,} questions x {assumptions.response_tokens:,} tokens, one sample each"),
        Stage("HealthBench", RECIPE.evaluation.healthbench_examples * assumptions.response_tokens
              + HEALTHBENCH_CRITERIA * assumptions.judge_tokens, "tokens generated", "evaluation",
              f"{RECIPE.evaluation.healthbench_examples:,} replies x {assumptions.response_tokens:,} tokens + "
              f"{HEALTHBENCH_CRITERIA:,} judge replies x {assumptions.judge_tokens} tokens"),
    ]


def gpu_check_rates(path: Path) -> dict[str, Throughput]:
    """Per-GPU throughputs from a saved output of `benchmarks/gpu_check.py` (JSON lines), by rate key."""
    rates: dict[str, Throughput] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}, line {number}: not JSON ({error.msg}); give the file "
                             "benchmarks/gpu_check.py --out wrote") from error
        key = GPU_CHECK_FIGURES.get(row.get("figure"))
        if key is None or row.get("skipped") or row.get("error") or not row.get("value"):
            continue
        for rate_key in key:
            rates[rate_key] = Throughput(float(row["value"]) * GPU_CHECK_SCALE.get(rate_key, 1.0),
                                         f"{path.name}: {row['figure']} on {row.get('device', '?')}")
    return rates


# gpu_check figure -> the rate keys it measures. Generation on an 8B-shaped model stands for every
# generating stage; the 1.7B-shaped SFT figure is scaled to 8B by parameters (tokens/s ~ 1 / parameters).
GPU_CHECK_FIGURES = {"embedding": ("embedding",), "vllm_generation": ("generation", "evaluation"),
                     "sft": ("sft", "dapo"), "kmeans": ("kmeans",)}
GPU_CHECK_SCALE = {"sft": 1.7 / 8.2, "dapo": 1.7 / 8.2}


def cost_table(stages: Iterable[Stage], here: Mapping[str, Throughput], target: Mapping[str, Throughput],
               target_devices: int) -> pl.DataFrame:
    """Hours per stage on this machine (its measured rates) and on the target (per-device rates x
    `target_devices`, assumed to scale linearly); null where no rate was measured."""
    rows = []
    for stage in stages:
        mine, theirs = here.get(stage.rate_key), target.get(stage.rate_key)
        rows.append({
            "stage": stage.name, "work": float(stage.work), "unit": stage.unit, "assumes": stage.note,
            "rate_here": mine.value if mine else None, "hours_here": stage.work / mine.value / 3600 if mine else None,
            "source_here": mine.source if mine else "not measured",
            "rate_target_per_device": theirs.value if theirs else None,
            "hours_target": stage.work / (theirs.value * target_devices) / 3600 if theirs else None,
            "source_target": theirs.source if theirs else "not measured: run benchmarks/gpu_check.py on it",
        })
    return pl.DataFrame(rows, schema={
        "stage": pl.String, "work": pl.Float64, "unit": pl.String, "assumes": pl.String, "rate_here": pl.Float64,
        "hours_here": pl.Float64, "source_here": pl.String, "rate_target_per_device": pl.Float64,
        "hours_target": pl.Float64, "source_target": pl.String,
    })
