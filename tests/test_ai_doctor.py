"""samplemind doctor: the core decides the exit code; Ollama is reported with its fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import test_ai_fake_ollama as fake
from test_ai_fake_ollama import MODEL, FakeOllama, free_port_with_nothing_listening

from helpers import run_cli

pytestmark = pytest.mark.slow  # the whole module: `pytest -m "not slow"` leaves it out

# The fake Ollama and the scanned home, shared with test_ai_fake_ollama.py.
scanned_template = fake.scanned_template
ai_home = fake.ai_home
fake_ollama = fake.fake_ollama


def _doctor(*args: str, env: dict[str, str] | None = None) -> tuple[dict, str, int]:
    result = run_cli("doctor", "-f", "json", *args, env=env)
    return json.loads(result.stdout), result.stderr, result.returncode


def test_everything_working(ai_home: Path, fake_ollama: FakeOllama) -> None:
    report, stderr, code = _doctor("--require-ai")
    assert code == 0 and stderr == ""
    assert report["ok"] is True and report["schema_version"] == 1
    assert report["catalog"]["samples"] == 4 and report["catalog"]["integrity"] == "ok"
    assert report["catalog"]["journal_mode"] == "wal"
    assert report["cache"]["features"]["entries"] == 4 and report["cache"]["ai"]["entries"] == 0
    assert report["index"]["ok"] is True
    ollama = report["ollama"]
    assert ollama["ok"] and ollama["reachable"] and ollama["model_pulled"]
    assert ollama["host"] == fake_ollama.host and ollama["model"] == MODEL
    assert [model["name"] for model in ollama["models"]] == [MODEL]


def test_ollama_not_running_is_reported_but_the_core_passes(ai_home: Path) -> None:
    host = f"127.0.0.1:{free_port_with_nothing_listening()}"
    report, stderr, code = _doctor(env={"OLLAMA_HOST": host})
    assert code == 0 and report["ok"] is True
    ollama = report["ollama"]
    assert ollama["reachable"] is False and ollama["ok"] is False
    assert ollama["fix"] == "ollama serve" and host in ollama["error"]
    assert "Ollama is optional" in stderr and "ollama serve" in stderr
    _, _, strict = _doctor("--require-ai", env={"OLLAMA_HOST": host})
    assert strict == 4


def test_a_model_not_pulled_gets_the_pull_fix(ai_home: Path, fake_ollama: FakeOllama) -> None:
    report, stderr, code = _doctor("--model", "qwen2.5:3b-instruct")
    assert code == 0
    ollama = report["ollama"]
    assert ollama["reachable"] is True and ollama["model_pulled"] is False
    assert ollama["fix"] == "ollama pull qwen2.5:3b-instruct"
    assert "ollama pull qwen2.5:3b-instruct" in stderr
    # A name without a tag means :latest, as in Ollama.
    fake_ollama.models.add("mistral:latest")
    report, _, _ = _doctor("--model", "mistral")
    assert report["ollama"]["model_pulled"] is True


def test_table_output_names_every_check(ai_home: Path, fake_ollama: FakeOllama) -> None:
    result = run_cli("doctor")
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:] if line.strip()}
    assert set(lines) == {"catalog", "cache", "index", "ollama"}
    assert " ok " in lines["catalog"] and "4 samples" in lines["catalog"]
    assert f"{MODEL} ready" in lines["ollama"]


def test_a_damaged_catalog_fails_the_check(samplemind_home: Path) -> None:
    samplemind_home.mkdir(parents=True)
    (samplemind_home / "library.db").write_bytes(b"this is not a database" * 100)
    host = f"127.0.0.1:{free_port_with_nothing_listening()}"
    result = run_cli("doctor", env={"OLLAMA_HOST": host})
    assert result.returncode == 1
    assert "catalog" in result.stdout and "FAIL" in result.stdout
    report, _, code = _doctor(env={"OLLAMA_HOST": host})
    assert code == 1 and report["ok"] is False and report["catalog"]["ok"] is False


def test_a_feature_cache_that_cannot_be_opened_fails_its_check(samplemind_home: Path) -> None:
    from samplemind import Library

    with Library(samplemind_home) as library:
        library.paths.feature_cache.parent.mkdir(parents=True, exist_ok=True)
        library.paths.feature_cache.write_text("a file where the cache's folder goes")
        report = library.doctor(host=f"127.0.0.1:{free_port_with_nothing_listening()}")
    assert report["ok"] is False and report["catalog"]["ok"] is True
    assert report["cache"]["ok"] is False and "cache clear" in report["cache"]["fix"]
    assert report["cache"]["directory"] == str(library.paths.cache_dir)
    assert report["index"]["ok"] is True and report["index"]["folder"] == str(
        samplemind_home / "index")
