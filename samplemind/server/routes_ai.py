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
from .http import checked_body, context, json_call, unique_ids
from .jobs import Progress
from .routes_jobs import job_response
from .routes_samples import DEFAULT_PAGE, MAX_PAGE, encode_cursor
from .routing import EDITOR, VIEWER, Route, sample_ids

MAX_WORDS = 500  # characters of plain words
MAX_IDS = 10_000


MODEL = {"type": "string", "minLength": 1, "maxLength": 200,
         "description": "A local model's name, e.g. llama3.2:3b."}

def _ask(library: Library, words: str, model: str | None, use_model: bool,
         limit: int) -> dict[str, Any]:
    answer = library.ask(words, model=model, use_model=use_model)
    rows = list(islice(library.ls(answer.query, limit=limit + 1), limit + 1))
    samples = [sample.to_json() for sample in rows[:limit]]
    return versioned(ask=answer.to_json(), samples=samples,
                     count=len(samples),
                     next_cursor=encode_cursor(limit, answer.query) if len(rows) > limit else None)


async def ask(request: web.Request) -> web.StreamResponse:
    # The route's schema: types, lengths, limit's range; what words must say: Library.ask.
    body = checked_body(request)
    return await json_call(request, _ask, body["words"], body.get("model"), body.get("use_model", True),
                           body.get("limit", DEFAULT_PAGE))


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
    body = checked_body(request)  # the route's schema: ids or query, types, lengths
    ids, query = body.get("ids"), body.get("query")
    if ids is not None:
        ids = unique_ids(ids)
    if query is not None and not query.strip():
        raise UsageError("/query must be a query in the query language, e.g. cat:kick")
    if query is not None:  # a bad query fails now, not in the job
        await ctx.pool.run(lambda library: list(library.ls(query, limit=0)))
    params: dict[str, Any] = {"ids": ids} if ids is not None else {"query": query}
    model = body.get("model")
    params["model"] = model
    job = ctx.jobs.submit("describe", params,
                          _describe_work(ids, query, model, body.get("refresh", False)))
    return job_response(request, job)


ROUTES = [
    Route("POST", "/api/v1/ask", "ask", ask, VIEWER,
          "Plain words as a query: a local model (Ollama) or the built-in translator writes it; "
          "answers the query it ran and the first page of samples.",
          body={"type": "object", "required": ["words"], "additionalProperties": False, "properties": {
              "words": {"type": "string", "minLength": 1, "maxLength": MAX_WORDS},
              "model": MODEL, "use_model": {"type": "boolean"},
              "limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}}}),
    Route("POST", "/api/v1/describe", "describe_start", describe, EDITOR,
          "Describe samples with a local model (Ollama) as a job: a description, tags "
          "(source ai), mood and uses for each.",
          body={"type": "object", "additionalProperties": False, "properties": {
              "ids": sample_ids(MAX_IDS),
              "query": {"type": "string", "minLength": 1, "maxLength": 2000},
              "model": MODEL, "refresh": {"type": "boolean"}},
              "oneOf": [{"required": ["ids"]}, {"required": ["query"]}]},
          responses={202: "The job (Location: /api/v1/jobs/{id})."}),
]
