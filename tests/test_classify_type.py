"""Loop or one-shot from the cues alone: the rule's shape, its confidence, its typical cases."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from samplemind.analysis import classify
from samplemind.analysis.classify import LoopCues, classify_type, loop_score, loop_terms


def random_cues(count: int, seed: int = 7) -> list[LoopCues]:
    rng = np.random.default_rng(seed)
    return [LoopCues(duration=float(rng.choice([0.5, 0.95, 1.5, 2.5, 4.0, 9.0, 80.0])
                                    * rng.uniform(0.9, 1.1)),
                     onset_count=int(rng.integers(0, 20)), periodicity=float(rng.uniform()),
                     end_level_db=float(rng.uniform(-90, 0)), fits_beats=bool(rng.uniform() < 0.5),
                     ioi_cv=float(rng.uniform()), temporal_centroid=float(rng.uniform()))
            for _ in range(count)]


def test_every_term_has_a_name_and_a_weight():
    terms = loop_terms(random_cues(1)[0])
    assert len(terms) == len(classify.LOOP_TERMS) == len(classify.TYPE_WEIGHTS)
    assert all(np.isfinite(terms)) and np.isfinite(classify.TYPE_INTERCEPT)


def test_confidence_is_within_0_and_1_and_monotone_in_the_score():
    answers = []
    for cues in random_cues(3000):
        kind, confidence = classify_type(cues)
        assert kind in ("loop", "oneshot") and 0.0 <= confidence <= 1.0
        if classify.MIN_LOOP_SECONDS <= cues.duration <= classify.MAX_LOOP_SECONDS:
            assert confidence >= 0.5  # the answer is the likelier one
            answers.append((loop_score(cues), p_loop(cues), kind))
        else:  # too short or too long to be a loop, whatever the cues say
            assert kind == "oneshot"
    answers.sort()
    likelihood = np.array([p for _, p, _ in answers])
    assert np.all(np.diff(likelihood) >= -1e-9)  # a higher score never means less likely a loop
    assert all((kind == "loop") == (score >= 0) for score, _, kind in answers)


def test_weights_passed_in_decide_like_the_shipped_ones():
    """scripts/fit_type.py scores candidate weights through the same function."""
    for cues in random_cues(200, seed=3):
        assert classify_type(cues, classify.TYPE_INTERCEPT, classify.TYPE_WEIGHTS) \
            == classify_type(cues)


DRUM_LOOP = LoopCues(duration=4.0, onset_count=16, periodicity=0.7, end_level_db=-10.0,
                     fits_beats=True, ioi_cv=0.1, temporal_centroid=0.5)
HIT = LoopCues(duration=1.2, onset_count=1, periodicity=0.0, end_level_db=-70.0,
               fits_beats=False, temporal_centroid=0.1)


@pytest.mark.parametrize(("cues", "kind"), [
    (DRUM_LOOP, "loop"),
    (HIT, "oneshot"),
    # a pad or chord held at full level and cut: a loop, though it has a single onset
    (LoopCues(duration=8.0, onset_count=1, periodicity=0.1, end_level_db=-3.0, fits_beats=True,
              temporal_centroid=0.5), "loop"),
    # a riser also ends loud, but its energy sits late: a one-shot
    (LoopCues(duration=3.0, onset_count=1, periodicity=0.0, end_level_db=-2.0, fits_beats=False,
              temporal_centroid=0.85), "oneshot"),
    # a few hits at random, then silence
    (LoopCues(duration=3.1, onset_count=3, periodicity=0.1, end_level_db=-80.0, fits_beats=False,
              ioi_cv=0.8, temporal_centroid=0.2), "oneshot"),
    # too short to be a loop, too long to be called one
    (dataclasses.replace(DRUM_LOOP, duration=0.5), "oneshot"),
    (dataclasses.replace(DRUM_LOOP, duration=300.0, onset_count=600), "oneshot"),
])
def test_typical_sounds(cues, kind):
    assert classify_type(cues)[0] == kind


@pytest.mark.parametrize("change", [
    {"onset_count": 1}, {"periodicity": 0.1}, {"fits_beats": False}, {"end_level_db": -70.0},
    {"duration": 1.5},
])
def test_taking_evidence_away_makes_a_loop_less_likely(change):
    weaker = dataclasses.replace(DRUM_LOOP, **change)
    assert loop_score(weaker) < loop_score(DRUM_LOOP)
    assert p_loop(weaker) <= p_loop(DRUM_LOOP)


def p_loop(cues: LoopCues) -> float:
    kind, confidence = classify_type(cues)
    return confidence if kind == "loop" else 1 - confidence
