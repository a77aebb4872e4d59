"""``describe``: a model's description, tags, mood and uses for each selected sample.

A batch runs the model calls in a few threads (the work is waiting on Ollama) while
this thread alone reads and writes the catalog and the cache. Each answer is cached
and committed as it arrives, so an interrupted batch resumes where it stopped: samples
already described for the same bytes, model and prompt version are skipped.
"""

from __future__ import annotations

import queue
import re
import threading
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..models import versioned
from . import store
from .cache import AICache, ai_cache_dir
from .client import OllamaClient, parse_json_object
from .errors import ModelAnswerError
from .prompts import DESCRIBE_PROMPT_VERSION, DESCRIBE_SCHEMA, describe_messages

if TYPE_CHECKING:
    from pathlib import Path

    from ..catalog import Catalog

# progress(done, total, sample name, status): status is "kept", "cached", "described" or
# "failed"; called from the calling thread.
DescribeProgress = Callable[[int, int, str, str], None]

DEFAULT_CONCURRENCY = 2  # Ollama answers one request per model at a time unless told otherwise
MAX_DESCRIPTION = 200
MAX_TAGS = 8
MAX_TAG_LENGTH = 32
MAX_USES = 4
MAX_USE_LENGTH = 80
MODEL_OPTIONS = {"temperature": 0.3, "num_predict": 400}
ANSWER_FIELDS = {"description", "tags", "mood", "uses"}  # a validated answer, as cached


@dataclass
class Described:
    """One sample's AI description as shown: what was said, and where it came from."""

    sample_id: int
    path: str
    name: str
    description: str
    tags: list[str]
    mood: str | None
    uses: list[str]
    model: str
    prompt_version: str
    status: str  # described (asked now), cached (the answer cache), kept (already stored)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return versioned(id=self.sample_id, path=self.path,
                         name=self.name, description=self.description, tags=self.tags,
                         mood=self.mood, uses=self.uses, source=store.AI_SOURCE,
                         model=self.model, prompt_version=self.prompt_version,
                         status=self.status)


@dataclass
class DescribeFailure:
    """A sample the model could not describe, and why."""

    sample_id: int
    path: str
    error: str
    # The settings its text names and in which words (SampleMindError.naming), for a caller
    # that says them its own way (the CLI: "(raise --timeout)").
    settings: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"id": self.sample_id, "path": self.path, "error": self.error}


@dataclass
class DescribeReport:
    """What a describe run did."""

    model: str
    prompt_version: str
    results: list[Described] = field(default_factory=list)
    failures: list[DescribeFailure] = field(default_factory=list)

    def count(self, status: str) -> int:
        """How many results have this status."""
        return sum(1 for item in self.results if item.status == status)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (the results themselves are written separately)."""
        return versioned(model=self.model,
                         prompt_version=self.prompt_version, described=self.count("described"),
                         cached=self.count("cached"), kept=self.count("kept"),
                         failed=len(self.failures),
                         failures=[failure.to_json() for failure in self.failures])


# -- validating an answer ---------------------------------------------------------------

def _one_line(text: str, limit: int) -> str:
    """Whitespace and control characters folded to single spaces, cut at a word."""
    cleaned = "".join(" " if unicodedata.category(char).startswith("C") else char
                      for char in text)
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > limit:
        cleaned = cleaned[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"
    return cleaned


def _tag(text: str) -> str | None:
    tag = _one_line(unicodedata.normalize("NFC", text), 10 * MAX_TAG_LENGTH).lower()
    tag = re.sub(r"^[#\s]+|[.,;:!\s]+$", "", tag)
    return tag if tag and len(tag) <= MAX_TAG_LENGTH else None


def _strings(answer: dict[str, Any], name: str) -> list[str]:
    value = answer.get(name)
    if isinstance(value, str):  # a lone string where a list was asked for: take it
        value = [part for part in re.split(r"[,;]", value)]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ModelAnswerError(f"the model's answer has no list of strings for {name!r}")
    return value


def validate_answer(text: str) -> dict[str, Any]:
    """The model's raw answer checked and tidied: a one-line description, clean tags, a
    mood and uses; raises ModelAnswerError when it cannot be used."""
    answer = parse_json_object(text)
    description = answer.get("description")
    if not isinstance(description, str) or not _one_line(description, MAX_DESCRIPTION):
        raise ModelAnswerError("the model's answer has no 'description' text")
    mood = answer.get("mood")
    if mood is not None and not isinstance(mood, str):
        raise ModelAnswerError("the model's answer has a 'mood' that is not text")
    tags = [tag for tag in (_tag(item) for item in _strings(answer, "tags")) if tag]
    uses = [use for use in (_one_line(item, MAX_USE_LENGTH) for item in _strings(answer, "uses"))
            if use]
    return {"description": _one_line(description, MAX_DESCRIPTION),
            "tags": list(dict.fromkeys(tags))[:MAX_TAGS],
            "mood": _one_line(mood, 40) or None if mood else None,
            "uses": list(dict.fromkeys(uses))[:MAX_USES]}


# -- the batch --------------------------------------------------------------------------

@dataclass
class _Job:
    record: dict[str, Any]
    messages: list[dict[str, str]]


def describe_samples(catalog: Catalog, records: Sequence[dict[str, Any]], cache_dir: Path, *,
                     model: str, refresh: bool = False, concurrency: int = DEFAULT_CONCURRENCY,
                     timeout: float, host: str | None = None,
                     progress: DescribeProgress | None = None) -> DescribeReport:
    """Describe these samples (their JSON records, in the order the report lists them);
    answers are kept in the catalog and in the AI answer cache under cache_dir."""
    ids = [record["id"] for record in records]
    report = DescribeReport(model=model, prompt_version=DESCRIBE_PROMPT_VERSION)
    stored = {} if refresh else store.load(catalog, ids)
    total, done = len(records), 0

    def finished(item: Described | DescribeFailure, name: str, status: str) -> None:
        nonlocal done
        done += 1
        if isinstance(item, Described):
            report.results.append(item)
        else:
            report.failures.append(item)
        if progress:
            progress(done, total, name, status)

    pending: list[dict[str, Any]] = []
    for record in records:
        kept = stored.get(record["id"])
        if kept and kept.answers(record["hash"], model, DESCRIBE_PROMPT_VERSION):
            finished(_described(record, kept, "kept"), record["name"], "kept")
        else:
            pending.append(record)
    if not pending:
        return _in_order(report, ids)
    with AICache(ai_cache_dir(cache_dir)) as cache:
        asking: list[_Job] = []
        for record in pending:
            key = AICache.describe_key(record["hash"], model, DESCRIBE_PROMPT_VERSION)
            answer = None if refresh else cache.get(key)
            if isinstance(answer, dict) and set(answer) == ANSWER_FIELDS:
                saved = store.save(catalog, record["id"], record["hash"], model,
                                   DESCRIBE_PROMPT_VERSION, answer)
                finished(_described(record, saved, "cached"), record["name"], "cached")
                continue
            tags = store.prompt_tags(catalog, record["id"])
            asking.append(_Job(record, describe_messages(record, tags)))
        if asking:
            with OllamaClient(host, timeout=timeout) as client:
                client.check_model(model)  # down or not pulled: one clear error, nothing asked
                for job, outcome in _ask_all(client, model, asking, concurrency):
                    record = job.record
                    if isinstance(outcome, ModelAnswerError):
                        finished(DescribeFailure(record["id"], record["path"], str(outcome),
                                                 dict(outcome.settings)),
                                 record["name"], "failed")
                        continue
                    # Cache first: a kill before the commit still keeps the answer.
                    cache.put(AICache.describe_key(record["hash"], model,
                                                   DESCRIBE_PROMPT_VERSION), outcome)
                    saved = store.save(catalog, record["id"], record["hash"], model,
                                       DESCRIBE_PROMPT_VERSION, outcome)
                    finished(_described(record, saved, "described"), record["name"], "described")
    return _in_order(report, ids)


def _ask_all(client: OllamaClient, model: str, jobs: list[_Job], concurrency: int,
             ) -> Iterator[tuple[_Job, dict[str, Any] | ModelAnswerError]]:
    """(job, validated answer or its error) as answers arrive, from `concurrency` worker
    threads, each with one request in flight. Ollama going away (or losing the model)
    mid-batch ends the batch: every further sample would fail the same way.

    Daemon threads, not a ThreadPoolExecutor: the interpreter waits for an executor's
    threads at exit, so Ctrl-C would hang until the requests in flight time out.
    """
    waiting: queue.SimpleQueue[_Job] = queue.SimpleQueue()
    for job in jobs:
        waiting.put(job)
    answers: queue.SimpleQueue[tuple[_Job, Any]] = queue.SimpleQueue()
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            try:
                job = waiting.get_nowait()
            except queue.Empty:
                return
            try:
                outcome: Any = validate_answer(client.chat_json(
                    model, job.messages, DESCRIBE_SCHEMA, options=MODEL_OPTIONS))
            except BaseException as error:  # handed to the calling thread, never lost
                outcome = error
            answers.put((job, outcome))

    for _ in range(min(concurrency, len(jobs))):
        threading.Thread(target=work, name="describe", daemon=True).start()
    try:
        for _ in range(len(jobs)):
            job, outcome = answers.get()
            if isinstance(outcome, BaseException) and not isinstance(outcome, ModelAnswerError):
                raise outcome  # ComponentMissing (exit 4), or a bug: not a per-sample failure
            yield job, outcome
    finally:
        stop.set()  # workers take no new samples; answers still in flight are dropped


def _described(record: dict[str, Any], stored: store.StoredDescription, status: str) -> Described:
    return Described(record["id"], record["path"], record["name"], stored.description,
                     stored.tags, stored.mood, stored.uses, stored.model,
                     stored.prompt_version, status)


def _in_order(report: DescribeReport, ids: list[int]) -> DescribeReport:
    """Results in the order the samples were selected (answers arrive in any order)."""
    position = {sample_id: index for index, sample_id in enumerate(ids)}
    report.results.sort(key=lambda item: position[item.sample_id])
    report.failures.sort(key=lambda item: position[item.sample_id])
    return report
