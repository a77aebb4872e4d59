"""What "dark", "punchy", "long" or "loud" mean in numbers, per kind of sound.

A dark hi-hat is far brighter than a bright kick, so each word is judged against
sounds of its own group. The cut-offs are the lower and upper thirds (33rd and 67th
percentiles, two significant figures) of each descriptor as samplemind measures it, over
1,649 sounds whose licence lets us learn from them: the accuracy benchmark's learnable
sources (FluidR3 and MuseScore General renders, MIT; Sonic Pi, CC0; Salamander piano
chords, CC BY 3.0), the real drum kits of scripts/fetch_training_kits.sh (eXaDrums, STK,
drumterm), the two soundfonts' GM drum kits and 120 drum loops sequenced from Sonic Pi's
hits, grouped by labelled category (loops by type); never the GPL Hydrogen and LMMS kits.
A group of fewer than 20 sounds (today: clap) uses loops' or all sounds' thirds.
scripts/fit_descriptors.py writes the table, descriptor_thresholds.json beside this file,
with what each group was fitted on under "_fitted_on". README: Local AI.
The same table turns measurements into words in the describe prompt, so the model and
the built-in translator agree on what "dark" means.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Group -> descriptor -> (low third up to, high third from): the measured table, kept as
# data beside this file; keys starting "_" say what it was fitted on and are not groups.
THRESHOLDS_FILE = Path(__file__).with_name("descriptor_thresholds.json")
THRESHOLDS: dict[str, dict[str, tuple[float, float]]] = {
    group: {name: (low, high) for name, (low, high) in cuts.items()}
    for group, cuts in json.loads(THRESHOLDS_FILE.read_text()).items()
    if not group.startswith("_")}
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
