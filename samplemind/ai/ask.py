"""``ls --ask``: plain words -> a query, by the model when it can, else by rule.

The model's query is checked with the real parser; a rejected one is sent back once
with the parser's error, and a second rejection is a clear failure (exit 1) that
points at the built-in translator. When Ollama is down, the model is not pulled, or
the answer is late, the built-in translator answers instead and says so: someone
searching wants results, and the query that ran is always shown.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BadValue, ComponentMissing, QueryError
from .cache import AICache
from .client import OllamaClient, parse_json_object
from .errors import AskFailed, ModelAnswerError, ModelTimeout
from .prompts import ASK_PROMPT_VERSION, ASK_SCHEMA, ASK_SYSTEM, ask_prompt
from .translate import translate

DEFAULT_ASK_TIMEOUT = 30.0  # seconds: a search should not hang on a slow model
TIMEOUT_ENV = "SAMPLEMIND_AI_TIMEOUT"  # also the default of describe --timeout
BUILT_IN = "built-in"
MODEL = "model"
MODEL_OPTIONS = {"temperature": 0, "num_predict": 200}
MAX_WORDS = 1000  # characters of plain words accepted

Check = Callable[[str], Any]  # compiles a query; raises QueryError when it is bad


@dataclass
class AskResult:
    """The query plain words became, which translator made it, and why."""

    words: str
    query: str
    translator: str  # "model" or "built-in"
    model: str | None = None
    cached: bool = False
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"words": self.words, "query": self.query, "translator": self.translator,
                "model": self.model, "cached": self.cached, "notes": self.notes}


def _clean(query: str) -> str:
    """Forgive the usual wrapping: a command prefix, backticks, outer quotes, newlines."""
    text = " ".join(query.split()).strip("`").strip()
    for prefix in ("samplemind ls ", "ls "):
        if text.startswith(prefix):
            text = text[len(prefix):].strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"" and text.count(text[0]) == 2:
        text = text[1:-1].strip()
    return text


def built_in(words: str, check: Check, notes: list[str] | None = None) -> AskResult:
    """The rule-based translation, checked like any other query."""
    translation = translate(words)
    check(translation.query)
    return AskResult(words, translation.query, BUILT_IN, notes=[*(notes or []), *translation.notes])


def ask_timeout() -> float:
    """Seconds the model may take: $SAMPLEMIND_AI_TIMEOUT, else DEFAULT_ASK_TIMEOUT."""
    try:
        value = float(os.environ.get(TIMEOUT_ENV, ""))
    except ValueError:
        return DEFAULT_ASK_TIMEOUT
    return value if value > 0 else DEFAULT_ASK_TIMEOUT


def ask(words: str, check: Check, *, model: str, cache_dir: Path, use_model: bool = True,
        refresh: bool = False, timeout: float | None = None,
        host: str | None = None) -> AskResult:
    """Translate words into a checked query (README: Local AI)."""
    timeout = timeout or ask_timeout()
    words = " ".join(words.split())
    if not words:
        raise BadValue("words", "must say what to look for, e.g. 'dark punchy kick around 125'")
    if "\x00" in words:
        raise BadValue("words", "may not contain NUL characters")
    if len(words) > MAX_WORDS:
        raise QueryError(f"too many words to translate ({len(words)} characters, at most "
                         f"{MAX_WORDS})")
    if not use_model:
        return built_in(words, check)
    key = AICache.ask_key(words, model, ASK_PROMPT_VERSION)
    with AICache(cache_dir) as cache:
        cached = None if refresh else cache.get(key)
        if isinstance(cached, str):
            try:
                check(cached)  # collections may have changed since it was cached
                return AskResult(words, cached, MODEL, model, cached=True)
            except QueryError:
                pass
        try:
            with OllamaClient(host, timeout=timeout) as client:
                query = _ask_model(client, model, words, check)
        except (ComponentMissing, ModelTimeout) as error:
            return built_in(words, check, [f"{error}; used the built-in translator"])
        cache.put(key, query)
    return AskResult(words, query, MODEL, model)


def _ask_model(client: OllamaClient, model: str, words: str, check: Check) -> str:
    """The model's query, with one retry that shows it the parser's error."""
    failed: list[tuple[str, str]] = []
    for _ in range(2):
        text = client.generate_json(model, ask_prompt(words, failed), ASK_SCHEMA,
                                    system=ASK_SYSTEM, options=MODEL_OPTIONS)
        try:
            answer = parse_json_object(text)
            query = answer.get("query")
            if not isinstance(query, str):
                raise QueryError('the answer has no "query" text')
            query = _clean(query)
            if not query:
                raise QueryError("the query is empty (it would list every sample)")
            check(query)
            return query
        except (QueryError, ModelAnswerError) as error:
            failed.append((text.strip()[:300], str(error)))
    last_answer, last_error = failed[-1]
    instead = "the built-in translator without the model"
    raise AskFailed(f"the model's query was rejected twice; last answer {last_answer!r}: "
                    f"{last_error} (try again, rephrase, or use {instead})").naming(
        use_model=instead)
