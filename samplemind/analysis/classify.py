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
from pathlib import Path

import numpy as np

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


# The score is TYPE_INTERCEPT plus each of loop_terms(cues) times its weight in TYPE_WEIGHTS.
LOOP_TERMS = (
    "one onset",  # n <= 1 (three onsets is the reference)
    "two onsets",
    "four onsets or more",
    "many onsets",  # 0 at four onsets, 1 at ten or more
    "periodicity",  # 0..1
    "fits beats",  # a whole number of beats at the detected tempo
    "cut while sounding",  # ends above -25 dB
    "decays to silence",  # ends under -50 dB
    "held to the end",  # see held_to_the_end
    "under a second",
    "two seconds or more",
)
# Hand-set weights (the rule as it was written): "loop" when several repeating onsets, whole
# beats and an end while sounding outweigh a single onset and a decay to silence. Kept after a
# check by scripts/fit_type.py on the accuracy benchmark's evaluation set (1,631 typed files,
# December 2026), one source held out at a time: a logistic regression refitted on these
# terms (learning only from the sources whose licence allows it: the MIT soundfont renders,
# Sonic Pi's CC0 samples, the Salamander piano) typed 7 more of the FluidR3 renders wrong, and
# Platt scaling of this score doubled the wrong answers at confidence >= 0.9. The catalog
# shows this confidence through the isotonic "type" map of calibration.json, fitted on the
# learnable sources (held-out ECE 0.009 on them, 0.021 on the Hydrogen and LMMS test sources).
TYPE_INTERCEPT = -1.7
TYPE_WEIGHTS = (-3.0, -1.0, 0.5, 1.5, 4.0, 1.5, 1.5, -1.0, 3.0, -1.5, 0.5)


def loop_terms(cues: LoopCues) -> tuple[float, ...]:
    """The evidence loop_score weighs, one number per LOOP_TERMS name."""
    n = cues.onset_count
    return (float(n <= 1), float(n == 2), float(n >= 4), min(1.0, max(0, n - 4) / 6),
            float(cues.periodicity), float(cues.fits_beats), float(cues.end_level_db > -25.0),
            float(cues.end_level_db < -50.0), float(held_to_the_end(cues)),
            float(cues.duration < 1.0), float(cues.duration >= 2.0))


def loop_score(cues: LoopCues, intercept: float = TYPE_INTERCEPT,
               weights: tuple[float, ...] = TYPE_WEIGHTS) -> float:
    """Log-odds that the sound is a loop (positive = loop)."""
    return intercept + sum(w * t for w, t in zip(weights, loop_terms(cues), strict=True))


def classify_type(cues: LoopCues, intercept: float = TYPE_INTERCEPT,
                  weights: tuple[float, ...] = TYPE_WEIGHTS) -> tuple[str, float]:
    """("loop" | "oneshot", confidence 0..1)."""
    if cues.duration < MIN_LOOP_SECONDS:
        return "oneshot", 0.95
    if cues.duration > MAX_LOOP_SECONDS:
        return "oneshot", 0.6
    score = loop_score(cues, intercept, weights)
    p_loop = 1.0 / (1.0 + math.exp(-score))
    if p_loop >= 0.5:
        return "loop", round(p_loop, 3)
    return "oneshot", round(1.0 - p_loop, 3)


# -- category from the sound ------------------------------------------------------------------
#
# A multinomial logistic regression over the sound vector (layout.py) plus the measured pitch,
# trained by scripts/train_category.py on openly licensed audio (FluidR3 GM soundfont renders,
# MIT; samplemind.synth sounds) and shipped as category_model.npz: input standardisation,
# weights and class names, temperature-scaled on held-out kits so that its probability is a
# calibrated confidence. Only for one-shots: a loop mixes several instruments.
#
# Classes: the eight drum/bass categories of the catalog vocabulary, plus "tonal" for any
# pitched instrument that is not a bass. From the sound alone nobody can tell a piano from a
# guitar or a synth lead reliably, and every documented name (synth, keys, guitar, pad) would be
# wrong for most pitched sounds, so the model answers "tonal" - a pitched one-shot of an
# instrument it cannot name - and names, folders, metadata or the user refine it (they win over
# the sound, and a name such as "Piano_C3" agrees with "tonal", see TONAL_FAMILY).

CATEGORY_CLASSES = ("kick", "snare", "hihat", "cymbal", "tom", "clap", "perc", "bass", "tonal")
TONAL_FAMILY = frozenset({"tonal", "synth", "keys", "guitar", "pad", "strings", "brass", "wind"})
CATEGORY_MAX_SECONDS = 12.0  # longer one-shots (textures, long material) get no category
CATEGORY_CLIP = 5.0  # standardised inputs are clipped here (one freak value can't decide)
CATEGORY_INPUTS_VERSION = "1"  # bump with category_inputs(); the model file records it
CATEGORY_MODEL = Path(__file__).with_name("category_model.npz")


def category_inputs(vector: list[float] | np.ndarray, pitch_hz: float | None) -> np.ndarray:
    """The classifier's inputs: the raw sound vector, whether a note was heard, its log2 pitch."""
    raw = np.nan_to_num(np.asarray(vector, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    pitched = pitch_hz is not None and math.isfinite(pitch_hz) and pitch_hz > 0
    extra = [1.0 if pitched else 0.0, math.log2(pitch_hz / 110.0) if pitched else 0.0]
    return np.concatenate([raw, extra])


def category_inputs_many(vectors: np.ndarray, pitches_hz: list[float | None]) -> np.ndarray:
    """category_inputs of many sounds at once (rows of `vectors`, one pitch or None each)."""
    raw = np.nan_to_num(np.asarray(vectors, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    hz = np.array([p if p is not None and math.isfinite(p) and p > 0 else np.nan
                   for p in pitches_hz], dtype=np.float64).reshape(-1, 1)
    pitched = np.isfinite(hz)
    return np.hstack([raw, pitched.astype(np.float64),
                      np.where(pitched, np.log2(np.where(pitched, hz, 110.0) / 110.0), 0.0)])


@dataclass(frozen=True)
class CategoryModel:
    classes: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray
    weights: np.ndarray
    bias: np.ndarray

    @classmethod
    def load(cls, path: Path = CATEGORY_MODEL) -> CategoryModel | None:
        """The shipped model, or None when the file is missing or made for other inputs."""
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["inputs"]) != CATEGORY_INPUTS_VERSION:
                    return None
                model = cls(tuple(str(c) for c in data["classes"]),
                            data["mean"].astype(np.float64), data["std"].astype(np.float64),
                            data["weights"].astype(np.float64), data["bias"].astype(np.float64))
        except (OSError, KeyError, ValueError):
            return None
        if model.weights.shape != (model.mean.size, len(model.classes)):
            return None
        return model

    def probabilities(self, inputs: np.ndarray) -> np.ndarray:
        """Class probabilities of one input row, or of each row of a matrix."""
        z = np.clip((inputs - self.mean) / self.std, -CATEGORY_CLIP, CATEGORY_CLIP)
        logits = z @ self.weights + self.bias
        e = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)


_MODEL: list[CategoryModel | None] = []


def category_model() -> CategoryModel | None:
    """This process's model, loaded once."""
    if not _MODEL:
        _MODEL.append(CategoryModel.load())
    return _MODEL[0]


def classify_category(vector: list[float] | np.ndarray, pitch_hz: float | None,
                      kind: str) -> tuple[str | None, float | None]:
    """(category, calibrated probability) of a one-shot from its sound; (None, None) for loops,
    or when the model is missing or the vector has another layout."""
    model = category_model()
    if kind != "oneshot" or model is None:
        return None, None
    inputs = category_inputs(vector, pitch_hz)
    if inputs.size != model.mean.size:
        return None, None
    p = model.probabilities(inputs)
    best = int(np.argmax(p))
    return model.classes[best], round(float(p[best]), 3)
