"""Checks and helpers for what people write into the catalog: tags, corrections,
collection names, and tag suggestions learned from their own tags."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import BadValue, UsageError
from .models import CORRECTABLE_FIELDS
from .music import canonical_chord, midi_to_note, note_to_midi, parse_key

if TYPE_CHECKING:
    from .catalog import Catalog
    from .similarity.index import VectorIndex

MAX_TAG_LENGTH = 64
SUGGEST_MAX_K = 100  # tagged neighbours that vote on one sample's tags
# check_suggest_args as JSON schema, for the request bodies that carry them.
SUGGEST_SCHEMA = {"k": {"type": "integer", "minimum": 1, "maximum": SUGGEST_MAX_K, "default": 10},
                  "threshold": {"type": "number", "exclusiveMinimum": 0, "maximum": 1,
                                "default": 0.5}}
CLEAR_WORDS = {"", "auto", "none", "null", "-"}
_NAME_RE = re.compile(r"^[\w][\w.-]{0,63}$")


def clean_tags(tags: Sequence[str]) -> list[str]:
    """Tags as stored: trimmed, NFC, lower-case, no control characters; refuses bad ones."""
    cleaned = []
    for tag in tags:
        text = unicodedata.normalize("NFC", str(tag)).strip().lower()
        if not text or any(unicodedata.category(c).startswith("C") for c in text):
            raise UsageError(f"not a usable tag: {tag!r} (letters, digits, spaces, - and _)")
        if len(text) > MAX_TAG_LENGTH:
            raise UsageError(f"tag too long ({len(text)} characters, at most {MAX_TAG_LENGTH})")
        cleaned.append(text)
    if not cleaned:
        raise UsageError("give at least one tag")
    return list(dict.fromkeys(cleaned))


def check_overrides(values: Mapping[str, Any]) -> dict[str, Any]:
    """Corrections in their stored form (None clears one); refuses none at all, an unknown
    field (all of them named) and nonsense values."""
    unknown = sorted(set(values) - set(CORRECTABLE_FIELDS))
    if unknown:
        raise UsageError(f"cannot set {', '.join(map(repr, unknown))}: only "
                         f"{', '.join(CORRECTABLE_FIELDS)} can be corrected")
    if not values:
        raise UsageError(f"nothing to set: give one or more of {', '.join(CORRECTABLE_FIELDS)}")
    return {field: check_override(field, value) for field, value in values.items()}


def check_override(field: str, value: Any) -> Any:
    """A user correction in its stored form; None means "clear it". Refuses nonsense."""
    if field not in CORRECTABLE_FIELDS:
        raise UsageError(f"cannot set {field!r}: only {', '.join(CORRECTABLE_FIELDS)} can be "
                         "corrected")
    if value is None or str(value).strip().lower() in CLEAR_WORDS:
        return None
    text = str(value).strip()
    if field == "bpm":
        try:
            bpm = float(text)
        except ValueError:
            raise UsageError(f"bpm must be a number, not {text!r}") from None
        if not math.isfinite(bpm) or not 10 <= bpm <= 999:
            raise UsageError(f"bpm {text} is out of range (10 to 999)")
        return round(bpm, 2)
    if field == "key":
        key = parse_key(text)
        if key is None:
            raise UsageError(f"not a key: {text!r} (try Am, 'C major', F#m)")
        return key
    if field == "chord":
        chord = canonical_chord(text)
        if chord is None:
            raise UsageError(f"not a chord: {text!r} (try Am, C, G7, Fmaj7, Dm7, Asus4, Bdim)")
        return chord
    if field == "note":
        midi = note_to_midi(text)
        if midi is None or not 0 <= midi <= 127:
            raise UsageError(f"not a note with an octave: {text!r} (try A1, C#3, Bb2)")
        return midi_to_note(midi)
    if field == "type":
        kind = text.lower().replace("-", "").replace("_", "")
        if kind not in ("loop", "oneshot"):
            raise UsageError(f"type must be loop or oneshot, not {text!r}")
        return kind
    category = text.lower()
    if not re.fullmatch(r"[a-z][a-z0-9 _-]{0,31}", category):
        raise UsageError(f"not a category: {text!r} (a word such as kick, snare, pad)")
    return category


def parse_assignments(pairs: Sequence[str]) -> dict[str, str | None]:
    """['bpm=120', 'key=Am'] -> {'bpm': '120', 'key': 'Am'}."""
    values: dict[str, str | None] = {}
    for pair in pairs:
        field, sep, value = pair.partition("=")
        if not sep or not field.strip():
            raise UsageError(f"write FIELD=VALUE, e.g. bpm=120 or key=Am (got {pair!r}); "
                             "FIELD=auto clears a correction")
        values[field.strip().lower()] = value
    if not values:
        raise UsageError("give at least one FIELD=VALUE")
    return values


def check_collection_name(name: str) -> None:
    """Collection names are used as @NAME inside queries: a plain word."""
    if not _NAME_RE.match(name):
        raise UsageError(f"bad collection name {name!r}: letters, digits, '_', '-', '.' "
                         "(starting with a letter or digit, at most 64)")


def check_suggest_args(k: int, threshold: float) -> None:
    """The one rule for a suggestion's k and threshold (SUGGEST_SCHEMA says the same)."""
    if not 0 < threshold <= 1:  # NaN too
        raise BadValue("threshold", "must be above 0 and at most 1")
    if not 1 <= k <= SUGGEST_MAX_K:
        raise BadValue("k", f"must be between 1 and {SUGGEST_MAX_K}")


def suggest_tags(catalog: Catalog, index: VectorIndex, candidates: Iterable[int], *, k: int,
                 threshold: float) -> list[dict[str, Any]]:
    """For each sample without user tags: tags its k nearest user-tagged neighbours
    vote for, each vote weighted by how near it is. Confidence = the tag's votes over
    all votes plus DOUBT, so distant neighbours and disagreement both lower it
    (similarity/teach.py)."""
    from .similarity.teach import nearest_teachers, tally

    check_suggest_args(k, threshold)
    tagged: dict[int, list[str]] = defaultdict(list)
    for sample_id, tag in catalog.query(
            "SELECT sample_id, tag FROM tags WHERE source = 'user'"):
        tagged[sample_id].append(tag)
    known = set(index.ids().tolist())
    teachers = np.array(sorted(i for i in tagged if i in known), np.int64)
    if len(teachers) == 0:
        return []
    asked = [i for i in candidates if i not in tagged and i in known]
    if not asked:
        return []
    out: list[dict[str, Any]] = []
    names = dict(catalog.query("SELECT id, path FROM samples"))
    depth = min(k, len(teachers))
    for sample_id, neighbours in nearest_teachers(index, teachers,
                                                  np.array(asked, np.int64), k):
        votes, support, total = tally(neighbours, tagged.__getitem__)
        for tag, vote in votes.items():
            confidence = vote / total
            if confidence >= threshold and support[tag] >= min(2, depth):
                out.append({"id": sample_id, "path": names.get(sample_id), "tag": tag,
                            "confidence": round(confidence, 3),
                            "neighbours": support[tag]})
    out.sort(key=lambda item: (-item["confidence"], item["path"] or "", item["tag"]))
    return out
