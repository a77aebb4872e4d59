"""The query language: parsing, every operator run against a real SQLite catalog, errors,
Camelot compatibility, full-text search kept in sync by triggers, and a property test."""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from samplemind.catalog import Catalog
from samplemind.errors import QueryError, UsageError
from samplemind.migrations import create_fts
from samplemind.models import RECORD_FIELDS
from samplemind.query import (
    ALIASES,
    FIELDS,
    CompiledQuery,
    Term,
    Value,
    compatible_camelot,
    compile_query,
    parse,
)

ROOT = "/lib/Samples"

# Short name -> row. Chosen so every operator has hits, misses and NULLs to get wrong.
ROWS: dict[str, dict] = {
    "k1": dict(path=f"{ROOT}/Kicks/Kick_01.wav", category="kick", type="oneshot", note="C1",
               pitch_hz=32.7, loudness_lufs=-8.0, duration=0.4, size=70_000, sample_rate=44100,
               bit_depth=24, format="wav"),
    "k2": dict(path=f"{ROOT}/Kicks/Kick_02 Deep.aiff", category="kick", type="oneshot", note="A#0",
               pitch_hz=29.1, loudness_lufs=-12.5, duration=0.9, size=170_000, sample_rate=48000,
               bit_depth=16, format="aiff"),
    "sn": dict(path=f"{ROOT}/Snares/Snare_Tight.wav", category="snare", type="oneshot",
               loudness_lufs=-10.0, duration=0.25, size=20_000, sample_rate=44100, bit_depth=24,
               format="wav"),
    "bl": dict(path=f"{ROOT}/Loops/bass_loop_Am_120bpm.wav", category="bass", type="loop", bpm=120.0,
               key="A minor", camelot="8A", duration=4.0, loudness_lufs=-14.0, format="wav"),
    "ch": dict(path=f"{ROOT}/Loops/chords_C_loop_128bpm.flac", type="loop", bpm=128.3,
               key="C major", camelot="8B", duration=3.75, loudness_lufs=-16.0, format="flac",
               description="Warm tape chords"),
    "dl": dict(path=f"{ROOT}/Loops/drum_loop_174.wav", type="loop", bpm=174.0, duration=2.76,
               loudness_lufs=-9.5, format="wav"),
    "be": dict(path=f"{ROOT}/Bass/bass_E1.wav", category="bass", type="oneshot", note="E1",
               pitch_hz=41.2, key="E minor", camelot="9A", duration=1.5, loudness_lufs=-11.0,
               format="wav"),
    "rh": dict(path=f"{ROOT}/Keys/Café Rhodes Dm.wav", category="keys", type="loop", bpm=90.0,
               key="D minor", camelot="7A", duration=5.33, loudness_lufs=-18.0, format="wav",
               title="Rhodes at night", artist="Zoë"),
    "fx": dict(path=f"{ROOT}/FX/riser [long].wav", category="fx", duration=8.0, loudness_lufs=-20.0,
               format="wav"),
}
TAGS = {"k1": ["dark", "punchy"], "bl": ["dark", "used"], "ch": ["lofi"], "fx": ["used", "FX-long"]}
ALL = set(ROWS)
BY_PATH = sorted(ROWS, key=lambda name: ROWS[name]["path"])

COLLECTIONS = {
    "kicks": "cat:kick", "dark": "tag:dark", "dark_kicks": "@kicks @dark",
    "loud": "lufs:-10.. sort:lufs- limit:2", "loop_a": "type:loop @loop_b", "loop_b": "@loop_a",
    "self": "@self", "broken": "cat:kick bpm:fast", "empty": "", "dark kicks": "@dark_kicks",
}


def _insert(catalog: Catalog, name: str) -> int:
    row = ROWS[name]
    return catalog.insert_sample({**row, "root": ROOT, "hash": f"hash-{name}",
                                  "name": row["path"].rsplit("/", 1)[1]})


@pytest.fixture(scope="module")
def catalog_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    """The catalog file (closed) the `catalog` fixture copies for each test, and its ids."""
    catalog = _build_catalog(tmp_path_factory.mktemp("query") / "library.db")
    ids = catalog.ids  # type: ignore[attr-defined]
    catalog.close()
    return catalog.path, ids


@pytest.fixture
def catalog(catalog_file: tuple[Path, dict[str, int]], tmp_path: Path) -> Iterator[Catalog]:
    """A real catalog; half the rows exist before the FTS table (backfill), half after (triggers).
    Each test has its own copy of one built per module (a copy opens in a tenth of the time)."""
    built, ids = catalog_file
    for suffix in ("", "-wal"):  # closed, so the WAL was checkpointed: normally no -wal is left
        if Path(f"{built}{suffix}").exists():
            shutil.copyfile(f"{built}{suffix}", tmp_path / f"library.db{suffix}")
    catalog = Catalog(tmp_path / "library.db")
    catalog.ids = dict(ids)  # type: ignore[attr-defined]
    yield catalog
    catalog.close()


def _build_catalog(path: Path) -> Catalog:
    catalog = Catalog(path)
    # The catalog's migration made the FTS table; drop it to test create_fts's backfill.
    for trigger in ("samples_fts_insert", "samples_fts_update", "samples_fts_delete",
                    "tags_fts_insert", "tags_fts_update", "tags_fts_delete"):
        catalog.conn.execute(f"DROP TRIGGER {trigger}")
    catalog.conn.execute("DROP TABLE samples_fts")
    names = list(ROWS)
    ids = {name: _insert(catalog, name) for name in names[:4]}
    with catalog.db.atomic():
        create_fts(catalog.db)
    ids.update({name: _insert(catalog, name) for name in names[4:]})
    for name, tags in TAGS.items():
        catalog.set_tags(ids[name], tags, "user")
    catalog.ids = ids  # type: ignore[attr-defined]
    return catalog


def run(catalog: Catalog, text: str,
        resolve: Callable[[str], str | None] | None = COLLECTIONS.get) -> list[str]:
    """Short names of the rows a query returns, in order."""
    query = compile_query(text, resolve)
    by_id = {sample_id: name for name, sample_id in catalog.ids.items()}  # type: ignore[attr-defined]
    rows = catalog.records(query.where, query.params, order_by=query.order_by, limit=query.limit)
    return [by_id[row["id"]] for row in rows]


def found(catalog: Catalog, text: str) -> set[str]:
    return set(run(catalog, text))


def error(text: str, resolve: Callable[[str], str | None] | None = COLLECTIONS.get) -> str:
    with pytest.raises(QueryError) as info:
        compile_query(text, resolve)
    return str(info.value)


# -- parser ---------------------------------------------------------------------------

def test_parse_splits_terms_with_offsets() -> None:
    text = 'cat:kick  bpm:120..128\t-tag:used "warm tape" @drums sort:bpm- limit:50'
    terms = parse(text)
    assert [(t.kind, t.field, t.value, t.negated) for t in terms] == [
        ("field", "cat", "kick", False), ("field", "bpm", "120..128", False),
        ("field", "tag", "used", True), ("text", "", "warm tape", False),
        ("collection", "", "drums", False), ("field", "sort", "bpm-", False),
        ("field", "limit", "50", False)]
    assert [text[t.start:t.end] for t in terms] == [
        "cat:kick", "bpm:120..128", "-tag:used", '"warm tape"', "@drums", "sort:bpm-", "limit:50"]
    assert terms[3].values[0] == Value("warm tape", 33, 44, quoted=True)


def test_parse_alternatives_have_their_own_offsets() -> None:
    text = "-cat:kick,'sn are',x"
    (term,) = parse(text)
    assert term == Term("field", True, 0, len(text), field="cat", values=(
        Value("kick", 5, 9), Value("sn are", 10, 18, quoted=True), Value("x", 19, 20)))
    assert [text[v.start:v.end] for v in term.values] == ["kick", "'sn are'", "x"]


@pytest.mark.parametrize(("text", "value", "quoted"), [
    ("key:'F# major'", "F# major", True),
    ('key:"F# major"~', "F# major~", True),  # text glued after the quote stays in the value
    ("key:F#m", "F#m", False),
    ("name:don't", "don't", False),  # a quote inside a word is literal
    ('path:"My Samples/*"', "My Samples/*", True),
])
def test_parse_quoted_values(text: str, value: str, quoted: bool) -> None:
    (term,) = parse(text)
    assert term.kind == "field"
    assert (term.value, term.values[0].quoted) == (value, quoted)


def test_parse_free_text_phrases_and_words() -> None:
    terms = parse("""-"warm tape" 'lo fi' don't 12:30 "cat:kick" naïve""")
    assert [(t.kind, t.value, t.negated) for t in terms] == [
        ("text", "warm tape", True), ("text", "lo fi", False), ("text", "don't", False),
        ("text", "12:30", False), ("text", "cat:kick", False), ("text", "naïve", False)]


def test_parse_collections_and_case_of_field_names() -> None:
    terms = parse('-@kicks @"dark kicks" BPM:120')
    assert [(t.kind, t.value, t.negated) for t in terms] == [
        ("collection", "kicks", True), ("collection", "dark kicks", False), ("field", "120", False)]
    assert terms[2].field == "bpm"


def test_parse_empty_and_blank() -> None:
    assert parse("") == []
    assert parse(" \t\n ") == []
    assert compile_query("  ") == CompiledQuery("", [], "s.path", None, "  ")


@pytest.mark.parametrize(("text", "caret"), [
    ('cat:kick "warm tape', "           ^^^^^^^^^^"),
    ("key:'F# major", "      ^^^^^^^^^"),
    ("kick - snare", "       ^"),
    ("@", "  ^"),
])
def test_parse_errors_point_at_the_token(text: str, caret: str) -> None:
    with pytest.raises(QueryError) as info:
        parse(text)
    lines = str(info.value).splitlines()
    assert lines[1:] == [f"  {text}", caret]


# -- error messages -------------------------------------------------------------------

def test_unknown_field_message_is_one_message_with_a_caret() -> None:
    assert error("cat:kick bmp:120") == (
        "bad query: unknown field 'bmp' (did you mean 'bpm'?)\n"
        "  cat:kick bmp:120\n"
        "           ^^^^^^^")


def test_query_error_is_a_usage_error() -> None:
    with pytest.raises(QueryError) as info:
        compile_query("bmp:1")
    assert isinstance(info.value, UsageError)
    assert (info.value.exit_code, info.value.http_status) == (2, 400)


@pytest.mark.parametrize(("text", "message", "caret"), [
    ("bpm:fast", "bad number 'fast' for bpm", "      ^^^^"),
    ("dur:2parsecs", "bad number '2parsecs' for duration (units: s, sec, ms, m, min)",
     "      ^^^^^^^^"),
    ("bpm:1..x", "bad number 'x' for bpm", "      ^^^^"),
    ("bpm:90..95,130..120", "bad range '130..120' for bpm: 130 is more than 120",
     "             ^^^^^^^^"),
    ("bpm:1e999", "number out of range '1e999' for bpm", "      ^^^^^"),
    ("key:H", "unknown key 'H'", "      ^"),
    ("key:minor~", "unknown key 'minor~'", "      ^^^^^^"),
    ("camelot:Am", "unknown camelot 'Am'", "          ^^"),
    ("note:H2", "unknown note 'H2'", "       ^^"),
    ("note:C..E", "unknown note 'C' (ranges need octaves: C2..C3)", "       ^^^^"),
    ("note:G#9", "unknown note 'G#9'", "       ^^^"),
    ("note:C3..C2", "bad range 'C3..C2' for note", "       ^^^^^^"),
    ("type:drone", "unknown type 'drone' (use loop or oneshot)", "       ^^^^^"),
    ("sort:bmp-", "cannot sort by 'bmp' (did you mean 'bpm'?)", "       ^^^^"),
    ("sort:tag", "cannot sort by 'tag'", "       ^^^"),
    ("sort:-", "sort: needs a field", "       ^"),
    ("-sort:bpm", "sort: cannot be negated", "  ^^^^^^^^^"),
    ("limit:x", "bad limit 'x'", "        ^"),
    ("limit:-1", "bad limit '-1'", "        ^^"),
    ("limit:1,2", "bad limit '1,2'", "        ^^^"),
    ("limit:99999999999999999999", "bad limit", "        ^^^^^^^^^^^^^^^^^^^^"),
    ("limit:1 limit:2", "limit given twice", "          ^^^^^^^"),
    ("cat:", "empty value for 'cat'", "  ^^^^"),
    ("cat:kick,", "empty value for 'cat'", "           ^"),
    ("cat:''", "empty value for 'cat'", "  ^^^^^^"),
    ("tag:", "empty value for 'tag' (tag:* = any tag, -tag:* = no tag)", "  ^^^^"),
    ("& kick", "nothing to search for in '&'", "  ^"),
    ("@nope", "unknown collection '@nope'", "  ^^^^^"),
])
def test_error_cases(text: str, message: str, caret: str) -> None:
    lines = error(text).splitlines()
    assert lines[0].startswith(f"bad query: {message}")
    assert lines[1:] == [f"  {text}", caret]


def test_cyclic_collection_names_the_chain_and_points_into_the_collection() -> None:
    assert error("@loop_a").splitlines() == [
        "bad query: in @loop_b: collection '@loop_a' refers to itself (@loop_a → @loop_b → @loop_a)",
        "  @loop_a",
        "  ^^^^^^^"]


def test_self_reference_points_into_the_collection() -> None:
    assert error("x @self").splitlines() == [
        "bad query: in @self: collection '@self' refers to itself (@self → @self)",
        "  @self",
        "  ^^^^^"]


def test_error_inside_a_collection_shows_the_collection_text() -> None:
    assert error("type:loop @broken").splitlines() == [
        "bad query: in @broken: bad number 'fast' for bpm: write a number, or a range LOW..HIGH",
        "  cat:kick bpm:fast",
        "               ^^^^"]


def test_collections_need_a_resolver() -> None:
    assert "unknown collection '@kicks'" in error("@kicks", resolve=None)


def test_caret_counts_wide_characters_and_hides_control_characters() -> None:
    lines = error("漢字\tbmp:1").splitlines()
    assert lines[1:] == ["  漢字 bmp:1", "       ^^^^^"]
    assert error("cat:kick\x07 bmp:1").splitlines()[1] == "  cat:kick? bmp:1"


def test_long_queries_show_a_window_around_the_error() -> None:
    text = "cat:kick " * 40 + "bmp:1 " + "cat:kick " * 40
    lines = error(text).splitlines()
    assert lines[1].startswith("  …") and lines[1].endswith("…")
    assert len(lines[1]) < 180
    assert lines[1][len(lines[2]) - 5:len(lines[2])] == "bmp:1"


def test_huge_queries_are_refused_not_crashed() -> None:
    assert "query too long" in error("cat:" + ",".join(["kick"] * 1000))
    assert "query too long" in error("x" * 20_000)
    assert len(error("x" * 20_000)) < 500
    assert "not valid text" in error("cat:\udcff")


# -- numbers --------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("bpm:120", {"bl"}),
    ("bpm:128", {"ch"}),  # 128.3 rounds to 128: as precise as typed
    ("bpm:128.0", set()),
    ("bpm:128.3", {"ch"}),
    ("tempo:120..128", {"bl"}),
    ("bpm:120..129", {"bl", "ch"}),
    ("bpm:..100", {"rh"}),
    ("bpm:170..", {"dl"}),
    ("bpm:90..95,170..175", {"rh", "dl"}),
    ("bpm:90,120", {"rh", "bl"}),
    ("bpm:*", {"bl", "ch", "dl", "rh"}),
    ("bpm:..", {"bl", "ch", "dl", "rh"}),
    ("-bpm:*", {"k1", "k2", "sn", "be", "fx"}),
    ("-bpm:120", ALL - {"bl"}),  # rows without a bpm are "not 120" too
    ("lufs:..-10", {"k2", "sn", "bl", "ch", "be", "rh", "fx"}),
    ("lufs:-20..-14", {"bl", "ch", "rh", "fx"}),
    ("lufs:-10", {"sn"}),  # -10.5 <= x < -9.5
    ("loudness:-10lufs..", {"k1", "sn", "dl"}),
    ("dur:..1s", {"k1", "k2", "sn"}),
    ("dur:500ms..", ALL - {"k1", "sn"}),
    ("len:..300ms", {"sn"}),
    ("duration:1.5", {"be"}),
    ("length:5s..10s", {"rh", "fx"}),
    ("dur:0.1min..", {"fx"}),
    ("size:..100kb", {"k1", "sn"}),
    ("size:100KB..1mb", {"k2"}),
    ("size:70000", {"k1"}),
    ("sr:48k", {"k2"}),
    ("rate:44.1khz", {"k1", "sn"}),
    ("sample_rate:44100", {"k1", "sn"}),
    ("bits:16", {"k2"}),
    ("depth:24", {"k1", "sn"}),
    ("pitch:30hz..35", {"k1"}),
    ("bpm:+120", {"bl"}),
    ("bpm:1.2e2", {"bl"}),
])
def test_numbers(catalog: Catalog, text: str, expected: set[str]) -> None:
    assert found(catalog, text) == expected


def test_id_field(catalog: Catalog) -> None:
    ids = catalog.ids  # type: ignore[attr-defined]
    assert found(catalog, f"id:{ids['sn']}") == {"sn"}
    assert found(catalog, f"id:{ids['k1']},{ids['k2']}") == {"k1", "k2"}


# -- text fields and paths ------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("cat:kick", {"k1", "k2"}),
    ("CAT:KICK", {"k1", "k2"}),
    ("category:kick,snare", {"k1", "k2", "sn"}),
    ("-cat:kick", ALL - {"k1", "k2"}),  # includes the uncategorised ch and dl
    ("-cat:kick,snare", ALL - {"k1", "k2", "sn"}),
    ("cat:k*", {"k1", "k2", "rh"}),
    ("cat:?ass", {"bl", "be"}),
    ("cat:'k*'", set()),  # quoted: literal
    ("cat:*", ALL - {"ch", "dl"}),
    ("-cat:*", {"ch", "dl"}),
    ("fmt:WAV", ALL - {"k2", "ch"}),
    ("format:aiff,flac", {"k2", "ch"}),
    ("name:kick_0?*", {"k1", "k2"}),
    ("filename:'Kick_02 Deep.aiff'", {"k2"}),
    ("name:*[long]*", {"fx"}),  # '[' is literal, not a character class
    ("name:'riser [long].wav'", {"fx"}),
    ("artist:zoë", {"rh"}),
    ("title:*night", {"rh"}),
    ("desc:'warm tape chords'", {"ch"}),
    ("description:warm*", {"ch"}),
])
def test_text_fields(catalog: Catalog, text: str, expected: set[str]) -> None:
    assert found(catalog, text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("path:*/Loops/*", {"bl", "ch", "dl"}),
    ("path:/Loops/", {"bl", "ch", "dl"}),  # no glob characters: substring
    ("path:loops", set()),  # case-sensitive
    ("path:*.flac", {"ch"}),
    ("path:*/Kick_0?*", {"k1", "k2"}),
    ("path:*[long]*", {"fx"}),
    ("path:'Kick_02 Deep'", {"k2"}),
    ("-path:Loops", ALL - {"bl", "ch", "dl"}),
    ("path:Snares,Bass", {"sn", "be"}),
])
def test_paths(catalog: Catalog, text: str, expected: set[str]) -> None:
    assert found(catalog, text) == expected


# -- tags, types, notes, keys ---------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("tag:dark", {"k1", "bl"}),
    ("tag:DARK", {"k1", "bl"}),
    ("tag:d*", {"k1", "bl"}),
    ("tag:dark,lofi", {"k1", "bl", "ch"}),
    ("tags:fx-LONG", {"fx"}),
    ("-tag:used", ALL - {"bl", "fx"}),
    ("tag:dark -tag:used", {"k1"}),
    ("tag:*", {"k1", "bl", "ch", "fx"}),
    ("-tag:*", {"k2", "sn", "dl", "be", "rh"}),
])
def test_tags(catalog: Catalog, text: str, expected: set[str]) -> None:
    assert found(catalog, text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("type:loop", {"bl", "ch", "dl", "rh"}),
    ("type:oneshot", {"k1", "k2", "sn", "be"}),
    ("type:one-shot", {"k1", "k2", "sn", "be"}),
    ("type:ONE_SHOT", {"k1", "k2", "sn", "be"}),
    ("type:loop,oneshot", ALL - {"fx"}),
    ("-type:loop", {"k1", "k2", "sn", "be", "fx"}),
    ("type:*", ALL - {"fx"}),
])
def test_types(catalog: Catalog, text: str, expected: set[str]) -> None:
    assert found(catalog, text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("note:C", {"k1"}),
    ("note:c", {"k1"}),
    ("note:A#", {"k2"}),
    ("note:Bb", {"k2"}),  # flats are spelled as sharps
    ("note:Bb0", {"k2"}),
    ("note:E1", {"be"}),
    ("note:C,E", {"k1", "be"}),
    ("note:C1..E1", {"k1", "be"}),
    ("note:..C1", {"k1", "k2"}),
    ("note:D1..", {"be"}),
    ("note:C-1..B0,E1", {"k2", "be"}),
    ("note:C-1", set()),
    ("note:*", {"k1", "k2", "be"}),
    ("-note:C", ALL - {"k1"}),
])
def test_notes(catalog: Catalog, text: str, expected: set[str]) -> None:
    assert found(catalog, text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("key:Am", {"bl"}),
    ("key:'A minor'", {"bl"}),
    ('key:"a min"', {"bl"}),
    ("key:Amin", {"bl"}),
    ("key:8A", {"bl"}),
    ("key:8a", {"bl"}),
    ("key:C", {"ch"}),
    ("key:C,Dm", {"ch", "rh"}),
    ("key:F#m", set()),
    ("key:Gb", set()),
    ("key:minor", {"bl", "be", "rh"}),
    ("key:major", {"ch"}),
    ("key:Am~", {"bl", "ch", "be", "rh"}),  # 8A, its neighbours 7A and 9A, relative 8B
    ("key:C~", {"ch", "bl"}),  # 8B: 7B, 9B, 8A
    ("key:'E minor'~", {"be", "bl"}),  # 9A: 8A, 10A, 9B
    ("key:Am~,C", {"bl", "ch", "be", "rh"}),
    ("key:*", {"bl", "ch", "be", "rh"}),
    ("-key:Am", ALL - {"bl"}),
    ("-key:Am~", ALL - {"bl", "ch", "be", "rh"}),
    ("camelot:8B", {"ch"}),
    ("camelot:8a~", {"bl", "ch", "be", "rh"}),
])
def test_keys(catalog: Catalog, text: str, expected: set[str]) -> None:
    assert found(catalog, text) == expected


CAMELOT_TABLE = {
    "1A": ["1A", "12A", "2A", "1B"], "2A": ["2A", "1A", "3A", "2B"], "3A": ["3A", "2A", "4A", "3B"],
    "4A": ["4A", "3A", "5A", "4B"], "5A": ["5A", "4A", "6A", "5B"], "6A": ["6A", "5A", "7A", "6B"],
    "7A": ["7A", "6A", "8A", "7B"], "8A": ["8A", "7A", "9A", "8B"], "9A": ["9A", "8A", "10A", "9B"],
    "10A": ["10A", "9A", "11A", "10B"], "11A": ["11A", "10A", "12A", "11B"],
    "12A": ["12A", "11A", "1A", "12B"],
    "1B": ["1B", "12B", "2B", "1A"], "2B": ["2B", "1B", "3B", "2A"], "3B": ["3B", "2B", "4B", "3A"],
    "4B": ["4B", "3B", "5B", "4A"], "5B": ["5B", "4B", "6B", "5A"], "6B": ["6B", "5B", "7B", "6A"],
    "7B": ["7B", "6B", "8B", "7A"], "8B": ["8B", "7B", "9B", "8A"], "9B": ["9B", "8B", "10B", "9A"],
    "10B": ["10B", "9B", "11B", "10A"], "11B": ["11B", "10B", "12B", "11A"],
    "12B": ["12B", "11B", "1B", "12A"],
}


@pytest.mark.parametrize("code", sorted(CAMELOT_TABLE))
def test_compatible_camelot_table(code: str) -> None:
    assert compatible_camelot(code) == CAMELOT_TABLE[code]
    assert compatible_camelot(code.lower()) == CAMELOT_TABLE[code]


def test_compatible_camelot_rejects_non_codes() -> None:
    for bad in ("0A", "13B", "8C", "A", ""):
        with pytest.raises(ValueError):
            compatible_camelot(bad)


def test_key_compatibility_compiles_to_camelot_codes() -> None:
    query = compile_query("key:Am~")
    assert query.where == "s.camelot IN (?, ?, ?, ?)"
    assert query.params == ["8A", "7A", "9A", "8B"]
    assert compile_query("key:'F# major'").params == ["F# major"]
    assert compile_query("key:Gbmaj").params == ["F# major"]


# -- free text ------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("kick", {"k1", "k2"}),  # the word in Kick_01 (underscore splits) and the Kicks folder
    ("KIC", {"k1", "k2"}),  # a bare word also matches words it begins
    ('"kic"', set()),  # a quoted phrase matches whole words
    ("deep", {"k2"}),
    ("cafe", {"rh"}),  # accents don't matter, in the query or the data
    ("CAFÉ", {"rh"}),
    ("zoe", {"rh"}),  # artist
    ("rhodes night", {"rh"}),  # title; words anywhere
    ('"warm tape"', {"ch"}),  # description, as a phrase
    ('"tape warm"', set()),
    ("warm tape", {"ch"}),
    ("dark", {"k1", "bl"}),  # tags
    ("samples", ALL),  # the scanned folder's own name is part of the indexed path
    ("lib", set()),  # ... but not the absolute prefix above it
    ("loop", {"bl", "ch", "dl"}),
    ("-loop", ALL - {"bl", "ch", "dl"}),
    ('-"warm tape"', ALL - {"ch"}),
    ("kick -deep", {"k1"}),
    ("kick*", {"k1", "k2"}),
    ("bass_loop", {"bl"}),
    ("'kick OR snare'", set()),  # FTS syntax in user text stays text
    ("""'kick" OR "snare'""", set()),
    ("NEAR(kick", set()),
    ("samples_fts", set()),
])
def test_free_text(catalog: Catalog, text: str, expected: set[str]) -> None:
    assert found(catalog, text) == expected


def test_free_text_and_fields_combine(catalog: Catalog) -> None:
    assert found(catalog, "kick lufs:..-10") == {"k2"}
    assert found(catalog, "dark type:loop") == {"bl"}
    assert run(catalog, "loop sort:bpm-") == ["dl", "ch", "bl"]


def test_fts_follows_updates_tags_and_deletes(catalog: Catalog) -> None:
    ids = catalog.ids  # type: ignore[attr-defined]
    catalog.update_sample(ids["sn"], {"path": f"{ROOT}/Perc/Rimshot.wav", "name": "Rimshot.wav"})
    assert found(catalog, "rimshot") == {"sn"}
    assert found(catalog, "snare") == set()
    catalog.update_sample(ids["ch"], {"description": "Dusty vinyl"})
    assert found(catalog, "vinyl") == {"ch"}
    assert found(catalog, "warm") == set()
    catalog.update_sample(ids["ch"], {"bpm": 100.0})  # not an indexed column: no re-index needed
    assert found(catalog, "vinyl") == {"ch"}
    # The same tag from another source is skipped by INSERT OR IGNORE (no trigger fires):
    # the index must still be right, and right again once the user's copy goes.
    catalog.set_tags(ids["k1"], ["dark"], "metadata")
    assert found(catalog, "dark") == {"k1", "bl"}
    catalog.set_tags(ids["k1"], ["gritty"], "user")
    assert found(catalog, "gritty") == {"k1"}
    assert found(catalog, "punchy") == set()
    assert found(catalog, "dark") == {"bl"}
    catalog.conn.execute("UPDATE tags SET tag = 'bright' WHERE tag = 'lofi'")
    assert found(catalog, "bright") == {"ch"}
    catalog.delete_samples([ids["bl"]])
    assert found(catalog, "dark") == set()
    # An upsert of an existing path goes through the update trigger.
    catalog.insert_sample({"path": ROWS["dl"]["path"], "root": ROOT, "hash": "x", "name": "Breakbeat.wav"})
    assert found(catalog, "breakbeat") == {"dl"}
    assert catalog.scalar("SELECT count(*) FROM samples_fts") == len(ROWS) - 1
    catalog.conn.execute("INSERT INTO samples_fts (samples_fts) VALUES ('integrity-check')")


def test_fts_indexes_paths_from_the_root_folder_name_down(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "library.db")  # its migrations created the FTS table
    try:
        catalog.insert_sample({"path": "/a/One/x.wav", "root": "/a/One/x.wav", "hash": "1", "name": "x.wav"})
        catalog.insert_sample({"path": "/b/Two/y.wav", "root": "/elsewhere", "hash": "2", "name": "y.wav"})
        catalog.insert_sample({"path": "/z.wav", "root": "/", "hash": "3", "name": "z.wav"})
        assert catalog.query("SELECT path FROM samples_fts ORDER BY rowid") == [
            ("x.wav",), ("b/Two/y.wav",), ("z.wav",)]
    finally:
        catalog.close()


# -- sort and limit -------------------------------------------------------------------

def test_default_order_is_by_path(catalog: Catalog) -> None:
    assert run(catalog, "") == BY_PATH
    assert compile_query("").order_by == "s.path"


def test_sort_ascending_and_descending_with_nulls_last(catalog: Catalog) -> None:
    no_bpm = [name for name in BY_PATH if "bpm" not in ROWS[name]]
    assert run(catalog, "sort:bpm") == ["rh", "bl", "ch", "dl", *no_bpm]
    assert run(catalog, "sort:bpm-") == ["dl", "ch", "bl", "rh", *no_bpm]
    assert run(catalog, "sort:-tempo") == ["dl", "ch", "bl", "rh", *no_bpm]
    assert run(catalog, "sort:bpm+") == run(catalog, "sort:bpm")
    assert compile_query("sort:bpm-").order_by == "s.bpm DESC NULLS LAST, s.path"


def test_sort_by_several_fields(catalog: Catalog) -> None:
    assert run(catalog, "sort:type sort:dur-") == ["rh", "bl", "ch", "dl", "be", "k2", "k1", "sn", "fx"]
    assert run(catalog, "sort:type,dur-") == run(catalog, "sort:type sort:dur-")


def test_sort_special_fields(catalog: Catalog) -> None:
    assert run(catalog, "note:* sort:note") == ["k2", "k1", "be"]  # by measured pitch
    assert run(catalog, "key:* sort:key") == ["rh", "bl", "ch", "be"]  # around the Camelot wheel
    assert run(catalog, "cat:* sort:cat-,path")[:3] == ["sn", "k1", "k2"]
    assert run(catalog, "sort:path-") == BY_PATH[::-1]
    assert compile_query("sort:path-").order_by == "s.path DESC NULLS LAST"
    assert sorted(run(catalog, "sort:random")) == sorted(ALL)


def test_limit(catalog: Catalog) -> None:
    assert run(catalog, "limit:2") == BY_PATH[:2]
    assert run(catalog, "limit:0") == []
    assert run(catalog, "type:loop sort:bpm- limit:1") == ["dl"]
    assert compile_query("limit:50").limit == 50
    assert compile_query("cat:kick").limit is None


# -- collections ----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("@kicks", {"k1", "k2"}),
    ("@dark_kicks", {"k1"}),
    ('@"dark kicks"', {"k1"}),
    ("-@kicks", ALL - {"k1", "k2"}),  # uncategorised samples are not in the collection
    ("@kicks -@dark", {"k2"}),
    ("@empty", ALL),
    ("-@empty", set()),
])
def test_collections(catalog: Catalog, text: str, expected: set[str]) -> None:
    assert found(catalog, text) == expected


def test_collection_order_and_limit_apply_unless_the_query_sets_its_own(catalog: Catalog) -> None:
    assert run(catalog, "@loud") == ["k1", "dl"]
    assert run(catalog, "@loud sort:lufs") == ["sn", "dl"]
    assert run(catalog, "@loud limit:1") == ["k1"]
    assert run(catalog, "@loud limit:5") == ["k1", "dl", "sn"]


def test_collection_resolver_sees_each_name_once_per_use() -> None:
    asked: list[str] = []

    def resolve(name: str) -> str | None:
        asked.append(name)
        return COLLECTIONS.get(name)

    compile_query("@dark_kicks cat:kick", resolve)
    assert asked == ["dark_kicks", "kicks", "dark"]


# -- the whitelist --------------------------------------------------------------------

def test_every_field_is_a_catalog_column(catalog: Catalog) -> None:
    columns = {row[1] for row in catalog.query("PRAGMA table_info(samples)")}
    assert {spec.name for spec in FIELDS.values() if spec.kind not in ("tag", "fav")} <= columns
    assert set(ALIASES.values()) <= set(FIELDS)
    not_queryable = {"schema_version", "tags", "bpm_alternatives"}
    assert {name for name in RECORD_FIELDS if name in columns} - not_queryable <= set(FIELDS)


@pytest.mark.parametrize("name", sorted({*FIELDS, *ALIASES}))
def test_every_field_and_alias_runs(catalog: Catalog, name: str) -> None:
    run(catalog, f"{name}:* -{name}:*")
    if FIELDS[ALIASES.get(name, name)].kind not in ("tag", "fav"):  # their own tables
        run(catalog, f"sort:{name}-")


# -- property: arbitrary text is an error or safe SQL ----------------------------------

FRAGMENTS = ["cat:", "bpm:", "key:", "note:", "tag:", "path:", "sort:", "limit:", "dur:", "type:",
             "lufs:", "-", ",", "..", '"', "'", "@", "~", "*", "?", "[", ":", " ", "kick", "Am",
             "C2", "120", "-10", "ms", "é", "漢", "\x00", "\n", "'; DROP TABLE samples; --",
             "\" OR 1=1 --", ") OR (1=1", "loop", "@kicks", "@self"]
QUERIES = st.one_of(
    st.text(max_size=60),
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=4)), max_size=12).map("".join),
)
SQL_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.,()?=<> ")
# Every word the compiler may write: SQL, whitelisted columns, the FTS and tags tables.
SQL_WORDS = {spec.name for spec in FIELDS.values()} | {
    "s", "t", "AND", "OR", "NOT", "IN", "IS", "NULL", "EXISTS", "SELECT", "FROM", "WHERE", "GLOB",
    "MATCH", "coalesce", "lower", "instr", "rtrim", "rowid", "samples_fts", "tags", "sample_id",
    "CAST", "AS", "INTEGER", "ASC", "DESC", "NULLS", "LAST", "COLLATE", "NOCASE", "random",
    "0", "1"}


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=QUERIES)
def test_any_text_is_an_error_or_safe_sql(catalog: Catalog, text: str) -> None:
    try:
        query = compile_query(text, COLLECTIONS.get)
    except QueryError as exc:
        event("QueryError")
        lines = str(exc).splitlines()
        assert lines[0].startswith("bad query: ")
        assert set(lines[-1].strip()) == {"^"}
        return
    event("compiled and ran")
    try:
        list(catalog.records(query.where, query.params, order_by=query.order_by, limit=query.limit))
    except sqlite3.Error as exc:  # pragma: no cover - the failure message is the point
        pytest.fail(f"{text!r} compiled to failing SQL {query.where!r}: {exc}")
    # No user text in the SQL: it is built from the whitelist, values are all parameters.
    assert set(query.where) <= SQL_CHARS and set(query.order_by) <= SQL_CHARS
    words = set(re.findall(r"\w+", query.where + " " + query.order_by))
    assert words <= SQL_WORDS, words - SQL_WORDS
    assert query.where.count("?") == len(query.params)
    assert catalog.scalar("SELECT count(*) FROM samples") == len(ROWS)
