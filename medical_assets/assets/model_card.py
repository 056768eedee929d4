"""The model card of an evaluated model, written from the lineage: the mix, the filters and
decontamination, the training runs' hyperparameters, the scores and their provenance, each read
from its table or its materialization's metadata (`core/model_card.py` writes the Markdown)."""

import subprocess
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
from pydantic import Field

from medical_assets.assets.mix import RECIPE_CAPS
from medical_assets.core.model_card import ModelCardFacts, model_card_markdown
from medical_assets.eval_sets import EVAL_SETS
from medical_assets.models import model_spec
from medical_assets.recipe import RECIPE
from medical_assets.resources.storage import Warehouse, partition_file_name

OWNERS = ["team:evaluation"]
EVALUATION = RECIPE.evaluation
# The recipe's training settings under the names of the run configs (train/config.py).
RECIPE_SFT = {"base_model": RECIPE.sft.base_model, "max_length": RECIPE.sft.max_length,
              "global_batch_size": RECIPE.sft.global_batch_size, "learning_rate": RECIPE.sft.learning_rate,
              "epochs": RECIPE.sft.epochs}
RECIPE_DAPO = {"epsilon": RECIPE.dapo.clip_ratio_low, "epsilon_high": RECIPE.dapo.clip_ratio_high,
               "num_generations": RECIPE.dapo.responses_per_prompt,
               "max_completion_length": RECIPE.dapo.max_response_tokens,
               "overlong_buffer": RECIPE.dapo.overlong_buffer_tokens, "loss_type": RECIPE.dapo.loss_type,
               "dynamic_sampling": RECIPE.dapo.dynamic_sampling, "temperature": RECIPE.dapo.temperature}
CHECKPOINT_HISTORY = 100  # materializations of each training asset searched for the model's checkpoint


class ModelCardConfig(dg.Config):
    model: str | None = Field(default=None, description="The evaluated model (a row of the leaderboard); None: "
                              "the only evaluated one.")


def cards_dir(warehouse: Warehouse) -> Path:
    return warehouse.root / "model_cards"


def _values(record: dg.EventLogRecord | None) -> dict[str, Any] | None:
    """A materialization's metadata as plain values (a table as its rows), with its asset and run."""
    if record is None:
        return None
    materialization = record.asset_materialization
    values: dict[str, Any] = {}
    for key, value in materialization.metadata.items():
        if isinstance(value, dg.TableMetadataValue):
            values[key] = [dict(row.data) for row in value.records]
        else:
            values[key] = value.value
    return values | {"asset": materialization.asset_key.to_user_string(), "run_id": record.run_id}


def _latest(instance: dg.DagsterInstance, asset: str) -> dict[str, Any] | None:
    return _values(instance.get_latest_materialization_event(dg.AssetKey(asset)))


def _with_checkpoint(instance: dg.DagsterInstance, asset: str, checkpoint: str | None) -> dict[str, Any] | None:
    """The materialization of a training asset that wrote `checkpoint` (the newest first)."""
    if checkpoint is None:
        return None
    wanted = Path(checkpoint).expanduser().resolve()
    for record in instance.fetch_materializations(dg.AssetKey(asset), limit=CHECKPOINT_HISTORY).records:
        path = record.asset_materialization.metadata.get("checkpoint_path")
        if path is not None and Path(str(path.value)).resolve() == wanted:
            return _values(record)
    return None


def training_lineage(instance: dg.DagsterInstance, name: str, weights: str | None
                     ) -> tuple[dict | None, dict | None, str]:
    """(SFT metadata, DAPO metadata, the model's relation to them in words). A checkpoint of this
    pipeline gets its own runs (DAPO and the SFT run it started from, or SFT alone); any other
    model gets the pipeline's latest runs, said to be such."""
    dapo = _with_checkpoint(instance, "dapo_checkpoint", weights)
    if dapo is not None:
        sft = _with_checkpoint(instance, "sft_checkpoint", dapo.get("policy"))
        return sft, dapo, (f"`{name}` is the checkpoint of the DAPO run below (run {dapo['run_id']}), which "
                           f"started from the SFT run below{'' if sft else ' (no longer in the event log)'}.")
    sft = _with_checkpoint(instance, "sft_checkpoint", weights)
    if sft is not None:
        return sft, None, f"`{name}` is the checkpoint of the SFT run below (run {sft['run_id']}); no DAPO after it."
    sft, dapo = _latest(instance, "sft_checkpoint"), _latest(instance, "dapo_checkpoint")
    return sft, dapo, (f"`{name}` was not trained by this pipeline. The data and training sections describe the "
                       "pipeline's latest SFT and DAPO runs (their checkpoints are models of their own), not this "
                       "model's training.")


def code_commit() -> str:
    """The git commit of the code that wrote the card, `+ changes` when the checkout has edits; the
    package version outside a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True,
                                timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        from importlib.metadata import version

        return f"medical_assets {version('medical_assets')} (not a git checkout)"
    return commit + (" + changes" if dirty else "")


def _chosen_model(leaderboard: pl.DataFrame, wanted: str | None) -> str:
    evaluated = leaderboard.filter(~pl.col("reference"))["model"].to_list()
    if wanted is not None and wanted not in evaluated:
        raise dg.Failure(f"model {wanted!r} is not in the leaderboard; evaluated models: {evaluated or 'none'} "
                         "(evaluate it with the evaluate_model job, then materialize leaderboard)")
    if wanted is None and len(evaluated) != 1:
        raise dg.Failure(f"{len(evaluated)} evaluated models in the leaderboard ({evaluated}): choose one with "
                         "the `model` config field")
    return wanted or evaluated[0]


def _benchmarks(leaderboard: pl.DataFrame, scores: pl.DataFrame, name: str) -> tuple[pl.DataFrame, dict]:
    row = leaderboard.filter(pl.col("model") == name).row(0, named=True)
    reference = leaderboard.filter(pl.col("reference")).row(0, named=True) if leaderboard["reference"].any() else {}
    rows_scored = {r["column"]: (r["rows"], r["file_rows"]) for r in scores.iter_rows(named=True)}
    frame = pl.DataFrame([{
        "column": spec.column, "harness": row[spec.column], "harness_low": row[f"{spec.column}_low"],
        "harness_high": row[f"{spec.column}_high"], "strict": row[f"{spec.column}_strict"],
        "rows": rows_scored.get(spec.column, (None, None))[0], "file_rows": rows_scored.get(spec.column, (None, None))[1],
        "published": reference.get(spec.column),
    } for spec in EVAL_SETS], schema={"column": pl.String, "harness": pl.Float64, "harness_low": pl.Float64,
                                      "harness_high": pl.Float64, "strict": pl.Float64, "rows": pl.Int64,
                                      "file_rows": pl.Int64, "published": pl.Float64})
    average = {"harness": row["Avg"], "harness_low": row["Avg_low"], "harness_high": row["Avg_high"],
               "strict": row["Avg_strict"], "published": reference.get("Avg"), "stated": reference.get("Avg_stated")}
    return frame, average | {"reference_healthbench": reference.get("HealthBench")}


def _decontamination(warehouse: Warehouse, ngram: dict | None, fuzzy: dict | None,
                     semantic: dict | None) -> pl.DataFrame:
    size = (ngram or {}).get("ngram_size")
    threshold = (fuzzy or {}).get("fuzzy_threshold")
    steps = [("n-gram overlap", warehouse.scan("ngram_matches"), f"word {size}-grams" if size else "—"),
             ("fuzzy match", warehouse.scan("fuzzy_matches"), f"fuzz.ratio >= {threshold:g}" if threshold else "—")]
    if warehouse.exists("semantic_matches"):  # the third step: its rephrasings, removed or only flagged
        floor = (semantic or {}).get("confirmation", {}).get("cosine_floor")
        mode = (semantic or {}).get("mode", "—")
        steps.append(("rephrasing", warehouse.scan("semantic_matches").filter(pl.col("verdict") == "rephrasing"),
                      f"cosine >= {floor:g}, confirmed; mode {mode}" if floor is not None else f"mode {mode}"))
    rows = []
    for step, hits, setting in steps:
        counted = hits.select(samples=pl.col("sample_id").n_unique(), pairs=pl.len()).collect()
        rows.append({"step": step, "setting": setting, "samples_matched": counted["samples"][0],
                     "pairs": counted["pairs"][0]})
    return pl.DataFrame(rows)


@dg.asset(deps=["leaderboard", "benchmark_scores", "healthbench_scores", "sft_mix", "sft_mix_rejects",
                "quality_traces", "decontaminated_traces", "ngram_matches", "fuzzy_matches", "semantic_matches",
                "sft_checkpoint", "dapo_checkpoint"],
          group_name="evaluation", owners=OWNERS, kinds={"markdown"})
def model_card(context: dg.AssetExecutionContext, config: ModelCardConfig, warehouse: Warehouse) -> dg.MaterializeResult:
    """The model card of one evaluated model, laid out as the published card (data, preprocessing,
    decontamination, SFT, DAPO, benchmarks beside the published row with both scorers,
    HealthBench with its judge, provenance), every number read from the lineage's tables and
    metadata. Also written to <data home>/model_cards/<model>.md."""
    leaderboard = warehouse.read("leaderboard")
    name = _chosen_model(leaderboard, config.model)
    scores = warehouse.read("benchmark_scores").filter(pl.col("model") == name)
    if scores.height == 0:
        raise dg.Failure(f"benchmark_scores has no row of {name!r}: evaluate it first")
    first = scores.sort("benchmark").row(0, named=True)
    spec = model_spec(name, warehouse.root)
    sft, dapo, lineage = training_lineage(context.instance, name, spec.model)
    benchmarks, average = _benchmarks(leaderboard, scores, name)
    healthbench = None
    if warehouse.exists("healthbench_scores"):
        graded = warehouse.read("healthbench_scores").filter((pl.col("model") == name) & (pl.col("scope") == "overall"))
        if graded.height:
            hb = graded.row(0, named=True)
            healthbench = {**hb, "score": None if hb["score"] is None else 100 * hb["score"],
                           "bootstrap_std": None if hb["bootstrap_std"] is None else 100 * hb["bootstrap_std"]}
    quality = _latest(context.instance, "quality_traces") or {}
    filters = pl.DataFrame(quality.get("filters") or [], schema={"filter": pl.String, "threshold": pl.Float64,
                                                                 "rule": pl.String, "removed": pl.Int64})
    mix = warehouse.scan("sft_mix").group_by("part", "source").agg(samples=pl.len(), tokens=pl.col("tokens").sum())
    decontaminated = warehouse.count("decontaminated_traces")
    quality_kept = warehouse.count("quality_traces")
    facts = ModelCardFacts(
        model={"name": name, "weights": first["model_id"], "backend": first["backend"], "dtype": first["dtype"],
               "revision": first["revision"]},
        lineage=lineage,
        mix=mix.collect(),
        mix_targets=RECIPE_CAPS, mix_stated_total=RECIPE.mix.total,
        mix_removed=warehouse.scan("sft_mix_rejects").group_by("reason").len("rows").sort("reason").collect(),
        quality=filters.select("filter", "threshold", "rule", "removed"),
        quality_rows={"rows_in": warehouse.count("candidate_traces"), "kept": quality_kept},
        wait={"limit": quality.get("wait_limit"), "percentile": quality.get("wait_percentile"),
              "measured": quality.get("wait_limit_measured"), "published": RECIPE.preprocessing.max_wait_count},
        decontamination=_decontamination(warehouse, _latest(context.instance, "ngram_matches"),
                                         _latest(context.instance, "fuzzy_matches"),
                                         _latest(context.instance, "semantic_matches")),
        decontamination_rows={"rows_in": quality_kept, "removed": quality_kept - decontaminated, "kept": decontaminated},
        sft=sft, dapo=dapo, recipe_sft=RECIPE_SFT, recipe_dapo=RECIPE_DAPO,
        benchmarks=benchmarks, average=average, reference_model=EVALUATION.reference_model,
        healthbench=healthbench,
        healthbench_published={"score": average["reference_healthbench"],
                               "judge": f"{EVALUATION.healthbench_judge} at temperature "
                                        f"{EVALUATION.healthbench_judge_temperature:g}"},
        provenance={"code commit": code_commit(), "model revision": first["revision"],
                    "decoding": leaderboard.filter(pl.col("model") == name)["decoding"][0],
                    "prompt template": f"{first['prompt_template']} ({first['prompt_template_hash']})",
                    "samples per question": first["samples_per_question"],
                    "SFT run": (sft or {}).get("run_id"), "DAPO run": (dapo or {}).get("run_id"),
                    "scores run": context.instance.get_latest_materialization_event(
                        dg.AssetKey("leaderboard")).run_id},
    )
    card = model_card_markdown(facts)
    path = cards_dir(warehouse) / (partition_file_name(name).removesuffix(".parquet") + ".md")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(card, encoding="utf-8")
    temporary.replace(path)
    return dg.MaterializeResult(metadata={
        "model": name, "card": dg.MetadataValue.md(card), "path": dg.MetadataValue.path(str(path)),
        "avg_harness": average["harness"], "avg_strict": average["strict"],
        "healthbench": healthbench["score"] if healthbench else None,
    })
