"""The query language: ``cat:kick bpm:120..128 key:Am~ -tag:used "warm tape" sort:bpm-`` -> SQL.

A query is a list of terms separated by spaces; every term must match (AND).

==========================  ===============================================================
term                        matches
==========================  ===============================================================
``word``                    free text: names, paths (from the scanned folder down), tags,
                            title/artist/comment/description; case- and accent-insensitive;
                            a bare word also matches words it begins (``kick`` ~ ``Kicks``)
``"warm tape"``             the exact phrase (``'...'`` quotes too); quoting also turns
                            ``a:b`` into plain text
``field:value``             a field (table below); ``field:*`` = has a value
``field:a,b``               any of the alternatives (every kind of field, ranges too)
``-term``                   not the term; a negated field also matches a missing value
``@name``                   a saved collection: its query, ANDed in
``sort:field`` ``field-``   ascending / descending; several allowed; ``sort:random``
``limit:N``                 at most N samples
==========================  ===============================================================

Field kinds and what their values mean:

- number: ``120`` (matches values that round to it at the precision typed: ``bpm:120`` is
  119.5 up to 120.5, ``bpm:120.0`` is 119.95 up to 120.05), ``a..b`` (inclusive), ``..b``,
  ``a..``, negatives (``lufs:-20..-10``). Units: time ``ms s sec m min`` (duration, attack,
  decay), size ``b kb mb gb kib mib gib`` (``k m g`` = kb mb gb), frequency ``hz khz k``
  (sample rate, pitch, centroid, rolloff, bandwidth), level ``db lufs``.
- text: case-insensitive equality (ASCII letters fold), ``*`` and ``?`` globs; quoted = literal.
- path: case-sensitive; with ``*``/``?`` a glob over the whole path, otherwise a substring.
- key: ``Am``, ``F#m``, ``'F# major'``, ``Bbmin``, a Camelot code ``8A``, or ``minor``/``major``;
  a ``~`` suffix = harmonically compatible (same Camelot code, one step either way around
  the wheel, the relative major/minor). ``camelot:`` takes codes (``8A``, ``8A~``).
- chord: a chord symbol, ``Am``, ``C``, ``G7``, ``Fmaj7``, ``Dm7``, ``Asus2``, ``Esus4``
  (``sus`` = sus4), ``Bdim``, flats allowed (``Bbmaj7``); or a quality alone (``m7``,
  ``maj7``, ``sus4``, ``dim``, ``major``, ``minor``) for every chord of that quality.
- note: ``C`` or ``Db`` (any octave), ``C2`` (exact), ``C2..C3`` / ``..C1`` (by MIDI number).
- type: ``loop``, ``oneshot`` (``one-shot``, ``one_shot``, ``shot``).
- tag: a tag, globs allowed; ``tag:*`` any tag, ``-tag:*`` untagged.
- fav: an account's favourites (``fav:alice``; ``local`` without accounts), globs allowed;
  ``fav:*`` anyone's, ``-fav:alice`` the ones alice has not starred.
- warnings (``warning``, ``damage``): ``warning:*`` a file with visible damage,
  ``warning:truncated`` a warning that begins with that word, ``warning:"declares"`` words
  anywhere in one.

Sorting: text fields ignore case; ``note`` sorts by the measured pitch (``pitch_hz``),
``key`` and ``camelot`` around the Camelot wheel; missing values always come last; ties by path.

=====================  ====================================================================
field                  aliases
=====================  ====================================================================
category               cat
bpm                    tempo
tag                    tags
loudness_lufs          lufs, loudness
peak_db                peak
duration               dur, len, length
sample_rate            sr, rate
bit_depth              bits, depth
channels               ch, chans
format                 fmt, ext
name                   filename, file
pitch_hz               pitch, hz
description            desc
spectral_centroid      centroid (likewise flatness, rolloff, bandwidth, contrast)
zero_crossing_rate     zcr
attack_time            attack
decay_time             decay
crest_db               crest
onset_count            onsets
fav                    favourite, favorite, favourites, favorites
=====================  ====================================================================

Every other column of the sample record works under its own name (``id``, ``size``,
``hash``, ``bpm_confidence``, ``key_source``, ``brightness``, ``title``, ``scanned_at``, ...).
Values only ever reach SQL as bound parameters; column names come from a fixed whitelist.
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .errors import BadValue, QueryError
from .models import DESCRIPTOR_FIELDS, ESTIMATED_FIELDS, TEXT_FIELDS
from .music import (
    NOTE_NAMES,
    camelot,
    canonical_chord,
    chord_name,
    midi_to_note,
    note_to_midi,
    parse_key,
    pitch_class,
)

__all__ = ["CompiledQuery", "Term", "Value", "FIELDS", "ALIASES", "parse", "compile_query",
           "compile_option", "compatible_camelot"]

QUOTES = "\"'"
MAX_QUERY_CHARS = 10_000
# SQLite nests AND/OR chains: stay well inside its expression depth (1000) and
# bound-parameter (32766) limits, so a long query is a QueryError, never a crash.
MAX_PIECES = 400
MAX_PARAMS = 20_000
MAX_COLLECTION_DEPTH = 32
# Sort keys, across the whole query and its collections: more than a handful never changes an
# order, and SQLite refuses long ORDER BY lists with an error that names no term.
MAX_SORT_KEYS = 32
SQLITE_MAX_INT = 2**63 - 1

# -- field whitelist ------------------------------------------------------------------

_TIME = {"": 1.0, "s": 1.0, "sec": 1.0, "ms": 0.001, "m": 60.0, "min": 60.0}
_SIZE = {"": 1.0, "b": 1.0, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9,
         "kib": 1024.0, "mib": 1024.0**2, "gib": 1024.0**3}
_FREQ = {"": 1.0, "hz": 1.0, "k": 1e3, "khz": 1e3}
_LEVEL = {"": 1.0, "db": 1.0, "lufs": 1.0}
_PLAIN = {"": 1.0}


@dataclass(frozen=True)
class FieldSpec:
    """One queryable column: its kind decides how values compile."""

    name: str
    kind: str  # number | text | path | key | camelot | chord | note | type | tag | warning
    units: dict[str, float] = field(default_factory=lambda: _PLAIN)
    integer: bool = False
    lowercase: bool = False  # stored lower-case: compared as is, so its index can be used

    @property
    def column(self) -> str:
        """The qualified column; names come only from this module's whitelist."""
        return f"s.{self.name}"


def _build_fields() -> dict[str, FieldSpec]:
    specs: list[FieldSpec] = [
        FieldSpec("path", "path"), FieldSpec("type", "type"), FieldSpec("key", "key"),
        FieldSpec("camelot", "camelot"), FieldSpec("chord", "chord"),
        FieldSpec("note", "note"), FieldSpec("tag", "tag"), FieldSpec("fav", "fav"),
        FieldSpec("warnings", "warning"),
        FieldSpec("duration", "number", _TIME), FieldSpec("attack_time", "number", _TIME),
        FieldSpec("decay_time", "number", _TIME), FieldSpec("size", "number", _SIZE, True),
        FieldSpec("sample_rate", "number", _FREQ, True), FieldSpec("pitch_hz", "number", _FREQ),
        FieldSpec("loudness_lufs", "number", _LEVEL), FieldSpec("peak_db", "number", _LEVEL),
        FieldSpec("crest_db", "number", _LEVEL), FieldSpec("end_level_db", "number", _LEVEL),
        FieldSpec("id", "number", integer=True), FieldSpec("channels", "number", integer=True),
        FieldSpec("bit_depth", "number", integer=True),
        FieldSpec("onset_count", "number", integer=True), FieldSpec("bpm", "number"),
    ]
    specs += [FieldSpec(f"{name}_confidence", "number") for name in ESTIMATED_FIELDS]
    specs += [FieldSpec(f"{name}_source", "text", lowercase=True) for name in ESTIMATED_FIELDS]
    for name in ("spectral_centroid", "spectral_rolloff", "spectral_bandwidth"):
        specs.append(FieldSpec(name, "number", _FREQ))
    specs += [FieldSpec(name, "text", lowercase=True) for name in (
        "format", "codec", "hash", "audio_hash", "category")]
    specs += [FieldSpec(name, "text") for name in (
        "name", "extractor_version", "analysed_at", "scanned_at", *TEXT_FIELDS)]
    fields = {spec.name: spec for spec in specs}
    for name in DESCRIPTOR_FIELDS:  # the remaining descriptors are plain numbers
        fields.setdefault(name, FieldSpec(name, "number"))
    return fields


FIELDS: dict[str, FieldSpec] = _build_fields()

ALIASES: dict[str, str] = {
    "cat": "category", "tempo": "bpm", "tags": "tag",
    "lufs": "loudness_lufs", "loudness": "loudness_lufs", "peak": "peak_db",
    "dur": "duration", "len": "duration", "length": "duration",
    "sr": "sample_rate", "rate": "sample_rate", "bits": "bit_depth", "depth": "bit_depth",
    "ch": "channels", "chans": "channels", "fmt": "format", "ext": "format",
    "filename": "name", "file": "name", "pitch": "pitch_hz", "hz": "pitch_hz",
    "desc": "description", "centroid": "spectral_centroid", "flatness": "spectral_flatness",
    "rolloff": "spectral_rolloff", "bandwidth": "spectral_bandwidth",
    "contrast": "spectral_contrast", "zcr": "zero_crossing_rate", "attack": "attack_time",
    "decay": "decay_time", "crest": "crest_db", "onsets": "onset_count",
    "warning": "warnings", "damage": "warnings",
    "favourite": "fav", "favorite": "fav", "favourites": "fav", "favorites": "fav",
}

_SPECIAL = ("sort", "limit")
_ALL_NAMES = sorted({*FIELDS, *ALIASES, *_SPECIAL})

# chord:m7 - a quality alone stands for every chord of that quality
_CHORD_QUALITY_ALONE = {"major": "", "maj": "", "minor": "m", "min": "m", "m": "m", "7": "7",
                        "maj7": "maj7", "m7": "m7", "min7": "m7", "sus2": "sus2", "sus4": "sus4",
                        "sus": "sus4", "dim": "dim"}

_TYPES = {"loop": "loop", "loops": "loop", "oneshot": "oneshot", "one-shot": "oneshot",
          "one_shot": "oneshot", "oneshots": "oneshot", "one-shots": "oneshot", "shot": "oneshot"}


def _sort_expressions(spec: FieldSpec) -> list[str]:
    if spec.name == "note":  # note names don't sort by pitch; the measured pitch does
        return ["s.pitch_hz"]
    if spec.kind in ("key", "camelot"):  # around the Camelot wheel, minor before major
        return ["CAST(s.camelot AS INTEGER)", "s.camelot"]
    if spec.kind in ("text", "type", "chord"):
        return [f"{spec.column} COLLATE NOCASE"]
    return [spec.column]


# -- parsing --------------------------------------------------------------------------

@dataclass(frozen=True)
class Value:
    """One value (or alternative) as typed: text without its quotes, span with them."""

    text: str
    start: int
    end: int
    quoted: bool = False


@dataclass(frozen=True)
class Term:
    """One term of a query, with the character span it came from (``-`` included).

    kind is ``"field"`` (``field`` set, ``values`` = the ``,`` alternatives), ``"text"``
    (a free word or quoted phrase in ``values[0]``) or ``"collection"`` (``@name``).
    """

    kind: str
    negated: bool
    start: int
    end: int
    field: str = ""
    values: tuple[Value, ...] = ()

    @property
    def value(self) -> str:
        """The value text, alternatives joined by commas."""
        return ",".join(value.text for value in self.values)


_FIELD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*:")


def parse(text: str) -> list[Term]:
    """Split a query into terms with their offsets; raises QueryError on bad syntax."""
    return _Parser(text).terms()


class _Parser:
    def __init__(self, text: str, where: str = "") -> None:
        self.text = text
        self.n = len(text)
        self.where = where  # "@name" while parsing a collection's text, for messages

    def fail(self, start: int, end: int, message: str) -> QueryError:
        return _query_error(message, self.text, start, end, self.where)

    def terms(self) -> list[Term]:
        text, terms, i = self.text, [], 0
        while True:
            while i < self.n and text[i].isspace():
                i += 1
            if i >= self.n:
                return terms
            term = self.term(i)
            terms.append(term)
            i = term.end

    def term(self, start: int) -> Term:
        text, i = self.text, start
        negated = text[i] == "-"
        if negated:
            i += 1
            if i >= self.n or text[i].isspace():
                raise self.fail(start, i, "nothing after '-' (write -tag:used, -cat:kick, ...)")
        if text[i] == "@":
            name = self.word(i + 1, commas=False)
            if not name.text:
                raise self.fail(start, name.end, "empty collection name after '@'")
            return Term("collection", negated, start, name.end, values=(name,))
        match = None if text[i] in QUOTES else _FIELD_RE.match(text, i)
        if match is None:
            word = self.word(i, commas=False)
            return Term("text", negated, start, word.end, values=(word,))
        values: list[Value] = []
        j = match.end()
        while True:
            value = self.word(j, commas=True)
            values.append(value)
            if value.end < self.n and text[value.end] == ",":
                j = value.end + 1
                continue
            return Term("field", negated, start, value.end, field=match.group()[:-1].lower(),
                        values=tuple(values))

    def word(self, start: int, commas: bool) -> Value:
        """A value from start: an optional leading quoted part, then anything up to a space
        (or a comma, between alternatives). Quotes elsewhere are literal, so "don't" works."""
        text, i, parts, quoted = self.text, start, [], False
        if i < self.n and text[i] in QUOTES:
            close = text.find(text[i], i + 1)
            if close < 0:
                raise self.fail(i, self.n, "unterminated quote")
            parts.append(text[i + 1:close])
            i, quoted = close + 1, True
        j = i
        while j < self.n and not text[j].isspace() and not (commas and text[j] == ","):
            j += 1
        parts.append(text[i:j])
        return Value("".join(parts), start, j, quoted)


# -- errors ---------------------------------------------------------------------------

def _width(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _caret_lines(text: str, start: int, end: int) -> str:
    """The query on one line and a caret line under [start, end), wide characters counted;
    a long query is cut to a window around the error."""
    low = max(0, start - 60) if len(text) > 160 else 0
    high = min(len(text), max(end, start + 1) + 60, low + 160) if len(text) > 160 else len(text)
    before, after = ("…" if low > 0 else ""), ("…" if high < len(text) else "")
    shown = "".join(" " if ch in "\t\n\r" else "?" if unicodedata.category(ch).startswith("C") else ch
                    for ch in text[low:high])
    start, end = start - low, min(end, high) - low
    pad = sum(_width(ch) for ch in before + shown[:start])
    marks = max(1, sum(_width(ch) for ch in shown[start:end]))
    return f"  {before}{shown}{after}\n  {' ' * pad}{'^' * marks}"


def _query_error(message: str, text: str, start: int, end: int, where: str = "") -> QueryError:
    inside = f"in {where}: " if where else ""
    return QueryError(f"bad query: {inside}{message}\n{_caret_lines(text, start, end)}")


def _suggest(name: str, names: list[str]) -> str:
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


# -- Camelot --------------------------------------------------------------------------

_CAMELOT_RE = re.compile(r"(1[0-2]|[1-9])([AaBb])")


def _camelot_code(text: str) -> str | None:
    match = _CAMELOT_RE.fullmatch(text.strip())
    return f"{int(match.group(1))}{match.group(2).upper()}" if match else None


def compatible_camelot(code: str) -> list[str]:
    """Camelot codes that mix harmonically with code: itself, one step down and up the
    wheel (same letter), and its relative major/minor (same number)."""
    canonical = _camelot_code(code)
    if canonical is None:
        raise ValueError(f"not a Camelot code: {code!r}")
    number, letter = int(canonical[:-1]), canonical[-1]
    other = "B" if letter == "A" else "A"
    return [canonical, f"{(number - 2) % 12 + 1}{letter}", f"{number % 12 + 1}{letter}",
            f"{number}{other}"]


# -- compiling ------------------------------------------------------------------------

@dataclass
class CompiledQuery:
    """SQL pieces for ``SELECT ... FROM samples s WHERE {where} ORDER BY {order_by} LIMIT ?``."""

    where: str
    params: list[Any]
    order_by: str
    limit: int | None
    text: str


def compile_query(text: str,
                  resolve_collection: Callable[[str], str | None] | None = None,
                  rare_tags: Callable[[str, list[Any]], bool] | None = None) -> CompiledQuery:
    """Compile a query to a WHERE clause with bound parameters, an ORDER BY and a limit.
    rare_tags(condition, params): whether few samples carry a tag matching the condition
    (over t.tag); such a tag: term is read from the tags that match, not tested per sample."""
    state = _State(rare_tags=rare_tags)
    where, sorts, limit = _Compiler(text, resolve_collection, state, (), "").compile()
    order = list(sorts)
    if not any(item.startswith("s.path ") for item in order):
        order.append("s.path")  # ties (and the default order) by path, stable across runs
    return CompiledQuery(where, state.params, ", ".join(order), limit, text)


def compile_option(name: str, value: str) -> tuple[str, list[Any]]:
    """A listing option (``ls --key Am``, ``Library.ls(key="Am")``) as SQL with bound
    parameters: the value means what it means after ``name:`` in a query (``key:Am``,
    ``bpm:118..130``, ``cat:kick,snare``), so the CLI, the API and the query language agree.
    A value outside the field's rule is a BadValue naming the option, never an empty result."""
    spec = FIELDS[ALIASES.get(name, name)]
    text = str(value)
    values, start = [], 0
    for piece in text.split(","):  # alternatives, as in a query
        values.append(Value(piece.strip(), start, start + len(piece)))
        start += len(piece) + 1
    compiler = _OptionCompiler(name, text)
    term = Term("field", False, 0, len(text), field=spec.name, values=tuple(values))
    compiler.count(term, len(values))  # a query's bounds: 1,000 bpm alternatives broke SQLite
    where = compiler.field(term)
    return where, compiler.state.params


@dataclass
class _State:
    """What the whole compilation (collections included) accumulates."""

    params: list[Any] = field(default_factory=list)
    pieces: int = 0
    sort_keys: int = 0
    # (a tag condition over t.tag, its parameters) -> whether few samples carry such a tag
    rare_tags: Callable[[str, list[Any]], bool] | None = None


_NUMBER_RE = re.compile(r"\s*(?P<num>[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*"
                        r"(?P<unit>[A-Za-z]*)\s*")
_PITCH_CLASS_RE = re.compile(r"[A-Ga-g][#b♯♭]?")
_GLOB_CHARS = ("*", "?")


def _ascii_lower(text: str) -> str:
    """Lower-case like SQLite's lower(): ASCII letters only."""
    return "".join(c.lower() if "A" <= c <= "Z" else c for c in text)


def _glob_pattern(text: str) -> str:
    """A user glob for SQL GLOB: only * and ? are wildcards, '[' is literal."""
    return text.replace("[", "[[]")


class _Compiler:
    def __init__(self, text: str, resolve: Callable[[str], str | None] | None, state: _State,
                 stack: tuple[str, ...], where: str) -> None:
        self.text = text
        self.resolve = resolve
        self.state = state
        self.stack = stack  # collection names being expanded, outermost first
        self.where = where  # "@name" when compiling a collection's text, for messages

    def fail(self, start: int, end: int, message: str) -> QueryError:
        return _query_error(message, self.text, start, end, self.where)

    def bind(self, *values: Any) -> str:
        """Append bound parameters; returns their placeholders."""
        self.state.params.extend(values)
        return ", ".join("?" for _ in values)

    def count(self, term: Term, pieces: int = 1) -> None:
        self.state.pieces += pieces
        if self.state.pieces > MAX_PIECES or len(self.state.params) > MAX_PARAMS:
            raise self.fail(term.start, term.end, "query too long")

    def compile(self) -> tuple[str, list[str], int | None]:
        if len(self.text) > MAX_QUERY_CHARS:
            raise self.fail(MAX_QUERY_CHARS, len(self.text),
                            f"query too long (over {MAX_QUERY_CHARS} characters)")
        for index, char in enumerate(self.text):
            if "\ud800" <= char <= "\udfff":  # undecodable bytes from argv (surrogateescape)
                raise self.fail(index, index + 1, "the query is not valid text")
        clauses: list[str] = []
        sorts: list[str] = []
        limit: int | None = None
        limit_term: Term | None = None
        inherited: list[tuple[list[str], int | None]] = []
        free_words: list[str] = []
        for term in _Parser(self.text, self.where).terms():
            if term.kind == "field" and term.field in _SPECIAL:
                if term.negated:
                    raise self.fail(term.start, term.end, f"{term.field}: cannot be negated")
                if term.field == "sort":
                    sorts.extend(self.sort(term))
                    continue
                if limit_term is not None:
                    raise self.fail(term.start, term.end, "limit given twice")
                limit, limit_term = self.limit(term), term
                continue
            self.count(term, max(1, len(term.values)))
            if term.kind == "collection":
                clause, sub_sorts, sub_limit = self.collection(term)
                if not term.negated:
                    inherited.append((sub_sorts, sub_limit))
            elif term.kind == "text" and not term.negated:
                # All free words go to one FTS5 MATCH (FTS5 ANDs them), searched once.
                free_words.append(self.free_text_match(term))
                self.count(term, 0)
                continue
            elif term.kind == "text":
                clause = self.free_text(term)
            else:
                clause = self.field(term)
            self.count(term, 0)
            if term.negated:
                # A missing value is "not kick" too: a NULL comparison must not hide the row.
                clause = f"NOT coalesce({clause}, 0)"
            clauses.append(clause)
        if free_words:
            clauses.append(self.fts_clause(" ".join(free_words)))
        # A collection's own order and limit apply when the query sets none of its own.
        for sub_sorts, sub_limit in inherited:
            if not sorts and sub_sorts:
                sorts = sub_sorts
            if limit_term is None and limit is None:
                limit = sub_limit
        return " AND ".join(clauses), sorts, limit

    # -- special terms ----------------------------------------------------------------

    def sort(self, term: Term) -> list[str]:
        order: list[str] = []
        for value in term.values:
            name, descending = value.text.strip(), False
            if name.endswith(("-", "+")):
                name, descending = name[:-1], name.endswith("-")
            elif name.startswith(("-", "+")):
                name, descending = name[1:], name.startswith("-")
            name = name.lower()
            if not name:
                raise self.fail(value.start, value.end, "sort: needs a field (sort:bpm, sort:bpm-)")
            self.state.sort_keys += 1
            if self.state.sort_keys > MAX_SORT_KEYS:
                raise self.fail(value.start, value.end, f"too many sort keys (at most {MAX_SORT_KEYS})")
            if name == "random":
                order.append("random()")
                continue
            spec = FIELDS.get(ALIASES.get(name, name))
            if spec is None or spec.kind in ("tag", "fav"):
                unsortable = ("tag", "tags", "fav", *(a for a, f in ALIASES.items() if f == "fav"))
                choices = [n for n in _ALL_NAMES if n not in (*unsortable, *_SPECIAL)] + ["random"]
                raise self.fail(value.start, value.end,
                                f"cannot sort by '{name}'{_suggest(name, choices)}")
            direction = "DESC" if descending else "ASC"
            order.extend(f"{expr} {direction} NULLS LAST" for expr in _sort_expressions(spec))
        return order

    def limit(self, term: Term) -> int:
        value = term.values[0]
        raw = term.value.strip()
        if len(term.values) > 1 or not raw.isascii() or not raw.isdigit() \
                or int(raw) > SQLITE_MAX_INT:
            raise self.fail(value.start, term.end, f"bad limit '{term.value}': a whole number, 0 or more")
        return int(raw)

    # -- collections ------------------------------------------------------------------

    def collection(self, term: Term) -> tuple[str, list[str], int | None]:
        name = term.values[0].text
        if name in self.stack:
            chain = " → ".join(f"@{n}" for n in (*self.stack[self.stack.index(name):], name))
            raise self.fail(term.start, term.end, f"collection '@{name}' refers to itself ({chain})")
        if len(self.stack) >= MAX_COLLECTION_DEPTH:
            raise self.fail(term.start, term.end, "collections nested too deeply")
        saved = self.resolve(name) if self.resolve is not None else None
        if saved is None:
            raise self.fail(term.start, term.end, f"unknown collection '@{name}'")
        nested = _Compiler(saved, self.resolve, self.state, (*self.stack, name), f"@{name}")
        where, sorts, limit = nested.compile()
        return (f"({where})" if where else "1"), sorts, limit  # an empty query matches all

    # -- free text --------------------------------------------------------------------

    def free_text(self, term: Term) -> str:
        return self.fts_clause(self.free_text_match(term))

    def fts_clause(self, match: str) -> str:
        return f"s.id IN (SELECT rowid FROM samples_fts WHERE samples_fts MATCH {self.bind(match)})"

    def free_text_match(self, term: Term) -> str:
        """The FTS5 string for one free-text term."""
        value = term.values[0]
        words = value.text.replace("\x00", " ")  # FTS5 stops reading a string at NUL
        if not value.quoted:
            words = words.rstrip("*")
        if not any(char.isalnum() for char in words):
            raise self.fail(term.start, term.end,
                            f"nothing to search for in '{value.text}' (free text matches words "
                            "of letters and digits)")
        # Always one FTS5 string: user text can never become FTS syntax (AND, NEAR, col:).
        return '"' + words.replace('"', '""') + '"' + ("" if value.quoted else "*")

    # -- fields -----------------------------------------------------------------------

    def field(self, term: Term) -> str:
        name = term.field
        spec = FIELDS.get(ALIASES.get(name, name))
        if spec is None:
            raise self.fail(term.start, term.end, f"unknown field '{name}'{_suggest(name, _ALL_NAMES)}")
        for value in term.values:
            if not value.text.strip():
                hints = {"tag": " (tag:* = any tag, -tag:* = no tag)",
                         "fav": " (fav:NAME = an account's favourites, fav:* = anyone's)",
                         "warning": " (warning:* = any damaged file, warning:truncated = one kind)"}
                hint = hints.get(spec.kind, "")
                start, end = (term.start, term.end) if len(term.values) == 1 else (value.start, value.end)
                raise self.fail(start, end, f"empty value for '{name}'{hint}")
        compilers = {"number": self._number, "text": self._text, "path": self._path,
                     "tag": self._tag, "fav": self._fav, "type": self._type, "key": self._key,
                     "camelot": self._key,
                     "chord": self._chord,
                     "warning": self._warning, "note": self._note}
        return compilers[spec.kind](spec, term)

    @staticmethod
    def _is_any(value: Value) -> bool:
        return not value.quoted and value.text.strip() == "*"

    def _either(self, parts: list[str]) -> str:
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def _number(self, spec: FieldSpec, term: Term) -> str:
        parts: list[str] = []
        for value in term.values:
            raw = value.text.strip()
            if self._is_any(value) or raw == "..":
                parts.append(f"{spec.column} IS NOT NULL")
                continue
            if ".." in raw:
                low_text, _, high_text = raw.partition("..")
                low = self._parse_number(spec, value, low_text)[0] if low_text.strip() else None
                high = self._parse_number(spec, value, high_text)[0] if high_text.strip() else None
                if low is not None and high is not None and low > high:
                    raise self.fail(value.start, value.end,
                                    f"bad range '{raw}' for {spec.name}: {low_text} is more than {high_text}")
                bounds = []
                if low is not None:
                    bounds.append(f"{spec.column} >= {self.bind(low)}")
                if high is not None:
                    bounds.append(f"{spec.column} <= {self.bind(high)}")
                parts.append(bounds[0] if len(bounds) == 1 else f"({' AND '.join(bounds)})")
                continue
            number, tolerance = self._parse_number(spec, value, raw)
            if spec.integer and tolerance <= 0.5 and number.is_integer():
                parts.append(f"{spec.column} = {self.bind(number)}")
            else:  # as precise as typed: bpm:120 matches 119.5 <= bpm < 120.5
                parts.append(f"({spec.column} >= {self.bind(number - tolerance)} "
                             f"AND {spec.column} < {self.bind(number + tolerance)})")
        return self._either(parts)

    def _parse_number(self, spec: FieldSpec, value: Value, raw: str) -> tuple[float, float]:
        """(number, half the last typed digit), both in the column's unit."""
        match = _NUMBER_RE.fullmatch(raw)
        scale = spec.units.get(match.group("unit").lower()) if match else None
        if match is None or scale is None:
            units = ", ".join(unit for unit in spec.units if unit)
            hint = f" (units: {units})" if units else ""
            raise self.fail(value.start, value.end, f"bad number '{raw}' for {spec.name}{hint}: "
                                                    "write a number, or a range LOW..HIGH")
        decimal = Decimal(match.group("num"))
        exponent = int(decimal.as_tuple().exponent)  # an int: the regex admits no NaN/Infinity
        number = float(decimal) * scale
        tolerance = 0.5 * 10.0 ** min(exponent, 300) * scale
        if not (math.isfinite(number) and math.isfinite(tolerance)):
            raise self.fail(value.start, value.end, f"number out of range '{raw}' for {spec.name}")
        return number, tolerance

    def _text(self, spec: FieldSpec, term: Term, column: str = "") -> str:
        column = column or spec.column
        exact: list[str] = []
        parts: list[str] = []
        stored_lower = spec.lowercase and column == spec.column
        for value in term.values:
            if not value.quoted and any(char in value.text for char in _GLOB_CHARS):
                if stored_lower:
                    parts.append(f"{column} GLOB {self.bind(_ascii_lower(_glob_pattern(value.text)))}")
                else:
                    parts.append(f"lower({column}) GLOB lower({self.bind(_glob_pattern(value.text))})")
            else:
                exact.append(value.text)
        if exact and stored_lower:  # a plain comparison keeps the column's index usable
            marks = ", ".join(self.bind(_ascii_lower(text)) for text in exact)
            parts.insert(0, f"{column} IN ({marks})")
        elif exact:  # SQLite's lower() on both sides: the same (ASCII) folding for column and value
            marks = ", ".join(f"lower({self.bind(text)})" for text in exact)
            parts.insert(0, f"lower({column}) IN ({marks})")
        return self._either(parts)

    def _path(self, spec: FieldSpec, term: Term) -> str:
        parts: list[str] = []
        for value in term.values:
            if not value.quoted and any(char in value.text for char in _GLOB_CHARS):
                parts.append(f"s.path GLOB {self.bind(_glob_pattern(value.text))}")
            else:
                parts.append(f"instr(s.path, {self.bind(value.text)}) > 0")
        return self._either(parts)

    def _warning(self, spec: FieldSpec, term: Term) -> str:
        """``warning:*`` any damage; ``warning:truncated`` a warning of that kind (the words
        a sentence starts with, globs allowed); quoted, words anywhere in a warning. The column
        holds a JSON list of sentences."""
        parts: list[str] = []
        for value in term.values:
            if self._is_any(value):
                parts.append("s.warnings IS NOT NULL")
            elif value.quoted:
                parts.append(f"instr(lower(s.warnings), lower({self.bind(value.text)})) > 0")
            else:
                sentence_start = '*"' + _glob_pattern(value.text) + "*"
                parts.append(f"lower(s.warnings) GLOB lower({self.bind(sentence_start)})")
        return self._either(parts)

    def _tag(self, spec: FieldSpec, term: Term) -> str:
        first = len(self.state.params)
        condition = self._text(spec, term, column="t.tag")
        rare = self.state.rare_tags
        if not term.negated and rare is not None and rare(condition, self.state.params[first:]):
            # The same samples, found from the few tags instead of testing every sample in
            # the listing's order until a page is full (a tag nobody carries: all of them,
            # 0.35 s at a million samples).
            return f"s.id IN (SELECT t.sample_id FROM tags t WHERE {condition})"
        return f"EXISTS (SELECT 1 FROM tags t WHERE t.sample_id = s.id AND {condition})"

    def _fav(self, spec: FieldSpec, term: Term) -> str:
        condition = self._text(spec, term, column="f.account")
        return f"EXISTS (SELECT 1 FROM favourites f WHERE f.sample_id = s.id AND {condition})"

    def _type(self, spec: FieldSpec, term: Term) -> str:
        if any(self._is_any(value) for value in term.values):
            return "s.type IS NOT NULL"
        types = []
        for value in term.values:
            kind = _TYPES.get(value.text.strip().lower())
            if kind is None:
                raise self.fail(value.start, value.end,
                                f"unknown type '{value.text}' (use loop or oneshot)")
            types.append(kind)
        return f"s.type IN ({self.bind(*dict.fromkeys(types))})"

    def _key(self, spec: FieldSpec, term: Term) -> str:
        keys: list[str] = []
        codes: list[str] = []
        scales: list[str] = []
        for value in term.values:
            if self._is_any(value):
                return f"{spec.column} IS NOT NULL"
            raw = value.text.strip()
            compatible = raw.endswith("~")
            raw = raw.removesuffix("~").strip()
            if spec.kind == "key" and not compatible and raw.lower() in ("major", "maj", "minor", "min"):
                scales.append("* minor" if raw.lower().startswith("min") else "* major")
                continue
            code = _camelot_code(raw)
            key = None
            if code is None:
                key = parse_key(raw) if spec.kind == "key" and raw else None
                code = camelot(key)
            if code is None:
                example = "8A, 8A~" if spec.kind == "camelot" else "Am, F#m, 'F# major', 8A, Am~"
                raise self.fail(value.start, value.end, f"unknown {spec.name} '{value.text}' (try {example})")
            if compatible:
                codes.extend(compatible_camelot(code))
            elif key is not None:
                keys.append(key)
            else:
                codes.append(code)
        parts = []
        if keys:
            parts.append(f"s.key IN ({self.bind(*dict.fromkeys(keys))})")
        if codes:
            parts.append(f"s.camelot IN ({self.bind(*dict.fromkeys(codes))})")
        parts.extend(f"s.key GLOB {self.bind(scale)}" for scale in dict.fromkeys(scales))
        return self._either(parts)

    def _chord(self, spec: FieldSpec, term: Term) -> str:
        chords: list[str] = []
        for value in term.values:
            if self._is_any(value):
                return "s.chord IS NOT NULL"
            raw = value.text.strip()
            quality = _CHORD_QUALITY_ALONE.get(raw) if raw in _CHORD_QUALITY_ALONE \
                else _CHORD_QUALITY_ALONE.get(raw.lower())
            if quality is not None:  # every root of one quality
                chords.extend(chord_name(root, quality) for root in range(12))
                continue
            chord = canonical_chord(raw)
            if chord is None:
                raise self.fail(value.start, value.end, f"unknown chord '{value.text}' "
                                "(try Am, C, G7, Fmaj7, Dm7, Asus4, Bdim, or a quality: m7)")
            chords.append(chord)
        return f"s.chord IN ({self.bind(*dict.fromkeys(chords))})"

    def _note(self, spec: FieldSpec, term: Term) -> str:
        names: list[str] = []
        classes: list[str] = []
        for value in term.values:
            if self._is_any(value):
                return "s.note IS NOT NULL"
            raw = value.text.strip()
            if ".." in raw:
                low_text, _, high_text = raw.partition("..")
                low = self._midi(value, low_text) if low_text.strip() else 0
                high = self._midi(value, high_text) if high_text.strip() else 127
                if low > high:
                    raise self.fail(value.start, value.end,
                                    f"bad range '{raw}' for note: {low_text} is above {high_text}")
                names.extend(midi_to_note(midi) for midi in range(low, high + 1))
            elif _PITCH_CLASS_RE.fullmatch(raw) and pitch_class(raw) in NOTE_NAMES:
                classes.append(str(pitch_class(raw)))
            else:
                names.append(midi_to_note(self._midi(value, raw)))
        parts = []
        if names:
            parts.append(f"s.note IN ({self.bind(*dict.fromkeys(names))})")
        if classes:  # any octave: compare with the octave digits (and minus sign) trimmed off
            trimmed = f"rtrim(s.note, {self.bind('-0123456789')})"
            parts.append(f"{trimmed} IN ({self.bind(*dict.fromkeys(classes))})")
        return self._either(parts)

    def _midi(self, value: Value, raw: str) -> int:
        midi = note_to_midi(raw.strip())
        if midi is None or not 0 <= midi <= 127:
            hint = " (ranges need octaves: C2..C3)" if _PITCH_CLASS_RE.fullmatch(raw.strip()) else \
                " (try C, Db, C2, C2..C3)"
            raise self.fail(value.start, value.end, f"unknown note '{raw.strip()}'{hint}")
        return midi


class _OptionCompiler(_Compiler):
    """Compiles one option's value; its refusals name the option (BadValue), not a query."""

    def __init__(self, option: str, text: str) -> None:
        super().__init__(text, None, _State(), (), "")
        self.option = option

    def fail(self, start: int, end: int, message: str) -> QueryError:
        raise BadValue(self.option, f"is wrong: {message}")
