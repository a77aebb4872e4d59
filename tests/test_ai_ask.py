"""Plain words to queries: the built-in translator on a table of phrases, and ``ls --ask``
end to end (the model through the fake Ollama, its retry, and the fallbacks)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import test_ai_fake_ollama as fake
from hypothesis import given, settings
from hypothesis import strategies as st
from test_ai_fake_ollama import MODEL, FakeOllama, Slow, free_port_with_nothing_listening

from samplemind import Library
from samplemind.ai.descriptors import cutoffs
from samplemind.ai.prompts import ASK_SCHEMA
from samplemind.ai.translate import _fmt, translate
from samplemind.query import compile_query, parse

from helpers import run_cli

pytestmark = pytest.mark.slow  # the whole module: `pytest -m "not slow"` leaves it out


def _third(term: str, field: str, side: str, category: str | None = None,
           type: str | None = None, unit: str = "") -> str:
    """The query term for the low or high third of a descriptor in a group, with the group's
    cut-off as the fitted table has it (descriptor_thresholds.json)."""
    low, high = cutoffs(field, category, type)
    return f"{term}:..{_fmt(low)}{unit}" if side == "low" else f"{term}:{_fmt(high)}{unit}.."


DARK_KICK = _third("centroid", "spectral_centroid", "low", "kick")

# phrase -> the terms its query must have (exactly, in any order)
PHRASES = [
    ("dark punchy kick around 125", {"cat:kick", DARK_KICK, "attack:..10ms"}),
    ("loop around 125", {"type:loop", "bpm:122..128"}),
    ("125 bpm drum loop", {"type:loop", "bpm:125"}),  # a drum loop has no category
    ("125bpm loops", {"type:loop", "bpm:125"}),
    ("bpm 90 breaks", {"type:loop", "bpm:90"}),
    ("bass loop in A minor 120bpm", {"cat:bass", "type:loop", "bpm:120", "key:Am"}),
    ("F#m pad", {"cat:pad", "key:F#m"}),
    ("chords in Bb major", {"key:A#maj", "chords"}),
    ("a warm pad in C", {"cat:pad", "key:Cmaj", _third("centroid", "spectral_centroid", "low",
                                                       "pad")}),
    ("bass C2", {"cat:bass", "note:C2"}),
    ("bright hats", {"cat:hihat", _third("centroid", "spectral_centroid", "high", "hihat")}),
    ("hi hats", {"cat:hihat"}),
    ("long noisy cymbals", {"cat:cymbal", _third("dur", "duration", "high", "cymbal", unit="s"),
                            _third("flatness", "spectral_flatness", "high", "cymbal")}),
    ("soft snare", {"cat:snare", _third("lufs", "loudness_lufs", "low", "snare")}),
    ("loud 808 kick", {"cat:kick", _third("lufs", "loudness_lufs", "high", "kick"), "808"}),
    ("short one-shots", {"type:oneshot", _third("dur", "duration", "low", unit="s")}),
    ("kick or snare", {"cat:kick,snare"}),
    ("claps but no snares", {"cat:clap", "-cat:snare"}),
    ("hats without reverb", {"cat:hihat", "-reverb"}),
    ("vinyl crackle loop 90-95 bpm", {"type:loop", "bpm:90..95", "vinyl", "crackle"}),
    ("loops between 120 and 128", {"type:loop", "bpm:120..128"}),
    ("loops over 140 bpm", {"type:loop", "bpm:140.."}),
    ("under 100 bpm grooves", {"type:loop", "bpm:..100"}),
    ("fx under 2 seconds", {"cat:fx", "dur:..2s"}),
    ("kick longer than 500ms", {"cat:kick", "dur:0.5s.."}),
    ("top 5 loudest kicks", {"cat:kick", "sort:lufs-", "limit:5"}),
    ("synth with slow attack", {"cat:synth", "attack:50ms.."}),
    ("gritty bass loops", {"cat:bass", "type:loop",
                           _third("flatness", "spectral_flatness", "high", "bass", "loop")}),
    ("I am looking for some shakers", {"cat:perc"}),
    ("", set()),
]

# The fake Ollama and the scanned home, shared with test_ai_fake_ollama.py.
scanned_template = fake.scanned_template
ai_home = fake.ai_home
fake_ollama = fake.fake_ollama


@pytest.mark.parametrize("phrase, terms", PHRASES, ids=[p or "empty" for p, _ in PHRASES])
def test_the_built_in_translator(phrase: str, terms: set[str]) -> None:
    query = translate(phrase).query
    parsed = parse(query)
    assert {query[term.start:term.end] for term in parsed} == terms
    assert len(parsed) == len(terms)
    compile_query(query)  # the real compiler accepts every clause


VOCABULARY = ["dark", "kick", "around", "125", "bpm", "in", "A", "minor", "F#m", "C2", "no",
              "without", "top", "5", "between", "and", "to", "under", "over", "1s", "500ms",
              "loop", "one", "shot", "hi", "hat", "than", "longer", "slow", "attack", "-", "~",
              "125ish", "120-128", "key", "of", "Bb", "major", "'", '"', "cat:kick", "#", "é",
              "808", "99999999999999999999", "nan", "1e5", "ms", ":", "..", "@x", "sort:", "*"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(VOCABULARY), max_size=10), st.text(max_size=20))
def test_any_words_make_a_query_the_parser_accepts(words: list[str], extra: str) -> None:
    compile_query(translate(" ".join(words) + " " + extra).query)


def test_thresholds_follow_the_kind_of_sound() -> None:
    kick_dark, _ = cutoffs("spectral_centroid", "kick")
    hat_dark, _ = cutoffs("spectral_centroid", "hihat")
    assert kick_dark < hat_dark  # a dark hi-hat is brighter than any dark kick
    assert translate("dark sounds").query == f"centroid:..{cutoffs('spectral_centroid')[0]:g}"
    assert cutoffs("spectral_centroid", "pad") == cutoffs("spectral_centroid", "keys")


def test_a_tempo_on_one_shot_drums_is_explained_not_used() -> None:
    translation = translate("dark punchy kick around 125")
    assert "bpm" not in translation.query
    assert translation.notes == ["around 125 BPM not used: one-shots have no tempo (say "
                                 "'loop' to find loops at that tempo)"]


# -- ls --ask end to end -----------------------------------------------------------------


def _ls(*args: str, env: dict[str, str] | None = None) -> tuple[list[int], str, int]:
    result = run_cli("ls", "-f", "jsonl", *args, env=env)
    ids = [json.loads(line)["id"] for line in result.stdout.splitlines()]
    return ids, result.stderr, result.returncode


def _expected(home: Path, query: str) -> list[int]:
    with Library(home) as library:
        return [sample.id for sample in library.ls(query)]


def test_ask_without_a_model_uses_the_built_in_translator(ai_home: Path,
                                                          fake_ollama: FakeOllama) -> None:
    ids, stderr, code = _ls("--ask", "loop around 120", "--no-model")
    assert code == 0
    assert "query (built-in translator): type:loop bpm:117..123" in stderr
    with Library(ai_home) as library:
        loop = library.get(str(Path(library.stats()["roots"][0]) / "loop_120.wav")).id
    assert ids == [loop]
    kicks, stderr, _ = _ls("--ask", "dark punchy kick around 125", "--no-model")
    assert "note: around 125 BPM not used" in stderr
    query = stderr.split("query (built-in translator): ")[1].splitlines()[0]
    assert query == f"cat:kick {DARK_KICK} attack:..10ms"
    assert kicks == _expected(ai_home, query)
    assert fake_ollama.requests == []  # --no-model never calls Ollama


def test_ask_with_the_model_runs_its_query(ai_home: Path, fake_ollama: FakeOllama) -> None:
    fake_ollama.ask_replies = ['{"query": "cat:snare,hihat sort:name"}']
    ids, stderr, code = _ls("--ask", "snares and hats")
    assert code == 0, stderr
    assert f"query (model {MODEL}): cat:snare,hihat sort:name" in stderr
    assert ids == _expected(ai_home, "cat:snare,hihat sort:name") and len(ids) == 2
    body = fake_ollama.calls("/api/generate")[0]
    assert body["prompt"] == "Request: snares and hats" and body["format"] == ASK_SCHEMA
    assert "Query language" in body["system"] and "centroid" in body["system"]
    # A second identical search comes from the cache.
    again, stderr, _ = _ls("--ask", "Snares  and hats")
    assert again == ids and "cached" in stderr
    assert len(fake_ollama.calls("/api/generate")) == 1


def test_ask_combines_with_a_query_argument(ai_home: Path, fake_ollama: FakeOllama) -> None:
    fake_ollama.ask_replies = ['{"query": "type:oneshot"}']
    ids, stderr, code = _ls("--ask", "one-shots", "cat:kick")
    assert code == 0 and ids == _expected(ai_home, "type:oneshot cat:kick") and len(ids) == 1


def test_a_rejected_query_is_retried_once_with_the_parser_error(ai_home: Path,
                                                                fake_ollama: FakeOllama) -> None:
    fake_ollama.ask_replies = ['{"query": "cat:kick bmp:120"}', '{"query": "`cat:kick`"}']
    ids, stderr, code = _ls("--ask", "kicks")
    assert code == 0, stderr
    assert f"query (model {MODEL}): cat:kick" in stderr
    assert ids == _expected(ai_home, "cat:kick")
    retry = fake_ollama.calls("/api/generate")[1]["prompt"]
    assert "cat:kick bmp:120" in retry and "unknown field 'bmp'" in retry


def test_two_rejected_queries_are_a_clear_failure(ai_home: Path, fake_ollama: FakeOllama) -> None:
    fake_ollama.ask_replies = ['{"query": "cat:kick bmp:120"}', "not json"]
    ids, stderr, code = _ls("--ask", "kicks")
    assert code == 1 and ids == []
    assert stderr.count("error:") == 1
    assert "rejected twice" in stderr and "--no-model" in stderr


@pytest.mark.parametrize("problem", ["down", "not pulled", "slow"])
def test_without_a_usable_model_the_built_in_translator_answers(
        ai_home: Path, fake_ollama: FakeOllama, problem: str) -> None:
    env: dict[str, str] = {}
    args = ["--ask", "kicks"]
    if problem == "down":
        env["OLLAMA_HOST"] = f"127.0.0.1:{free_port_with_nothing_listening()}"
    elif problem == "not pulled":
        args += ["--model", "phi3:mini"]
    else:
        fake_ollama.ask_replies = [Slow()]
        env["SAMPLEMIND_AI_TIMEOUT"] = "1"
    ids, stderr, code = _ls(*args, env=env)
    assert code == 0, stderr
    assert "query (built-in translator): cat:kick" in stderr
    assert ids == _expected(ai_home, "cat:kick") and len(ids) == 1
    hint = {"down": "ollama serve", "not pulled": "ollama pull phi3:mini",
            "slow": "within 1 s"}[problem]
    assert hint in stderr and "used the built-in translator" in stderr


def test_model_options_need_ask_and_ask_needs_words(ai_home: Path) -> None:
    result = run_cli("ls", "--no-model")
    assert result.returncode == 2 and "--ask" in result.stderr
    empty = run_cli("ls", "--ask", "  ")
    assert empty.returncode == 2 and "--ask must say what to look for" in empty.stderr
