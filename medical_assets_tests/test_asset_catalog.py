"""What the UI's asset catalog shows of every asset: its stage, owning team, kinds, a
description and a link to the code that defines it."""

from __future__ import annotations

from medical_assets.definitions import defs

SPECS = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}


def test_every_asset_belongs_to_a_stage_group():
    missing = sorted(name for name, spec in SPECS.items() if spec.group_name in (None, "default"))
    assert not missing, f"set group_name on {missing}"


def test_every_asset_has_an_owning_team():
    missing = sorted(name for name, spec in SPECS.items()
                     if not spec.owners or not all(owner.startswith("team:") for owner in spec.owners))
    assert not missing, f'set owners=["team:<stage team>"] on {missing}'


def test_every_asset_names_its_kinds():
    missing = sorted(name for name, spec in SPECS.items() if not spec.kinds)
    assert not missing, f"set kinds (polars, parquet, pytorch, ...) on {missing}"


def test_every_asset_has_a_description():
    missing = sorted(name for name, spec in SPECS.items() if not (spec.description or "").strip())
    assert not missing, f"add a docstring (or an AssetSpec description) to {missing}"


def test_every_asset_links_to_the_line_that_defines_it():
    missing = sorted(name for name, spec in SPECS.items()
                     if not [reference for reference in _code_references(spec)
                             if reference.file_path.endswith(".py") and reference.line_number > 0])
    assert not missing, f"no code reference on {missing}: wrap the assets in dg.with_source_code_references"


def _code_references(spec) -> list:
    references = spec.metadata.get("dagster/code_references")
    return references.code_references if references else []
