"""The demo's model card: every number in it is the one its table or materialization holds
(read here again from DuckDB and the Dagster instance, never from constants)."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from medical_assets.core.model_card import DAPO_ROWS, SFT_ROWS, count, number, percent
from medical_assets.eval_sets import EVAL_SETS
from medical_assets.models import EMBEDDED_MODEL


@pytest.fixture(scope="module")
def card(demo_home) -> dict[str, str]:
    """The card of the demo's evaluated model, by section title ("" for what precedes the first)."""
    home, _ = demo_home
    text = (home / "model_cards" / f"{EMBEDDED_MODEL}.md").read_text(encoding="utf-8")
    sections = re.split(r"^## ", text, flags=re.M)
    return {"": sections[0], **{part.split("\n", 1)[0]: part.split("\n", 1)[1] for part in sections[1:]}}


@pytest.fixture(scope="module")
def sql(demo_home):
    home, _ = demo_home
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        yield lambda query: con.execute(query).fetchall()


def rows(section: str) -> list[list[str]]:
    """The cells of the Markdown table in a section, header and rule left out."""
    lines = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines[2:]]


def metadata(home: Path, asset: str) -> dict:
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    event = instance.get_latest_materialization_event(dg.AssetKey(asset))
    return {key: value.value for key, value in event.asset_materialization.metadata.items()}


def test_the_card_is_the_model_card_assets_markdown(demo_home, card):
    home, _ = demo_home
    shown = metadata(home, "model_card")["card"]
    assert shown.startswith(f"# {EMBEDDED_MODEL}: model card") and "## " + "Evaluation" in shown
    assert list(card)[1:] == ["Model", "Training data", "Preprocessing", "Decontamination", "SFT", "DAPO",
                              "Evaluation", "HealthBench", "Provenance"]


def test_the_data_section_counts_are_the_mixs(card, sql):
    per_source = {(part, source): (count(n), count(tokens)) for part, source, n, tokens in sql(
        "SELECT part, source, count(*), sum(tokens) FROM sft_mix GROUP BY ALL")}
    per_part = {part: (count(n), count(tokens)) for part, n, tokens in sql(
        "SELECT part, count(*), sum(tokens) FROM sft_mix GROUP BY ALL")}
    table = rows(card["Training data"])
    assert {(r[0], r[1]): (r[2], r[3]) for r in table if r[1] and r[0] != "**total**"} == per_source
    assert {r[0]: (r[2], r[3]) for r in table if not r[1] and r[0] in per_part} == per_part
    ((total, tokens),) = sql("SELECT count(*), sum(tokens) FROM sft_mix")
    assert [r[2:4] for r in table if r[0] == "**total**"] == [[count(total), count(tokens)]]
    removed = ", ".join(f"{reason}: {count(n)}" for reason, n in sql(
        "SELECT reason, count(*) FROM sft_mix_rejects GROUP BY reason ORDER BY reason"))
    assert f"(`sft_mix_rejects`): {removed}." in card["Training data"]


def test_the_preprocessing_counts_and_thresholds_are_the_filters(demo_home, card, sql):
    home, _ = demo_home
    removed = dict(sql("SELECT reason, count(*) FROM quality_rejects GROUP BY reason"))
    thresholds = dict(sql("SELECT reason, any_value(threshold) FROM quality_rejects GROUP BY reason"))
    table = rows(card["Preprocessing"])
    assert {r[0]: r[3] for r in table} == {name: count(removed.get(name, 0)) for name in (r[0] for r in table)}
    assert all(r[1] == number(thresholds[r[0]]) for r in table if r[0] in thresholds)
    ((candidates,),), ((kept,),) = sql("SELECT count(*) FROM candidate_traces"), sql("SELECT count(*) FROM quality_traces")
    assert f"{count(candidates)} candidate traces in, {count(kept)} kept" in card["Preprocessing"]
    limit = metadata(home, "quality_traces")["wait_limit"]
    assert f"Wait limit used: {number(limit)} " in card["Preprocessing"]
    assert [r[1] for r in table if r[0] == "wait_count"] == [number(limit)]


def test_the_decontamination_counts_are_the_evidence_tables(card, sql):
    ((kept_before,),), ((removed,),) = sql("SELECT count(*) FROM quality_traces"), sql(
        "SELECT count(*) FROM decontamination_rejects")
    ((kept,),) = sql("SELECT count(*) FROM decontaminated_traces")
    assert (f"{count(kept_before)} traces in, {count(removed)} removed, {count(kept)} kept"
            in card["Decontamination"])
    expected = {}
    for step, table in (("n-gram overlap", "ngram_matches"), ("fuzzy match", "fuzzy_matches"),
                        ("rephrasing", "semantic_matches WHERE verdict = 'rephrasing'")):
        ((samples, pairs),) = sql(f"SELECT count(DISTINCT sample_id), count(*) FROM {table}")
        expected[step] = [count(samples), count(pairs)]
    assert {r[0]: r[2:] for r in rows(card["Decontamination"])} == expected


@pytest.mark.parametrize("section, asset, names", [("SFT", "sft_checkpoint", SFT_ROWS),
                                                   ("DAPO", "dapo_checkpoint", DAPO_ROWS)])
def test_the_training_sections_are_the_checkpoints_metadata(demo_home, card, section, asset, names):
    home, _ = demo_home
    values = metadata(home, asset)
    values = {**values["hyperparameters"], **values}
    table = {r[0]: r[1] for r in rows(card[section])}
    assert {"learning_rate", "steps", "final_loss"} <= set(table)
    assert table == {name: number(values[name]) for name in names if name in values}


def test_the_benchmark_rows_are_the_leaderboards_with_the_rows_scored(card, sql):
    columns = [spec.column for spec in EVAL_SETS]
    quoted = ", ".join(f'"{c}", "{c}_low", "{c}_high", "{c}_strict"' for c in columns)
    ((*ours,),) = sql(f'SELECT {quoted}, "Avg", "Avg_low", "Avg_high", "Avg_strict" FROM leaderboard WHERE NOT reference')
    ((*published,),) = sql(f'SELECT {", ".join(chr(34) + c + chr(34) for c in columns)}, "Avg", "Avg_stated" '
                           "FROM leaderboard WHERE reference")
    scored = {column: (n, of) for column, n, of in sql("SELECT \"column\", rows, file_rows FROM benchmark_scores")}
    table = rows(card["Evaluation"])
    for index, column in enumerate(columns):
        value, low, high, strict = ours[4 * index:4 * index + 4]
        assert table[index] == [column, f"{percent(value)} [{percent(low)}, {percent(high)}]", percent(strict),
                                f"{count(scored[column][0])} / {count(scored[column][1])}", percent(published[index])]
    avg, low, high, strict = ours[-4:]
    assert table[-1] == ["**Avg**", f"{percent(avg)} [{percent(low)}, {percent(high)}]", percent(strict), "",
                         f"{percent(published[-2])} (stated {percent(published[-1])})"]


def test_healthbench_and_provenance_are_the_scores_tables(card, sql):
    ((score, std, scored, examples, judge),) = sql(
        "SELECT score, bootstrap_std, examples_scored, examples, judge FROM healthbench_scores WHERE scope = 'overall'")
    table = {r[0]: r[1] for r in rows(card["HealthBench"])}
    shown = percent(None if score is None else 100 * score)
    assert table["score (%)"] == shown + ("" if std is None else f" ± {percent(100 * std)}")
    assert table["examples scored"] == f"{count(scored)} of {count(examples)}" and table["judge"] == judge
    ((healthbench,),) = sql("SELECT HealthBench FROM leaderboard WHERE reference")
    assert f"Published: {percent(healthbench)} (" in card["HealthBench"]
    ((revision, decoding),) = sql("SELECT DISTINCT revision, decoding FROM benchmark_scores")
    provenance = {r[0]: r[1] for r in rows(card["Provenance"])}
    assert provenance["model revision"] == number(revision) and provenance["decoding"] == decoding
    assert re.fullmatch(r"[0-9a-f]{40}( \+ changes)?|medical_assets .*", provenance["code commit"])
