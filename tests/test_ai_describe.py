"""samplemind describe: prompts from features, validated answers stored with source "ai",
per-sample failures in a batch, Ollama missing, the answer cache, --refresh and resuming."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import diskcache
import pytest
import test_ai_fake_ollama as fake
from test_ai_fake_ollama import MODEL, FakeOllama, Slow, free_port_with_nothing_listening

from samplemind import Library
from samplemind.ai.cache import AI_CACHE_TTL, AICache, ai_cache_dir
from samplemind.ai.describe import validate_answer
from samplemind.ai.errors import ModelAnswerError, ModelMissing, OllamaUnreachable
from samplemind.ai.prompts import DESCRIBE_PROMPT_VERSION, DESCRIBE_SCHEMA

from helpers import run_cli

pytestmark = pytest.mark.slow  # the whole module: `pytest -m "not slow"` leaves it out

NAMES = ["hat_closed.wav", "kick_deep.wav", "loop_120.wav", "snare_tight.wav"]

# The fake Ollama and the scanned home, shared with test_ai_fake_ollama.py.
scanned_template = fake.scanned_template
ai_home = fake.ai_home
fake_ollama = fake.fake_ollama


def _open(home: Path) -> Library:
    return Library(home, jobs=1, timeout=60)


def _ids(library: Library) -> dict[str, int]:
    return {sample.record["name"]: sample.id for sample in library.ls()}


def _prompt_names(prompts: list[str]) -> list[str]:
    return sorted(line.removeprefix("name: ") for prompt in prompts
                  for line in prompt.splitlines() if line.startswith("name: "))


def test_the_prompt_carries_the_features_name_and_tags(ai_home: Path, fake_ollama: FakeOllama):
    with _open(ai_home) as library:
        loop_id = _ids(library)["loop_120.wav"]
        library.tag([loop_id], ["vintage"])
        library.set(loop_id, {"key": "A minor"})  # drums have no key: give it one to show
        loop = library.get(loop_id).to_json()
        library.describe([loop_id])
    body = fake_ollama.calls("/api/chat")[0]
    assert body["model"] == MODEL and body["format"] == DESCRIBE_SCHEMA
    assert body["messages"][0]["role"] == "system"
    prompt = body["messages"][-1]["content"]
    assert "name: loop_120.wav" in prompt
    assert "type: loop" in prompt
    assert f"tempo: {loop['bpm']:.1f} BPM" in prompt and loop["bpm"] == pytest.approx(120, abs=1)
    assert f"duration: {loop['duration']:.2f} s" in prompt
    assert f"loudness: {loop['loudness_lufs']:.1f} LUFS" in prompt
    assert f"spectral centroid: {loop['spectral_centroid']:.0f} Hz" in prompt
    assert f"attack: {loop['attack_time']:.3f} s" in prompt
    assert "key: A minor" in prompt
    assert "tags: vintage" in prompt


def test_answers_are_validated_stored_with_source_ai_and_searchable(ai_home: Path,
                                                                   fake_ollama: FakeOllama):
    with _open(ai_home) as library:
        report = library.describe(["kick_deep"])  # a query: free text
        assert [item.name for item in report.results] == ["kick_deep.wav"]
        item = report.results[0]
        assert item.status == "described" and item.model == MODEL
        assert item.description == "A clean test sound called kick_deep."
        assert item.tags == ["kick_deep", "test", "warm"]  # lower-cased, '#' and spaces trimmed
        assert item.mood == "calm" and item.uses == ["intro", "breakdown"]
        record = library.get(item.sample_id).to_json()
        assert set(record["tags"]) == {"kick_deep", "test", "warm"}
        assert {row["tag"]: row["sources"] for row in library.tags()}["warm"] == ["ai"]
        # The description, mood and uses are in the full-text index.
        assert [s.id for s in library.ls("breakdown")] == [item.sample_id]
        assert [s.id for s in library.ls("calm")] == [item.sample_id]
        assert [s.id for s in library.ls('"clean test sound"')] == [item.sample_id]


def test_a_batch_reports_malformed_and_late_answers_and_goes_on(ai_home: Path,
                                                               fake_ollama: FakeOllama):
    fake_ollama.describe_replies.update({
        "snare": "this is not json at all",
        "hat": json.dumps({"tags": ["x"], "mood": "m", "uses": []}),  # no description
        "kick": Slow(),
    })
    result = run_cli("describe", "type:*", "--timeout", "1", "-j", "2", "-f", "jsonl")
    assert result.returncode == 3, result.stderr
    described = [json.loads(line) for line in result.stdout.splitlines()]
    assert [item["name"] for item in described] == ["loop_120.wav"]
    assert described[0]["source"] == "ai" and described[0]["status"] == "described"
    assert "1 asked" in result.stderr and "3 failed" in result.stderr
    lines = result.stderr.splitlines()
    assert any("snare_tight.wav" in line and "not JSON" in line for line in lines)
    assert any("hat_closed.wav" in line and "no 'description'" in line for line in lines)
    # The core says "(raise the timeout)"; the command names its option.
    assert any("kick_deep.wav" in line and "within 1 s (raise --timeout)" in line
               for line in lines)
    # The failed ones are tried again by the next run; the described one is kept.
    fake_ollama.describe_replies.clear()
    again = run_cli("describe", "type:*", "-f", "json")
    assert again.returncode == 0, again.stderr
    statuses = {item["name"]: item["status"] for item in json.loads(again.stdout)}
    assert statuses == {"hat_closed.wav": "described", "kick_deep.wav": "described",
                        "loop_120.wav": "kept", "snare_tight.wav": "described"}


def test_a_missing_model_exits_4_with_the_pull_hint(ai_home: Path, fake_ollama: FakeOllama):
    result = run_cli("describe", "1", "--model", "qwen2.5:3b-instruct")
    assert result.returncode == 4
    assert "ollama pull qwen2.5:3b-instruct" in result.stderr
    assert result.stderr.count("error:") == 1 and result.stdout == ""
    assert fake_ollama.calls("/api/chat") == []  # checked once, before asking anything
    with _open(ai_home) as library, pytest.raises(ModelMissing):
        library.describe([1], model="qwen2.5:3b-instruct")


def test_ollama_not_running_exits_4_with_the_serve_hint(ai_home: Path,
                                                        monkeypatch: pytest.MonkeyPatch):
    host = f"127.0.0.1:{free_port_with_nothing_listening()}"
    result = run_cli("describe", "type:*", env={"OLLAMA_HOST": host})
    assert result.returncode == 4
    assert "ollama serve" in result.stderr and host in result.stderr
    monkeypatch.setenv("OLLAMA_HOST", host)
    with _open(ai_home) as library:
        with pytest.raises(OllamaUnreachable):
            library.describe(["type:*"])
        assert library.catalog.scalar("SELECT count(*) FROM ai_descriptions") == 0


def test_answers_are_cached_by_content_for_seven_days(ai_home: Path, fake_ollama: FakeOllama,
                                                      tmp_path: Path):
    with _open(ai_home) as library:
        kick = library.get(_ids(library)["kick_deep.wav"]).to_json()
        library.describe([kick["id"]])
        # The same bytes elsewhere (a copy in another pack) reuse the answer: no request.
        copies = tmp_path / "copies"
        copies.mkdir()
        shutil.copy(kick["path"], copies / "kick_copy.wav")
        shutil.copy(kick["path"], copies / "kick_again.wav")
        library.scan([copies])
        copy_id = library.get(str(copies / "kick_copy.wav")).id
        report = library.describe([copy_id])
        assert [item.status for item in report.results] == ["cached"]
        assert report.results[0].description == "A clean test sound called kick_deep."
        assert len(fake_ollama.calls("/api/chat")) == 1
        stats = library.ai_cache_stats()
        assert (stats["hits"], stats["misses"], stats["entries"]) == (1, 1, 1)

        # Stored for 7 days (diskcache expire=), then gone: the next copy asks again.
        key = AICache.describe_key(kick["hash"], MODEL, DESCRIBE_PROMPT_VERSION)
        raw = diskcache.Cache(str(ai_cache_dir(library.paths.cache_dir)))
        value, expires = raw.get(key, expire_time=True)
        assert value["description"] == "A clean test sound called kick_deep."
        stored_at = expires - AI_CACHE_TTL
        assert AI_CACHE_TTL == 7 * 24 * 3600 and stored_at <= time.time()
        assert raw.expire(now=stored_at + AI_CACHE_TTL - 60) == 0  # a day before: kept
        assert raw.expire(now=stored_at + AI_CACHE_TTL + 60) == 1  # a week after: expired
        raw.close()
        again = library.describe([str(copies / "kick_again.wav")])
        assert [item.status for item in again.results] == ["described"]
        assert len(fake_ollama.calls("/api/chat")) == 2

    result = run_cli("cache", "stats", "-f", "json")
    figures = json.loads(result.stdout)
    # Hits: the copy, and this test's own look-up of the expiry time; misses: both asks.
    assert figures["ai_entries"] == 1 and figures["ai_hits"] == 2 and figures["ai_misses"] == 2
    assert figures["ai_directory"].endswith(os.path.join("cache", "ai"))
    cleared = run_cli("cache", "clear")
    assert "1 AI answers" in cleared.stderr
    assert json.loads(run_cli("cache", "stats", "-f", "json").stdout)["ai_entries"] == 0


def test_refresh_asks_again_and_replaces_only_the_ai_tags(ai_home: Path,
                                                          fake_ollama: FakeOllama):
    with _open(ai_home) as library:
        snare = _ids(library)["snare_tight.wav"]
        library.tag([snare], ["vintage"])
        assert library.describe([snare]).results[0].status == "described"
        assert library.describe([snare]).results[0].status == "kept"
        assert len(fake_ollama.calls("/api/chat")) == 1
        fake_ollama.describe_replies["snare"] = json.dumps(
            {"description": "A crisp, tight snare.", "tags": ["crisp"], "mood": "tense",
             "uses": ["backbeat"]})
        refreshed = library.describe([snare], refresh=True).results[0]
        assert refreshed.status == "described" and refreshed.tags == ["crisp"]
        assert len(fake_ollama.calls("/api/chat")) == 2
        assert library.get(snare).to_json()["tags"] == ["crisp", "vintage"]
        # The model is not shown its own earlier tags, only the user's.
        assert "tags: vintage" in fake_ollama.prompts()[-1]
        assert "test" not in fake_ollama.prompts()[-1].split("tags:")[-1]
        assert [s.id for s in library.ls("backbeat")] == [snare]
        assert list(library.ls("breakdown")) == []  # the old answer left the index


def test_an_interrupted_batch_resumes_where_it_stopped(ai_home: Path, fake_ollama: FakeOllama):
    def stop_after_two(done: int, total: int, name: str, status: str) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with _open(ai_home) as library:
        with pytest.raises(KeyboardInterrupt):
            library.describe(["type:*"], concurrency=1, progress=stop_after_two)
        stored = library.catalog.scalar("SELECT count(*) FROM ai_descriptions")
        assert stored == 2
        asked_before = len(fake_ollama.calls("/api/chat"))
        report = library.describe(["type:*"], concurrency=1)
    assert sorted(item.status for item in report.results) == ["described", "described",
                                                              "kept", "kept"]
    described = sorted(item.name for item in report.results if item.status == "described")
    kept = sorted(item.name for item in report.results if item.status == "kept")
    assert sorted(described + kept) == NAMES
    # The second run asked only for the samples not yet described.
    assert _prompt_names(fake_ollama.prompts()[asked_before:]) == described


def test_describe_cli_table_and_a_missing_sample(ai_home: Path, fake_ollama: FakeOllama):
    result = run_cli("describe", "kick_deep")
    assert result.returncode == 0, result.stderr
    assert "A clean test sound called kick_deep." in result.stdout
    assert "described" in result.stdout and "1 asked" in result.stderr
    missing = run_cli("describe", "999")
    assert missing.returncode == 1 and "no sample has id 999" in missing.stderr


def test_a_deleted_sample_takes_its_description_along(ai_home: Path, fake_ollama: FakeOllama):
    with _open(ai_home) as library:
        hat = library.get(_ids(library)["hat_closed.wav"]).to_json()
        library.describe([hat["id"]])
        library.catalog.conn.execute("BEGIN")
        library.catalog.delete_samples([hat["id"]])
        library.catalog.conn.execute("COMMIT")
        assert library.catalog.scalar("SELECT count(*) FROM ai_descriptions") == 0
        assert list(library.ls("breakdown")) == []


@pytest.mark.parametrize("text, problem", [
    ("[]", "not an object"),
    ('{"description": "", "tags": [], "mood": "", "uses": []}', "no 'description'"),
    ('{"description": "fine", "tags": "a, b", "mood": 3, "uses": []}', "'mood'"),
    ('{"description": "fine", "tags": [1, 2], "mood": "ok", "uses": []}', "'tags'"),
    ("```json\n{\"description\": \"x\"", "not JSON"),
])
def test_unusable_answers_are_refused(text: str, problem: str) -> None:
    with pytest.raises(ModelAnswerError, match=problem):
        validate_answer(text)


def test_answers_are_tidied() -> None:
    answer = validate_answer("```json\n" + json.dumps({
        "description": "Deep\n kick,\twith a long tail " + "very " * 60,
        "tags": ["Dark", "dark", "#Sub ", "", "x" * 40, "a", "b", "c", "d", "e", "f", "g"],
        "mood": " Brooding ", "uses": "drops; intros"}) + "\n```")
    assert "\n" not in answer["description"] and answer["description"].startswith(
        "Deep kick, with a long tail")
    assert len(answer["description"]) <= 201 and answer["description"].endswith("…")
    assert answer["tags"] == ["dark", "sub", "a", "b", "c", "d", "e", "f"]
    assert answer["mood"] == "Brooding" and answer["uses"] == ["drops", "intros"]
