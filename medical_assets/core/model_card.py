"""The model card as the II-Medical-8B card lays it out (training data, preprocessing,
decontamination, SFT, DAPO, evaluation, HealthBench), written from the pipeline's own tables
and metadata: every number comes from a frame or mapping passed in, none is typed here.

`ModelCardFacts` holds what the `model_card` asset read; `model_card_markdown` writes the card.
Numbers are written one way throughout (`count`, `percent`, `number`) so that a reader, or a
test, can read them back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl


@dataclass(frozen=True)
class ModelCardFacts:
    """What the card says, as read from the lineage.

    - `model`: name, weights, backend, dtype, revision of the evaluated model; `lineage`: how it
      relates to the pipeline's training runs, in words.
    - `mix`: part, source, samples, tokens (sft_mix per part and source); `mix_targets`: the
      published samples per part and `mix_stated_total` the total the card states;
      `mix_removed`: reason, rows (sft_mix_rejects).
    - `quality`: filter, threshold, rule, removed (quality_rejects); `quality_rows`: rows in and
      kept; `wait`: the Wait limit used, its percentile, the measured and the published limit.
    - `decontamination`: step, setting, samples_matched, pairs (the evidence tables);
      `decontamination_rows`: rows in, removed, kept.
    - `sft`, `dapo`: the checkpoint's metadata (hyperparameters and results), None when not
      trained; `recipe_sft`, `recipe_dapo`: the published settings by hyperparameter name.
    - `benchmarks`: column, harness, harness_low, harness_high, strict, rows, file_rows,
      published (one row per benchmark, in leaderboard order); `average`: the same for Avg
      (and `stated`); `reference_model`: whose row `published` is.
    - `healthbench`: score, bootstrap_std, examples_scored, examples, judge, judge_decoding,
      decoding (overall, %); `healthbench_published`: score and judge of the reference.
    - `provenance`: name -> value (commit, revision, decoding, prompt template, run ids).
    """

    model: Mapping[str, Any]
    lineage: str
    mix: pl.DataFrame
    mix_targets: Mapping[str, int]
    mix_removed: pl.DataFrame
    quality: pl.DataFrame
    quality_rows: Mapping[str, int]
    wait: Mapping[str, float]
    decontamination: pl.DataFrame
    decontamination_rows: Mapping[str, int]
    sft: Mapping[str, Any] | None
    dapo: Mapping[str, Any] | None
    recipe_sft: Mapping[str, Any]
    recipe_dapo: Mapping[str, Any]
    benchmarks: pl.DataFrame
    average: Mapping[str, float | None]
    reference_model: str
    healthbench: Mapping[str, Any] | None
    healthbench_published: Mapping[str, Any]
    provenance: Mapping[str, Any] = field(default_factory=dict)
    mix_stated_total: int | None = None


# The hyperparameters the card lists, by the name the training assets' metadata uses.
SFT_ROWS = ("base_model", "input_table", "rows", "max_length", "global_batch_size", "per_device_batch_size",
            "gradient_accumulation_steps", "learning_rate", "lr_scheduler", "warmup", "epochs", "max_steps",
            "steps", "first_loss", "final_loss", "tokens_per_s", "train_runtime_s", "precision", "world_size",
            "deepspeed")
DAPO_ROWS = ("policy", "prompts", "num_generations", "max_completion_length", "overlong_buffer", "epsilon",
             "epsilon_high", "loss_type", "temperature", "dynamic_sampling", "max_refill_rounds", "learning_rate",
             "beta", "per_device_batch_size", "gradient_accumulation_steps", "max_steps", "steps", "mean_reward",
             "final_loss", "train_runtime_s", "generation_backend", "precision", "world_size")


def count(value: int | None) -> str:
    return "—" if value is None else f"{int(value):,}"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def number(value: Any) -> str:
    """A setting or a result as the card writes it: counts with separators, floats to 4
    significant digits (scientific below 0.001), text as it is."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:.3e}" if abs(value) < 1e-3 else f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _model_section(facts: ModelCardFacts) -> str:
    rows = [(name, number(value)) for name, value in facts.model.items()]
    return "## Model\n\n" + _table(["", ""], rows) + f"\n\n{facts.lineage}"


def _data_section(facts: ModelCardFacts) -> str:
    mix = facts.mix.sort("part", "source")
    per_part = mix.group_by("part").agg(pl.col("samples").sum(), pl.col("tokens").sum())
    parts = dict(zip(per_part["part"].to_list(), zip(per_part["samples"].to_list(), per_part["tokens"].to_list())))
    rows = [(part, "", count(parts.get(part, (0, 0))[0]), count(parts.get(part, (0, 0))[1]), count(target))
            for part, target in facts.mix_targets.items()]
    rows += [(part, source, count(samples), count(tokens), "")
             for part, source, samples, tokens in mix.select("part", "source", "samples", "tokens").iter_rows()]
    total = (count(int(mix["samples"].sum())), count(int(mix["tokens"].sum())))
    stated = f" (stated {count(facts.mix_stated_total)})" if facts.mix_stated_total is not None else ""
    rows.append(("**total**", "", *total, count(sum(facts.mix_targets.values())) + stated))
    removed = ", ".join(f"{reason}: {count(rows)}" for reason, rows in facts.mix_removed.iter_rows()) or "none"
    return ("## Training data\n\nThe SFT mix (`sft_mix`), samples per part and source after quality filters, "
            "decontamination and exact deduplication, beside the published samples per part (counted before "
            "filtering).\n\n" + _table(["part", "source", "samples", "tokens", "published samples"], rows)
            + f"\n\nLeft out of the mix (`sft_mix_rejects`): {removed}.")


def _preprocessing_section(facts: ModelCardFacts) -> str:
    rows = [(name, number(threshold), rule, count(removed))
            for name, threshold, rule, removed in facts.quality.select("filter", "threshold", "rule", "removed").iter_rows()]
    wait = facts.wait
    return (f"## Preprocessing\n\n{count(facts.quality_rows['rows_in'])} candidate traces in, "
            f"{count(facts.quality_rows['kept'])} kept (`quality_traces`).\n\n"
            + _table(["filter", "threshold", "kept when", "removed"], rows)
            + f"\n\nWait limit used: {number(wait['limit'])} (the corpus's {number(wait['percentile'])}th percentile "
            f"measures {number(wait['measured'])}; the published limit is {number(wait['published'])}).")


def _decontamination_section(facts: ModelCardFacts) -> str:
    rows = [(step, setting, count(samples), count(pairs))
            for step, setting, samples, pairs in facts.decontamination.select(
                "step", "setting", "samples_matched", "pairs").iter_rows()]
    numbers = facts.decontamination_rows
    return (f"## Decontamination\n\nAgainst every evaluation set (the ten benchmarks and HealthBench's user turns): "
            f"{count(numbers['rows_in'])} traces in, {count(numbers['removed'])} removed, {count(numbers['kept'])} "
            "kept (`decontaminated_traces`).\n\n" + _table(["step", "setting", "samples matched", "pairs"], rows))


def _training_section(title: str, metadata: Mapping[str, Any] | None, names: Sequence[str],
                      recipe: Mapping[str, Any]) -> str:
    if metadata is None:
        return f"## {title}\n\nNot trained by this pipeline."
    settings = dict(metadata.get("hyperparameters") or {})
    values = {**settings, **{k: v for k, v in metadata.items() if k != "hyperparameters"}}
    rows = [(name, number(values[name]), number(recipe[name]) if name in recipe else "")
            for name in names if name in values]
    return (f"## {title}\n\nFrom the checkpoint's materialization (`{metadata.get('asset')}`), beside the "
            "published recipe.\n\n" + _table(["", "this run", "recipe"], rows))


def _evaluation_section(facts: ModelCardFacts) -> str:
    rows = []
    for row in facts.benchmarks.iter_rows(named=True):
        interval = ("" if row["harness_low"] is None
                    else f" [{percent(row['harness_low'])}, {percent(row['harness_high'])}]")
        rows.append((row["column"], percent(row["harness"]) + interval, percent(row["strict"]),
                     f"{count(row['rows'])} / {count(row['file_rows'])}", percent(row["published"])))
    avg = facts.average
    interval = "" if avg.get("harness_low") is None else f" [{percent(avg['harness_low'])}, {percent(avg['harness_high'])}]"
    stated = f" (stated {percent(avg['stated'])})" if avg.get("stated") is not None else ""
    rows.append(("**Avg**", percent(avg.get("harness")) + interval, percent(avg.get("strict")), "",
                 percent(avg.get("published")) + stated))
    return ("## Evaluation\n\nAccuracy (%) per benchmark: the published harness's verdict (comparable with the "
            "card's table) with its 95% interval, and the strict reading (one stated answer; none is wrong), "
            f"beside the published {facts.reference_model} row. Avg: the unweighted mean of the ten.\n\n"
            + _table(["benchmark", "harness [95% interval]", "strict", "rows scored / in the file",
                      f"{facts.reference_model} (published)"], rows))


def _healthbench_section(facts: ModelCardFacts) -> str:
    published = facts.healthbench_published
    tail = f"\n\nPublished: {percent(published['score'])} ({facts.reference_model}, judge {published['judge']})."
    hb = facts.healthbench
    if hb is None:
        return "## HealthBench\n\nNot graded." + tail
    rows = [("score (%)", percent(hb["score"]) + (f" ± {percent(hb['bootstrap_std'])}" if hb["bootstrap_std"]
                                                   is not None else "")),
            ("examples scored", f"{count(hb['examples_scored'])} of {count(hb['examples'])}"),
            ("judge", number(hb["judge"])), ("judge decoding", number(hb["judge_decoding"])),
            ("decoding", number(hb["decoding"]))]
    return "## HealthBench\n\n" + _table(["", ""], rows) + tail


def model_card_markdown(facts: ModelCardFacts) -> str:
    """The card in Markdown, its sections in the published card's order."""
    provenance = _table(["", ""], [(name, number(value)) for name, value in facts.provenance.items()])
    sections = [
        f"# {facts.model['name']}: model card",
        "Written by the `model_card` asset from the pipeline's tables and materialization metadata; every number "
        "below is read from them.",
        _model_section(facts), _data_section(facts), _preprocessing_section(facts), _decontamination_section(facts),
        _training_section("SFT", facts.sft, SFT_ROWS, facts.recipe_sft),
        _training_section("DAPO", facts.dapo, DAPO_ROWS, facts.recipe_dapo),
        _evaluation_section(facts), _healthbench_section(facts), "## Provenance\n\n" + provenance,
    ]
    return "\n\n".join(sections) + "\n"
