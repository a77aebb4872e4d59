"""Map exported samples onto a keyboard: the instrument every writer (SFZ, Decent Sampler)
renders. Pure: records and their places in the kit in, zones out (README: Kits as
instruments).

- **Layout.** A selection with drum one-shots is a drum kit on the General MIDI drum map;
  one with pitched one-shots (a `note`, no drum category) and no drums is a chromatic
  instrument. Loops, and sounds that fit neither, go on the keys left free.
- **Drums.** kick 36, snare 38, side stick/rim 37, clap 39, closed hat 42, pedal hat 44,
  open hat 46, toms 41 43 45 47 48 50 (low to high by pitch), crash 49, ride 51, ride bell 53,
  china 52, splash 55; percussion on the GM percussion notes (its word's note first: cowbell
  56, tambourine 54, ...). Further sounds of one role go to neighbouring free keys, or with
  `round_robin` onto the role's key as round robins. All hats share one choke group.
- **Voices and layers.** One sound's velocity layers and round robins (layers.py: the same
  folder and name but for ``hard``/``soft``/``v2``/``rr3``) are one voice on one key: its
  layers ordered by loudness (LUFS, then peak) split the velocity range evenly.
- **Chromatic.** Each distinct note is a root (`pitch_keycenter`); the keys between two roots
  are split at the midpoint, the outer ones reach an octave beyond.
- More voices than keys: the rest become round robins on their role's key (a warning says so).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..music import midi_to_note, note_to_midi
from .layers import by_loudness, layer_key, layer_name

DRUM_CATEGORIES = frozenset({"kick", "snare", "hihat", "cymbal", "tom", "clap", "perc"})
TOM_NOTES = (41, 43, 45, 47, 48, 50)  # low floor tom .. high tom
# role -> its GM notes, the first the role's own key. Order = who gets a key first.
ROLE_NOTES: dict[str, tuple[int, ...]] = {
    "kick": (36, 35), "snare": (38, 40), "rim": (37,), "clap": (39,),
    "hihat_closed": (42,), "hihat_pedal": (44,), "hihat_open": (46,),
    "tom": TOM_NOTES, "crash": (49, 57), "ride": (51, 59), "ride_bell": (53,),
    "china": (52,), "splash": (55,),
}
PERC_NOTES = (54, 56, 58, *range(60, 82))  # GM's percussion notes
PERC_WORDS = {"tambourine": 54, "tamb": 54, "cowbell": 56, "vibraslap": 58, "bongo": 60,
              "conga": 63, "timbale": 65, "timbales": 65, "agogo": 67, "cabasa": 69,
              "maracas": 70, "shaker": 70, "whistle": 71, "guiro": 73, "claves": 75, "clave": 75,
              "woodblock": 76, "cuica": 78, "triangle": 81}
HIHAT_ROLES = ("hihat_closed", "hihat_pedal", "hihat_open")
CHOKE_HIHAT = 1
OPEN_HAT_DECAY = 0.3  # s (decay_time: peak to -20 dB); an unnamed hat ringing longer is open
CHROMATIC_REACH = 12  # semitones the lowest and highest roots reach beyond themselves
VELOCITY_MAX = 127

_WORDS = re.compile(r"[a-z]+")


@dataclass
class Zone:
    """One sample on the keyboard."""

    sample_id: int | None
    target: str  # the file, relative to the instrument file, "/"-separated
    role: str  # a drum role, "pitched", "loop" or "other"
    voice: str  # the voice's label (its key's name in the manifest)
    key: int  # pitch_keycenter: the key it plays at its own pitch
    lokey: int
    hikey: int
    lovel: int = 1
    hivel: int = VELOCITY_MAX
    layer: int = 1  # 1 = softest
    layers: int = 1
    seq_position: int = 1
    seq_length: int = 1
    choke: int | None = None
    keytrack: bool = False  # pitched sounds follow the key; drums and loops play as recorded
    loop: bool = False
    bpm: float | None = None
    loudness_lufs: float | None = None
    peak_db: float | None = None
    frames: int | None = None  # length in frames, for a loop's end point

    def to_json(self) -> dict[str, Any]:
        """The manifest's entry."""
        return {"id": self.sample_id, "target": self.target, "role": self.role, "voice": self.voice,
                "key": self.key, "note": midi_to_note(self.key), "lokey": self.lokey,
                "hikey": self.hikey, "lovel": self.lovel, "hivel": self.hivel, "layer": self.layer,
                "layers": self.layers, "seq_position": self.seq_position,
                "seq_length": self.seq_length, "choke": self.choke, "keytrack": self.keytrack,
                "loop": self.loop, "bpm": self.bpm, "loudness_lufs": self.loudness_lufs,
                "peak_db": self.peak_db}


@dataclass
class Instrument:
    """The zones of one instrument, and what could not be mapped as asked."""

    name: str
    layout: str  # "drums" or "chromatic"
    zones: list[Zone] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "layout": self.layout, "zones": [z.to_json() for z in self.zones],
                "warnings": list(self.warnings)}


@dataclass
class _Voice:
    role: str
    label: str
    slots: list[list[dict[str, Any]]]  # round-robin slots, each its layers softest first
    pitch: float = 0.0  # for ordering toms


# --- roles --------------------------------------------------------------------------------

def _words(record: dict[str, Any]) -> set[str]:
    return set(_WORDS.findall(str(record.get("name") or record.get("path") or "").lower()))


def _number(record: dict[str, Any], name: str) -> float | None:
    value = record.get(name)
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def drum_role(record: dict[str, Any]) -> str | None:
    """The GM role of a drum one-shot, or None for anything else."""
    if record.get("type") == "loop":
        return None
    category = record.get("category")
    if category not in DRUM_CATEGORIES:
        return None
    words = _words(record)
    if category == "kick":
        return "kick"
    if category == "snare":
        return "rim" if words & {"rim", "rimshot", "sidestick", "stick", "side"} else "snare"
    if category == "clap":
        return "clap"
    if category == "hihat":
        if words & {"pedal", "foot", "ph", "phh"}:
            return "hihat_pedal"
        if words & {"open", "opened", "oh", "ohh", "openhat"}:
            return "hihat_open"
        if words & {"closed", "close", "ch", "chh", "closedhat", "tight"}:
            return "hihat_closed"
        decay = _number(record, "decay_time")
        return "hihat_open" if decay is not None and decay > OPEN_HAT_DECAY else "hihat_closed"
    if category == "cymbal":
        if "bell" in words and "ride" in words:
            return "ride_bell"
        for word in ("ride", "china", "splash"):
            if word in words:
                return word
        return "crash"
    if category == "tom":
        return "tom"
    return "perc"


def _root(record: dict[str, Any]) -> int | None:
    note = record.get("note")
    midi = note_to_midi(note) if isinstance(note, str) else None
    return midi if midi is not None and 0 <= midi <= 127 else None


def role_of(record: dict[str, Any]) -> str:
    """A drum role, "loop", "pitched" (a one-shot with a note) or "other"."""
    role = drum_role(record)
    if role is not None:
        return role
    if record.get("type") == "loop":
        return "loop"
    if _root(record) is not None and record.get("category") not in DRUM_CATEGORIES:
        return "pitched"
    return "other"


# --- voices -------------------------------------------------------------------------------

def _voices(role: str, records: list[dict[str, Any]]) -> list[_Voice]:
    """Records of one role (and, chromatic, one root) grouped into voices: a labelled layer set
    is one voice, every other record its own."""
    sets: dict[tuple[str, str], list[dict[str, Any]]] = {}
    voices: list[_Voice] = []
    for record in records:
        key = layer_key(record)
        if key is None:
            voices.append(_Voice(role, _label(record), [[record]]))
        else:
            sets.setdefault(key, []).append(record)
    for members in sets.values():
        slots: dict[int, list[dict[str, Any]]] = {}
        for record in members:
            slots.setdefault(layer_name(record).round_robin or 1, []).append(record)
        ordered = []
        for n in sorted(slots):
            layers = by_loudness(slots[n])
            # More layers than velocities (127) would leave some an empty range, never played:
            # they become round robins, each still spanning soft to hard.
            parts = -(-len(layers) // VELOCITY_MAX)
            ordered += [layers[i::parts] for i in range(parts)]
        voices.append(_Voice(role, _label(members[0], layered=True), ordered))
    for voice in voices:
        first = voice.slots[0][0]
        voice.pitch = _number(first, "pitch_hz") or _number(first, "spectral_centroid") or 0.0
    voices.sort(key=lambda v: _natural(v.slots[0][0]))
    return voices


def _natural(record: dict[str, Any]) -> list[Any]:
    """Sort key: "Kick" before "Kick 2" before "Kick 10"."""
    path = str(record.get("path") or record.get("name") or "")
    stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.findall(r"\d+|\D+", stem)] + [(2, 0, path)]


def _label(record: dict[str, Any], layered: bool = False) -> str:
    if layered:
        name = layer_name(record).title
        if name:
            return name
    stem = str(record.get("name") or "").rsplit(".", 1)[0]
    return stem or str(record.get("id") or "sound")


# --- keys ---------------------------------------------------------------------------------

class _Keys:
    """Which voices sit on which key."""

    def __init__(self) -> None:
        self.on: dict[int, list[_Voice]] = {}
        self.reserved = {n for notes in ROLE_NOTES.values() for n in notes} | set(PERC_NOTES)

    def free(self, key: int) -> bool:
        return 0 <= key <= 127 and key not in self.on

    def put(self, key: int, voice: _Voice) -> None:
        self.on.setdefault(key, []).append(voice)

    def nearest_free(self, home: int) -> int | None:
        """The free key closest to home, GM notes of other roles last."""
        free = [k for k in range(128) if k not in self.on]
        if not free:
            return None
        return min(free, key=lambda k: (k in self.reserved, abs(k - home), k < home))

    def free_in(self, order: Sequence[int]) -> int | None:
        return next((k for k in order if self.free(k)), None)


def build(items: Sequence[tuple[dict[str, Any], str]], name: str, *,
          round_robin: bool = False) -> Instrument:
    """The instrument of (record, target) pairs."""
    by_role: dict[str, list[tuple[dict[str, Any], str]]] = {}
    targets: dict[int, str] = {}
    for record, target in items:
        targets[id(record)] = target
        by_role.setdefault(role_of(record), []).append((record, target))
    drums = any(role in ROLE_NOTES or role == "perc" for role in by_role)
    layout = "drums" if drums or "pitched" not in by_role else "chromatic"
    instrument = Instrument(name, layout)
    keys = _Keys()
    shared = 0
    if layout == "drums":
        shared += _place_drums(by_role, keys, round_robin)
        leftovers = [*by_role.get("pitched", []), *by_role.get("other", []), *by_role.get("loop", [])]
        # The keys above GM's map first, then below it: the drum map stays as GM has it.
        order = [*range(82, 128), *range(34, -1, -1), *range(35, 82)]
    else:
        low, high = _place_chromatic(by_role.get("pitched", []), keys)
        leftovers = [*by_role.get("other", []), *by_role.get("loop", [])]
        order = [*range(high + 1, 128), *range(low - 1, -1, -1)]
    for record, _ in leftovers:
        role = role_of(record) if layout == "drums" else ("loop" if record.get("type") == "loop"
                                                           else "other")
        voice = _Voice(role, _label(record), [[record]])
        key = keys.free_in(order)
        if key is None:
            key = order[0] if order else 127
            shared += 1
        keys.put(key, voice)
    if shared:
        instrument.warnings.append(f"{shared} sound(s) share a key as round robins: more sounds than "
                                   "the 128 keys")
    instrument.zones = _zones(keys, targets, layout)
    return instrument


def _place_drums(by_role: dict[str, list[tuple[dict[str, Any], str]]], keys: _Keys,
                 round_robin: bool) -> int:
    """Drum voices onto GM notes; returns how many had to share a key for lack of keys."""
    voices = {role: _voices(role, [r for r, _ in by_role.get(role, [])])
              for role in (*ROLE_NOTES, "perc")}
    voices["tom"].sort(key=lambda v: v.pitch)  # floor tom lowest
    shared = 0
    extra: list[tuple[_Voice, int]] = []
    # First every role's own key (so no role's extras take another role's note) ...
    for role, notes in ROLE_NOTES.items():
        found = voices[role]
        if not found:
            continue
        homes = notes[:1]
        if role == "tom":  # spread over the six tom notes: two toms are 41 and 50, not 41 and 43
            count = min(len(found), len(notes))
            homes = tuple(notes[round(i * (len(notes) - 1) / (count - 1))] for i in range(count)) \
                if count > 1 else notes[:1]
        for index, voice in enumerate(found):
            if index < len(homes) and keys.free(homes[index]):
                keys.put(homes[index], voice)
            elif round_robin:
                keys.put(homes[index % len(homes)], voice)  # toms keep their six pitches
            else:
                extra.append((voice, homes[-1]))
    for voice in voices["perc"]:
        wanted = [PERC_WORDS[w] for w in sorted(_words(voice.slots[0][0])) if w in PERC_WORDS]
        if round_robin and wanted and _perc_only(keys, wanted[0]):
            keys.put(wanted[0], voice)  # the second cowbell plays after the first
            continue
        key = keys.free_in([*wanted, *PERC_NOTES])
        if key is not None:
            keys.put(key, voice)
        else:
            extra.append((voice, PERC_NOTES[0]))
    # ... then further sounds of a role on the free keys nearest its own.
    for voice, home in extra:
        key = keys.free_in(ROLE_NOTES.get(voice.role, ())[1:]) if voice.role != "tom" else None
        key = key if key is not None else keys.nearest_free(home)
        if key is None:
            key, shared = home, shared + 1
        keys.put(key, voice)
    return shared


def _perc_only(keys: _Keys, key: int) -> bool:
    """Nothing but percussion on key (or nothing yet)."""
    return all(v.role == "perc" for v in keys.on.get(key, []))


def _place_chromatic(pitched: list[tuple[dict[str, Any], str]], keys: _Keys) -> tuple[int, int]:
    """Pitched voices onto their roots; returns the lowest and highest key they cover."""
    by_root: dict[int, list[dict[str, Any]]] = {}
    for record, _ in pitched:
        root = _root(record)
        if root is not None:
            by_root.setdefault(root, []).append(record)
    for root in sorted(by_root):
        for voice in _voices("pitched", by_root[root]):
            keys.put(root, voice)
    roots = sorted(by_root)
    return max(0, roots[0] - CHROMATIC_REACH), min(127, roots[-1] + CHROMATIC_REACH)


def _velocity_ranges(count: int) -> list[tuple[int, int]]:
    """count equal velocity ranges over 1..127, softest first."""
    bounds = [round(i * VELOCITY_MAX / count) for i in range(count + 1)]
    return [(max(1, bounds[i] + 1), bounds[i + 1]) for i in range(count)]


def _zones(keys: _Keys, targets: dict[int, str], layout: str) -> list[Zone]:
    zones: list[Zone] = []
    pitched_roots = sorted(k for k, vs in keys.on.items() if vs and vs[0].role == "pitched")
    spans: dict[int, tuple[int, int]] = {}
    for index, root in enumerate(pitched_roots):
        low = (pitched_roots[index - 1] + root) // 2 + 1 if index else max(0, root - CHROMATIC_REACH)
        high = ((root + pitched_roots[index + 1]) // 2 if index + 1 < len(pitched_roots)
                else min(127, root + CHROMATIC_REACH))
        spans[root] = (low, high)
    for key in sorted(keys.on):
        voices = keys.on[key]
        # Every round-robin slot of every voice on this key takes its turn.
        turns = [(voice, slot) for voice in voices for slot in voice.slots]
        for position, (voice, slot) in enumerate(turns, start=1):
            ranges = _velocity_ranges(len(slot))
            lokey, hikey = spans.get(key, (key, key))
            for layer, (record, (lovel, hivel)) in enumerate(zip(slot, ranges), start=1):
                frames = None
                duration, rate = _number(record, "duration"), _number(record, "sample_rate")
                if duration and rate:
                    frames = max(1, int(round(duration * rate)))
                zones.append(Zone(
                    sample_id=int(record["id"]) if record.get("id") is not None else None,
                    target=targets[id(record)], role=voice.role, voice=voice.label, key=key,
                    lokey=lokey, hikey=hikey, lovel=lovel, hivel=hivel, layer=layer,
                    layers=len(slot), seq_position=position, seq_length=len(turns),
                    choke=CHOKE_HIHAT if voice.role in HIHAT_ROLES else None,
                    keytrack=voice.role == "pitched" and layout == "chromatic",
                    loop=voice.role == "loop", bpm=_number(record, "bpm") if voice.role == "loop" else None,
                    loudness_lufs=_number(record, "loudness_lufs"), peak_db=_number(record, "peak_db"),
                    frames=frames))
    return zones
