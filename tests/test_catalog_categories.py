"""Catalog.set_categories: many rows per UPDATE statement write what one statement per row
wrote: the same rows, the same change feed, the same figures, the same generation."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from samplemind import catalog as catalog_module
from samplemind.catalog import Catalog

CATEGORIES = ["kick", "snare", "hihat", "tom", None]
SOURCES = ["dsp", "library", "filename", None]


def _filled(path: Path, n: int) -> Catalog:
    catalog = Catalog(path)
    rng = random.Random(7)
    with catalog.transaction():
        for i in range(1, n + 1):
            catalog.insert_sample({
                "id": i, "path": f"/lib/{i % 7}/s{i}.wav", "root": "/lib", "name": f"s{i}.wav",
                "hash": f"{i:040x}", "format": "wav", "duration": 0.5, "size": 1000 + i,
                "type": rng.choice(["oneshot", "loop"]), "category": rng.choice(CATEGORIES),
                "category_confidence": rng.random(), "category_source": rng.choice(SOURCES)})
    return catalog


def _state(catalog: Catalog) -> tuple:
    return (catalog.generation,
            catalog.query("SELECT * FROM samples ORDER BY id"),
            catalog.query("SELECT sample_id, generation FROM sample_changes ORDER BY sample_id"),
            catalog.query("SELECT * FROM library_figures WHERE samples > 0 ORDER BY 1, 2, 3"))


def _rows(n: int, seed: int) -> list[tuple]:
    rng = random.Random(seed)
    ids = rng.sample(range(1, n + 1), n * 2 // 3)  # more than one statement's worth
    return [(rng.choice(CATEGORIES), rng.choice([None, 1, rng.random()]),
             rng.choice(SOURCES), i) for i in ids]


@pytest.mark.parametrize("only_from", [None, "dsp", "library"])
def test_rows_per_statement_write_what_a_statement_per_row_wrote(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, only_from: str | None) -> None:
    n = 3 * catalog_module._ROWS_PER_UPDATE + 17
    assert catalog_module._UPDATE_FROM  # the SQLite here has UPDATE ... FROM
    batched, single = _filled(tmp_path / "a.db", n), _filled(tmp_path / "b.db", n)
    assert _state(batched) == _state(single)
    for seed in range(3):
        rows = _rows(n, seed)
        batched.set_categories(rows, only_from=only_from)
        with monkeypatch.context() as patch:
            patch.setattr(catalog_module, "_UPDATE_FROM", False)
            single.set_categories(rows, only_from=only_from)
        assert _state(batched) == _state(single)
    # and something was written (the comparison is not of two untouched catalogs)
    assert _state(batched)[1] != _state(_filled(tmp_path / "c.db", n))[1]


def test_a_sample_given_twice_gets_its_last_row(tmp_path: Path) -> None:
    catalog = _filled(tmp_path / "a.db", 10)
    catalog.set_categories([("kick", 0.5, "dsp", 3), ("snare", 0.25, "library", 3)])
    assert catalog.query("SELECT category, category_confidence, category_source FROM samples "
                         "WHERE id = 3") == [("snare", 0.25, "library")]
    catalog.set_categories([(None, None, "dsp", 4), (None, None, "dsp", 5)])
    catalog.set_categories([("tom", 0.5, "dsp", 4), ("hihat", 0.25, "dsp", 4),
                            ("tom", 0.5, "library", 5), ("hihat", 0.25, "dsp", 5)],
                           only_from="dsp")
    assert catalog.query("SELECT id, category, category_source FROM samples WHERE id IN (4, 5) "
                         "ORDER BY id") == [(4, "hihat", "dsp"), (5, "tom", "library")]
