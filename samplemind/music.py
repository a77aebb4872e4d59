"""Pitch and key vocabulary shared by analysis, metadata and queries.

Note names use sharps (``C#``), octave numbers follow scientific pitch
(A4 = 440 Hz = MIDI 69). Keys are spelled ``"A minor"`` / ``"F# major"``.
"""

from __future__ import annotations

import math
import re

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
_FLATS = {"DB": "C#", "EB": "D#", "FB": "E", "GB": "F#", "AB": "G#", "BB": "A#", "CB": "B"}
_SHARP_ODDITIES = {"E#": "F", "B#": "C"}

# Camelot wheel: number for each major key's tonic pitch class (B), and minor (A).
_CAMELOT_MAJOR = {"B": 1, "F#": 2, "C#": 3, "G#": 4, "D#": 5, "A#": 6,
                  "F": 7, "C": 8, "G": 9, "D": 10, "A": 11, "E": 12}
_CAMELOT_MINOR = {"G#": 1, "D#": 2, "A#": 3, "F": 4, "C": 5, "G": 6,
                  "D": 7, "A": 8, "E": 9, "B": 10, "F#": 11, "C#": 12}


def pitch_class(name: str) -> str | None:
    """Normalise a pitch-class spelling (``"Bb"``, ``"a#"``, ``"C♯"``) to sharps, or None."""
    text = name.strip().replace("♯", "#").replace("♭", "b")
    if not text:
        return None
    head = text[0].upper()
    if head not in "ABCDEFG":
        return None
    acc = text[1:2]
    if acc == "#":
        spelled = head + "#"
    elif acc in ("b", "B") and len(text) >= 2:
        spelled = _FLATS.get(head + "B", head)
    else:
        spelled = head
    spelled = _SHARP_ODDITIES.get(spelled, spelled)
    return spelled if spelled in NOTE_NAMES else None


def midi_to_note(midi: int) -> str:
    """MIDI number -> ``"A4"``."""
    return f"{NOTE_NAMES[midi % 12]}{midi // 12 - 1}"


def hz_to_midi(hz: float) -> float:
    """Frequency in Hz -> fractional MIDI number."""
    return 69.0 + 12.0 * math.log2(hz / 440.0)


def midi_to_hz(midi: float) -> float:
    """MIDI number -> frequency in Hz."""
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


def hz_to_note(hz: float) -> tuple[str, float]:
    """Frequency -> (nearest note name, deviation in cents)."""
    midi = hz_to_midi(hz)
    nearest = round(midi)
    return midi_to_note(nearest), (midi - nearest) * 100.0


_NOTE_RE = re.compile(r"^([A-Ga-g])([#b♯♭]?)(-?\d)$")


def note_to_midi(note: str) -> int | None:
    """``"A4"`` / ``"Bb2"`` -> MIDI number, or None when it is not a note with an octave."""
    match = _NOTE_RE.match(note.strip())
    if not match:
        return None
    pc = pitch_class(match.group(1) + match.group(2))
    if pc is None:
        return None
    return NOTE_NAMES.index(pc) + (int(match.group(3)) + 1) * 12


_KEY_RE = re.compile(
    r"^\s*([A-Ga-g])\s*([#b♯♭]?)\s*(maj(?:or)?|min(?:or)?|m|M|dur|moll)?\s*$"
)


def parse_key(text: str) -> str | None:
    """Spellings like ``"Am"``, ``"A min"``, ``"F#maj"``, ``"Bb minor"``, ``"C"`` -> ``"A minor"``."""
    match = _KEY_RE.match(text)
    if not match:
        return None
    pc = pitch_class(match.group(1) + match.group(2))
    if pc is None:
        return None
    mode = match.group(3) or ""
    minor = mode in ("m", "moll") or mode.lower().startswith("min")
    return f"{pc} {'minor' if minor else 'major'}"


def camelot(key: str | None) -> str | None:
    """``"A minor"`` -> ``"8A"``; None for None or an unknown key."""
    if not key:
        return None
    try:
        tonic, scale = key.split()
    except ValueError:
        return None
    if scale == "major":
        number = _CAMELOT_MAJOR.get(tonic)
        return f"{number}B" if number else None
    if scale == "minor":
        number = _CAMELOT_MINOR.get(tonic)
        return f"{number}A" if number else None
    return None


# -- chords ------------------------------------------------------------------------------------
#
# A chord is spelled as a root and a quality suffix: "C", "Am", "G7", "Fmaj7", "Dm7", "Asus2",
# "Esus4", "Bdim" (sharps, as note names). Its qualities and the intervals above the root:

CHORD_QUALITIES: dict[str, tuple[int, ...]] = {
    "": (0, 4, 7), "m": (0, 3, 7), "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11),
    "m7": (0, 3, 7, 10), "sus2": (0, 2, 7), "sus4": (0, 5, 7), "dim": (0, 3, 6),
}
# Spellings of each quality; only "M" (major) and "m" (minor) depend on case.
_QUALITY_WORDS: dict[str, str] = {}
for _quality, _words in {
    "": ("", "maj", "major", "M", "dur"), "m": ("m", "min", "minor", "-", "moll"),
    "7": ("7", "dom7"), "maj7": ("maj7", "M7", "major7", "ma7"),
    "m7": ("m7", "min7", "minor7", "-7", "mi7"), "sus2": ("sus2",),
    "sus4": ("sus4", "sus"), "dim": ("dim", "o", "°", "diminished"),
}.items():
    for _word in _words:
        _QUALITY_WORDS[_word] = _quality
_CHORD_RE = re.compile(r"^\s*([A-Ga-g])\s*([#b♯♭]?)\s*(.*?)\s*$")


def chord_name(root: int, quality: str) -> str:
    """(pitch class 0 = C, quality) -> ``"F#m7"``."""
    return f"{NOTE_NAMES[root % 12]}{quality}"


def parse_chord(text: str) -> tuple[int, str] | None:
    """(root pitch class, quality) of ``"Am"``, ``"A minor"``, ``"Bbmaj7"``, ``"C#sus"``,
    ``"Bdim"``, ``"G7"``, ``"C"``...; None when the text is not a chord symbol."""
    match = _CHORD_RE.match(text or "")
    if not match:
        return None
    letter, accidental, rest = match.groups()
    pc = pitch_class(letter.upper() + accidental)
    if pc is None:
        return None
    rest = rest.replace(" ", "").replace("_", "")
    for spelling in (rest, rest.lower()):  # "M7" is maj7, "Maj7" and "MIN" fold to lower case
        if spelling in _QUALITY_WORDS:
            return NOTE_NAMES.index(pc), _QUALITY_WORDS[spelling]
    return None


def canonical_chord(text: str) -> str | None:
    """``"Bb maj7"`` -> ``"A#maj7"``; None when the text is not a chord symbol."""
    parsed = parse_chord(text)
    return chord_name(*parsed) if parsed else None


def key_of_chord(chord: str | None) -> str | None:
    """The key a lone chord implies: major, 7, maj7, sus2 and sus4 -> the major key of its
    root; minor and m7 -> the minor key of its root; dim -> None (a diminished triad belongs
    to several keys equally: vii of one major key, ii of its relative minor)."""
    parsed = parse_chord(chord) if chord else None
    if parsed is None or parsed[1] == "dim":
        return None
    root, quality = parsed
    return f"{NOTE_NAMES[root]} {'minor' if quality in ('m', 'm7') else 'major'}"
