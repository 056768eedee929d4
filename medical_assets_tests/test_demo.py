"""`make demo`'s driver on the bundled corpus, in a temporary data home and
DAGSTER_HOME (the `demo_home` fixture of conftest.py): every partition materializes,
the Parquet files and DuckDB views exist, the runs are in the instance, and every
source row is accounted for."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from medical_assets.core.rejects import REJECT_COLUMNS
from medical_assets.demo import EXAMPLE_QUERIES, PROFILES, demo_steps
from medical_assets.eval_sets import EVAL_SET_KEYS
from medical_assets.sources import SOURCE_NAMES

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "medical_assets" / "sample"
OPS = PROFILES["test"]  # what the demo_home fixture ran


def config_of(op: str) -> dict:
    return OPS[op]["config"]


def test_every_source_has_a_parquet_file(demo_home):
    home, _ = demo_home
    for table in ("raw_traces", "raw_trace_rejects"):
        assert sorted(p.stem for p in (home / "tables" / table).glob("*.parquet")) == sorted(SOURCE_NAMES)
    assert (home / "tables" / "source_summary.parquet").exists()
    assert sorted(p.stem for p in (home / "tables" / "eval_questions").glob("*.parquet")) == sorted(EVAL_SET_KEYS)


def test_duckdb_views_answer_sql_across_tables(demo_home):
    home, _ = demo_home
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        views = {row[0] for row in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
        assert {"raw_traces", "raw_trace_rejects", "source_summary"} <= views
        (kept,) = con.execute("SELECT count(*) FROM raw_traces").fetchone()
        (summed,) = con.execute("SELECT sum(rows_kept) FROM source_summary").fetchone()
        assert kept == summed > 2000


def test_every_source_row_is_kept_or_rejected_exactly_once(demo_home):
    home, _ = demo_home
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        per_source = dict(con.execute(
            "SELECT source, count(*) FROM (SELECT source, source_row FROM raw_traces UNION ALL "
            "SELECT source, source_row FROM raw_trace_rejects) GROUP BY source").fetchall())
        (duplicates,) = con.execute(
            "SELECT count(*) FROM (SELECT source, source_row FROM (SELECT source, source_row FROM raw_traces "
            "UNION ALL SELECT source, source_row FROM raw_trace_rejects) GROUP BY ALL HAVING count(*) > 1)").fetchone()
    for source, rows in per_source.items():
        assert rows == _records_in_file(source), source
    assert duplicates == 0


def _records_in_file(source: str) -> int:
    from medical_assets.sources import source_spec

    path = SAMPLE / "sources" / source_spec(source).demo_file
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    if path.read_bytes().lstrip().startswith(b"["):
        return len(json.loads(path.read_text()))
    return sum(1 for _ in path.open("rb"))


def test_planted_bad_rows_of_the_demo_are_in_the_rejects(demo_home):
    home, _ = demo_home
    truth = [json.loads(line) for line in (SAMPLE / "truth.jsonl").open()]
    bad = {(t["file"], t["row"]) for t in truth if "bad_row" in t["flags"]}
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        rejected = set(con.execute(
            "SELECT regexp_extract(file, '[^/]+$'), source_row FROM raw_trace_rejects "
            "WHERE reason NOT LIKE 'not selected%'").fetchall())
    assert bad and bad <= rejected


def test_runs_are_recorded_in_the_instance(demo_home):
    home, _ = demo_home
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    runs = instance.get_runs()
    assert len(runs) == len(demo_steps())
    assert all(run.is_success for run in runs)


def test_demo_prints_where_results_are_and_example_queries(demo_home):
    home, stdout = demo_home
    assert str(home / "warehouse.duckdb") in stdout
    assert all(query in stdout for query in EXAMPLE_QUERIES)


@pytest.mark.parametrize("query", EXAMPLE_QUERIES)
def test_example_queries_run_on_the_demo_warehouse(demo_home, query):
    home, _ = demo_home
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute(query).fetchall()


def test_quality_filters_remove_exactly_the_flagged_demo_traces(demo_home):
    """The demo corpus flags its incomplete, short-prompt and many-Wait traces; the filters
    (with the Wait limit measured on the corpus) remove those and nothing else."""
    from medical_assets.sources import source_spec

    home, _ = demo_home
    expected_filter = {"incomplete": "complete_generation", "short_prompt": "prompt_words", "many_wait": "wait_count"}
    truth = [json.loads(line) for line in (SAMPLE / "truth.jsonl").open()]
    flagged = {(t["file"], t["row"]): expected_filter[t["flags"][0]] for t in truth
               if t["flags"] and t["flags"][0] in expected_filter}
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        candidates = con.execute("SELECT source, source_row FROM candidate_traces").fetchall()
        removed = {(s, r): f for s, r, f in con.execute("SELECT source, source_row, filter FROM quality_rejects").fetchall()}
    expected = {(s, r): flagged[(source_spec(s).demo_file, r)] for s, r in candidates
                if (source_spec(s).demo_file, r) in flagged}
    assert removed == expected


def test_decontamination_removes_the_caught_plants_and_nothing_else(demo_home):
    """Planted copies, edits and paraphrases with a shared 10-gram or a ratio >= 90 are removed;
    clean traces and the paraphrases neither step can see are kept."""
    from medical_assets.sources import source_spec

    home, _ = demo_home
    truth = {(t["file"], t["row"]): t["plant"] for t in map(json.loads, (SAMPLE / "truth.jsonl").open())}
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        after_quality = con.execute("SELECT source, source_row FROM quality_traces").fetchall()
        removed = set(con.execute("SELECT source, source_row FROM decontamination_rejects").fetchall())
    expected = set()
    for source, row in after_quality:
        plant = truth.get((source_spec(source).demo_file, row))
        if plant and (plant["ngram_hit"] or plant["fuzzy_score"] >= 90):
            expected.add((source, row))
    assert expected and removed == expected


def test_rephrased_questions_neither_step_sees_are_flagged_with_their_evidence_and_kept(demo_home):
    """The third step (mode report) flags at least 19 of the 20 planted paraphrases that share no
    10-gram and score a ratio < 90, and at most 2 clean prompts; each flagged row keeps its evidence
    and stays among the decontaminated traces."""
    from medical_assets.sources import source_spec

    home, _ = demo_home
    truth = {(t["file"], t["row"]): t["plant"] for t in map(json.loads, (SAMPLE / "truth.jsonl").open())}
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        candidates = con.execute("SELECT source, source_row FROM quality_traces").fetchall()
        flagged = con.execute("SELECT DISTINCT source, source_row, evidence FROM flagged_samples").fetchall()
        removed = con.execute("SELECT count(*) FROM decontamination_rejects WHERE stage = 'semantic'").fetchone()[0]
    plant = {(s, r): truth.get((source_spec(s).demo_file, r)) for s, r in candidates}
    hidden = {key for key, p in plant.items()
              if p and p["kind"] == "paraphrase" and not p["ngram_hit"] and p["fuzzy_score"] < 90}
    rows = {(s, r) for s, r, _ in flagged}
    assert len(hidden) == 20 and len(rows & hidden) >= 19
    assert len({key for key in rows if plant[key] is None}) <= 2
    assert all(evidence.startswith("cosine ") and "rare words shared" in evidence for _, _, evidence in flagged)
    assert removed == 0  # report mode: flagged, not removed


def test_audit_why_was_a_sample_removed(demo_home):
    home, _ = demo_home
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        (sample_id,) = con.execute("SELECT sample_id FROM decontamination_rejects ORDER BY sample_id LIMIT 1").fetchone()
        why = con.execute("SELECT stage, reason, benchmark, question_id, evidence FROM removed_samples "
                          "WHERE sample_id = ?", [sample_id]).fetchall()
    assert why and all(reason == "contaminated" and benchmark and evidence for _, reason, benchmark, _, evidence in why)


def test_audit_which_training_rows_matched_a_question(demo_home):
    home, _ = demo_home
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        (question_id,) = con.execute("SELECT question_id FROM ngram_matches WHERE benchmark = 'medqa' LIMIT 1").fetchone()
        rows = con.execute("SELECT DISTINCT source, source_row FROM removed_samples WHERE question_id = ?",
                           [question_id]).fetchall()
    assert rows


def test_audit_funnel_adds_up_per_source(demo_home):
    home, _ = demo_home
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        funnel = con.execute("SELECT source, rows_read, ingest_rejected, domain_removed, sampled_out, synthetic_dropped, "
                             "candidates, quality_removed, contamination_removed, kept FROM source_funnel").fetchall()
    assert funnel
    for source, read, ingest, domain, sampled, synthetic, candidates, quality, contamination, kept in funnel:
        assert read - ingest - domain - sampled - synthetic == candidates, source
        assert candidates - quality - contamination == kept, source


def test_audit_why_an_r1_trace_was_left_out_by_domain_curation(demo_home):
    home, _ = demo_home
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        (sample_id, domain) = con.execute("SELECT sample_id, domain FROM domain_rejects ORDER BY sample_id LIMIT 1").fetchone()
        why = con.execute("SELECT stage, reason, evidence FROM removed_samples WHERE sample_id = ?", [sample_id]).fetchall()
        exemplars = con.execute(
            "SELECT e.rank, e.domain, e.probabilities, left(x.prompt, 80) AS prompt FROM prompt_clusters c "
            "JOIN exemplar_domains e USING (cluster) JOIN cluster_exemplars x USING (cluster, rank) "
            "WHERE c.sample_id = ? ORDER BY e.rank", [sample_id]).fetchall()
    assert why == [("curation", f"domain {domain} is not kept", why[0][2])] and why[0][2].endswith(f"labelled {domain}")
    assert 1 <= len(exemplars) <= 10


def test_cluster_labels_are_scored_against_the_known_domains(demo_home):
    home, _ = demo_home
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    event = instance.get_latest_materialization_event(dg.AssetKey("cluster_domains"))
    metadata = {k: v.value for k, v in event.asset_materialization.metadata.items()}
    assert metadata["agreement_rows"] > 2000
    # MiniLM clusters are mostly one domain each; the 135M labeller is the weak link.
    assert metadata["agreement_cluster_purity"] > 0.8
    assert 0 <= metadata["agreement_accuracy"] <= metadata["agreement_cluster_purity"]


def test_every_row_of_the_mix_passed_decontamination_and_keeps_its_lineage(demo_home):
    home, _ = demo_home
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        (outside,) = con.execute("SELECT count(*) FROM sft_mix ANTI JOIN decontaminated_traces "
                                 "USING (sample_id, source, source_row)").fetchone()
        (no_raw_row,) = con.execute("SELECT count(*) FROM sft_mix m ANTI JOIN raw_traces r "
                                    "ON r.source = m.source AND r.source_row = m.source_row").fetchone()
        parts = dict(con.execute("SELECT part, count(*) FROM sft_mix GROUP BY part").fetchall())
        (attempts,) = con.execute("SELECT count(*) FROM synthetic_attempts").fetchone()
    assert outside == 0 and no_raw_row == 0
    assert {"curated_r1", "public_medical", "math"} <= set(parts)
    seed_questions = 3 * config_of("synthetic_seed_questions")["sample_size"]  # three seed sets
    assert attempts >= seed_questions  # every seed question of the demo was tried at least once


def test_trained_checkpoints_are_registered_as_models_to_evaluate(demo_home):
    from medical_assets.models import EMBEDDED_MODEL, read_models

    home, stdout = demo_home
    models = read_models(home)
    trained = {name: spec for name, spec in models.items() if name != EMBEDDED_MODEL}
    assert sorted(name.split("-")[0] for name in trained) == ["dapo", "sft"]
    assert all((Path(spec.model) / "config.json").exists() for spec in trained.values())
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    assert set(instance.get_dynamic_partitions("models")) == set(models)
    assert "-j evaluate_model" in stdout


def test_demo_leaderboard_says_it_scored_the_first_rows_only(demo_home):
    home, _ = demo_home
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT model, Avg, partial FROM leaderboard WHERE NOT reference").fetchall()
        scored = con.execute("SELECT DISTINCT rows < file_rows FROM benchmark_scores").fetchall()
    first = config_of("eval_responses")["max_questions"]
    assert len(rows) == 1 and rows[0][1] is not None and f"MedQA ({first}/" in rows[0][2]
    assert scored == [(True,)]


def test_the_demo_scores_both_verdicts_and_explains_every_disagreement(demo_home):
    home, _ = demo_home
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        (scored, with_both) = con.execute("SELECT count(*), count(accuracy_ii_medical) FROM benchmark_scores").fetchone()
        (differ,) = con.execute("SELECT count(*) FROM eval_responses WHERE correct <> correct_ii_medical").fetchone()
        (explained,) = con.execute("SELECT count(category) FROM scorer_disagreements").fetchone()
        strict = con.execute("SELECT MedQA_strict FROM leaderboard WHERE NOT reference").fetchall()
    assert scored == with_both == 10 and differ == explained
    assert strict and strict[0][0] is not None


CHARTS = [("prompt_clusters", "cluster_size_chart"), ("cluster_domains", "domain_chart"),
          ("quality_traces", "wait_chart"), ("sft_mix", "token_length_chart"), ("contamination_report", "funnel_chart"),
          ("sft_checkpoint", "training_chart"), ("dapo_checkpoint", "training_chart"), ("leaderboard", "accuracy_chart")]


def latest_metadata(home: Path, asset: str) -> dict:
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    return instance.get_latest_materialization_event(dg.AssetKey(asset)).asset_materialization.metadata


@pytest.mark.parametrize("asset, key", CHARTS)
def test_the_demo_charts_are_png_images_in_the_metadata_with_their_numbers_beside(demo_home, asset, key):
    home, _ = demo_home
    metadata = latest_metadata(home, asset)
    image = metadata[key].value
    assert image.startswith("![") and "](data:image/png;base64," in image
    png = base64.b64decode(image.split(";base64,", 1)[1].removesuffix(")"))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    numbers = metadata[f"{key}_data"]
    assert isinstance(numbers, dg.TableMetadataValue) and numbers.records and numbers.schema.columns


def test_every_rejects_table_of_the_demo_starts_with_the_audit_columns(demo_home):
    home, _ = demo_home
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        tables = [name for (name,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_name LIKE '%_rejects'").fetchall()]
        leading = {name: [c for (c, *_) in con.execute(f"DESCRIBE {name}").fetchall()][:len(REJECT_COLUMNS)]
                   for name in tables}
        stages = dict(con.execute("SELECT stage, count(*) FROM removed_samples GROUP BY stage").fetchall())
    assert len(tables) >= 10 and all(columns == list(REJECT_COLUMNS) for columns in leading.values()), leading
    assert {"ingest", "curation", "synthetic", "quality", "ngram", "mix", "dapo_prompts"} <= set(stages)


def test_the_recipes_cost_is_projected_from_the_demos_own_measurements(demo_home):
    """recipe_cost: every stage of the recipe, with hours on this machine where a demo run measured
    the stage's rate (named by asset and run), labelled as CPU figures of the demo's models."""
    home, _ = demo_home
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT stage, hours_here, source_here FROM recipe_cost").fetchall()
    measured = {stage: source for stage, hours, source in rows if hours is not None and hours > 0}
    assert len(rows) == 8
    assert {"embedding", "k-means", "domain labelling", "SFT", "DAPO", "evaluation"} <= set(measured)
    assert measured["SFT"].startswith("sft_checkpoint run ") and "tokens/s" in measured["SFT"]
    assert "CPU figures" in latest_metadata(home, "recipe_cost")["here"].value
