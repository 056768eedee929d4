"""Which training runs a model card describes: a checkpoint's own runs, found by its path."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from medical_assets.assets.model_card import training_lineage


def checkpoint_event(instance: dg.DagsterInstance, asset: str, path: Path, **metadata) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization(
        asset, metadata={"checkpoint_path": dg.MetadataValue.path(str(path)), **metadata}))


def test_a_dapo_checkpoint_gets_its_run_and_the_sft_run_it_started_from(tmp_path):
    with dg.instance_for_test() as instance:
        checkpoint_event(instance, "sft_checkpoint", tmp_path / "sft-a", steps=4)
        checkpoint_event(instance, "sft_checkpoint", tmp_path / "sft-b", steps=9)
        checkpoint_event(instance, "dapo_checkpoint", tmp_path / "dapo", policy=str(tmp_path / "sft-a"))
        checkpoint_event(instance, "dapo_checkpoint", tmp_path / "dapo-later", policy=str(tmp_path / "sft-b"))
        sft, dapo, lineage = training_lineage(instance, "mine", str(tmp_path / "dapo"))
    assert dapo["policy"] == str(tmp_path / "sft-a") and sft["steps"] == 4  # not the latest runs
    assert lineage.startswith("`mine` is the checkpoint of the DAPO run below")


def test_an_sft_checkpoint_has_no_dapo_section(tmp_path):
    with dg.instance_for_test() as instance:
        checkpoint_event(instance, "sft_checkpoint", tmp_path / "sft", steps=4)
        checkpoint_event(instance, "dapo_checkpoint", tmp_path / "dapo", policy=str(tmp_path / "sft"))
        sft, dapo, lineage = training_lineage(instance, "mine", str(tmp_path / "sft"))
    assert sft["steps"] == 4 and dapo is None and "no DAPO after it" in lineage


def test_a_model_not_trained_here_is_said_to_be_so(tmp_path):
    with dg.instance_for_test() as instance:
        checkpoint_event(instance, "sft_checkpoint", tmp_path / "sft", steps=4)
        sft, dapo, lineage = training_lineage(instance, "hub-model", "org/name")
    assert sft["steps"] == 4 and dapo is None
    assert lineage.startswith("`hub-model` was not trained by this pipeline")
