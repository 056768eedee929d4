"""The audit views over the whole pipeline, in the warehouse's DuckDB file.

- `removed_samples`: every row any stage removed, ingest to DAPO prompts (and the benchmark
  and HealthBench rows that could not be scored), in one shape: `sample_id` (where the row has
  one), `source`, `source_row`, `stage`, `reason`, `value`, `threshold`, `evidence`, and for
  contamination the `benchmark` and `question_id` it matched (one row per match).
- `flagged_samples`: kept rows that the third decontamination step flagged as suspected rephrasings
  of an eval question (its mode `report`), in the same shape, one row per question.
- `source_funnel`: rows per source at each stage, adding up from rows read to rows kept, and the kept
  rows flagged as suspected rephrasings.

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
# The third decontamination step's evidence, as SQL (assets/decontamination.py `semantic_evidence_text`).
SEMANTIC_EVIDENCE_SQL = ("printf('cosine %.3f, rare words shared %.1f (%s), weighted dice %.2f, numbers %.2f', "
                         "m.cosine, m.shared_rare, m.shared_words, m.dice, m.numbers)")
# Rephrasings removed in mode `remove`: one row per matched question, as for the other two steps.
REMOVED_BY_STAGE["semantic_matches"] = (
    "SELECT t.sample_id, t.source, t.source_row, 'semantic' AS stage, 'contaminated' AS reason, m.cosine AS value, "
    f"NULL::DOUBLE AS threshold, {SEMANTIC_EVIDENCE_SQL} AS evidence, m.benchmark, m.question_id "
    "FROM semantic_matches m JOIN decontamination_rejects t USING (sample_id) WHERE m.removes"
)
# What each part needs besides its own table.
_ALSO_NEEDS = {"decontamination_rejects": ("ngram_matches", "fuzzy_matches"),
               "semantic_matches": ("decontamination_rejects",)}

# Kept rows the third step flagged (mode `report`): in the mix, and listed here with their evidence.
FLAGGED_SAMPLES_SQL = (
    "SELECT t.sample_id, t.source, t.source_row, 'semantic' AS stage, 'suspected rephrasing' AS reason, "
    f"m.cosine AS value, NULL::DOUBLE AS threshold, {SEMANTIC_EVIDENCE_SQL} AS evidence, m.benchmark, m.question_id "
    "FROM semantic_matches m JOIN decontaminated_traces t USING (sample_id) WHERE m.verdict = 'rephrasing'"
)
NO_FLAGGED_SAMPLES_SQL = (  # before the third step has run
    "SELECT NULL::VARCHAR AS sample_id, NULL::VARCHAR AS source, NULL::BIGINT AS source_row, NULL::VARCHAR AS stage, "
    "NULL::VARCHAR AS reason, NULL::DOUBLE AS value, NULL::DOUBLE AS threshold, NULL::VARCHAR AS evidence, "
    "NULL::VARCHAR AS benchmark, NULL::VARCHAR AS question_id WHERE false"
)

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
                       WHERE stage IN ('ngram', 'fuzzy', 'semantic') GROUP BY source),  -- one row per match
     kept AS (SELECT source, count(*) AS kept FROM decontaminated_traces GROUP BY source),
     flagged AS (SELECT source, count(DISTINCT source_row) AS suspected_rephrasing FROM flagged_samples GROUP BY source)
SELECT coalesce(c.part, CASE WHEN y.source IS NULL THEN 'curated_r1' ELSE 'synthetic_qa' END) AS part, s.source,
       coalesce(r.raw_rows, 0) + coalesce(i.ingest_rejected, 0) AS rows_read,
       coalesce(i.ingest_rejected, 0) AS ingest_rejected, coalesce(d.domain_removed, 0) AS domain_removed,
       coalesce(m.sampled_out, 0) AS sampled_out,
       coalesce(y.synthetic_dropped, 0) AS synthetic_dropped, coalesce(c.candidates, 0) AS candidates,
       coalesce(q.quality_removed, 0) AS quality_removed, coalesce(x.contamination_removed, 0) AS contamination_removed,
       coalesce(k.kept, 0) AS kept, coalesce(f.suspected_rephrasing, 0) AS suspected_rephrasing
FROM (SELECT source FROM candidates UNION SELECT source FROM curation UNION SELECT source FROM synthetic
      UNION SELECT source FROM sampling) s
LEFT JOIN candidates c USING (source) LEFT JOIN raw r USING (source) LEFT JOIN ingest i USING (source)
LEFT JOIN curation d USING (source) LEFT JOIN sampling m USING (source) LEFT JOIN synthetic y USING (source)
LEFT JOIN quality q USING (source) LEFT JOIN contamination x USING (source) LEFT JOIN kept k USING (source)
LEFT JOIN flagged f USING (source)
"""
_FUNNEL_NEEDS = ("raw_traces", "candidate_traces", "decontaminated_traces", "raw_trace_rejects", "domain_rejects",
                 "math_rejects", "synthetic_seed_rejects", "synthetic_rejects", "quality_rejects",
                 "decontamination_rejects")


def stale_rejects_tables(warehouse: Warehouse) -> dict[str, list[str]]:
    """Rejects tables present whose columns are not the shared ones (written by an older version):
    table -> what differs. The view leaves them out until their stage runs again."""
    stale = {}
    for table in _REJECTS_TABLES:
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
    """(Re)create `removed_samples`, `flagged_samples` once decontamination has run, and
    `source_funnel` once every stage up to it has; the names of the views created."""
    created = []
    sql = removed_samples_sql(warehouse)
    if sql and warehouse.create_view("removed_samples", sql):
        created.append("removed_samples")
    if warehouse.exists("decontaminated_traces"):
        flagged = FLAGGED_SAMPLES_SQL if warehouse.exists("semantic_matches") else NO_FLAGGED_SAMPLES_SQL
        if warehouse.create_view("flagged_samples", flagged):
            created.append("flagged_samples")
    funnel_ready = all(warehouse.exists(name) for name in _FUNNEL_NEEDS)
    if {"removed_samples", "flagged_samples"} <= set(created) and funnel_ready \
            and warehouse.create_view("source_funnel", SOURCE_FUNNEL_SQL):
        created.append("source_funnel")
    return created
