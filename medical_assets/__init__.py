"""medical_assets: the II-Medical-8B recipe as a Dagster asset graph."""
