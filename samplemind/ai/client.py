"""A thin wrapper around the official ``ollama`` client: JSON answers, timeouts, and
Ollama's failures turned into errors a person can act on.

The host comes from the ``host`` argument, else ``$OLLAMA_HOST`` (the ollama client's
own convention), else 127.0.0.1:11434. One client is shared by a batch's threads
(httpx clients are thread-safe).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from ..closing import Closing
from .errors import ModelAnswerError, ModelMissing, ModelTimeout, OllamaUnreachable

DEFAULT_HOST = "127.0.0.1:11434"
DEFAULT_TIMEOUT = 60.0  # seconds for one answer: a 3B model on a CPU takes 5-30 s
CONNECT_TIMEOUT = 5.0  # a wrong OLLAMA_HOST should fail fast, not after the answer timeout


def ollama_host(host: str | None = None) -> str:
    """The address the client will use, for messages."""
    return (host or os.environ.get("OLLAMA_HOST", "").strip() or DEFAULT_HOST)


class OllamaClient(Closing):
    """JSON-schema answers from a local Ollama, with errors mapped to SampleMindErrors."""

    def __init__(self, host: str | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        import httpx
        import ollama

        self.host = ollama_host(host)
        self.timeout = timeout
        self._client = ollama.Client(
            host=self.host, timeout=httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT)))

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    # -- errors -------------------------------------------------------------------------

    def unreachable(self) -> OllamaUnreachable:
        """The error for "nothing answers at the host", with the fix."""
        return OllamaUnreachable(
            f"Ollama is not running at {self.host}: start it with `ollama serve` "
            "(or set OLLAMA_HOST to where it runs)")

    @contextmanager
    def _mapped(self, model: str | None = None) -> Iterator[None]:
        """Turn what the ollama client and httpx raise into our errors."""
        import httpx
        import ollama
        import pydantic

        try:
            yield
        except (ConnectionError, httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise self.unreachable() from exc
        except httpx.TimeoutException as exc:
            raise ModelTimeout(f"no answer from {model or 'Ollama'} within "
                               f"{self.timeout:g} s (raise the timeout)").naming(
                timeout="the timeout") from exc
        except ollama.ResponseError as exc:
            message = str(exc.error)
            if model and (exc.status_code == 404 or "not found" in message.lower()):
                raise ModelMissing(f"the model {model} is not pulled: run `ollama pull {model}` "
                                   "(or choose another model)").naming(
                    model="another model") from exc
            raise ModelAnswerError(f"Ollama said: {message}") from exc
        except (httpx.HTTPError, json.JSONDecodeError, pydantic.ValidationError) as exc:
            raise ModelAnswerError(f"a broken answer from Ollama: {type(exc).__name__}: "
                                   f"{exc}") from exc

    # -- calls ----------------------------------------------------------------------------

    def models(self) -> list[dict[str, Any]]:
        """The pulled models (name, size in bytes, parameter size)."""
        with self._mapped():
            listing = self._client.list()
        return [{"name": model.model, "size": int(model.size) if model.size is not None else None,
                 "parameters": model.details.parameter_size if model.details else None}
                for model in listing.models]

    def check_model(self, model: str) -> None:
        """Raise ModelMissing (or OllamaUnreachable) unless the model can answer."""
        with self._mapped(model):
            self._client.show(model)

    def chat_json(self, model: str, messages: Sequence[Mapping[str, str]],
                  schema: dict[str, Any], *, options: Mapping[str, Any] | None = None,
                  stream: bool = True) -> str:
        """The text of a chat answer constrained to a JSON schema.

        Streamed by default: the read timeout then applies between tokens, and the whole
        answer is held to the same limit by a deadline, so a slow model still stops.
        """
        deadline = time.monotonic() + self.timeout
        with self._mapped(model):
            if not stream:
                answer = self._client.chat(model=model, messages=list(messages), format=schema,
                                           options=dict(options or {}), stream=False)
                return answer.message.content or ""
            parts: list[str] = []
            for chunk in self._client.chat(model=model, messages=list(messages), format=schema,
                                           options=dict(options or {}), stream=True):
                parts.append(chunk.message.content or "")
                if chunk.done:
                    break
                if time.monotonic() > deadline:
                    raise ModelTimeout(f"no complete answer from {model} within "
                                       f"{self.timeout:g} s (raise the timeout)").naming(
                        timeout="the timeout")
            return "".join(parts)

    def generate_json(self, model: str, prompt: str, schema: dict[str, Any], *,
                      system: str | None = None,
                      options: Mapping[str, Any] | None = None) -> str:
        """The text of a one-shot completion constrained to a JSON schema (not streamed)."""
        with self._mapped(model):
            answer = self._client.generate(model=model, prompt=prompt, system=system,
                                           format=schema, options=dict(options or {}),
                                           stream=False)
        return answer.response or ""


def parse_json_object(text: str) -> dict[str, Any]:
    """The JSON object in a model's answer; tolerates a Markdown code fence around it."""
    body = text.strip()
    if body.startswith("```"):
        body = body.split("\n", 1)[1] if "\n" in body else ""
        body = body.rsplit("```", 1)[0]
    try:
        value = json.loads(body)
    except json.JSONDecodeError as exc:
        shown = text.strip().replace("\n", " ")
        shown = shown[:80] + ("…" if len(shown) > 80 else "")
        raise ModelAnswerError(f"the model's answer is not JSON ({exc.msg}): {shown!r}") from None
    if not isinstance(value, dict):
        raise ModelAnswerError(f"the model's answer is JSON but not an object: {type(value).__name__}")
    return value
