"""What "dark", "punchy", "long" or "loud" mean in numbers, per kind of sound.

A dark hi-hat is far brighter than a bright kick, so each word is judged against
sounds of its own group. The cut-offs are the lower and upper thirds (33rd and 67th
percentiles, rounded) of each descriptor over 1,643 real one-shots and loops (the
accuracy benchmark's sample set: soundfont renders, Sonic Pi, Hydrogen and LMMS kits),
grouped by category; a group without enough samples uses the whole set. README: Local AI.
The same table turns measurements into words in the describe prompt, so the model and
the built-in translator agree on what "dark" means.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Group -> descriptor -> (low third up to, high third from).
THRESHOLDS: dict[str, dict[str, tuple[float, float]]] = {
    "all": {"spectral_centroid": (420, 1900), "spectral_flatness": (0.0001, 0.011),
            "duration": (0.55, 1.8), "loudness_lufs": (-23, -16)},
    "loop": {"spectral_centroid": (360, 750), "spectral_flatness": (0.0001, 0.013),
             "duration": (4.4, 7.6), "loudness_lufs": (-20, -15)},
    "kick": {"spectral_centroid": (64, 120), "spectral_flatness": (0.00001, 0.00012),
             "duration": (0.22, 0.51), "loudness_lufs": (-21, -14)},
    "snare": {"spectral_centroid": (590, 1500), "spectral_flatness": (0.0017, 0.01),
              "duration": (0.46, 0.95), "loudness_lufs": (-24, -20)},
    "hihat": {"spectral_centroid": (6600, 8600), "spectral_flatness": (0.092, 0.23),
              "duration": (0.35, 0.82), "loudness_lufs": (-25, -21)},
    "cymbal": {"spectral_centroid": (3400, 5500), "spectral_flatness": (0.01, 0.07),
               "duration": (2.0, 5.7), "loudness_lufs": (-33, -25)},
    "clap": {"spectral_centroid": (1800, 2600), "spectral_flatness": (0.0045, 0.033),
             "duration": (0.28, 0.61), "loudness_lufs": (-25, -19)},
    "tom": {"spectral_centroid": (150, 240), "spectral_flatness": (0.00005, 0.00047),
            "duration": (0.84, 2.0), "loudness_lufs": (-26, -22)},
    "perc": {"spectral_centroid": (660, 2300), "spectral_flatness": (0.001, 0.013),
             "duration": (0.26, 0.68), "loudness_lufs": (-24, -16)},
    "bass": {"spectral_centroid": (120, 290), "spectral_flatness": (0.00001, 0.0001),
             "duration": (0.64, 1.4), "loudness_lufs": (-16, -13)},
    "tonal": {"spectral_centroid": (550, 1200), "spectral_flatness": (0.00001, 0.0001),
              "duration": (1.4, 1.7), "loudness_lufs": (-16, -11)},
}
# Pitched categories with too few samples of their own share one group.
GROUP_OF = {"tonal": "tonal", "pad": "tonal", "synth": "tonal", "keys": "tonal",
            "guitar": "tonal", "vocal": "tonal"}

# The attack is measured in steps of 2.9 ms, so thirds are meaningless there: a fixed
# "sharp" (10 ms, about the median) and "slow" (50 ms, the upper quarter) serve all groups.
PUNCHY_ATTACK = 0.010
SLOW_ATTACK = 0.050


def group_for(category: str | None, type: str | None) -> str:
    """The threshold group for a sound: its category's, else loops', else all sounds'."""
    if category:
        name = GROUP_OF.get(category, category)
        if name in THRESHOLDS:
            return name
    return "loop" if type == "loop" else "all"


def cutoffs(field: str, category: str | None = None, type: str | None = None) -> tuple[float, float]:
    """(low third up to, high third from) of a descriptor for a kind of sound."""
    return THRESHOLDS[group_for(category, type)][field]


@dataclass(frozen=True)
class Scale:
    """Words for the low, middle and high third of one descriptor."""

    field: str
    low: str
    middle: str
    high: str


SCALES = (
    Scale("spectral_centroid", "dark", "neither dark nor bright", "bright"),
    Scale("spectral_flatness", "clean, tonal", "slightly noisy", "noisy"),
    Scale("duration", "short", "medium length", "long"),
    Scale("loudness_lufs", "quiet", "medium loud", "loud"),
)


def level_words(record: dict[str, Any]) -> dict[str, str]:
    """Descriptor -> a word placing this sound among sounds of its kind ("dark", "long")."""
    words: dict[str, str] = {}
    category, kind = record.get("category"), record.get("type")
    for scale in SCALES:
        value = record.get(scale.field)
        if value is None:
            continue
        low, high = cutoffs(scale.field, category, kind)
        words[scale.field] = scale.low if value <= low else scale.high if value >= high \
            else scale.middle
    attack = record.get("attack_time")
    if attack is not None:
        words["attack_time"] = ("sharp, punchy" if attack <= PUNCHY_ATTACK else
                                "slow, swelling" if attack >= SLOW_ATTACK else "moderate")
    return words
