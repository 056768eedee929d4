"""The one Definitions of the project: assets, checks, jobs and resources.

Resources are configured from the environment, never by code edits:
- MEDICAL_ASSETS_HOME      data home (Parquet tables + warehouse.duckdb), default ./data
- MEDICAL_ASSETS_SOURCES   "demo" (bundled mock files, the default) or "hub"
- MEDICAL_ASSETS_SOURCE_OVERRIDES  optional YAML of per-source overrides (local paths, columns, filters)
- MEDICAL_ASSETS_EVAL_FILES "demo" (bundled benchmark files), "harness" (a folder given by
  MEDICAL_ASSETS_EVAL_DIR holding eval_data.json and m1_eval_data.json) or "hub" (owner in
  MEDICAL_ASSETS_EVAL_HUB_ORG)
- MEDICAL_ASSETS_HEALTHBENCH_FILE  HealthBench JSONL (its user turns join decontamination);
  the bundled demo file by default in "demo" mode
"""

from __future__ import annotations

import os

import dagster as dg

from medical_assets.assets import decontamination, evaluation, ingest, quality
from medical_assets.resources.eval_files import EvalFiles
from medical_assets.resources.sources import SourceCatalog
from medical_assets.resources.storage import Warehouse, WarehouseIOManager

warehouse = Warehouse(home=os.environ.get("MEDICAL_ASSETS_HOME"))

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([ingest, quality, evaluation, decontamination]),
    asset_checks=dg.load_asset_checks_from_modules([ingest, quality, evaluation, decontamination]),
    jobs=[
        dg.define_asset_job(
            "ingest_sources",
            selection=dg.AssetSelection.groups("ingest") - dg.AssetSelection.assets("source_summary"),
            partitions_def=ingest.source_partitions,
            description="Ingest one source partition (or a backfill of all) into raw_traces.",
        )
    ],
    resources={
        "warehouse": warehouse,
        "io_manager": WarehouseIOManager(warehouse=warehouse),
        "eval_files": EvalFiles(
            mode=os.environ.get("MEDICAL_ASSETS_EVAL_FILES", "demo"),
            directory=os.environ.get("MEDICAL_ASSETS_EVAL_DIR") or None,
            hub_org=os.environ.get("MEDICAL_ASSETS_EVAL_HUB_ORG") or None,
            healthbench_file=os.environ.get("MEDICAL_ASSETS_HEALTHBENCH_FILE") or None,
        ),
        "catalog": SourceCatalog(
            mode=os.environ.get("MEDICAL_ASSETS_SOURCES", "demo"),
            overrides_file=os.environ.get("MEDICAL_ASSETS_SOURCE_OVERRIDES") or None,
        ),
    },
)
