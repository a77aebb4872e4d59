"""Hints from a sample's file name and parent folders: bpm, key, chord, note, type, category.

Sample packs encode a lot in names (``Loop_128_Am.wav``, ``Kicks/BD_Punchy.wav``).
Everything here is deliberately conservative: a wrong hint is worse than none,
because the DSP estimate is there to fall back on.
"""

from __future__ import annotations

import os
import re

from samplemind.music import (
    NOTE_NAMES,
    camelot,
    canonical_chord,
    key_of_chord,
    midi_to_note,
    note_to_midi,
    parse_key,
    pitch_class,
)

__all__ = ["filename_hints"]

# Category priority when one name holds several words: specific drum words beat
# instrument words, which beat the catch-alls ("Synth_Bass" is bass, "Vocal_FX" vocal).
_PRIORITY = ("kick", "snare", "clap", "hihat", "cymbal", "tom", "perc", "bass", "vocal",
             "keys", "guitar", "pad", "synth", "fx")

# word -> category. Words in _WEAK are abbreviations that only count when no full word does.
_WORDS: dict[str, str] = {}
for _cat, _words in {
    "kick": "kick kik kck bassdrum kickdrum bd",
    "snare": "snare snr snaredrum rim rimshot sd sn",
    "hihat": "hat hihat openhat closedhat hh oh ch ohh chh",
    "cymbal": "cymbal cym crash ride china splash",
    "tom": "tom floortom",
    "clap": "clap clp handclap cp snap",
    "perc": "perc percussion shaker conga bongo cowbell tamb tambourine woodblock clave "
            "claves tabla triangle timbale djembe guiro cabasa agogo maracas",
    "bass": "bass bassline sub reese",
    "synth": "synth lead pluck arp stab",
    "pad": "pad atmos atmosphere drone amb ambi ambient texture",
    "keys": "keys piano rhodes epiano organ wurli wurlitzer clav clavinet",
    "guitar": "guitar gtr guit",
    "vocal": "vocal vox voice acapella acappella chant choir adlib",
    "fx": "fx sfx riser impact sweep whoosh woosh swoosh noise downlifter uplifter vinyl "
          "hiss scratch glitch transition",
}.items():
    for _w in _words.split():
        _WORDS[_w] = _cat
_WEAK = {"bd", "sd", "sn", "hh", "oh", "ch", "ohh", "chh", "cp", "snap", "sub", "reese",
         "amb", "ambi", "ambient", "texture"}

# Two-word phrases that mean something other than their parts; they consume both words.
_PHRASES: dict[tuple[str, str], str] = {
    ("bass", "drum"): "kick", ("drum", "bass"): "kick",  # sonic-pi: drum_bass_hard
    ("kick", "drum"): "kick", ("snare", "drum"): "snare", ("rim", "shot"): "snare",
    ("hi", "hat"): "hihat", ("hand", "clap"): "clap", ("sub", "bass"): "bass",
    ("cymbal", "open"): "hihat", ("cymbal", "closed"): "hihat",  # drum_cymbal_open
    ("cymbal", "pedal"): "hihat", ("a", "capella"): "vocal", ("one", "shot"): "oneshot",
}
_LOOP_WORDS = {"loop", "loops", "looped"}
_ONESHOT_WORDS = {"oneshot", "oneshots", "hit", "hits", "shot", "shots"}
_BPM_CONTEXT = _LOOP_WORDS | {"groove", "grooves", "beat", "beats", "break", "breaks",
                              "breakbeat", "riff", "riffs", "fill", "fills"}
# A folder made of these words but naming no category is a drum folder: don't look past it.
_STOP_WORDS = {"drum", "drums", "drumkit", "kit", "kits"}

_COARSE = re.compile(r"(?:[^\W_]|[#♯♭])+")
_FINE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+|[^\W\d_A-Za-z]+")
_BPM_AFTER = re.compile(r"(?<![\d.])(\d{2,3}(?:\.\d{1,2})?)\s*[-_ ]?\s*bpm", re.IGNORECASE)
_BPM_BEFORE = re.compile(r"bpm\s*[-_ =:]?\s*(\d{2,3}(?:\.\d{1,2})?)(?![\d.])", re.IGNORECASE)
_NOTE_TOKEN = re.compile(r"^([A-G])([#♯b♭]?)(\d)$")
_NOTE_MINUS1 = re.compile(r"(?:^|[\s_.()\[\]])([A-G][#♯b♭]?)-1(?=$|[\s_.()\[\]])")
# "Am", "F#m", "Bbmaj", "cminor"; a bare "M" is not accepted (FM, AM/PM).
_KEY_TOKEN = re.compile(r"^([A-Ga-g])([#♯b♭]?)([A-Za-z]+)$")
_PITCH_TOKEN = re.compile(r"^[A-Ga-g][#♯b♭]?$")
_MODE_WORDS = {"min": "minor", "minor": "minor", "maj": "major", "major": "major"}
# Chord symbols: a root and a quality. Those whose quality only a chord has ("Cmaj7", "F#m7",
# "Gsus4", "Bdim") count anywhere in the name; "Am", "C" or "G7" (also a key, a note name, a
# note with its octave) only next to a chord word ("Am_chord", "C Stab", "G7 strum").
_CHORD_TOKEN = re.compile(r"^([A-G])([#♯b♭]?)(maj7|M7|m7|min7|7|sus2|sus4|sus|dim|m|min|maj|)$")
_CHORD_ONLY_QUALITIES = {"maj7", "M7", "m7", "min7", "sus2", "sus4", "sus", "dim"}
_CHORD_WORDS = {"chord", "stab", "stabs", "strum", "strums", "strummed"}  # "chords": a progression
_CAMELOT_TOKEN = re.compile(r"^(1[0-2]|[1-9])([AB])$")
_CAMELOT_TO_KEY = {camelot(f"{pc} {mode}"): f"{pc} {mode}"
                   for pc in NOTE_NAMES for mode in ("major", "minor")}


def filename_hints(path: str) -> dict:
    """Hints (bpm, key, note, type, category) from a file name and up to 3 parent folders."""
    try:
        return _hints(os.fspath(path))
    except Exception:  # noqa: BLE001 - a strange name must never break a scan
        return {}


def _hints(path: str) -> dict:
    parts = [p for p in re.split(r"[\\/]+", path) if p]
    if not parts:
        return {}
    stem = os.path.splitext(parts[-1])[0] or parts[-1]
    components = [stem] + list(reversed(parts[-4:-1]))  # name first, then nearest folder
    # Loop words in the name or its own folder make bare numbers and "8A" believable.
    context = any(w in _BPM_CONTEXT or _is_loop_word(w)
                  for c in components[:2] for w in _fine_words(c))
    out: dict = {}
    category_done = False
    for index, comp in enumerate(components):
        is_name = index == 0
        tokens = _COARSE.findall(comp)
        bpm = _explicit_bpm(comp)
        key = _key(tokens, context or bpm is not None)
        if bpm is None and is_name:
            bpm = _lone_bpm(tokens, context or key is not None)
        if bpm is not None:
            out.setdefault("bpm", bpm)
        if key is not None:
            out.setdefault("key", key)
        if is_name:
            chord = _chord(comp, tokens)
            if chord is not None:
                out["chord"] = chord
                # A lone chord implies its key (music.key_of_chord) unless the name gives one.
                implied = key_of_chord(chord)
                if "key" not in out and implied is not None and not _names_key(tokens, chord):
                    out["key"] = implied
                elif _names_key(tokens, chord) and out.get("key") != implied:
                    out.pop("key", None)  # "Am7": the key token was the chord's root
                    if implied is not None:
                        out["key"] = implied
            note = _note(comp, tokens) if chord is None else None
            if note is not None:
                out["note"] = note
        category, kind, stop = _words(comp)
        if kind is None and bpm is not None:
            kind = "loop"
        if kind is not None:
            out.setdefault("type", kind)
        if not category_done:
            if category is not None:
                out["category"] = category
                category_done = True
            elif stop and not is_name:
                category_done = True  # "Drums/": a farther "Vocal Pack/" says nothing here
    return out


def _fine_words(component: str) -> list[str]:
    """Lower-case words, with camelCase and digit runs split ("DrumLoop90" -> drum, loop, 90)."""
    words: list[str] = []
    # "&" becomes a word so "Drum & Bass" is not the phrase "drum bass".
    for token in _COARSE.findall(component.replace("&", " and ")):
        words.extend(w.lower() for w in _FINE.findall(token))
    return words


def _is_loop_word(word: str) -> bool:
    return word in _LOOP_WORDS or word.endswith(("loop", "loops"))


def _lookup(word: str) -> str | None:
    if word in _WORDS:
        return _WORDS[word]
    if word.endswith("s") and word[:-1] in _WORDS and word[:-1] not in _WEAK:
        return _WORDS[word[:-1]]  # plurals: kicks, hats, pads
    return None


def _words(component: str) -> tuple[str | None, str | None, bool]:
    """(category, type, names-a-drum-folder) from the words of one path component."""
    words = _fine_words(component)
    found: list[tuple[bool, str]] = []  # (weak, category)
    loop = oneshot = stop = False
    i = 0
    while i < len(words):
        word = words[i]
        if word in ("drum", "drums") and words[i + 1:i + 3] in (["and", "bass"], ["n", "bass"]):
            i += 3  # "Drum & Bass" is a genre, not a bass sound
            continue
        phrase = _PHRASES.get((word, words[i + 1])) if i + 1 < len(words) else None
        if phrase == "oneshot":
            oneshot = True
            i += 2
            continue
        if phrase is not None:
            found.append((False, phrase))
            i += 2
            continue
        if _is_loop_word(word):
            loop = True
            word = word[: word.rfind("loop")]  # "percloop" still says perc
        elif word in _ONESHOT_WORDS:
            oneshot = True
        stop = stop or word in _STOP_WORDS
        category = _lookup(word) if word else None
        if category is not None:
            found.append((word in _WEAK, category))
        i += 1
    best = min(found, key=lambda f: (f[0], _PRIORITY.index(f[1])), default=None)
    kind = "loop" if loop else "oneshot" if oneshot else None
    return (best[1] if best else None), kind, stop


def _as_bpm(text: str) -> float | None:
    value = float(text)
    return value if 30.0 <= value <= 300.0 else None


def _explicit_bpm(component: str) -> float | None:
    for pattern in (_BPM_AFTER, _BPM_BEFORE):
        for match in pattern.finditer(component):
            value = _as_bpm(match.group(1))
            if value is not None:
                return value
    return None


def _lone_bpm(tokens: list[str], context: bool) -> float | None:
    """A bare number 60-200 counts as a tempo only next to loop words or a key, and only once."""
    if not context:
        return None
    candidates = {int(t) for t in tokens
                  if t.isascii() and t.isdigit() and len(t) in (2, 3) and t[0] != "0"
                  and 60 <= int(t) <= 200}
    return float(candidates.pop()) if len(candidates) == 1 else None


def _key(tokens: list[str], loopish: bool) -> str | None:
    for i, token in enumerate(tokens):
        match = _KEY_TOKEN.match(token)
        if match:
            letter, accidental, mode = match.groups()
            if mode == "m":
                scale = "minor" if letter.isupper() else None  # "Am" yes, "am" no
            else:
                scale = _MODE_WORDS.get(mode.lower())  # "M" alone is never a mode
            if scale:
                return _spell(letter + accidental, scale)
        if _PITCH_TOKEN.match(token) and i + 1 < len(tokens):
            scale = _MODE_WORDS.get(tokens[i + 1].lower())
            if scale:
                return _spell(token, scale)
        # Camelot codes ("8A") look like variant labels unless the name is clearly a loop.
        if loopish and _CAMELOT_TOKEN.match(token):
            return _CAMELOT_TO_KEY.get(token)
    return None


def _spell(tonic: str, mode: str) -> str | None:
    pc = pitch_class(tonic)
    return parse_key(f"{pc} {mode}") if pc else None


def _note(component: str, tokens: list[str]) -> str | None:
    for token in tokens:
        match = _NOTE_TOKEN.match(token)
        if match:
            midi = note_to_midi(token.replace("♯", "#").replace("♭", "b"))
            if midi is not None and 0 <= midi <= 127:
                return midi_to_note(midi)
    match = _NOTE_MINUS1.search(component)  # "C-1": the '-' is also a separator
    if match:
        midi = note_to_midi(match.group(1).replace("♯", "#").replace("♭", "b") + "-1")
        if midi is not None and 0 <= midi <= 127:
            return midi_to_note(midi)
    return None


def _chord(component: str, tokens: list[str]) -> str | None:
    """A chord symbol in a name: see _CHORD_TOKEN. None when there is none, or two different."""
    context = any(w in _CHORD_WORDS for w in _fine_words(component))
    found: dict[str, bool] = {}  # chord -> spelled with a quality only chords have
    for token in tokens:
        match = _CHORD_TOKEN.match(token)
        if match and (context or match.group(3) in _CHORD_ONLY_QUALITIES):
            chord = canonical_chord(token.replace("♯", "#").replace("♭", "b"))
            if chord is not None:
                found[chord] = found.get(chord, False) or match.group(3) in _CHORD_ONLY_QUALITIES
    if len(found) > 1:  # "Am7 chord in C major": the unmistakable symbol wins
        found = {c: True for c, only in found.items() if only}
    return next(iter(found)) if len(found) == 1 else None


def _names_key(tokens: list[str], chord: str) -> bool:
    """Whether the key token _key found is just the chord's own symbol ("Am" in "Am_chord")."""
    return any(canonical_chord(t.replace("♯", "#").replace("♭", "b")) == chord for t in tokens
               if _KEY_TOKEN.match(t) or _PITCH_TOKEN.match(t))
