"""A local aiohttp server that speaks Ollama's API, and the real ``ollama`` client against it.

The only thing faked in samplemind's AI tests is the model: requests go through the real
``ollama`` client (and samplemind's wrapper) over loopback HTTP to this server, which
answers /api/chat, /api/generate (streamed as NDJSON or not), /api/tags and /api/show
as Ollama does, records every request, and can be told to answer late, malformed, or
with Ollama's own errors. Other test_ai_* modules import ``FakeOllama`` and the
``fake_ollama`` fixture from here.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from samplemind.ai.client import OllamaClient
from samplemind.ai.errors import ModelAnswerError, ModelMissing, ModelTimeout, OllamaUnreachable

from audio_fixtures import write_drum_hit, write_drum_loop

MODEL = "llama3.2:3b"


@dataclass
class Slow:
    """Answer only after the client has given up (the server waits until it is stopped)."""


@dataclass
class Fail:
    """An HTTP error with Ollama's JSON error body."""

    status: int
    error: str


Reply = str | Slow | Fail


def default_description(name: str) -> str:
    """A valid describe answer that names the sample, so tests can tell answers apart."""
    stem = name.rsplit(".", 1)[0].lower()
    return json.dumps({"description": f"A clean test sound called {stem}.",
                       "tags": ["Test", f"#{stem}", "  Warm  "], "mood": "calm",
                       "uses": ["intro", "breakdown"]})


@dataclass
class FakeOllama:
    """The server's state: pulled models, recorded requests, and how to answer."""

    models: set[str] = field(default_factory=lambda: {MODEL})
    requests: list[dict[str, Any]] = field(default_factory=list)
    # Describe answers by a substring of the sample's name ("kick" -> Slow()); default valid.
    describe_replies: dict[str, Reply] = field(default_factory=dict)
    # Ask answers, used in order (the last one repeats).
    ask_replies: list[Reply] = field(default_factory=lambda: ['{"query": "cat:kick"}'])
    port: int = 0
    _stop: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    @property
    def host(self) -> str:
        """The address to give OLLAMA_HOST or the client's host."""
        return f"http://127.0.0.1:{self.port}"

    def calls(self, path: str) -> list[dict[str, Any]]:
        """Recorded request bodies to one endpoint."""
        return [request["body"] for request in self.requests if request["path"] == path]

    def prompts(self) -> list[str]:
        """The user message of every /api/chat request."""
        return [body["messages"][-1]["content"] for body in self.calls("/api/chat")]

    # -- answering ------------------------------------------------------------------------

    def _describe_reply(self, body: dict[str, Any]) -> Reply:
        prompt = body["messages"][-1]["content"]
        match = re.search(r"^name: (.*)$", prompt, flags=re.M)
        name = match.group(1) if match else "unknown"
        for needle, reply in self.describe_replies.items():
            if needle in name:
                return reply
        return default_description(name)

    def _ask_reply(self) -> Reply:
        asked = len(self.calls("/api/generate"))
        return self.ask_replies[min(asked, len(self.ask_replies)) - 1]

    async def _answer(self, request: web.Request, reply: Reply, field_name: str,
                      model: str) -> web.StreamResponse:
        body = await request.json()
        if isinstance(reply, Slow):
            assert self._stop is not None
            await self._stop.wait()
            return web.json_response({"error": "stopped"}, status=500)
        if isinstance(reply, Fail):
            return web.json_response({"error": reply.error}, status=reply.status)

        def message(text: str, done: bool) -> dict[str, Any]:
            content: Any = {"role": "assistant", "content": text} if field_name == "message" \
                else text
            chunk = {"model": model, "created_at": "2025-01-01T00:00:00Z", field_name: content,
                     "done": done}
            if done:
                chunk.update(done_reason="stop", total_duration=1000, eval_count=10)
            return chunk

        if body.get("stream", True) is False:
            return web.json_response(message(reply, True))
        response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
        await response.prepare(request)
        pieces = [reply[i:i + 7] for i in range(0, len(reply), 7)] or [""]
        for piece in pieces:
            await response.write((json.dumps(message(piece, False)) + "\n").encode())
        await response.write((json.dumps(message("", True)) + "\n").encode())
        await response.write_eof()
        return response

    def _missing(self, model: str) -> web.Response:
        return web.json_response(
            {"error": f'model "{model}" not found, try pulling it first'}, status=404)

    def app(self) -> web.Application:
        """The aiohttp application."""

        async def record(request: web.Request) -> dict[str, Any]:
            body = await request.json() if request.can_read_body else {}
            self.requests.append({"path": request.path, "body": body})
            return body

        async def chat(request: web.Request) -> web.StreamResponse:
            body = await record(request)
            if body.get("model") not in self.models:
                return self._missing(body.get("model"))
            return await self._answer(request, self._describe_reply(body), "message", body["model"])

        async def generate(request: web.Request) -> web.StreamResponse:
            body = await record(request)
            if body.get("model") not in self.models:
                return self._missing(body.get("model"))
            return await self._answer(request, self._ask_reply(), "response", body["model"])

        async def tags(request: web.Request) -> web.Response:
            await record(request)
            return web.json_response({"models": [
                {"name": name, "model": name, "modified_at": "2025-01-01T00:00:00Z",
                 "size": 2019393189, "digest": "a80c4f17acd5",
                 "details": {"format": "gguf", "family": "llama", "parameter_size": "3.2B",
                             "quantization_level": "Q4_K_M"}} for name in sorted(self.models)]})

        async def show(request: web.Request) -> web.Response:
            body = await record(request)
            name = body.get("model") or body.get("name")
            if name not in self.models:
                return web.json_response({"error": f"model '{name}' not found"}, status=404)
            return web.json_response({
                "modelfile": f"FROM {name}", "parameters": "", "template": "{{ .Prompt }}",
                "details": {"format": "gguf", "family": "llama", "parameter_size": "3.2B",
                            "quantization_level": "Q4_K_M"},
                "model_info": {"general.architecture": "llama"},
                "capabilities": ["completion", "tools"]})

        app = web.Application()
        app.router.add_post("/api/chat", chat)
        app.router.add_post("/api/generate", generate)
        app.router.add_get("/api/tags", tags)
        app.router.add_post("/api/show", show)
        return app

    # -- running ----------------------------------------------------------------------------

    def start(self) -> None:
        """Serve on 127.0.0.1 at a free port, from a thread with its own event loop."""
        started = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def serve() -> web.AppRunner:
            self._stop = asyncio.Event()
            runner = web.AppRunner(self.app(), shutdown_timeout=1.0)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.port = runner.addresses[0][1]
            return runner

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._runner = self._loop.run_until_complete(serve())
            started.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="fake-ollama", daemon=True)
        self._thread.start()
        assert started.wait(10), "the fake Ollama did not start"

    def stop(self) -> None:
        """Release slow answers, shut the server down, end the thread."""
        assert self._loop is not None and self._stop is not None

        async def shutdown() -> None:
            assert self._stop is not None
            self._stop.set()
            await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@pytest.fixture
def fake_ollama(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOllama]:
    """A running fake Ollama; OLLAMA_HOST points at it (for in-process code and the CLI)."""
    server = FakeOllama()
    server.start()
    monkeypatch.setenv("OLLAMA_HOST", server.host)
    monkeypatch.delenv("SAMPLEMIND_AI_MODEL", raising=False)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def scanned_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with four generated sounds scanned by real Essentia (a kick, a snare, a hi-hat
    and a drum loop at 120 BPM), built once per module; copy it before changing it."""
    from samplemind import Library

    base = tmp_path_factory.mktemp("ai")
    pack = base / "pack"
    pack.mkdir()
    write_drum_hit(pack / "kick_deep.wav", "kick")
    write_drum_hit(pack / "snare_tight.wav", "snare", seed=1)
    write_drum_hit(pack / "hat_closed.wav", "hihat", seed=2)
    write_drum_loop(pack / "loop_120.wav", 120, bars=2)
    with Library(base / "home", jobs=1, timeout=60) as library:
        report = library.scan([pack])
    assert report.added == 4 and report.failed == 0
    return base / "home"


@pytest.fixture
def ai_home(scanned_template: Path, samplemind_home: Path) -> Path:
    """This test's own copy of the scanned home (SAMPLEMIND_HOME points at it)."""
    shutil.copytree(scanned_template, samplemind_home)
    return samplemind_home


def free_port_with_nothing_listening() -> int:
    """A loopback port nobody listens on (for "Ollama is not running")."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- the real client against the fake server ---------------------------------------------

SCHEMA = {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}
MESSAGES = [{"role": "user", "content": "name: kick.wav"}]


@pytest.mark.parametrize("stream", [True, False])
def test_chat_streamed_and_not_returns_the_whole_answer(fake_ollama: FakeOllama,
                                                        stream: bool) -> None:
    with OllamaClient(timeout=60) as client:
        text = client.chat_json(MODEL, MESSAGES, SCHEMA, stream=stream)
    assert json.loads(text) == json.loads(default_description("kick.wav"))
    body = fake_ollama.calls("/api/chat")[0]
    assert body["stream"] is stream and body["format"] == SCHEMA and body["model"] == MODEL


def test_generate_sends_system_prompt_and_schema(fake_ollama: FakeOllama) -> None:
    fake_ollama.ask_replies = ['{"query": "cat:snare"}']
    with OllamaClient(timeout=60) as client:
        text = client.generate_json(MODEL, "Request: snares", SCHEMA, system="be brief")
    assert json.loads(text) == {"query": "cat:snare"}
    body = fake_ollama.calls("/api/generate")[0]
    assert body["system"] == "be brief" and body["prompt"] == "Request: snares"
    assert body["format"] == SCHEMA and body["stream"] is False


def test_models_and_check_model(fake_ollama: FakeOllama) -> None:
    with OllamaClient(timeout=60) as client:
        assert [model["name"] for model in client.models()] == [MODEL]
        assert client.models()[0]["parameters"] == "3.2B"
        client.check_model(MODEL)
        with pytest.raises(ModelMissing, match=r"ollama pull qwen2.5:3b-instruct"):
            client.check_model("qwen2.5:3b-instruct")


@pytest.mark.parametrize("stream", [True, False])
def test_a_missing_model_on_chat_is_model_missing_with_the_pull_hint(fake_ollama: FakeOllama,
                                                                      stream: bool) -> None:
    with OllamaClient(timeout=60) as client, pytest.raises(ModelMissing) as caught:
        client.chat_json("mistral:7b", MESSAGES, SCHEMA, stream=stream)
    assert "ollama pull mistral:7b" in str(caught.value)
    assert caught.value.exit_code == 4


def test_nothing_listening_is_unreachable_with_the_serve_hint() -> None:
    host = f"127.0.0.1:{free_port_with_nothing_listening()}"
    with OllamaClient(host, timeout=60) as client, pytest.raises(OllamaUnreachable) as caught:
        client.models()
    assert "ollama serve" in str(caught.value) and host in str(caught.value)
    assert caught.value.exit_code == 4


@pytest.mark.slow
@pytest.mark.parametrize("stream", [True, False])
def test_a_late_answer_is_a_timeout(fake_ollama: FakeOllama, stream: bool) -> None:
    fake_ollama.describe_replies["kick"] = Slow()
    with OllamaClient(timeout=1) as client, pytest.raises(ModelTimeout, match="within 1 s"):
        client.chat_json(MODEL, MESSAGES, SCHEMA, stream=stream)


def test_another_ollama_error_is_an_answer_error(fake_ollama: FakeOllama) -> None:
    fake_ollama.describe_replies["kick"] = Fail(500, "llama runner process has terminated")
    with OllamaClient(timeout=60) as client, pytest.raises(ModelAnswerError,
                                                           match="runner process"):
        client.chat_json(MODEL, MESSAGES, SCHEMA)

