"""`python -m medical_assets.warehouse [SQL]`: query the warehouse views.

With SQL as arguments, runs it and prints the result; without, reads
statements (ended by `;`) from standard input, like the `duckdb` shell.
The views are (re)created first, so tables written while another session
held the DuckDB file become visible.
"""

from __future__ import annotations

import sys

import polars as pl

from medical_assets.assets.audit import create_audit_views
from medical_assets.resources.storage import Warehouse


def main(argv: list[str]) -> None:
    warehouse = Warehouse()
    tables = warehouse.refresh_views() + create_audit_views(warehouse)
    print(f"{warehouse.duckdb_path}: {', '.join(tables) or 'no tables yet (run make demo)'}", file=sys.stderr)
    statements = [" ".join(argv)] if argv else None
    with pl.Config(tbl_rows=50, fmt_str_lengths=80, tbl_width_chars=200):
        if statements:
            print(warehouse.query(statements[0]))
            return
        buffer = ""
        for line in sys.stdin:
            buffer += line
            if buffer.strip().endswith(";"):
                try:
                    print(warehouse.query(buffer))
                except Exception as error:  # keep the shell alive on a bad statement
                    print(f"error: {error}", file=sys.stderr)
                buffer = ""


if __name__ == "__main__":
    main(sys.argv[1:])
