"""How Catalog.ids reads a page in path order, measured in SQLite's own steps (a progress
handler's ticks: deterministic, unlike time): a filter matching few samples is read through
its index and sorted, and a filter no index holds is walked as before, never counted through
its rows first."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from samplemind import Library
from samplemind.catalog import Catalog

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

pytestmark = pytest.mark.slow  # a 20,000-row catalog


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from query import build_catalog, make_rows

    home = tmp_path_factory.mktemp("pages")
    build_catalog(home, make_rows(20_000))
    return home


def _page(library: Library, query: str) -> tuple[list[int], int]:
    """The ids of the first page of 50 and the SQLite steps (in hundreds) it took."""
    where, params, order_by, _ = library._where(query)
    ticks = [0]

    def tick() -> int:
        ticks[0] += 1
        return 0

    library.catalog.conn.set_progress_handler(tick, 100)
    try:
        ids = library.catalog.ids(where, params, order_by=order_by, limit=50)
    finally:
        library.catalog.conn.set_progress_handler(None, 0)
    return ids, ticks[0]


def _both_ways(big: Path, query: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, int]:
    with Library(big) as library:
        new_ids, new_steps = _page(library, query)
        monkeypatch.setattr(Catalog, "_few_matches", lambda *args: False)
        old_ids, old_steps = _page(library, query)
        monkeypatch.undo()
    assert new_ids == old_ids, query  # the same rows, in the same order
    return old_steps, new_steps


@pytest.mark.parametrize("query", ["fmt:wav", "sr:44100", "cat:kick sr:44100"])
def test_a_filter_no_index_holds_is_walked_as_before(big: Path, query: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    old_steps, new_steps = _both_ways(big, query, monkeypatch)
    assert new_steps <= old_steps + 5, (query, old_steps, new_steps)


@pytest.mark.parametrize("query", ["duration:..0.05", "bpm:..62", "cat:kick lufs:..-30",
                                   "cat:perc bpm:170.."])
def test_a_filter_matching_few_is_read_through_its_index(big: Path, query: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    with Library(big) as library:
        assert library.count(query) < 50  # few: a walk in path order meets them late or never
    old_steps, new_steps = _both_ways(big, query, monkeypatch)
    assert new_steps * 2 < old_steps, (query, old_steps, new_steps)
