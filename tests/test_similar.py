"""Similar-sound search: neighbours with known relations, aspect weights, the index
lifecycle (built, updated, rebuilt after damage) and the CLI."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from samplemind import Library, synth
from samplemind.analysis.layout import VECTOR_BLOCKS, VECTOR_DIM
from samplemind.similarity.index import VectorIndex

from audio_fixtures import write_audio
from helpers import run_cli

pytestmark = pytest.mark.slow  # the whole module: `pytest -m "not slow"` leaves it out

SR = 44100


def _write(path: Path, audio: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_audio(path, audio, SR)


def _kick(path: Path, pitch: float, decay: float = 0.35, seed: int = 0) -> Path:
    return _write(path, synth.normalize(synth.kick(SR, pitch=pitch, decay=decay,
                                                   rng=np.random.default_rng(seed))))


def _hat(path: Path, seed: int, open_: bool = False) -> Path:
    return _write(path, synth.normalize(synth.hihat(SR, open=open_,
                                                    rng=np.random.default_rng(seed))))


def _tone(path: Path, midi: float, waveform: str) -> Path:
    return _write(path, synth.normalize(synth.tone(SR, midi, 1.0, waveform)))


@pytest.fixture
def pack(tmp_path: Path) -> Path:
    """Kicks, a pitched copy of one kick, hats, snares and tones."""
    root = tmp_path / "pack"
    _kick(root / "a" / "kick_50.wav", 50)
    # The same kick two semitones up: resampled, as a sampler would play it.
    kick = sf.read(root / "a" / "kick_50.wav")[0]
    ratio = 2 ** (2 / 12)
    _write(root / "a" / "kick_50_up2.wav",
           np.interp(np.arange(0, len(kick) - 1, ratio), np.arange(len(kick)), kick))
    _kick(root / "a" / "kick_long.wav", 45, decay=0.6, seed=3)
    for seed in range(4):
        _hat(root / "b" / f"hat_{seed}.wav", seed, open_=seed % 2 == 1)
        _write(root / "b" / f"snare_{seed}.wav",
               synth.normalize(synth.snare(SR, rng=np.random.default_rng(seed))))
    _tone(root / "c" / "saw_A4.wav", 69, "saw")
    _tone(root / "c" / "square_A4.wav", 69, "square")
    _tone(root / "c" / "saw_Bb4.wav", 70, "saw")
    _tone(root / "c" / "saw_E4.wav", 64, "saw")
    return root


@pytest.fixture
def scanned(library: Library, pack: Path) -> Library:
    report = library.scan([pack])
    assert report.failed == 0 and report.added == 15
    return library


def _id(library: Library, pack: Path, relative: str) -> int:
    return library.get(str(pack / relative)).id


def _names(hits) -> list[str]:
    return [hit.sample.record["name"] for hit in hits]


def test_a_kick_and_its_pitched_copy_are_nearer_than_any_hat(scanned: Library, pack: Path):
    hits = scanned.similar([_id(scanned, pack, "a/kick_50.wav")], k=15)
    names = _names(hits)
    assert "kick_50.wav" not in names  # the query itself is not a result
    # The two other kicks come first, the pitched copy among them, before any hat or snare.
    assert set(names[:2]) == {"kick_50_up2.wav", "kick_long.wav"}
    first_hat = min(i for i, n in enumerate(names) if n.startswith("hat"))
    assert names.index("kick_50_up2.wav") < first_hat
    # Scores fall as distances grow; every hit explains itself per aspect.
    assert [h.distance for h in hits] == sorted(h.distance for h in hits)
    assert all(0 < h.score <= 1 for h in hits)
    assert set(hits[0].aspects) == {"timbre", "spectral", "envelope", "tonal", "rhythm"}


def test_aspect_weights_change_the_order_as_documented(scanned: Library, pack: Path):
    query = _id(scanned, pack, "c/saw_A4.wav")
    by_pitch = _names(scanned.similar([query], k=3, aspects="timbre=0,spectral=0,envelope=0,"
                                                            "rhythm=0,pitch=1"))
    by_timbre = _names(scanned.similar([query], k=14, aspects={"timbre": 1, "spectral": 0,
                                                              "envelope": 0, "tonal": 0,
                                                              "rhythm": 0}))
    # The square wave shares the pitch; the saw a semitone up shares the timbre.
    assert by_pitch[0] == "square_A4.wav"
    assert by_timbre.index("saw_Bb4.wav") < by_timbre.index("square_A4.wav")
    # The combined distance is the weighted RMS of the aspect distances it reports.
    hits = scanned.similar([query], k=5, aspects="timbre=3")
    for hit in hits:
        a = hit.aspects
        expected = np.sqrt((3 * a["timbre"] ** 2 + a["spectral"] ** 2 + a["envelope"] ** 2
                            + a["tonal"] ** 2 + a["rhythm"] ** 2) / 7)
        assert hit.distance == pytest.approx(expected, abs=2e-3)


def test_filters_limit_results_to_matching_samples(scanned: Library, pack: Path):
    query = _id(scanned, pack, "a/kick_50.wav")
    hits = scanned.similar([query], k=10, category="hihat")
    assert hits and all(h.sample.record["category"] == "hihat" for h in hits)
    assert len(hits) == 4
    hits = scanned.similar([query], k=10, type="loop")
    assert hits == []


def test_query_by_a_file_outside_the_catalog_does_not_add_it(scanned: Library, pack: Path,
                                                             tmp_path: Path):
    outside = _kick(tmp_path / "elsewhere" / "new_kick.wav", 52)
    before = scanned.catalog.count()
    hits = scanned.similar([str(outside)], k=3)
    assert _names(hits)[0].startswith("kick_50")
    assert scanned.catalog.count() == before


def test_several_examples_give_their_combined_sound(scanned: Library, pack: Path):
    kick = _id(scanned, pack, "a/kick_50.wav")
    hat = _id(scanned, pack, "b/hat_0.wav")
    hits = scanned.similar([kick, hat], k=14)
    assert {kick, hat}.isdisjoint(h.sample.id for h in hits)
    # The centre of a kick and a hat is nearer to other kicks and hats than the
    # kick alone is to the hats.
    alone = {h.sample.record["name"]: h.distance for h in scanned.similar([kick], k=14)}
    combined = {h.sample.record["name"]: h.distance for h in hits}
    assert combined["hat_2.wav"] < alone["hat_2.wav"]


def test_bad_references_and_weights_are_one_clear_error(scanned: Library):
    from samplemind.errors import NotFound, UsageError

    with pytest.raises(NotFound):
        scanned.similar(["999999"])
    with pytest.raises(NotFound):
        scanned.similar(["/no/such/file.wav"])
    with pytest.raises(UsageError, match="unknown aspect"):
        scanned.similar([1], aspects="loudness=2")
    with pytest.raises(UsageError, match="every aspect weight is 0"):
        scanned.similar([1], aspects="timbre=0,spectral=0,envelope=0,tonal=0,rhythm=0")
    with pytest.raises(UsageError):
        scanned.similar([1], aspects="timbre=-1")


# -- the index lifecycle --------------------------------------------------------------


def test_index_is_saved_with_the_catalog_generation_and_reused(scanned: Library):
    scanned.similar([1], k=2)
    # The scan's sound consensus built it; since then only categories moved, no vector.
    assert scanned.index.last_action == "updated: no vector changed"
    meta = json.loads((scanned.index.folder / "index.json").read_text())
    assert meta["generation"] == scanned.catalog.generation
    assert meta["kind"] == "flat" and meta["count"] == 15
    fresh = Library(scanned.paths.data_dir)
    try:
        fresh.similar([1], k=2)
        assert fresh.index.last_action == "loaded"
    finally:
        fresh.close()


def test_index_rebuilt_after_its_file_is_deleted_or_corrupted(scanned: Library, caplog):
    expected = _names(scanned.similar([1], k=5))
    folder = scanned.index.folder
    for damage in ("delete", "garbage", "truncate", "sidecar"):
        meta = json.loads((folder / "index.json").read_text())
        target = folder / meta["file"]
        if damage == "delete":
            target.unlink()
        elif damage == "garbage":
            target.write_bytes(b"not a faiss index" * 100)
        elif damage == "truncate":
            target.write_bytes(target.read_bytes()[:200])
        else:
            (folder / "index.json").write_text("{broken")
        fresh = Library(scanned.paths.data_dir)
        try:
            assert _names(fresh.similar([1], k=5)) == expected
            assert fresh.index.last_action.startswith("rebuilt"), damage
        finally:
            fresh.close()
    assert "rebuilding it from the catalog" in caplog.text


def test_a_stale_index_catches_up_with_scans_without_a_rebuild(scanned: Library, pack: Path):
    kick = _id(scanned, pack, "a/kick_50.wav")
    scanned.similar([kick], k=3)
    # A second process (another CLI run) adds a near twin and removes a hat.
    _kick(pack / "a" / "kick_50_twin.wav", 50.5)
    (pack / "b" / "hat_0.wav").unlink()
    other = Library(scanned.paths.data_dir, jobs=1)
    try:
        report = other.scan([pack])
        assert report.added == 1 and report.removed == 1
        # Its scan brought the saved index up to date in place.
        assert other.index.last_action.startswith("updated: 1 added or changed, 1 removed")
    finally:
        other.close()
    hits = scanned.similar([kick], k=20)
    assert scanned.index.last_action == "loaded"  # the fresher saved index, not a rebuild
    names = _names(hits)
    assert names[0] == "kick_50_twin.wav"
    assert "hat_0.wav" not in names
    assert scanned.index.current().info.generation == scanned.catalog.generation


def test_scan_keeps_a_saved_index_current(scanned: Library, pack: Path):
    scanned.similar([1], k=1)
    _hat(pack / "b" / "hat_new.wav", 42)
    scanned.scan([pack])
    meta = json.loads((scanned.index.folder / "index.json").read_text())
    assert meta["generation"] == scanned.catalog.generation and meta["count"] == 16


# -- the approximate index --------------------------------------------------------------


def _clustered(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (40, VECTOR_DIM))
    return (centres[rng.integers(0, 40, n)] + rng.normal(0, 1, (n, VECTOR_DIM))).astype(np.float32)


def test_large_libraries_get_an_ivf_index_with_measured_recall(tmp_path: Path):
    raw = _clustered(6000)
    ids = np.arange(10, 6010, dtype=np.int64)
    approx = VectorIndex.build(ids, raw, generation=7, exact_max=1000)
    exact = VectorIndex.build(ids, raw, generation=7, exact_max=10**9)
    assert approx.info.kind == "ivf" and exact.info.kind == "flat"
    assert approx.info.recall_at_10 >= 0.95
    rng = np.random.default_rng(1)
    queries = approx.standardiser.transform(raw[rng.choice(6000, 100)] + 0.1)
    recall = np.mean([len(set(approx.search(q, 10)[0]) & set(exact.search(q, 10)[0])) / 10
                      for q in queries])
    assert recall >= 0.95
    # Saved and loaded, it answers the same; removing and adding work in place.
    approx.save(tmp_path / "index")
    loaded = VectorIndex.load(tmp_path / "index")
    assert loaded.info.kind == "ivf" and loaded.count == 6000
    assert list(loaded.search(queries[0], 10)[0]) == list(approx.search(queries[0], 10)[0])
    gone = approx.search(queries[0], 1)[0][0]
    loaded.update(np.array([99999]), raw[:1], np.array([gone]), generation=8)
    assert gone not in loaded.search(queries[0], 10)[0]
    assert loaded.vectors_of(np.array([99999])).shape == (1, VECTOR_DIM)
    assert loaded.count == 6000 and set(loaded.ids()) == (set(ids) - {gone}) | {99999}
    # Filters and weights on the approximate index.
    allowed = ids[::7]
    found, _ = loaded.search(queries[1], 10, allowed=allowed)
    assert set(found) <= set(allowed) and len(found) == 10
    weights = np.ones(VECTOR_DIM, np.float32)
    weights[slice(*VECTOR_BLOCKS["timbre"])] = 0
    found, dist = loaded.search(queries[1], 10, weights=weights)
    assert list(dist) == sorted(dist)
    # A batch among some ids (the lessons' teachers, the consensus's voters): only those come
    # back, also the ids above the largest allowed one, and the same as one search at a time.
    for allowed in (ids[: len(ids) // 3], ids[1::2], ids[-5:]):
        found, _ = loaded.search_many(queries[:20], 10, allowed=allowed)
        assert set(found[found >= 0].tolist()) <= set(allowed.tolist())
        for row, query in zip(found, queries[:20]):
            alone, _ = loaded._faiss(query[None, :], 10, allowed)
            assert row[row >= 0].tolist() == alone.tolist()


def test_searches_run_concurrently_with_updates():
    raw = _clustered(3000, seed=2)
    index = VectorIndex.build(np.arange(3000, dtype=np.int64), raw, 1, exact_max=500)
    query = index.standardiser.transform(raw[:1])
    errors: list[BaseException] = []
    stop = threading.Event()

    def searcher() -> None:
        try:
            while not stop.is_set():
                found, _ = index.search(query, 10)
                assert len(found) == 10
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=searcher) for _ in range(3)]
    for thread in threads:
        thread.start()
    for step in range(30):
        new = np.arange(10_000 + step * 10, 10_000 + step * 10 + 10, dtype=np.int64)
        index.update(new, raw[:10], np.arange(step * 10, step * 10 + 10), generation=step + 2)
    stop.set()
    for thread in threads:
        thread.join()
    assert not errors
    assert index.count == 3000


# -- the CLI --------------------------------------------------------------------------


def test_similar_cli_in_every_format(scanned: Library, pack: Path):
    home = scanned.paths.data_dir
    kick = str(pack / "a" / "kick_50.wav")
    table = run_cli("similar", kick, "-k", "3", home=home)
    assert table.returncode == 0, table.stderr
    assert "score" in table.stdout and "kick_50_up2.wav" in table.stdout
    rows = json.loads(run_cli("similar", kick, "-k", "3", "-f", "json", home=home).stdout)
    assert len(rows) == 3 and {r["name"] for r in rows[:2]} == {"kick_50_up2.wav",
                                                                 "kick_long.wav"}
    assert set(rows[0]["aspect_distances"]) == {"timbre", "spectral", "envelope", "tonal",
                                                "rhythm"}
    # Numbers are printed short, not as float32 noise (0.7569000124931335).
    numbers = [rows[0]["score"], rows[0]["distance"], *rows[0]["aspect_distances"].values()]
    assert all(value == round(value, 4) for value in numbers)
    lines = run_cli("similar", kick, "-k", "2", "-f", "jsonl", home=home).stdout.splitlines()
    assert [json.loads(line)["name"] for line in lines] == [r["name"] for r in rows[:2]]
    csv_out = run_cli("similar", kick, "-k", "2", "-f", "csv", home=home).stdout.splitlines()
    assert csv_out[0].endswith("score,distance,dist_timbre,dist_spectral,dist_envelope,"
                               "dist_tonal,dist_rhythm")
    assert len(csv_out) == 3
    paths = run_cli("similar", kick, "-k", "2", "-f", "paths", home=home).stdout.split()
    assert paths == [r["path"] for r in rows[:2]]
    only_hats = json.loads(run_cli("similar", kick, "--category", "hihat", "-f", "json",
                                   home=home).stdout)
    assert {row["category"] for row in only_hats} == {"hihat"}
    bad = run_cli("similar", kick, "--aspect", "timbre=x", home=home)
    assert bad.returncode == 2 and "bad weight" in bad.stderr


def test_map_gives_every_sample_coordinates_cached_per_generation(scanned: Library):
    points = scanned.map()
    assert len(points) == 15
    assert all(-1 <= p["x"] <= 1 and -1 <= p["y"] <= 1 for p in points)
    assert len({(p["x"], p["y"]) for p in points}) == 15
    cached = list(scanned.index.folder.glob("map-*.npz"))
    assert [c.name for c in cached] == [f"map-{scanned.catalog.generation}.npz"]
    assert scanned.map() == points
    # Kicks sit nearer each other than a kick and a tone.
    by_name = {p["name"]: np.array([p["x"], p["y"]]) for p in points}
    kick_gap = np.linalg.norm(by_name["kick_50.wav"] - by_name["kick_50_up2.wav"])
    assert kick_gap < np.linalg.norm(by_name["kick_50.wav"] - by_name["saw_A4.wav"])
    out = run_cli("map", "-f", "csv", home=scanned.paths.data_dir)
    lines = out.stdout.splitlines()
    assert lines[0] == "id,x,y,type,category,name,path" and len(lines) == 16


def test_the_shipped_reference_statistics_match_the_vector_layout():
    from samplemind.analysis.layout import VECTOR_DIM
    from samplemind.analysis.versions import EXTRACTOR_VERSION
    from samplemind.similarity.vectors import REFERENCE_FILE, reference_stats

    data = json.loads(REFERENCE_FILE.read_text())
    hint = "run: python scripts/reference_stats.py"
    assert data["vector_dim"] == VECTOR_DIM, hint
    assert data["extractor_version"] == EXTRACTOR_VERSION, hint
    assert reference_stats() is not None


def test_a_tiny_library_is_standardised_with_the_reference_statistics():
    from samplemind.similarity.vectors import Standardiser

    rng = np.random.default_rng(0)
    two = rng.normal(0, 1, (2, VECTOR_DIM)).astype(np.float32)
    pooled = Standardiser.fit(two)
    alone = Standardiser.fit(two, use_prior=False)
    # Alone, two samples make every difference exactly two standard deviations;
    # pooled with the reference set, differences keep their real size.
    assert np.allclose(np.abs((two[0] - two[1]) / alone.scale), 2.0, atol=1e-3)
    assert not np.allclose(np.abs((two[0] - two[1]) / pooled.scale), 2.0, atol=0.2)


def test_rows_of_an_older_extractor_are_reanalysed_and_kept_out_of_the_index(
        scanned: Library, pack: Path):
    # A catalog written by an older samplemind: another version and a shorter vector.
    kick = _id(scanned, pack, "a/kick_50.wav")
    with scanned.catalog.transaction():
        scanned.catalog.update_sample(kick, {
            "extractor_version": "0+m0", "vector": np.zeros(64, np.float32).tobytes(),
            "vector_generation": scanned.catalog.next_generation})
    scanned.index.rebuild()
    assert scanned.index.current().count == 14  # the old-layout vector waits for a rescan
    assert kick not in scanned.index.current().ids()
    report = scanned.scan([pack])
    assert report.updated == 1 and report.analysed == 0  # the cache knows this content
    assert scanned.get(kick).record["extractor_version"] != "0+m0"
    assert kick in scanned.index.current().ids()
    assert _names(scanned.similar([kick], k=2))
