"""The built-in translator: plain words -> a query, by rule, with no model.

It knows the common cases (README: Local AI): tempos ("125 bpm", "around 125",
"120-128 bpm", "over 140"), keys ("A minor", "F#m", "in C"), notes ("C2"), category
and type words ("hats", "one-shot"), descriptive words mapped to descriptors judged
against sounds of the same kind ("dark", "punchy", "long", "loud", "noisy"), a few
superlatives ("loudest") and negations ("no kicks", "without reverb"). Other words
are kept as free text, which searches names, paths, tags and AI descriptions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..music import parse_key, pitch_class
from .descriptors import PUNCHY_ATTACK, SLOW_ATTACK, cutoffs

CATEGORY_WORDS: dict[str, str] = {
    **dict.fromkeys(("kick", "kicks", "bd", "bassdrum", "bassdrums", "kickdrum", "kickdrums"),
                    "kick"),
    **dict.fromkeys(("snare", "snares", "sd"), "snare"),
    **dict.fromkeys(("hat", "hats", "hihat", "hihats", "hi-hat", "hi-hats", "hh"), "hihat"),
    **dict.fromkeys(("cymbal", "cymbals", "crash", "crashes", "ride", "rides"), "cymbal"),
    **dict.fromkeys(("tom", "toms"), "tom"),
    **dict.fromkeys(("clap", "claps", "handclap", "handclaps"), "clap"),
    **dict.fromkeys(("perc", "percs", "percussion", "shaker", "shakers", "conga", "congas",
                     "bongo", "bongos", "rim", "rims", "rimshot", "rimshots", "tambourine",
                     "cowbell", "cowbells"), "perc"),
    **dict.fromkeys(("bass", "basses", "bassline", "basslines", "sub", "subs"), "bass"),
    **dict.fromkeys(("synth", "synths", "lead", "leads", "pluck", "plucks", "arp", "arps"),
                    "synth"),
    **dict.fromkeys(("pad", "pads"), "pad"),
    **dict.fromkeys(("keys", "piano", "pianos", "rhodes", "organ", "organs", "epiano"), "keys"),
    **dict.fromkeys(("guitar", "guitars"), "guitar"),
    **dict.fromkeys(("vocal", "vocals", "vox", "voice", "voices"), "vocal"),
    **dict.fromkeys(("fx", "sfx", "effect", "effects", "riser", "risers", "sweep", "sweeps",
                     "impact", "impacts", "whoosh", "downlifter", "uplifter"), "fx"),
}
# One-shot drum hits: a tempo means nothing for them (they carry none).
HIT_CATEGORIES = {"kick", "snare", "hihat", "cymbal", "tom", "clap", "perc"}

TYPE_WORDS: dict[str, str] = {
    **dict.fromkeys(("loop", "loops", "groove", "grooves", "break", "breaks", "breakbeat",
                     "breakbeats", "beat", "beats"), "loop"),
    **dict.fromkeys(("oneshot", "oneshots", "one-shot", "one-shots", "hit", "hits", "shot",
                     "shots"), "oneshot"),
}

# word -> (descriptor, "low" | "high")
LEVEL_WORDS: dict[str, tuple[str, str]] = {
    **dict.fromkeys(("dark", "darker", "deep", "deeper", "dull", "muffled", "muted", "warm",
                     "mellow", "low"), ("spectral_centroid", "low")),
    **dict.fromkeys(("bright", "brighter", "crisp", "airy", "shiny", "sizzling", "harsh",
                     "high"), ("spectral_centroid", "high")),
    **dict.fromkeys(("noisy", "gritty", "dirty", "distorted", "crunchy", "grainy", "breathy"),
                    ("spectral_flatness", "high")),
    **dict.fromkeys(("clean", "pure", "smooth", "tonal"), ("spectral_flatness", "low")),
    **dict.fromkeys(("short", "shorter", "tiny", "brief", "staccato"), ("duration", "low")),
    **dict.fromkeys(("long", "longer", "sustained", "lengthy"), ("duration", "high")),
    **dict.fromkeys(("quiet", "soft", "softer", "gentle", "subtle", "faint"),
                    ("loudness_lufs", "low")),
    **dict.fromkeys(("loud", "louder", "hard", "heavy", "fat", "big", "powerful", "aggressive"),
                    ("loudness_lufs", "high")),
}
ATTACK_WORDS: dict[str, str] = {
    **dict.fromkeys(("punchy", "punchier", "snappy", "tight", "sharp", "percussive"), "fast"),
    **dict.fromkeys(("swelling", "evolving", "ambient"), "slow"),
}
SORT_WORDS: dict[str, str] = {
    "darkest": "centroid", "brightest": "centroid-", "loudest": "lufs-", "quietest": "lufs",
    "softest": "lufs", "shortest": "duration", "longest": "duration-", "fastest": "bpm-",
    "slowest": "bpm", "punchiest": "attack", "noisiest": "flatness-", "random": "random",
    "newest": "scanned_at-", "latest": "scanned_at-",
}
STOP_WORDS = frozenset("""
a an the am in at and or on key than less more between to up under below over above max min
least upto some any me i im i'm we us want wanted need needs looking look find show give get
got gimme with that this these those is are be was it its it's of to for from on by at as
like likes sound sounds sounding sample samples something stuff thing things please very
really kinda kind sorta quite bit little more less my our which what who has have good
nice great cool track tracks song songs tune tunes can could would should some one ones
all every just also too than then there here but
drum drums
""".split())  # "drum loop" is a loop: drum loops carry no category of their own
APPROX_WORDS = {"around", "about", "approx", "approximately", "roughly", "near", "~", "circa",
                "ca", "ish"}
BELOW_WORDS = {"under", "below", "<", "max", "upto"}
ABOVE_WORDS = {"over", "above", ">", "min", "least"}
NOT_WORDS = {"no", "not", "without", "except"}
TEMPO_UNITS = {"bpm", "bpms", "tempo"}
TIME_UNITS = {"ms": 0.001, "msec": 0.001, "millisecond": 0.001, "milliseconds": 0.001,
              "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0}
MODE_WORDS = {"minor": "minor", "min": "minor", "major": "major", "maj": "major"}

_NUMBER = re.compile(r"(\d+(?:\.\d+)?)(bpm|ms|s|sec|secs)?")
_RANGE = re.compile(r"(\d+(?:\.\d+)?)(?:-|\.\.|–)(\d+(?:\.\d+)?)(bpm)?")
_NOTE = re.compile(r"([A-Ga-g])([#♯b♭]?)(-?\d)")
_KEY = re.compile(r"([A-Ga-g])([#♯b♭]?)(m|min|maj|minor|major)?")
_WORD = re.compile(r"\w[\w'-]*")
MIN_BPM, MAX_BPM = 40.0, 300.0


@dataclass
class Translation:
    """A query made from plain words, and what the translator could not use."""

    query: str
    notes: list[str] = field(default_factory=list)


@dataclass
class _Wanted:
    categories: list[str] = field(default_factory=list)
    not_categories: list[str] = field(default_factory=list)
    type: str | None = None
    tempo: tuple[float | None, float | None] | None = None
    tempo_text: str = ""
    key: str | None = None
    note: str | None = None
    levels: dict[str, str] = field(default_factory=dict)
    attack: str | None = None
    durations: list[str] = field(default_factory=list)
    sorts: list[str] = field(default_factory=list)
    limit: int | None = None
    words: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _tokens(text: str) -> list[str]:
    """Words, numbers and symbols: "125bpm" -> "125", "bpm"; "~125" -> "~", "125"."""
    spaced = re.sub(r"[,;!?()\[\]{}\"]", " ", text)
    spaced = re.sub(r"(?<=\d)(bpm)\b", r" \1", spaced, flags=re.I)
    spaced = re.sub(r"([~<>])", r" \1 ", spaced)
    spaced = re.sub(r"\b(hi) (hats?)\b", r"\1-\2", spaced, flags=re.I)
    return [token.strip(".:") or token for token in spaced.split()]


def _number(token: str) -> float | None:
    """Plain decimal numbers only (float() would also take "nan", "inf" and "1e5")."""
    return float(token) if re.fullmatch(r"\d+(?:\.\d+)?", token) else None


def _free_word(token: str) -> str | None:
    """A word for free-text search: letters or digits needed (FTS finds nothing else)."""
    match = _WORD.search(token)
    word = match.group().strip("'-_") if match else ""
    return word if any(char.isalnum() for char in word) else None


def _key_name(letter: str, accidental: str, mode: str) -> str | None:
    key = parse_key(f"{letter}{accidental} {mode}".strip())
    if key is None:
        return None
    tonic, scale = key.split()
    return f"{tonic}m" if scale == "minor" else f"{tonic}maj"


def _fmt(value: float) -> str:
    """A number as the query language reads it: no exponent, no trailing zeros."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


class _Reader:
    """Walks the tokens once, left to right, filling a _Wanted."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.lower = [token.lower() for token in tokens]
        self.i = 0
        self.want = _Wanted()

    def peek(self, offset: int = 0) -> str:
        index = self.i + offset
        return self.lower[index] if 0 <= index < len(self.lower) else ""

    def read(self) -> _Wanted:
        while self.i < len(self.tokens):
            self.i += self.step()
        return self.want

    def step(self) -> int:
        """Consume what starts at the current token; returns how many tokens it used."""
        token, word = self.tokens[self.i], self.lower[self.i]
        for rule in (self.negation, self.pairs, self.tempo_or_time, self.key_or_note,
                     self.vocabulary):
            used = rule(token, word)
            if used:
                return used
        if word in STOP_WORDS or word in APPROX_WORDS:
            return 1
        word = _free_word(token)
        if word:
            self.want.words.append(word)
        return 1

    # -- rules ------------------------------------------------------------------------

    def negation(self, token: str, word: str) -> int:
        if word not in NOT_WORDS or not self.peek(1):
            return 0
        following = self.peek(1)
        if following in CATEGORY_WORDS:
            self.want.not_categories.append(CATEGORY_WORDS[following])
            return 2
        word = _free_word(self.tokens[self.i + 1])
        if word and following not in STOP_WORDS and not (
                following in LEVEL_WORDS or following in ATTACK_WORDS or following in TYPE_WORDS):
            self.want.words.append("-" + word)
            return 2
        return 1

    def pairs(self, token: str, word: str) -> int:
        two = f"{word} {self.peek(1)}"
        if two in ("bass drum", "bass drums", "kick drum", "kick drums"):
            self.want.categories.append("kick")
            return 2
        if two in ("one shot", "one shots", "single hit"):
            self.want.type = "oneshot"
            return 2
        if self.peek(1) == "attack" and word in ("slow", "soft", "long", "gentle"):
            self.want.attack = "slow"
            return 2
        if self.peek(1) == "attack" and word in ("fast", "sharp", "short", "hard", "quick"):
            self.want.attack = "fast"
            return 2
        if word in ("top", "first", "limit") and self.peek(1).isdigit() \
                and 0 < int(self.peek(1)) <= 100_000:
            self.want.limit = int(self.peek(1))
            return 2
        if word in ("in", "key") or two == "key of":
            offset = 2 if two == "key of" else 1
            match = _KEY.fullmatch(self.tokens[self.i + offset]) if self.peek(offset) else None
            if match:
                mode = MODE_WORDS.get(self.peek(offset + 1), "")
                key = _key_name(match.group(1), match.group(2), match.group(3) or mode)
                if key:
                    self.want.key = key
                    return offset + 1 + (1 if mode and not match.group(3) else 0)
        return 0

    def tempo_or_time(self, token: str, word: str) -> int:
        want = self.want
        approx = self.peek(-1) in APPROX_WORDS or self.peek(1) == "ish" or word.endswith("ish")
        below = self.peek(-1) in BELOW_WORDS or f"{self.peek(-2)} {self.peek(-1)}" in (
            "less than", "slower than", "shorter than", "up to")
        above = self.peek(-1) in ABOVE_WORDS or f"{self.peek(-2)} {self.peek(-1)}" in (
            "more than", "faster than", "longer than", "at least")
        if word == "between" and self.peek(2) in ("and", "to"):
            low, high = _number(self.peek(1)), _number(self.peek(3))
            if low is not None and high is not None and self.peek(4) not in TIME_UNITS:
                self.set_tempo(min(low, high), max(low, high), " ".join(self.lower[self.i:self.i + 4]))
                return 4 + (1 if self.peek(4) in TEMPO_UNITS else 0)
        ranged = _RANGE.fullmatch(word)
        if ranged:
            low, high = float(ranged.group(1)), float(ranged.group(2))
            self.set_tempo(min(low, high), max(low, high), word)
            return 1 + (1 if self.peek(1) in TEMPO_UNITS else 0)
        if self.peek(1) in ("to", "-") and _number(word) is not None and \
                _number(self.peek(2)) is not None:
            low, high = _number(word), _number(self.peek(2))
            assert low is not None and high is not None
            self.set_tempo(min(low, high), max(low, high), f"{word}-{self.peek(2)}")
            return 3 + (1 if self.peek(3) in TEMPO_UNITS else 0)
        if word in TEMPO_UNITS and _NUMBER.fullmatch(self.peek(1)):  # "bpm 125"
            match, unit, used = _NUMBER.fullmatch(self.peek(1)), "bpm", 2
        else:
            match = _NUMBER.fullmatch(word.removesuffix("ish"))
            if not match:
                return 0
            following = self.peek(1) if self.peek(1) in TEMPO_UNITS | set(TIME_UNITS) else ""
            unit = match.group(2) or following
            used = 1 + (1 if following and not match.group(2) else 0)
        assert match is not None
        value = float(match.group(1))
        if unit in TIME_UNITS:
            seconds = _fmt(value * TIME_UNITS[unit])
            want.durations.append(f"dur:..{seconds}s" if below else f"dur:{seconds}s.." if above
                                  else f"dur:{_fmt(value * TIME_UNITS[unit] * 0.8)}s.."
                                  f"{_fmt(value * TIME_UNITS[unit] * 1.2)}s")
            return used
        if unit not in TEMPO_UNITS and not MIN_BPM <= value <= MAX_BPM:
            want.words.append(token)  # "808", "909": names, not tempos
            return used
        text = f"{'around ' if approx else ''}{_fmt(value)} BPM"
        if below:
            self.set_tempo(None, value, f"under {_fmt(value)} BPM")
        elif above:
            self.set_tempo(value, None, f"over {_fmt(value)} BPM")
        elif approx:
            spread = max(2.0, round(value * 0.025))
            self.set_tempo(value - spread, value + spread, text)
        else:
            self.set_tempo(value, value, text)
        return used

    def set_tempo(self, low: float | None, high: float | None, text: str) -> None:
        self.want.tempo = (low, high)
        self.want.tempo_text = text

    def key_or_note(self, token: str, word: str) -> int:
        note = _NOTE.fullmatch(token)
        if note and pitch_class(note.group(1) + note.group(2)):
            self.want.note = f"{note.group(1).upper()}{note.group(2).replace('♯', '#')}{note.group(3)}"
            return 1
        match = _KEY.fullmatch(token)
        if not match:
            return 0
        letter, accidental, suffix = match.groups()
        mode = MODE_WORDS.get(self.peek(1), "")
        if mode and not suffix:  # "A minor", "f# major"
            key = _key_name(letter, accidental, mode)
            if key:
                self.want.key = key
                return 2
        # Alone, only unambiguous spellings: "Am", "F#", "Bbm" (not "a", "am", "be").
        sure = (letter.isupper() and (suffix or accidental)) or accidental in ("#", "♯")
        if sure:
            key = _key_name(letter, accidental, suffix or "")
            if key:
                self.want.key = key
                return 1
        return 0

    def vocabulary(self, token: str, word: str) -> int:
        want = self.want
        if self.peek(1) == "than":  # "longer than 2 s", "faster than 140": the number decides
            return 1
        if word in CATEGORY_WORDS:
            want.categories.append(CATEGORY_WORDS[word])
        elif word in TYPE_WORDS:
            want.type = TYPE_WORDS[word]
        elif word in LEVEL_WORDS:
            descriptor, side = LEVEL_WORDS[word]
            want.levels[descriptor] = side
        elif word in ATTACK_WORDS:
            want.attack = ATTACK_WORDS[word]
        elif word in SORT_WORDS:
            want.sorts.append(SORT_WORDS[word])
        elif word in ("slow", "slower"):
            self.set_tempo(None, 95, "slow (up to 95 BPM)")
        elif word in ("fast", "faster", "quick"):
            self.set_tempo(140, None, "fast (140 BPM and up)")
        else:
            return 0
        return 1


def _assemble(want: _Wanted) -> Translation:
    """The query text, in a fixed order: what, how fast, which key, how it sounds, words."""
    parts: list[str] = []
    categories = list(dict.fromkeys(want.categories))
    if categories:
        parts.append("cat:" + ",".join(categories))
    for category in dict.fromkeys(want.not_categories):
        parts.append(f"-cat:{category}")
    if want.type:
        parts.append(f"type:{want.type}")
    notes = list(want.notes)
    if want.tempo:
        hits_only = bool(categories) and set(categories) <= HIT_CATEGORIES
        if want.type == "oneshot" or (hits_only and want.type != "loop"):
            # One-shots carry no tempo: filtering on one would find nothing.
            notes.append(f"{want.tempo_text} not used: one-shots have no tempo "
                         "(say 'loop' to find loops at that tempo)")
        else:
            low, high = want.tempo
            if low is not None and low == high:
                parts.append(f"bpm:{_fmt(low)}")
            else:
                parts.append(f"bpm:{_fmt(low) if low is not None else ''}.."
                             f"{_fmt(high) if high is not None else ''}")
    if want.key:
        parts.append(f"key:{want.key}")
    if want.note:
        parts.append(f"note:{want.note}")
    category = categories[0] if len(categories) == 1 else None
    aliases = {"spectral_centroid": "centroid", "spectral_flatness": "flatness",
               "duration": "dur", "loudness_lufs": "lufs"}
    for descriptor, side in want.levels.items():
        low, high = cutoffs(descriptor, category, want.type)
        unit = "s" if descriptor == "duration" else ""
        parts.append(f"{aliases[descriptor]}:..{_fmt(low)}{unit}" if side == "low"
                     else f"{aliases[descriptor]}:{_fmt(high)}{unit}..")
    parts.extend(dict.fromkeys(want.durations))
    if want.attack == "fast":
        parts.append(f"attack:..{_fmt(PUNCHY_ATTACK * 1000)}ms")
    elif want.attack == "slow":
        parts.append(f"attack:{_fmt(SLOW_ATTACK * 1000)}ms..")
    parts.extend(dict.fromkeys(want.words))
    if want.sorts:
        parts.append("sort:" + ",".join(dict.fromkeys(want.sorts)))
    if want.limit:
        parts.append(f"limit:{want.limit}")
    return Translation(" ".join(parts), notes)


def translate(text: str) -> Translation:
    """Plain words -> a query in the query language (possibly empty: everything)."""
    return _assemble(_Reader(_tokens(text)).read())
