"""Dagster resources: storage, sources, and (later) models and launchers."""
