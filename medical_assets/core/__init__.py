"""The algorithms as plain functions on Polars frames and strings (no Dagster)."""
