"""The catalog's schema steps: every migration written in samplemind/migrations.py runs on a
fresh catalog (a step whose decorator is lost in a merge would silently never run)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from samplemind import migrations
from samplemind.catalog import Catalog


def test_every_migration_function_runs_on_a_fresh_catalog(tmp_path: Path) -> None:
    written = {name for name, value in vars(migrations).items()
               if re.fullmatch(r"m\d{3}_\w+", name) and inspect.isfunction(value)}
    assert len(written) >= 15
    catalog = Catalog(tmp_path / "catalog.db")
    try:
        applied = {row[0] for row in catalog.conn.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = 'samplemind'")}
    finally:
        catalog.close()
    assert applied == written
