"""The audit views over the whole pipeline, in the warehouse's DuckDB file.

- `removed_samples`: every row any stage removed, ingest to DAPO prompts (and the benchmark
  and HealthBench rows that could not be scored), in one shape: `sample_id` (where the row has
  one), `source`, `source_row`, `stage`, `reason`, `value`, `threshold`, `evidence`, and for
  contamination the `benchmark` and `question_id` it matched (one row per match).
- `source_funnel`: rows per source at each stage, adding up from rows read to rows kept.

Every rejects table starts with those columns (`core/rejects.py`; the warehouse refuses a rejects
table that does not) and contributes one SELECT (`REMOVED_BY_STAGE`); the view is created over
the tables that exist, so it answers from the first stage on and grows as stages run. The stages
that write rejects call `create_audit_views` after their commit.
"""

from __future__ import annotations

from medical_assets.core.rejects import REJECT_COLUMNS, reject_column_faults
from medical_assets.resources.storage import Warehouse

_LEADING = ", ".join(REJECT_COLUMNS)
_REJECTS_TABLES = ("raw_trace_rejects", "domain_rejects", "math_rejects", "synthetic_seed_rejects",
                   "synthetic_rejects", "quality_rejects", "decontamination_rejects", "sft_mix_rejects",
                   "dapo_prompt_rejects", "eval_question_rejects", "healthbench_rejects")

# rejects table -> its rows in the view. Every table starts with the same columns (core/rejects.py);
# contamination reads the evidence tables instead, one row per match.
REMOVED_BY_STAGE: dict[str, str] = {
    table: f"SELECT {_LEADING}, NULL::VARCHAR AS benchmark, NULL::VARCHAR AS question_id FROM {table}"
    for table in _REJECTS_TABLES
} | {
    "decontamination_rejects": (
        "SELECT t.sample_id, t.source, t.source_row, e.stage, 'contaminated' AS reason, e.value, e.threshold, "
        "e.evidence, e.benchmark, e.question_id FROM (SELECT sample_id, 'ngram' AS stage, benchmark, question_id, "
        "NULL::DOUBLE AS value, NULL::DOUBLE AS threshold, ngram AS evidence FROM ngram_matches UNION ALL "
        "SELECT sample_id, 'fuzzy', benchmark, question_id, score, NULL, printf('ratio %.2f (prompt %d chars, "
        "question %d chars)', score, prompt_chars, question_chars) FROM fuzzy_matches) e "
        "JOIN decontamination_rejects t USING (sample_id)"
    ),
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


def stale_rejects_tables(warehouse: Warehouse) -> dict[str, list[str]]:
    """Rejects tables present whose columns are not the shared ones (written by an older version):
    table -> what differs. The view leaves them out until their stage runs again."""
    stale = {}
    for table in REMOVED_BY_STAGE:
        if warehouse.exists(table) and (faults := reject_column_faults(dict(warehouse.scan(table).collect_schema()))):
            stale[table] = faults
    return stale


def removed_samples_sql(warehouse: Warehouse) -> str | None:
    """The `removed_samples` view over the rejects tables present (and in the shared shape);
    None before any exists."""
    stale = stale_rejects_tables(warehouse)
    parts = [sql for table, sql in REMOVED_BY_STAGE.items()
             if table not in stale and all(warehouse.exists(name) for name in (table, *_ALSO_NEEDS.get(table, ())))]
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
