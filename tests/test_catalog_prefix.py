"""The rows under a folder (Catalog.file_states and failure_states): a range over the
path index that must mean exactly "the path starts with FOLDER/"."""

from __future__ import annotations

from pathlib import Path

import pytest

from samplemind import Library
from samplemind.catalog import Catalog

from helpers import write_hit

PATHS = [
    "/x.wav", "/ab/x.wav", "/a/B/x.wav",
    "/a/b",  # a file named like the folder: not under it
    "/a/b.wav", "/a/b-/x.wav", "/a/b /x.wav", "/a/b0/x.wav",  # just below and at the bound
    "/a/b/x.wav", "/a/b/sub/y.wav", "/a/b//z.wav", "/a/b/ /space.wav",
    "/a/b/\U0010ffff.wav",  # the highest code point: 4 bytes of UTF-8 after the prefix
    "/a/bc/x.wav",  # a sibling sharing the prefix
    "/a/b%/x.wav", "/a/b_/x.wav", "/a/b%c/x.wav",  # LIKE wildcards are plain characters
    "/a/%/x.wav", "/a/_/x.wav", "/a/x_y/z.wav", "/a/xay/z.wav",
    "/a/ü/x.wav", "/a/u/x.wav", "/a/u\u0308/x.wav",  # composed, plain, decomposed
    "/a/日本/音.wav", "/a/日本語/x.wav", "/a/😀/x.wav", "/a/😁/x.wav",
]
ROOTS = ["/", "/a", "/a/", "/a/b", "/a/b/", "/a/bc", "/a/b%", "/a/b_", "/a/%", "/a/_",
         "/a/x_y", "/a/ü", "/a/u", "/a/日本", "/a/😀", "/a/b/sub", "/nothing", "/a/b/x.wav"]


@pytest.fixture
def catalog(tmp_path: Path):
    catalog = Catalog(tmp_path / "library.db")
    with catalog.transaction():
        for number, path in enumerate(PATHS):
            catalog.insert_sample({"path": path, "root": "/", "hash": f"h{number}",
                                   "size": number, "mtime_ns": number})
            catalog.record_failure(path, "/", number, number, f"bad {number}")
    yield catalog
    catalog.close()


def _under(root: str) -> set[str]:
    prefix = root.rstrip("/") + "/"
    return {path for path in PATHS if path.startswith(prefix)}


@pytest.mark.parametrize("root", ROOTS)
def test_a_folder_holds_exactly_the_paths_that_start_with_it(catalog: Catalog, root: str):
    expected = _under(root)
    assert set(catalog.file_states(root)) == expected
    assert set(catalog.failure_states(root)) == expected


def test_the_edge_cases_hold_what_a_person_expects(catalog: Catalog):
    assert set(catalog.file_states("/a/b")) == {
        "/a/b/x.wav", "/a/b/sub/y.wav", "/a/b//z.wav", "/a/b/ /space.wav", "/a/b/\U0010ffff.wav"}
    assert set(catalog.file_states("/a/_")) == {"/a/_/x.wav"}
    assert set(catalog.file_states("/a/%")) == {"/a/%/x.wav"}
    assert set(catalog.file_states("/a/ü")) == {"/a/ü/x.wav"}  # not the decomposed one
    assert set(catalog.file_states("/a/日本")) == {"/a/日本/音.wav"}
    assert set(catalog.file_states("/")) == set(PATHS)


def test_one_file_is_itself_only(catalog: Catalog):
    assert set(catalog.file_states("/a/b", folder=False)) == {"/a/b"}
    assert set(catalog.failure_states("/a/b", folder=False)) == {"/a/b"}
    assert catalog.file_states("/a/b/x.wav", folder=False)["/a/b/x.wav"][1:3] == (
        PATHS.index("/a/b/x.wav"), PATHS.index("/a/b/x.wav"))
    assert catalog.failure_states("/a/nothing.wav", folder=False) == {}


def test_the_range_reads_the_path_index_and_is_exact_under_its_collation(catalog: Catalog):
    # The range means "starts with" only because path compares as BINARY (memcmp) UTF-8.
    assert catalog.scalar("PRAGMA encoding") == "UTF-8"
    for index in ("idx_samples_path", "sqlite_autoindex_failures_1"):
        columns = catalog.query(f"PRAGMA index_xinfo({index})")
        assert [(row[2], row[4]) for row in columns if row[5]] == [("path", "BINARY")]
    where, params = catalog.under_clause("/a/b", True)
    for table, index in (("samples", "idx_samples_path"),
                         ("failures", "sqlite_autoindex_failures_1")):
        plan = " ".join(row[3] for row in catalog.query(
            f"EXPLAIN QUERY PLAN SELECT * FROM {table} WHERE {where}", params))
        assert f"SEARCH {table} USING INDEX {index}" in plan, plan


@pytest.mark.slow
def test_scanning_a_folder_leaves_a_sibling_with_a_longer_name_alone(library: Library,
                                                                    tmp_path: Path):
    lib = tmp_path / "lib"
    files = [write_hit(lib / name / "hit.wav", freq=60 + 20 * n, seed=n)
             for n, name in enumerate(["b", "bc", "b%_", "b_%"])]
    assert library.scan([lib / "b", lib / "bc", lib / "b%_", lib / "b_%"]).added == 4
    files[0].unlink()
    report = library.scan([lib / "b"])
    assert (report.removed, report.seen) == (1, 0)
    report = library.scan([lib / "b%_"])
    assert (report.removed, report.unchanged) == (0, 1)
    assert library.catalog.count() == 3
    assert {Path(library.get(str(path)).record["path"]) for path in files[1:]} == set(files[1:])
