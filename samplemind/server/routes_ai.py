"""Local AI over HTTP (README: Local AI): plain words as a query, and describe as a job.

Thin shells around Library.ask and Library.describe, like the CLI's `ls --ask` and
`describe`. A request names samples only by id or by query, never by path.
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from aiohttp import web

from ..errors import UsageError
from ..library import Library
from ..models import versioned
from .http import context, id_list, json_body, json_call
from .jobs import Progress
from .routes_jobs import job_response
from .routes_samples import DEFAULT_PAGE, MAX_PAGE, encode_cursor
from .routing import EDITOR, VIEWER, Route

MAX_WORDS = 500  # characters of plain words
MAX_IDS = 10_000


def _model(body: dict[str, Any]) -> str | None:
    model = body.get("model")
    if model is not None and (not isinstance(model, str) or not model or len(model) > 200):
        raise UsageError("model must be a model name, e.g. llama3.2:3b")
    return model


def _flag(body: dict[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise UsageError(f"{name} must be true or false")
    return value


def _ask(library: Library, words: str, model: str | None, use_model: bool,
         limit: int) -> dict[str, Any]:
    answer = library.ask(words, model=model, use_model=use_model)
    rows = list(islice(library.ls(answer.query, limit=limit + 1), limit + 1))
    samples = [sample.to_json() for sample in rows[:limit]]
    return versioned(ask=answer.to_json(), samples=samples,
                     count=len(samples),
                     next_cursor=encode_cursor(limit, answer.query) if len(rows) > limit else None)


async def ask(request: web.Request) -> web.StreamResponse:
    body = await json_body(request)
    words = body.get("words")
    if not isinstance(words, str) or not words.strip():
        raise UsageError('send {"words": "dark punchy kick around 125"}')
    if len(words) > MAX_WORDS or "\x00" in words:
        raise UsageError(f"words: at most {MAX_WORDS} characters, no NUL")
    limit = body.get("limit", DEFAULT_PAGE)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_PAGE:
        raise UsageError(f"limit must be a whole number from 1 to {MAX_PAGE}")
    return await json_call(request, _ask, words, _model(body), _flag(body, "use_model", True),
                           limit)


def _describe_work(ids: list[int] | None, query: str | None, model: str | None,
                   refresh: bool) -> Any:
    def work(library: Library, progress: Progress) -> dict[str, Any]:
        chosen = ids if ids is not None else [sample.id for sample in library.ls(query)]
        if not chosen:
            raise UsageError(f"no sample matches {query!r}")
        report = library.describe(chosen, model=model, refresh=refresh, progress=progress)
        return {**report.to_json(), "results": [item.to_json() for item in report.results]}

    return work


async def describe(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    body = await json_body(request)
    ids, query = body.get("ids"), body.get("query")
    if (ids is None) == (query is None):
        raise UsageError('send either "ids" (a list of sample ids) or "query"')
    if ids is not None:
        ids = id_list(ids, MAX_IDS)
    if query is not None and (not isinstance(query, str) or not query.strip()
                              or len(query) > 2000):
        raise UsageError("query must be a query in the query language, e.g. cat:kick")
    if query is not None:  # a bad query fails now, not in the job
        await ctx.pool.run(lambda library: list(library.ls(query, limit=0)))
    params: dict[str, Any] = {"ids": ids} if ids is not None else {"query": query}
    model = _model(body)
    params["model"] = model
    job = ctx.jobs.submit("describe", params,
                          _describe_work(ids, query, model, _flag(body, "refresh", False)))
    return job_response(request, job)


ROUTES = [
    Route("POST", "/api/v1/ask", "ask", ask, VIEWER,
          "Plain words as a query: a local model (Ollama) or the built-in translator writes it; "
          "answers the query it ran and the first page of samples.",
          body={"type": "object", "required": ["words"], "properties": {
              "words": {"type": "string", "minLength": 1, "maxLength": MAX_WORDS},
              "model": {"type": "string"}, "use_model": {"type": "boolean"},
              "limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}}}),
    Route("POST", "/api/v1/describe", "describe_start", describe, EDITOR,
          "Describe samples with a local model (Ollama) as a job: a description, tags "
          "(source ai), mood and uses for each.",
          body={"type": "object", "properties": {
              "ids": {"type": "array", "minItems": 1, "maxItems": MAX_IDS,
                      "items": {"type": "integer", "minimum": 1}},
              "query": {"type": "string"}, "model": {"type": "string"},
              "refresh": {"type": "boolean"}}},
          responses={202: "The job (Location: /api/v1/jobs/{id})."}),
]
