"""Category from the sound (the shipped model) and how it combines with names and the user."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from samplemind import synth
from samplemind.analysis import classify
from samplemind.analysis.calibration import calibrate
from samplemind.analysis.resolve import resolve

pytestmark = pytest.mark.slow  # the whole module: `pytest -m "not slow"` leaves it out

SR = 44100


def _generated_sounds() -> list[tuple[str, np.ndarray]]:
    """(true category, mono audio): samplemind.synth drums and notes, fixed parameters."""
    rng = np.random.default_rng(2024)
    sounds = []
    for pitch, decay in ((45.0, 0.5), (55.0, 0.3), (62.0, 0.25)):
        sounds.append(("kick", synth.kick(SR, pitch=pitch, decay=decay, rng=rng)))
    for tone_hz, brightness in ((180.0, 6000.0), (220.0, 9000.0), (160.0, 5000.0)):
        sounds.append(("snare", synth.snare(SR, tone_hz=tone_hz, brightness=brightness, rng=rng)))
    for open_, metallic in ((False, 0.5), (False, 0.8), (True, 0.4)):
        sounds.append(("hihat", synth.hihat(SR, open=open_, metallic=metallic, rng=rng)))
    for bursts in (3, 4, 5):
        sounds.append(("clap", synth.clap(SR, bursts=bursts, rng=rng)))
    for pitch in (80.0, 120.0, 180.0):
        sounds.append(("tom", synth.tom(SR, pitch=pitch, rng=rng)))
    for midi, waveform in ((33, "saw"), (40, "square"), (36, "sine")):
        sounds.append(("bass", synth.tone(SR, midi, 1.0, waveform)))
    for midi, waveform in ((64, "saw"), (72, "square"), (60, "pluck")):
        sounds.append(("tonal", synth.tone(SR, midi, 1.2, waveform)))
    return sounds


def _write(path: Path, audio: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.asarray(audio, dtype=np.float32), SR, subtype="PCM_16")
    return path


def test_model_ships_small_and_loads():
    assert classify.CATEGORY_MODEL.exists()
    assert classify.CATEGORY_MODEL.stat().st_size < 200_000
    model = classify.CategoryModel.load()
    assert model is not None
    assert model.classes == classify.CATEGORY_CLASSES
    p = model.probabilities(np.zeros(model.mean.size))
    assert p.shape == (len(model.classes),) and p.sum() == pytest.approx(1.0)


def test_no_category_from_sound_for_loops():
    vector = np.zeros(classify.CategoryModel.load().mean.size - 2)
    assert classify.classify_category(vector, None, "loop") == (None, None)


def test_generated_one_shots_get_their_category_from_the_sound(tmp_path, library):
    sounds = _generated_sounds()
    truth = {}
    for index, (category, audio) in enumerate(sounds):
        path = _write(tmp_path / "lib" / f"sample_{index:04d}.wav", audio)
        truth[str(path)] = category
    library.scan([tmp_path / "lib"])
    records = {s.path: s.record for s in library.ls()}
    assert set(records) == set(truth)
    correct = 0
    for path, category in truth.items():
        record = records[path]
        assert record["category_source"] == "dsp", record
        assert 0.0 < record["category_confidence"] <= 1.0
        correct += record["category"] == category
    # the model never saw these exact sounds; 21 sounds, 7 categories
    assert correct / len(truth) >= 0.8, {os.path.basename(p): (truth[p], records[p]["category"])
                                        for p in truth}


def test_a_name_wins_over_the_sound_and_the_user_over_both(tmp_path, library):
    kick = synth.kick(SR, pitch=50.0, rng=np.random.default_rng(1))
    named = _write(tmp_path / "lib" / "Kick_01.wav", kick)
    plain = _write(tmp_path / "lib" / "sample_0001.wav", synth.hihat(SR, rng=np.random.default_rng(2)))
    library.scan([tmp_path / "lib"])
    record = library.get(str(named)).record
    assert record["category"] == "kick" and record["category_source"] == "filename"
    record = library.get(str(plain)).record
    assert record["category_source"] == "dsp"
    corrected = library.set(str(plain), {"category": "perc"}).record
    assert corrected["category"] == "perc" and corrected["category_source"] == "user"
    assert corrected["category_confidence"] == 1.0
    library.scan([tmp_path / "lib"])
    assert library.get(str(plain)).record["category"] == "perc"
    undone = library.set(str(plain), {"category": None}).record
    assert undone["category_source"] == "dsp"


def test_a_renamed_file_keeps_its_category_from_the_sound(tmp_path, library):
    first = _write(tmp_path / "lib" / "Kick_fat.wav",
                   synth.kick(SR, pitch=48.0, decay=0.4, rng=np.random.default_rng(3)))
    library.scan([tmp_path / "lib"])
    before = library.get(str(first)).record
    assert before["category_source"] == "filename"
    moved = first.with_name("sample_0042.wav")
    first.rename(moved)
    report = library.scan([tmp_path / "lib"])
    assert report.moved == 1 and report.analysed == 0
    after = library.get(str(moved)).record
    assert after["id"] == before["id"]
    assert after["category_source"] == "dsp"
    assert after["category"] == "kick"


# -- combining the evidence (pure) -------------------------------------------------------------

def _features(category: str | None, confidence: float | None, kind: str = "oneshot") -> dict:
    return {"type": kind, "type_confidence": 0.95, "category": category,
            "category_confidence": confidence}


def test_agreeing_sound_raises_a_names_confidence():
    row = resolve(_features("kick", 0.9), {}, {"category": "kick"}, {})
    assert (row["category"], row["category_source"]) == ("kick", "filename")
    assert row["category_confidence"] == pytest.approx(0.89)


def test_tonal_sound_agrees_with_a_named_instrument():
    row = resolve(_features("tonal", 0.8), {}, {"category": "keys"}, {})
    assert row["category"] == "keys" and row["category_confidence"] == pytest.approx(0.89)


def test_a_sure_sound_that_disagrees_lowers_a_names_confidence():
    row = resolve(_features("snare", 0.9), {}, {"category": "kick"}, {})
    assert row["category"] == "kick" and row["category_confidence"] == pytest.approx(0.6)
    unsure = resolve(_features("snare", 0.4), {}, {"category": "kick"}, {})
    assert unsure["category_confidence"] == pytest.approx(0.85)
    # the model has no class for vocals: it neither supports nor contradicts them
    vocal = resolve(_features("tonal", 0.9), {}, {"category": "vocal"}, {})
    assert vocal["category_confidence"] == pytest.approx(0.85)


def test_metadata_beats_name_and_sound_and_sound_fills_the_gap():
    row = resolve(_features("perc", 0.7), {"category": "clap"}, {"category": "snare"}, {})
    assert (row["category"], row["category_source"]) == ("clap", "metadata")
    row = resolve(_features("perc", 0.7), {}, {}, {})
    assert (row["category"], row["category_confidence"], row["category_source"]) == \
        ("perc", calibrate("category", 0.7, "perc"), "dsp")  # the sound's score, calibrated


def test_a_loop_keeps_no_category_from_the_sound():
    row = resolve(_features("kick", 0.9), {}, {"type": "loop"}, {})
    assert row["type"] == "loop" and row["category"] is None and row["category_source"] is None
