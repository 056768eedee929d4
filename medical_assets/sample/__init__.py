"""The bundled demo corpus (see README.md here) and what is known about its rows."""

from __future__ import annotations

from pathlib import Path

import polars as pl

SAMPLE_DIR = Path(__file__).resolve().parent
TRUTH_FILE = SAMPLE_DIR / "truth.jsonl"

# The generator's domain names, as labels of the curation stage's closed set.
DOMAIN_LABELS = {
    "medical": "Medical", "biology": "Biology", "chemistry": "Chemistry", "physics": "Physics",
    "math": "Mathematics", "code": "Computer Science", "general": "Other",
}


def reference_domains() -> pl.DataFrame:
    """The known domain of every demo source row: `source`, `source_row`, `domain` (a curation label).

    A file read by several sources (GeneralThought feeds two) gives each of them its rows.
    """
    from medical_assets.sources import SOURCES

    truth = pl.read_ndjson(TRUTH_FILE).select("file", source_row="row", domain="domain")
    files = pl.DataFrame({"source": [s.name for s in SOURCES], "file": [s.demo_file for s in SOURCES]})
    return (
        files.join(truth, on="file")
        .select("source", pl.col("source_row").cast(pl.Int64),
                pl.col("domain").replace_strict(DOMAIN_LABELS, return_dtype=pl.String))
    )
