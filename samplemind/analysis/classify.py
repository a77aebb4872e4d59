"""Loop or one-shot, decided from descriptors alone (a pure function, easy to test).

Evidence, added up as a log-odds score for "loop":

- many onsets that repeat with a clear period (a pattern of several beats);
- a duration that is a whole number of beats at the detected tempo;
- ending while still sounding (a loop is cut mid-pattern; a one-shot decays
  to silence), strongest when a long sound is held at full level to the end;
- length: very short sounds are one-shots; long material (over
  ``MAX_LOOP_SECONDS``) is never called a loop - "oneshot" then just means
  "not a loop".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIN_LOOP_SECONDS = 0.9  # shorter than a beat or two: a one-shot
MAX_LOOP_SECONDS = 64.0  # 16 bars at 60 BPM


@dataclass(frozen=True)
class LoopCues:
    """What the classifier looks at."""

    duration: float  # seconds
    onset_count: int
    periodicity: float  # 0..1, autocorrelation peak of the onset envelope in 70-180 BPM
    end_level_db: float  # level of the last ~46 ms relative to the loudest part (<= 0)
    fits_beats: bool  # the duration is a whole number of beats at the detected tempo
    ioi_cv: float = 0.0  # spread of inter-onset intervals (0 = perfectly even)
    temporal_centroid: float = 0.5  # 0..1: where the energy sits in time


HELD_SECONDS = 3.0
HELD_END_DB = -6.0


def held_to_the_end(cues: LoopCues) -> bool:
    """Long, evenly loud and cut at full level: a drone/pad/chord loop rather than a one-shot.

    (A riser also ends loud, but its energy sits late, not evenly spread.)
    """
    return (cues.duration >= HELD_SECONDS and cues.end_level_db >= HELD_END_DB
            and 0.35 <= cues.temporal_centroid <= 0.65)


def loop_score(cues: LoopCues) -> float:
    """Log-odds that the sound is a loop (positive = loop)."""
    score = -1.0
    n = cues.onset_count
    if n <= 1:
        score -= 2.5
    elif n == 2:
        score -= 0.5
    elif n >= 4:
        score += 1.0 + min(1.5, 0.25 * (n - 4))
    else:
        score += 0.5
    score += 4.0 * (cues.periodicity - 0.3)
    if cues.fits_beats:
        score += 1.5
    if cues.end_level_db > -25.0:
        score += 1.5  # cut while sounding
    elif cues.end_level_db < -50.0:
        score -= 1.0  # decayed to silence
    if held_to_the_end(cues):
        score += 3.0  # outweighs "only one onset": sustained loops have few
    if cues.duration < 1.0:
        score -= 1.5
    elif cues.duration >= 2.0:
        score += 0.5
    return score


def classify_type(cues: LoopCues) -> tuple[str, float]:
    """("loop" | "oneshot", confidence 0..1)."""
    if cues.duration < MIN_LOOP_SECONDS:
        return "oneshot", 0.95
    if cues.duration > MAX_LOOP_SECONDS:
        return "oneshot", 0.6
    score = loop_score(cues)
    p_loop = 1.0 / (1.0 + math.exp(-score))
    if p_loop >= 0.5:
        return "loop", round(p_loop, 3)
    return "oneshot", round(1.0 - p_loop, 3)
