"""The sound map's levels of detail: every sample counted exactly once at every level, the map
follows the query, the legend lists the categories present; over the Library and over HTTP."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio
from aiohttp import web
from server_fixtures import build_catalog, copy_home

from samplemind import Library
from samplemind.errors import UsageError
from samplemind.server import ServerConfig, make_app
from samplemind.similarity import map_levels
from samplemind.similarity.map_levels import MAX_LEVEL, MapLayout, Rect, grid

from helpers import write_hit


def _cover(view: dict, members) -> Counter:
    """How many times each id is counted by a view: its points once, and every member of each
    bin's cell (found through members(level, cx, cy), checked against the bin's count; the
    cell holds the bin's centroid)."""
    seen = Counter(view["points"]["id"])
    level = view["level"]
    bins = view["bins"]
    for count, x, y, cx, cy in zip(bins["count"], bins["x"], bins["y"], bins["cx"], bins["cy"]):
        cell = 2 / 2**level
        assert -1 + cx * cell - 1e-4 <= x <= -1 + (cx + 1) * cell + 1e-4
        assert -1 + cy * cell - 1e-4 <= y <= -1 + (cy + 1) * cell + 1e-4
        inside = members(level, cx, cy)
        assert len(inside) == count > 1
        seen.update(inside)
    return seen


# -- the layout alone: many points, edges included ---------------------------------------------


@pytest.fixture(scope="module")
def layout() -> tuple[MapLayout, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    n = 3000
    clusters = [rng.normal(-0.4, 0.1, (n // 2, 2)), rng.normal(0.5, 0.2, (n - n // 2, 2))]
    coords = np.clip(np.concatenate(clusters), -1, 1).astype(np.float32)
    coords[:4] = [[-1, -1], [1, 1], [-1, 1], [1, -1]]  # the corners: the last cell takes 1
    coords[4:8] = coords[8:12]  # samples at the very same place
    ids = rng.permutation(np.arange(10, 10 + 5 * n, 5))
    categories = rng.integers(0, 4, n)
    return MapLayout(ids, coords, categories, ["kick", "snare", "pad", "none"]), ids, categories


def test_every_level_counts_every_sample_exactly_once(layout):
    maps, ids, _ = layout
    for level in range(MAX_LEVEL + 1):
        view = maps.view(None, level=level, points=0)
        assert view["level"] == level and view["total"] == len(ids)
        seen = _cover(view, lambda lv, cx, cy: maps.members(None, lv, cx, cy).tolist())
        assert seen == Counter(ids.tolist()), f"level {level}"
        assert sum(view["bins"]["count"]) + len(view["points"]["id"]) == len(ids)


def test_a_query_and_a_region_count_their_samples_once(layout):
    maps, ids, categories = layout
    allowed = ids[categories == 1]
    rect = Rect(-0.6, -0.5, 0.2, 0.9)
    wanted = set(allowed.tolist())
    for level in (2, 5, 9):
        view = maps.view(allowed, level=level, rect=rect, points=0)
        assert view["total"] == len(allowed)
        seen = _cover(view, lambda lv, cx, cy: maps.members(allowed, lv, cx, cy).tolist())
        # Whole cells that touch the region: every allowed sample of those cells, once.
        cx0, cx1 = grid(np.array([rect.x0, rect.x1]), level)
        cy0, cy1 = grid(np.array([rect.y0, rect.y1]), level)
        expected = [int(i) for i, (x, y) in zip(maps.ids, zip(maps.x, maps.y))
                    if i in wanted
                    and cx0 <= grid(np.array([x]), level)[0] <= cx1
                    and cy0 <= grid(np.array([y]), level)[0] <= cy1]
        assert seen == Counter(expected)
        assert view["in_view"] == len(expected)


def test_few_samples_in_view_come_as_points_and_many_as_bins(layout):
    maps, ids, _ = layout
    assert sorted(maps.view(None, level=3)["points"]["id"]) == sorted(ids.tolist())
    binned = maps.view(None, level=3, points=100)
    assert binned["bins"]["count"] and len(binned["points"]["id"]) < 100
    # a bin plays one of its own samples, and its category is the one most of them have
    b = int(np.argmax(binned["bins"]["count"]))
    cx, cy = binned["bins"]["cx"][b], binned["bins"]["cy"][b]
    inside = maps.members(None, 3, cx, cy)
    assert binned["bins"]["id"][b] in inside.tolist()
    tally = Counter(maps.category[np.isin(maps.ids, inside)].tolist())
    assert tally[binned["bins"]["category"][b]] == max(tally.values())


def test_a_fine_level_over_a_wide_region_is_lowered_to_stay_small(layout):
    maps, _, _ = layout
    view = maps.view(None, level=MAX_LEVEL, points=0)
    assert view["level"] == MAX_LEVEL  # the whole square, but only occupied cells are sent
    assert len(view["bins"]["count"]) + len(view["points"]["id"]) <= 3000


# -- through the Library, on a real scanned catalog ---------------------------------------------


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_catalog(tmp_path_factory.mktemp("map"))


@pytest.fixture
def scanned(catalog: tuple[Path, Path], tmp_path: Path):
    with Library(copy_home(catalog[0], tmp_path / "home")) as library:
        yield library


def test_the_library_map_covers_every_sample_once_at_every_level(scanned: Library):
    every = sorted(s.id for s in scanned.ls(""))
    for level in range(MAX_LEVEL + 1):
        view = scanned.map_view(level=level, points=0)
        seen = _cover(view, lambda lv, cx, cy: scanned.map_cell(lv, cx, cy))
        assert seen == Counter(every), f"level {level}"
    assert sorted(scanned.map_view()["points"]["id"]) == every


def test_the_map_follows_the_query_and_its_legend_lists_the_categories_present(scanned: Library):
    for query in ("cat:kick", "type:loop", "cat:snare,hihat", "nothing-is-called-this"):
        rows = list(scanned.ls(query))
        view = scanned.map_view(query, level=4, points=0)
        assert view["total"] == len(rows)
        seen = _cover(view, lambda lv, cx, cy, q=query: scanned.map_cell(lv, cx, cy, q))
        assert seen == Counter(s.id for s in rows)
        present = Counter(s.record["category"] or "none" for s in rows)
        assert {item["category"]: item["count"] for item in view["legend"]} == present
        names = view["categories"]
        for category, id_ in zip(scanned.map_view(query)["points"]["category"],
                                 scanned.map_view(query)["points"]["id"]):
            assert (scanned.get(id_).record["category"] or "none") == names[category]
        if rows:
            x0, y0, x1, y1 = view["extent"]["bounds"]
            assert sorted(scanned.map_region((x0, y0, x1, y1), query)) == sorted(s.id for s in rows)
        else:
            assert view["extent"] is None and view["legend"] == []


def test_the_map_changes_with_the_catalog(scanned: Library):
    kicks = [s.id for s in scanned.ls("cat:kick")]
    before = scanned.map_view("cat:kick")
    scanned.set(kicks[0], {"category": "snare"})
    after = scanned.map_view("cat:kick")
    assert after["total"] == before["total"] - 1 and kicks[0] not in after["points"]["id"]
    legend = {item["category"]: item["count"] for item in scanned.map_view()["legend"]}
    assert legend == Counter(s.record["category"] or "none" for s in scanned.ls(""))
    with pytest.raises(UsageError):
        scanned.map_view(points=-1)


# -- over HTTP ------------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def client(aiohttp_client, catalog: tuple[Path, Path], tmp_path: Path):
    app: web.Application = make_app(copy_home(catalog[0], tmp_path / "http"), config=ServerConfig())
    return await aiohttp_client(app)


@pytest.mark.asyncio
async def test_the_map_route_sends_levels_of_detail_and_region_ids(client):
    every = await (await client.get("/api/v1/map")).json()
    total = every["total"]
    assert total > 40 and len(every["points"]["id"]) == total and every["bins"]["count"] == []
    binned = await (await client.get("/api/v1/map", params={"level": "2", "points": "0"})).json()
    assert sum(binned["bins"]["count"]) + len(binned["points"]["id"]) == total
    kicks = await (await client.get("/api/v1/map", params={"q": "cat:kick"})).json()
    assert [item["category"] for item in kicks["legend"]] == ["kick"]
    x0, y0, x1, y1 = kicks["extent"]["bounds"]
    region = await (await client.get("/api/v1/map/ids", params={
        "q": "cat:kick", "x0": x0, "y0": y0, "x1": x1, "y1": y1})).json()
    assert sorted(region["ids"]) == sorted(kicks["points"]["id"]) and region["count"] == kicks["total"]
    cell = await (await client.get("/api/v1/map/ids", params={"level": "0", "cx": "0", "cy": "0"})).json()
    assert cell["count"] == total
    for params, word in (({"x0": "0"}, "all of x0"), ({"level": "99"}, "level"),
                         ({}, "either a region"), ({"points": "-3"}, "points"),
                         ({"q": "bpm:abc"}, "")):
        route = "/api/v1/map/ids" if word == "either a region" else "/api/v1/map"
        response = await client.get(route, params=params)
        assert response.status == 400, params
        assert word in (await response.json())["error"]


def test_a_change_that_moves_no_vector_keeps_the_projection(scanned: Library):
    first = scanned.map_view()
    saved = list(scanned.index.folder.glob("map-*.npz"))
    assert len(saved) == 1
    stamp = saved[0].stat().st_mtime_ns
    some = first["points"]["id"][0]
    scanned.tag([str(some)], ["kept"])
    scanned.set(some, {"category": "fx"})
    again = scanned.map_view()
    assert list(scanned.index.folder.glob("map-*.npz")) == saved
    assert saved[0].stat().st_mtime_ns == stamp  # not projected again
    assert again["points"]["id"] == first["points"]["id"]
    assert again["points"]["x"] == first["points"]["x"]
    at = again["points"]["id"].index(some)
    assert again["categories"][again["points"]["category"][at]] == "fx"


def test_an_added_sample_is_placed_without_moving_the_others(scanned: Library, tmp_path: Path):
    first = scanned.map_view()
    before = dict(zip(first["points"]["id"], zip(first["points"]["x"], first["points"]["y"])))
    write_hit(tmp_path / "new" / "Kicks" / "new_kick.wav", freq=55, seed=11)
    assert scanned.scan([tmp_path / "new"]).added == 1
    added = scanned.get(str(tmp_path / "new" / "Kicks" / "new_kick.wav")).id
    again = scanned.map_view()
    after = dict(zip(again["points"]["id"], zip(again["points"]["x"], again["points"]["y"])))
    assert set(after) == set(before) | {added}
    moved = {i: (before[i], after[i]) for i in before
             if max(abs(after[i][0] - before[i][0]), abs(after[i][1] - before[i][1])) > 2e-5}
    assert not moved  # the map keeps its shape
    assert -1 <= after[added][0] <= 1 and -1 <= after[added][1] <= 1
    saved = [p.name for p in scanned.index.folder.glob("map-*.npz")]
    assert saved == [f"map-{scanned.catalog.generation}.npz"]
    # ... and a fresh fit, had nothing been saved, would count it the same way
    for old in scanned.index.folder.glob("map-*.npz"):
        old.unlink()
    map_levels._layouts.clear()
    seen = _cover(scanned.map_view(level=3, points=0), lambda lv, cx, cy: scanned.map_cell(lv, cx, cy))
    assert seen == Counter(list(after))
