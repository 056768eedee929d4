"""The audit views over the whole pipeline, in the warehouse's DuckDB file.

- `removed_samples`: every row any stage removed, ingest to DAPO prompts (and the benchmark
  and HealthBench rows that could not be scored), in one shape: `sample_id` (where the row has
  one), `source`, `source_row`, `stage`, `reason`, `value`, `threshold`, `evidence`, and for
  contamination the `benchmark` and `question_id` it matched (one row per match).
- `source_funnel`: rows per source at each stage, adding up from rows read to rows kept.

Each rejects table contributes one SELECT (`REMOVED_BY_STAGE`); the view is created over the
tables that exist, so it answers from the first stage on and grows as stages run. The stages
that write rejects call `create_audit_views` after their commit.
"""

from __future__ import annotations

from medical_assets.resources.storage import Warehouse

_COLUMNS = ("sample_id", "source", "source_row", "stage", "reason", "value", "threshold", "evidence",
            "benchmark", "question_id")


def _select(table: str, **columns: str) -> str:
    """One rejects table as the view's columns; a column not given is NULL."""
    return "SELECT " + ", ".join(f"CAST({columns.get(name, 'NULL')} AS VARCHAR) AS {name}"
                                 if name != "source_row" else f"CAST({columns.get(name, 'NULL')} AS BIGINT) AS {name}"
                                 for name in _COLUMNS) + f" FROM {table}"


# rejects table -> its rows in the view; contamination reads the evidence tables (one row per match).
REMOVED_BY_STAGE: dict[str, str] = {
    "raw_trace_rejects": _select("raw_trace_rejects", source="source", source_row="source_row", stage="'ingest'",
                                 reason="reason", value="field", evidence="file"),
    "domain_rejects": _select("domain_rejects", sample_id="sample_id", source="source", source_row="source_row",
                              stage="'curation'", reason="'domain ' || domain", value="cluster", evidence="reason"),
    "math_rejects": _select("math_rejects", sample_id="sample_id", source="source", source_row="source_row",
                            stage="'sampling'", reason="'not in the math sample'", evidence="reason"),
    "synthetic_seed_rejects": _select("synthetic_seed_rejects", sample_id="sample_id", source="seed_set",
                                      source_row="source_row", stage="'synthetic'", reason="reason"),
    "synthetic_rejects": _select("synthetic_rejects", sample_id="sample_id", source="split_part(question_id, ':', 1)",
                                 source_row="source_row", stage="'synthetic'", reason="reason", value="tried",
                                 evidence="'gold ' || gold"),
    "quality_rejects": _select("quality_rejects", sample_id="sample_id", source="source", source_row="source_row",
                               stage="'quality'", reason="filter", value="value", threshold="threshold",
                               evidence="printf('%g (limit %s)', value, threshold)"),
    "decontamination_rejects": _select(
        "(SELECT sample_id, 'ngram' AS stage, benchmark, question_id, ngram AS evidence FROM ngram_matches "
        "UNION ALL SELECT sample_id, 'fuzzy', benchmark, question_id, printf('ratio %.2f (prompt %d chars, question "
        "%d chars)', score, prompt_chars, question_chars) FROM fuzzy_matches) e JOIN decontamination_rejects t "
        "USING (sample_id)",
        sample_id="t.sample_id", source="t.source", source_row="t.source_row", stage="e.stage",
        reason="'contaminated'", evidence="e.evidence", benchmark="e.benchmark", question_id="e.question_id"),
    "sft_mix_rejects": _select("sft_mix_rejects", sample_id="sample_id", source="source", source_row="source_row",
                               stage="'mix'", reason="reason"),
    "dapo_prompt_rejects": _select("dapo_prompt_rejects", sample_id="prompt_id", source="source",
                                   stage="'dapo_prompts'", reason="reason"),
    "eval_question_rejects": _select("eval_question_rejects", source="benchmark", source_row="position",
                                     stage="'eval_questions'", reason="reason", value="field"),
    "healthbench_rejects": _select("healthbench_rejects", sample_id="prompt_id", source="'healthbench'",
                                   source_row="line", stage="'healthbench'", reason="reason", value="field",
                                   evidence="file"),
}
# What each part needs besides its own table.
_ALSO_NEEDS = {"decontamination_rejects": ("ngram_matches", "fuzzy_matches")}

SOURCE_FUNNEL_SQL = """
WITH raw AS (SELECT source, count(*) AS raw_rows FROM raw_traces GROUP BY source),
     removed AS (SELECT source, stage, count(*) AS n FROM removed_samples GROUP BY ALL),
     ingest AS (SELECT source, n AS ingest_rejected FROM removed WHERE stage = 'ingest'),
     curation AS (SELECT source, n AS domain_removed FROM removed WHERE stage = 'curation'),
     sampling AS (SELECT source, n AS sampled_out FROM removed WHERE stage = 'sampling'),
     synthetic AS (SELECT source, n AS synthetic_dropped FROM removed WHERE stage = 'synthetic'),
     candidates AS (SELECT source, part, count(*) AS candidates FROM candidate_traces GROUP BY ALL),
     quality AS (SELECT source, n AS quality_removed FROM removed WHERE stage = 'quality'),
     contamination AS (SELECT source, count(DISTINCT source_row) AS contamination_removed FROM removed_samples
                       WHERE stage IN ('ngram', 'fuzzy') GROUP BY source),  -- one row per match: count the rows
     kept AS (SELECT source, count(*) AS kept FROM decontaminated_traces GROUP BY source)
SELECT coalesce(c.part, CASE WHEN y.source IS NULL THEN 'curated_r1' ELSE 'synthetic_qa' END) AS part, s.source,
       coalesce(r.raw_rows, 0) + coalesce(i.ingest_rejected, 0) AS rows_read,
       coalesce(i.ingest_rejected, 0) AS ingest_rejected, coalesce(d.domain_removed, 0) AS domain_removed,
       coalesce(m.sampled_out, 0) AS sampled_out,
       coalesce(y.synthetic_dropped, 0) AS synthetic_dropped, coalesce(c.candidates, 0) AS candidates,
       coalesce(q.quality_removed, 0) AS quality_removed, coalesce(x.contamination_removed, 0) AS contamination_removed,
       coalesce(k.kept, 0) AS kept
FROM (SELECT source FROM candidates UNION SELECT source FROM curation UNION SELECT source FROM synthetic
      UNION SELECT source FROM sampling) s
LEFT JOIN candidates c USING (source) LEFT JOIN raw r USING (source) LEFT JOIN ingest i USING (source)
LEFT JOIN curation d USING (source) LEFT JOIN sampling m USING (source) LEFT JOIN synthetic y USING (source)
LEFT JOIN quality q USING (source) LEFT JOIN contamination x USING (source) LEFT JOIN kept k USING (source)
"""
_FUNNEL_NEEDS = ("raw_traces", "candidate_traces", "decontaminated_traces", "raw_trace_rejects", "domain_rejects",
                 "math_rejects", "synthetic_seed_rejects", "synthetic_rejects", "quality_rejects",
                 "decontamination_rejects")


def removed_samples_sql(warehouse: Warehouse) -> str | None:
    """The `removed_samples` view over the rejects tables present; None before any exists."""
    parts = [sql for table, sql in REMOVED_BY_STAGE.items()
             if all(warehouse.exists(name) for name in (table, *_ALSO_NEEDS.get(table, ())))]
    return "\nUNION ALL\n".join(parts) or None


def create_audit_views(warehouse: Warehouse) -> list[str]:
    """(Re)create `removed_samples` and, once every stage up to decontamination has run,
    `source_funnel`; the names of the views created."""
    created = []
    sql = removed_samples_sql(warehouse)
    if sql and warehouse.create_view("removed_samples", sql):
        created.append("removed_samples")
        if all(warehouse.exists(name) for name in _FUNNEL_NEEDS) and warehouse.create_view("source_funnel",
                                                                                          SOURCE_FUNNEL_SQL):
            created.append("source_funnel")
    return created
