"""The server twins of the local AI: POST /api/v1/ask and describe as a job, against the
fake Ollama of test_ai_fake_ollama.py through the real ollama client."""

from __future__ import annotations

from pathlib import Path

import pytest
import test_ai_fake_ollama as fake
from server_fixtures import wait_job
from test_ai_fake_ollama import FakeOllama, Slow, free_port_with_nothing_listening

from samplemind import Library
from samplemind.server import ServerConfig, make_app

pytestmark = pytest.mark.asyncio

scanned_template = fake.scanned_template
ai_home = fake.ai_home
fake_ollama = fake.fake_ollama


@pytest.fixture
def client_for(aiohttp_client):
    async def make(home: Path):
        return await aiohttp_client(make_app(home, config=ServerConfig(record_cache_mb=1)))

    return make


@pytest.mark.slow
async def test_ask_runs_the_models_query(client_for, ai_home: Path, fake_ollama: FakeOllama):
    fake_ollama.ask_replies = ['{"query": "cat:kick"}']
    client = await client_for(ai_home)
    response = await client.post("/api/v1/ask", json={"words": "a deep kick"})
    data = await response.json()
    assert response.status == 200, data
    assert data["ask"]["query"] == "cat:kick" and data["ask"]["translator"] == "model"
    assert [s["name"] for s in data["samples"]] == ["kick_deep.wav"]
    assert "a deep kick" in fake_ollama.calls("/api/generate")[0]["prompt"]


async def test_ask_without_ollama_uses_the_built_in_translator(client_for, ai_home: Path,
                                                               monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OLLAMA_HOST", f"http://127.0.0.1:{free_port_with_nothing_listening()}")
    client = await client_for(ai_home)
    response = await client.post("/api/v1/ask", json={"words": "drum loop around 120 bpm",
                                                      "limit": 5})
    data = await response.json()
    assert response.status == 200, data
    assert data["ask"]["translator"] == "built-in"
    assert "type:loop" in data["ask"]["query"] and "bpm:" in data["ask"]["query"]
    assert [s["name"] for s in data["samples"]] == ["loop_120.wav"]
    again = await (await client.post("/api/v1/ask", json={"words": "kick",
                                                          "use_model": False})).json()
    assert again["ask"]["query"] == "cat:kick"


@pytest.mark.parametrize("body", [{}, {"words": ""}, {"words": 3}, {"words": "x" * 501},
                                  {"words": "kick", "limit": 0}, {"words": "kick", "model": ""},
                                  {"words": "kick", "use_model": "yes"}])
async def test_bad_ask_requests_are_400(client_for, ai_home: Path, fake_ollama: FakeOllama, body):
    client = await client_for(ai_home)
    response = await client.post("/api/v1/ask", json=body)
    assert response.status == 400
    assert (await response.json())["ok"] is False


@pytest.mark.parametrize(("words", "said"), [("   ", "words must say what to look for"),
                                             ("kick\x00", "words may not contain NUL")])
async def test_what_words_must_say_is_the_cores_rule(client_for, ai_home: Path,
                                                     fake_ollama: FakeOllama, words, said):
    """The server does not check words again: Library.ask refuses them, in words that name
    the request's own field (the CLI says --ask)."""
    client = await client_for(ai_home)
    response = await client.post("/api/v1/ask", json={"words": words, "use_model": False})
    data = await response.json()
    assert response.status == 400 and data["error"].startswith(said), data


async def test_describe_job_stores_answers_and_reports_failures(client_for, ai_home: Path,
                                                                fake_ollama: FakeOllama):
    fake_ollama.describe_replies = {"snare": "not json at all"}
    client = await client_for(ai_home)
    ws = await client.ws_connect("/api/v1/ws")
    await ws.receive_json()  # hello
    response = await client.post("/api/v1/describe", json={"query": "cat:kick,snare"})
    assert response.status == 202
    job = await wait_job(client, (await response.json())["id"])
    assert job["kind"] == "describe" and job["status"] == "done", job
    result = job["result"]
    assert result["described"] == 1 and result["failed"] == 1
    assert result["failures"][0]["path"].endswith("snare_tight.wav")
    kick = result["results"][0]
    assert kick["name"] == "kick_deep.wav" and kick["source"] == "ai" and kick["description"]
    record = await (await client.get(f"/api/v1/samples/{kick['id']}")).json()
    assert set(kick["tags"]) <= set(record["tags"])  # the stored tags are served at once
    kinds = set()
    while "done" not in kinds:
        message = await ws.receive_json(timeout=60)
        if message["type"] == "job" and message["data"]["id"] == job["id"]:
            kinds.add(message["data"]["status"])
    assert {"queued", "done"} <= kinds
    await ws.close()


async def test_describe_by_ids_with_ollama_missing_fails_the_job_with_the_fix(
        client_for, ai_home: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OLLAMA_HOST", f"http://127.0.0.1:{free_port_with_nothing_listening()}")
    client = await client_for(ai_home)
    with Library(ai_home) as library:
        ids = [sample.id for sample in library.ls()]
    response = await client.post("/api/v1/describe", json={"ids": ids[:2]})
    job = await wait_job(client, (await response.json())["id"])
    assert job["status"] == "failed" and "ollama serve" in job["error"]


async def test_describe_can_be_cancelled(client_for, ai_home: Path, fake_ollama: FakeOllama):
    fake_ollama.describe_replies = {"": Slow()}
    client = await client_for(ai_home)
    response = await client.post("/api/v1/describe", json={"query": "cat:kick"})
    job_id = (await response.json())["id"]
    await client.delete(f"/api/v1/jobs/{job_id}")
    fake_ollama.describe_replies = {}
    job = await wait_job(client, job_id)
    assert job["status"] in ("cancelled", "done", "failed")


@pytest.mark.parametrize("body", [{}, {"ids": [1], "query": "cat:kick"}, {"ids": []},
                                  {"ids": ["1"]}, {"ids": [True]}, {"query": ""},
                                  {"query": "bpm:fast"}, {"query": "cat:kick", "refresh": 1}])
async def test_bad_describe_requests_are_400(client_for, ai_home: Path, body):
    client = await client_for(ai_home)
    response = await client.post("/api/v1/describe", json=body)
    assert response.status == 400, body
