"""Calibrated confidence (analysis/calibration.py) and `ls --min-confidence`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from samplemind import synth
from samplemind.analysis import calibration
from samplemind.analysis.calibration import (
    CalibrationMap,
    calibrate,
    expected_calibration_error,
    fit_isotonic,
    hide_uncertain,
    trusted_terms,
)
from samplemind.analysis.resolve import resolve

from audio_fixtures import write_audio
from helpers import run_cli

pytestmark = pytest.mark.slow  # the whole module: `pytest -m "not slow"` leaves it out

SR = 44100


def test_shipped_maps_are_monotone_and_within_0_1():
    data = json.loads(calibration.CALIBRATION_FILE.read_text())
    assert data["version"] == calibration.CALIBRATION_VERSION
    maps = calibration.maps()
    assert "category" in maps and "type" in maps
    for name, mapping in maps.items():
        assert name.split(":")[0] in calibration.ESTIMATES
        assert list(mapping.x) == sorted(mapping.x), name
        grid = np.linspace(-0.5, 1.5, 401)
        values = np.array([mapping(v) for v in grid])
        assert np.all(np.diff(values) >= -1e-12), name
        assert values.min() >= 0.0 and values.max() <= 1.0, name


def test_fitted_map_is_monotone_even_on_noisy_answers():
    rng = np.random.default_rng(3)
    raw = rng.uniform(0, 1, 500)
    right = rng.uniform(0, 1, 500) < np.clip(raw + rng.normal(0, 0.3, 500), 0, 1)
    mapping = fit_isotonic(raw, right)
    values = [mapping(v) for v in np.linspace(0, 1, 101)]
    assert all(b >= a for a, b in zip(values, values[1:]))
    assert 0.0 <= min(values) and max(values) <= 1.0


def test_a_map_fitted_on_some_sources_is_calibrated_on_another():
    """Overconfident raw scores (right with chance raw**2) from three 'sources' with their own
    spread of scores: a map fitted on two brings the third within the goal."""
    rng = np.random.default_rng(11)

    def source(low: float, high: float, n: int = 1500) -> tuple[np.ndarray, np.ndarray]:
        raw = rng.uniform(low, high, n)
        return raw, (rng.uniform(0, 1, n) < raw ** 2).astype(float)

    sources = [source(0.2, 1.0), source(0.4, 1.0), source(0.3, 0.95)]
    for held in range(3):
        raw = np.concatenate([s[0] for i, s in enumerate(sources) if i != held])
        right = np.concatenate([s[1] for i, s in enumerate(sources) if i != held])
        mapping = fit_isotonic(raw, right)
        test_raw, test_right = sources[held]
        calibrated = np.array([mapping(v) for v in test_raw])
        before = expected_calibration_error(test_raw, test_right)
        after = expected_calibration_error(calibrated, test_right)
        assert before > 0.1  # the raw scores were not calibrated
        assert after <= 0.05, (held, after)


def test_calibrate_passes_none_and_unknown_estimates_through(monkeypatch):
    assert calibrate("key", None) is None
    monkeypatch.setattr(calibration, "maps", lambda path=None: {})
    assert calibrate("key", 0.42) == 0.42
    monkeypatch.setattr(calibration, "maps",
                        lambda path=None: {"key": CalibrationMap([0.0, 1.0], [0.1, 0.5])})
    assert calibrate("key", 0.5) == pytest.approx(0.3)
    assert calibrate("key", 2.0) == pytest.approx(0.5)


def test_resolve_calibrates_the_signals_estimates_only(monkeypatch):
    monkeypatch.setattr(calibration, "maps",
                        lambda path=None: {"key": CalibrationMap([0.0, 1.0], [0.0, 0.5])})
    features = {"type": "loop", "type_confidence": 0.9, "key": "A minor", "key_confidence": 0.8}
    row = resolve(features, {}, {}, {})
    assert row["key_confidence"] == pytest.approx(0.4)
    named = resolve(features, {}, {"key": "C major"}, {})
    assert named["key_source"] == "filename" and named["key_confidence"] == pytest.approx(0.6)
    assert resolve(features, {}, {}, {"key": "C major"})["key_confidence"] == 1.0


def _generated_hits(seed: int) -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    u = rng.uniform
    hits = []
    for _ in range(3):
        hits.append(("kick", synth.kick(SR, pitch=u(42, 65), decay=u(0.2, 0.5), rng=rng)))
        hits.append(("snare", synth.snare(SR, tone_hz=u(160, 240), brightness=u(5000, 10000),
                                          rng=rng)))
        hits.append(("hihat", synth.hihat(SR, open=bool(rng.random() < 0.3),
                                          metallic=u(0.3, 0.8), rng=rng)))
    return hits


def test_shipped_model_and_maps_on_generated_kick_snare_hat(tmp_path, library):
    """Held-out generated hits (seeds the trainer never used): the shipped model names them
    and its calibrated confidence is not overconfident: the mean confidence is no higher
    than the share right plus the goal's 0.05."""
    truth = {}
    for index, (category, audio) in enumerate(_generated_hits(77)):
        path = tmp_path / "lib" / f"hit_{index:03d}.wav"
        path.parent.mkdir(exist_ok=True)
        write_audio(path, audio[:, None] if audio.ndim == 1 else audio, SR)
        truth[str(path)] = category
    library.scan([tmp_path / "lib"])
    records = {s.path: s.record for s in library.ls()}
    right = [records[p]["category"] == c for p, c in truth.items()]
    confidence = [records[p]["category_confidence"] for p in truth]
    assert np.mean(right) >= 0.85, {Path(p).name: (c, records[p]["category"])
                                    for p, c in truth.items()}
    assert all(0.0 < c <= 1.0 for c in confidence)
    assert np.mean(confidence) <= np.mean(right) + 0.05


def test_hide_uncertain_nulls_estimates_below_the_threshold():
    record = {"key": "A minor", "key_confidence": 0.4, "key_source": "dsp", "camelot": "8A",
              "bpm": 120.0, "bpm_confidence": 0.95, "bpm_alternatives": [60.0, 240.0],
              "category": "kick", "category_confidence": None, "note": None}
    shown = hide_uncertain(record, 0.9)
    assert shown["key"] is None and shown["camelot"] is None
    assert shown["key_confidence"] == 0.4 and shown["key_source"] == "dsp"
    assert shown["bpm"] == 120.0 and shown["bpm_alternatives"] == [60.0, 240.0]
    assert shown["category"] is None  # no confidence: not trusted
    assert record["key"] == "A minor"  # the input is left alone


def test_trusted_terms_follow_the_filtered_estimates():
    assert trusted_terms("cat:kick bpm:120..130 -key:Am", [], 0.8) == \
        "category_confidence:0.8.. bpm_confidence:0.8.."
    assert trusted_terms(None, ["key"], 0.5) == "key_confidence:0.5.."
    assert trusted_terms("dark punchy", [], 0.9) == ""


def test_ls_min_confidence_hides_and_filters(tmp_path):
    """Signal estimates stay under 1.0 (a calibrated map never promises certainty) and names
    count 0.85 or so; a user's correction is 1.0."""
    home = tmp_path / "home"
    rng = np.random.default_rng(5)
    kick = synth.kick(SR, pitch=50.0, decay=0.4, rng=rng)
    (tmp_path / "lib").mkdir()
    for name, gain in (("a.wav", 1.0), ("Kick_named.wav", 0.9), ("b.wav", 0.8)):
        write_audio(tmp_path / "lib" / name, kick * gain, SR)
    assert run_cli("scan", str(tmp_path / "lib"), home=home).returncode == 0
    fixed = run_cli("set", str(tmp_path / "lib" / "b.wav"), "category=kick", home=home)
    assert fixed.returncode == 0, fixed.stderr

    def listing(*args: str) -> dict[str, dict]:
        done = run_cli("ls", *args, "--format", "json", home=home)
        assert done.returncode == 0, done.stderr
        return {Path(r["path"]).name: r for r in json.loads(done.stdout)}

    plain = listing()
    assert plain["a.wav"]["category_source"] == "dsp"
    assert plain["a.wav"]["category_confidence"] < 1.0
    assert plain["Kick_named.wav"]["category"] == "kick"

    certain = listing("--min-confidence", "1")
    assert certain["a.wav"]["category"] is None  # shown as unknown ...
    assert certain["a.wav"]["category_confidence"] == plain["a.wav"]["category_confidence"]
    assert certain["Kick_named.wav"]["category"] is None
    assert certain["b.wav"]["category"] == "kick"  # ... but a correction is certain
    assert certain["a.wav"]["type"] is None and plain["a.wav"]["type"] == "oneshot"

    named = listing("--min-confidence", "0.8")
    assert named["Kick_named.wav"]["category"] == "kick"
    # filters match trusted estimates only
    assert set(listing("cat:kick", "--min-confidence", "1")) == {"b.wav"}
    assert set(listing("--category", "kick", "--min-confidence", "1")) == {"b.wav"}
    assert "Kick_named.wav" in listing("cat:kick", "--min-confidence", "0.8")
    assert {n: r["category"] for n, r in listing("--min-confidence", "0").items()} == \
        {n: r["category"] for n, r in plain.items()}
    assert run_cli("ls", "--min-confidence", "1.5", home=home).returncode == 2


def test_raw_score_undoes_calibrate_where_the_map_rises():
    """teach.py weighs lessons against the sound's raw probability: raw_score inverts the map
    (to within its flat parts)."""
    for name, mapping in calibration.maps().items():
        estimate, _, value = name.partition(":")
        rising = np.nonzero(np.diff(mapping.y) > 1e-3)[0]
        for i in rising[:5]:
            raw = float((mapping.x[i] + mapping.x[i + 1]) / 2)
            back = calibration.raw_score(estimate, calibrate(estimate, raw, value or None),
                                         value or None)
            assert back == pytest.approx(raw, abs=0.02), name
    assert calibration.raw_score("category", None) is None
