"""Layer sets: the velocity layers and round robins of one sound, told apart from copies.

A sampled drum is often recorded several times: hit softly and hard (velocity layers:
``Cowbell Hard``, ``Cowbell Med``, ``Cowbell Soft``) or alike several times (round robins:
``Snare_rr1``, ``Snare_rr2``). Such files sound alike (``dupes`` finds them close), but they
are one instrument's parts, not redundant copies. A layer set is files

- in the same folder,
- whose names are the same once the layer words are taken out (``hard``, ``soft``, ``v3``,
  ``rr2``, ``ff``, ...; with ``numbered``, a trailing number too: ``Snare 1`` .. ``Snare 4``),
- and that differ by those words, or (numbered) step in loudness.

Pure functions over records (dicts with ``path``, ``name``, ``loudness_lufs``, ``peak_db``).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# Words that name a dynamic: a velocity layer's label.
VELOCITY_WORDS = frozenset(
    "hard harder hardest med medium mid middle soft softer softest loud louder loudest quiet "
    "quieter quietest light lighter heavy heavier strong weak ghost full accent accented "
    "ppp pp mp mf ff fff".split())  # not "p" and "f": "Piano F3" names a note
_VELOCITY_TOKEN = re.compile(r"^(?:v|vel|velo|velocity|layer|lyr|dyn)\d{1,3}$")
_ROUND_ROBIN_TOKEN = re.compile(r"^(?:rr|roundrobin|robin|var|alt)(\d{1,3})?$")
_NUMBER = re.compile(r"^\d{1,3}$")
# "SnareHard" -> "Snare", "Hard"; "Snare01" -> "Snare", "01"; "Kick_v2" -> "Kick", "v2" (a label
# word and the number after it are put back together below).
_TOKENS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+|[^\W\d_A-Za-z]+")
_LABEL_PREFIXES = frozenset("v vel velo velocity layer lyr dyn rr roundrobin robin var alt".split())
LOUDNESS_STEP_DB = 1.0  # numbered files count as layers only when each is this much louder


@dataclass(frozen=True)
class LayerName:
    """What a file name says about layers: the instrument it belongs to and its labels."""

    folder: str
    instrument: str  # the name without layer words, lower case ("" if nothing is left)
    velocity: str | None  # the dynamic word or v-number it carried
    round_robin: int | None  # its round-robin number (1 when "rr" carries none)
    number: int | None  # a trailing plain number (used only when numbered)
    title: str = ""  # the instrument as written ("Cowbell" of "Cowbell Hard.wav")


def layer_name(record: dict[str, Any]) -> LayerName:
    """Split a record's file name into its instrument and its layer labels."""
    path = str(record.get("path") or record.get("name") or "")
    stem = os.path.splitext(os.path.basename(path))[0]
    velocity: str | None = None
    round_robin: int | None = None
    kept: list[str] = []
    shown: list[str] = []
    words: list[str] = []
    spelled: list[str] = []
    for token in _TOKENS.findall(stem):
        word = token.lower()
        if word.isdigit() and words and words[-1] in _LABEL_PREFIXES:
            words[-1] += word
            spelled[-1] += token
        else:
            words.append(word)
            spelled.append(token)
    for word, token in zip(words, spelled):
        rr = _ROUND_ROBIN_TOKEN.match(word)
        if word in VELOCITY_WORDS or _VELOCITY_TOKEN.match(word):
            velocity = velocity or word
        elif rr and (rr.group(1) or word in ("rr", "roundrobin")):
            round_robin = int(rr.group(1) or 1)
        else:
            kept.append(word)
            shown.append(token)
    number = None
    if kept and _NUMBER.match(kept[-1]):
        number = int(kept[-1])
    return LayerName(os.path.dirname(path), " ".join(kept), velocity, round_robin, number,
                     " ".join(shown))


def _loudness(record: dict[str, Any]) -> tuple[float, float]:
    def value(name: str) -> float:
        number = record.get(name)
        return float(number) if isinstance(number, (int, float)) and math.isfinite(number) else -math.inf
    return value("loudness_lufs"), value("peak_db")


def by_loudness(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Softest first: by integrated loudness (LUFS), then peak, then name."""
    return sorted(records, key=lambda r: (*_loudness(r), str(r.get("path") or "")))


def steps_in_loudness(records: Sequence[dict[str, Any]], step: float = LOUDNESS_STEP_DB) -> bool:
    """True when every file is at least `step` dB louder (LUFS) than the next softer one."""
    levels = [_loudness(r)[0] for r in records]
    if any(not math.isfinite(level) for level in levels):
        return False
    levels.sort()
    return all(b - a >= step for a, b in zip(levels, levels[1:]))


def layer_key(record: dict[str, Any], *, numbered: bool = False) -> tuple[str, str] | None:
    """(folder, instrument) shared by a record's layer set, or None if the name carries no
    layer label (numbered: a trailing number counts as one)."""
    name = layer_name(record)
    instrument = name.instrument
    if numbered and name.number is not None:
        instrument = instrument.rpartition(" ")[0] if " " in instrument else ""
        if not instrument:
            return None  # "01.wav", "02.wav": nothing says they are one instrument
    elif name.velocity is None and name.round_robin is None:
        return None
    return name.folder, instrument


def layer_sets(records: Iterable[dict[str, Any]], *, numbered: bool = False,
               ) -> list[list[dict[str, Any]]]:
    """Sets of two or more records that are one instrument's layers, each softest first.

    Labelled sets (velocity words, round-robin numbers) count as they are; with
    `numbered`, files that differ only by a trailing number count when they also step in
    loudness (``Snare 1`` .. ``Snare 4`` at -24, -20, -17, -15 LUFS), since numbered files
    are as often different sounds."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    labels: set[tuple[Any, ...]] = set()
    for record in sorted(records, key=lambda r: str(r.get("path") or "")):
        key = layer_key(record, numbered=numbered)
        if key is None:
            continue
        label = (*key, *_labels(record, numbered))
        if label not in labels:  # a second "Cowbell Hard" is a copy of that layer: see copies()
            labels.add(label)
            groups.setdefault(key, []).append(record)
    sets = []
    for (_folder, _instrument), members in groups.items():
        if len(members) < 2:
            continue
        names = [layer_name(m) for m in members]
        labelled = any(n.velocity is not None or n.round_robin is not None for n in names)
        if labelled or steps_in_loudness(members):
            sets.append(by_loudness(members))
    sets.sort(key=lambda s: str(s[0].get("path") or ""))
    return sets


def _labels(record: dict[str, Any], numbered: bool) -> tuple[Any, ...]:
    name = layer_name(record)
    return name.velocity, name.round_robin, name.number if numbered else None


def copies(records: Iterable[dict[str, Any]], *, numbered: bool = False) -> list[dict[str, Any]]:
    """Records that share their folder, instrument and layer labels with another record
    (``Cowbell Hard.wav`` and ``Cowbell Hard.flac``): the same layer twice is a copy, not a
    layer, whatever the other files around it are (layer_sets keeps the first by path)."""
    seen: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for record in records:
        key = layer_key(record, numbered=numbered)
        if key is not None:
            seen.setdefault((*key, *_labels(record, numbered)), []).append(record)
    return [record for found in seen.values() if len(found) > 1 for record in found]
