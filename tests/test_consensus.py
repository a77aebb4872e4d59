"""Sound consensus (similarity/consensus.py): a sound-only category also hears the sample's
nearest sounds. Checked on real scans of generated drum hits: the stored answer is the mix
of the model's probabilities over the sample and its 5 nearest one-shots (found here by
brute force over the index's own vectors), the file's own guess stays in its analysis, and
an incremental library ends where a library scanned from scratch does."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from samplemind import Library
from samplemind.analysis import classify
from samplemind.analysis.calibration import calibrate
from samplemind.models import ScanReport
from samplemind.scan import refine_categories
from samplemind.similarity import consensus
from samplemind.similarity.consensus import NEIGHBOURS, SHARE, mix

from audio_fixtures import synth_drum_hit, write_audio, write_drum_hit
from helpers import run_cli

pytestmark = pytest.mark.slow  # the whole module: `pytest -m "not slow"` leaves it out

KINDS = ("kick", "snare", "hihat", "clap", "tom")


def write_kit(folder: Path, seeds: range) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        write_drum_hit(folder / f"sample_{seed:03d}.wav", KINDS[seed % len(KINDS)], seed=seed)


def write_blends(folder: Path) -> None:
    """Seven snare-tom blends (20-80 % snare): one or more in the middle sound like a snare to
    the model alone while their nearest sounds are toms, so the consensus moves them."""
    for index, share in enumerate(np.linspace(0.2, 0.8, 7)):
        snare, tom = synth_drum_hit("snare", seed=100 + index), synth_drum_hit("tom", seed=200 + index)
        n = min(snare.size, tom.size)
        blend = share * snare[:n] + (1 - share) * tom[:n]
        write_audio(folder / f"blend_{index}.wav", 0.9 * blend / np.abs(blend).max())


def answers(home: Path) -> dict[str, tuple[str | None, float | None, str | None]]:
    with Library(home) as library:
        return {Path(s.path).name: (s.record["category"], s.record["category_confidence"],
                                    s.record["category_source"]) for s in library.ls()}


def settled(home: Path) -> dict[str, tuple[str | None, float | None, str | None]]:
    """The answers after a consensus and teaching round from scratch over the same catalog
    and index: what every incremental round must leave. (A library scanned afresh may build
    its index with other statistics than one that grew, so the comparison is made here.)"""
    with Library(home) as library:
        library.catalog.conn.execute("DELETE FROM meta WHERE key IN ('consensus_generation', "
                                     "'teach_fingerprint')")
        library.catalog.conn.commit()
        report = ScanReport()
        refine_categories(library.catalog, library.index, report)
        assert not report.warnings
    return answers(home)


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("consensus")
    write_kit(base / "kit", range(30))
    write_blends(base / "kit")
    with Library(base / "home", jobs=2, timeout=60) as library:
        assert library.scan([base / "kit"]).failed == 0
    return base


def test_mix_weighs_own_sound_and_neighbours():
    own = np.array([0.6, 0.4])
    assert np.allclose(mix(own, np.array([[0.1, 0.9]] * 5)), [0.35, 0.65])
    assert np.allclose(mix(own, np.zeros((0, 2))), own)  # alone in its library: its own guess
    assert SHARE == 0.5 and NEIGHBOURS == 5


def test_many_inputs_at_once_are_the_inputs_one_at_a_time():
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(5, 99))
    vectors[1, 4] = np.nan
    vectors[2, 7] = np.inf
    pitches = [None, 440.0, 0.0, float("nan"), 55.0]
    many = classify.category_inputs_many(vectors, pitches)
    for row, (vector, pitch) in enumerate(zip(vectors, pitches)):
        assert np.array_equal(many[row], classify.category_inputs(vector, pitch))
    model = classify.category_model()
    assert np.allclose(model.probabilities(many)[2], model.probabilities(many[2]))


def test_stored_category_is_the_mix_over_the_nearest_sounds(kit: Path):
    model = classify.category_model()
    with Library(kit / "home") as library:
        rows = {r["id"]: r for r in library.catalog.full_rows()}
        index = library.index.current()
        ids = np.array(sorted(rows), np.int64)
        space = index.vectors_of(ids)
        own = {}
        for sample_id, row in rows.items():
            features = json.loads(row["analysis"])["features"]
            pitch = features.get("pitch_hz") if features.get("note") else None
            own[sample_id] = model.probabilities(classify.category_inputs(
                np.frombuffer(row["vector"], np.float32), pitch))
            # the file's own guess is kept in its analysis
            best = int(np.argmax(own[sample_id]))
            assert features["category"] == model.classes[best]
        moved = 0
        for pos, sample_id in enumerate(ids.tolist()):
            distance = ((space - space[pos]) ** 2).sum(axis=1)
            distance[pos] = np.inf
            nearest = ids[np.argsort(distance, kind="stable")[:NEIGHBOURS]]
            p = 0.5 * own[sample_id] + 0.5 * np.mean([own[i] for i in nearest.tolist()], axis=0)
            row = rows[sample_id]
            assert row["category_source"] == "dsp"
            assert row["category"] == model.classes[int(np.argmax(p))], row["path"]
            assert row["category_confidence"] == pytest.approx(
                calibrate("category", float(p.max()), row["category"]), abs=1e-3)
            moved += row["category"] != model.classes[int(np.argmax(own[sample_id]))]
    assert moved >= 1  # with these seeds the neighbours overrule at least one file's guess


def test_a_scan_that_changed_nothing_changes_nothing(kit: Path, tmp_path: Path):
    shutil.copytree(kit / "home", tmp_path / "home")
    before = answers(tmp_path / "home")
    with Library(tmp_path / "home", jobs=2, timeout=60) as library:
        report = library.scan([kit / "kit"])
    assert report.agreed == 0 and answers(tmp_path / "home") == before


def test_incremental_rounds_leave_what_a_full_round_gives(tmp_path: Path):
    folder = tmp_path / "kit"
    write_kit(folder, range(20))
    with Library(tmp_path / "grown", jobs=2, timeout=60) as library:
        library.scan([folder])
        write_kit(folder, range(20, 30))  # more of each instrument: new nearest sounds
        added = library.scan([folder])
        assert added.added == 10
    before = answers(tmp_path / "grown")
    assert settled(tmp_path / "grown") == before

    for seed in (1, 7, 22):  # a removal: its old neighbours are asked again
        (folder / f"sample_{seed:03d}.wav").unlink()
    with Library(tmp_path / "grown", jobs=2, timeout=60) as library:
        assert library.scan([folder]).removed == 3
    before = answers(tmp_path / "grown")
    assert settled(tmp_path / "grown") == before


def test_names_are_not_overruled_by_the_neighbours(tmp_path: Path):
    folder = tmp_path / "kit"
    write_kit(folder, range(12))
    write_drum_hit(folder / "Cowbell_01.wav", "kick", seed=3)  # a name, whatever it sounds like
    with Library(tmp_path / "home", jobs=2, timeout=60) as library:
        library.scan([folder])
        named = next(s for s in library.ls() if s.path.endswith("Cowbell_01.wav"))
    assert named.record["category_source"] == "filename"
    assert named.record["category"] == "perc"


def test_editing_another_field_keeps_the_refined_category(kit: Path, tmp_path: Path):
    shutil.copytree(kit / "home", tmp_path / "home")
    with Library(tmp_path / "home") as library:
        refined = [s for s in library.ls()
                   if s.record["category"] != json.loads(library.catalog.full_row(s.id)[
                       "analysis"])["features"]["category"]]
        assert refined  # the fixture has one the neighbours moved (see above)
        sample = refined[0]
        library.set(sample.id, {"bpm": 100})  # re-resolves the sample from its analysis
        after = library.get(sample.id).record
    assert (after["category"], after["category_confidence"], after["category_source"]) == \
        (sample.record["category"], sample.record["category_confidence"], "dsp")


def test_a_cleared_correction_returns_to_the_consensus(kit: Path, tmp_path: Path):
    shutil.copytree(kit / "home", tmp_path / "home")
    with Library(tmp_path / "home") as library:
        sample = next(s for s in library.ls()
                      if s.record["category"] != json.loads(library.catalog.full_row(s.id)[
                          "analysis"])["features"]["category"])
        corrected = library.set(sample.id, {"category": "cymbal"}).record
        assert (corrected["category"], corrected["category_source"]) == ("cymbal", "user")
        cleared = library.set(sample.id, {"category": None}).record
    assert (cleared["category"], cleared["category_confidence"], cleared["category_source"]) == \
        (sample.record["category"], sample.record["category_confidence"], "dsp")


def test_the_scan_says_how_many_the_neighbours_refined(tmp_path: Path):
    write_kit(tmp_path / "kit", range(30))
    write_blends(tmp_path / "kit")
    done = run_cli("scan", "-f", "json", str(tmp_path / "kit"), home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    agreed = json.loads(done.stdout)["agreed"]
    with Library(tmp_path / "home") as library:  # the guesses the nearest sounds overruled
        moved = sum(s.record["category"] != json.loads(library.catalog.full_row(s.id)[
            "analysis"])["features"]["category"] for s in library.ls())
    assert agreed == moved >= 1  # (how many depends on the shipped model; see above)
    noun = "category" if agreed == 1 else "categories"
    assert f"{agreed} {noun} refined by their nearest sounds" in done.stderr


@pytest.fixture
def rounds(monkeypatch: pytest.MonkeyPatch) -> list[consensus.ConsensusReport]:
    """The reports of the consensus rounds that scans and corrections run (the real ones)."""
    seen: list[consensus.ConsensusReport] = []
    real = consensus.agree

    def recorded(catalog, index):
        seen.append(real(catalog, index))
        return seen[-1]

    monkeypatch.setattr(consensus, "agree", recorded)
    return seen


def test_an_addition_asks_only_the_new_sound_and_those_near_it(tmp_path: Path, rounds):
    folder = tmp_path / "kit"
    write_kit(folder, range(40))
    with Library(tmp_path / "grown", jobs=2, timeout=60) as library:
        library.scan([folder])
        assert len(rounds[-1].asked) == rounds[-1].listeners == 40  # the first round: everyone
        write_kit(folder, range(40, 41))
        library.scan([folder])
    added = rounds[-1]
    assert added.listeners == 41 and 0 < len(added.asked) < added.listeners
    before = answers(tmp_path / "grown")
    assert settled(tmp_path / "grown") == before


def test_a_removal_asks_only_those_that_were_near_it(tmp_path: Path, rounds):
    folder = tmp_path / "kit"
    write_kit(folder, range(40))
    (folder / "Loops").mkdir()  # a loop (by its folder) is no voter: its removal is no news
    write_drum_hit(folder / "Loops" / "long_ride.wav", "hihat", seed=5)
    with Library(tmp_path / "home", jobs=2, timeout=60) as library:
        library.scan([folder])
        assert next(s for s in library.ls() if s.path.endswith("long_ride.wav")).record[
            "type"] == "loop"
        (folder / "sample_013.wav").unlink()
        (folder / "Loops" / "long_ride.wav").unlink()
        assert library.scan([folder]).removed == 2
    removal = rounds[-1]
    assert removal.listeners == 39 and 0 < len(removal.asked) < removal.listeners
    before = answers(tmp_path / "home")
    assert settled(tmp_path / "home") == before


def test_a_reanalysed_sound_or_a_type_correction_asks_everyone(tmp_path: Path, rounds):
    folder = tmp_path / "kit"
    write_kit(folder, range(30))
    with Library(tmp_path / "home", jobs=2, timeout=60) as library:
        library.scan([folder])
        write_drum_hit(folder / "sample_004.wav", "hihat", seed=77)  # new sound, same file
        library.scan([folder])
        assert len(rounds[-1].asked) == rounds[-1].listeners == 30
    before = answers(tmp_path / "home")
    assert settled(tmp_path / "home") == before
    with Library(tmp_path / "home", jobs=2, timeout=60) as library:
        victim = next(s.id for s in library.ls() if s.path.endswith("sample_009.wav"))
        library.set(victim, {"type": "loop"})  # it stops voting: whom it was near, unknown
        assert len(rounds[-1].asked) == rounds[-1].listeners == 29


def test_lessons_follow_the_consensus_when_neighbours_arrive(tmp_path: Path):
    folder = tmp_path / "kit"
    folder.mkdir()
    for n in range(8):  # named teachers (teach.py needs 10 or more)
        write_drum_hit(folder / f"kick_{n:02d}.wav", "kick", seed=200 + n)
        write_drum_hit(folder / f"snare_{n:02d}.wav", "snare", seed=300 + n)
    write_kit(folder, range(30))
    with Library(tmp_path / "grown", jobs=2, timeout=60) as library:
        library.scan([folder])
        write_kit(folder, range(30, 45))
        library.scan([folder])
    grown = answers(tmp_path / "grown")
    assert any(source == "library" for _, _, source in grown.values())
    assert settled(tmp_path / "grown") == grown
