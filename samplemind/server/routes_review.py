"""Review mode over HTTP (review.py): the next questions for a reviewer, answers and their
undo. Editors only: an answer is a correction. Each reviewer (a browser tab, a script) sends
its own `reviewer` id (the first response hands one out); a question leased to one reviewer
is not handed to another."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..errors import UsageError
from ..library import Library
from ..models import versioned
from .http import checked_body, context, json_call
from .query_params import query_args
from .routing import EDITOR, QUERY_TEXT, SAMPLE_ID, Param, Route

MAX_QUESTIONS = 50


def _next(library: Library, query: str | None, n: int, reviewer: str | None) -> dict[str, Any]:
    from ..review import categories, new_reviewer

    reviewer = reviewer or new_reviewer()
    return versioned({"reviewer": reviewer, "categories": categories(),
                      "questions": library.review_questions(query, n, reviewer=reviewer)})


def _reviewer(text: Any) -> str | None:
    if text is None or text == "":
        return None
    if not isinstance(text, str) or len(text) > 64 or not text.isprintable():
        raise UsageError("reviewer must be a short string (the id the first answer gave)")
    return text


async def next_questions(request: web.Request) -> web.StreamResponse:
    args = query_args(request)
    return await json_call(request, _next, args["q"], args["n"], _reviewer(args["reviewer"]))


def _answer(library: Library, sample_id: int, field: str, value: Any,
            reviewer: str | None) -> dict[str, Any]:
    return library.review_answer(sample_id, field, value, reviewer=reviewer)


_SQLITE_MAX = 2**63  # SQLite's integers are 64-bit signed: a larger id is a 400, not a 500


async def answer(request: web.Request) -> web.StreamResponse:
    body = checked_body(request)  # the route's schema: sample_id, field, value, reviewer
    sample_id, field, value = body["sample_id"], body["field"], body["value"]
    response = await json_call(request, _answer, sample_id, field, value,
                               _reviewer(body.get("reviewer")), status=201)
    context(request).watcher.nudge()
    return response


def _undo(library: Library, answer_id: int) -> dict[str, Any]:
    return library.review_undo(answer_id)


async def undo(request: web.Request) -> web.StreamResponse:
    text = request.match_info["answer_id"]
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) < _SQLITE_MAX:
        raise UsageError("answer id must be a whole number from 1 (as the answer gave it)")
    response = await json_call(request, _undo, int(text))
    context(request).watcher.nudge()
    return response


_ANSWER_BODY = {"type": "object", "required": ["sample_id", "field", "value"],
                "additionalProperties": False, "properties": {
    "sample_id": SAMPLE_ID,
    "field": {"type": "string", "enum": ["category", "type"]},
    "value": {"type": "string", "minLength": 1},
    "reviewer": {"type": ["string", "null"], "maxLength": 64,
                 "description": "The id the first answer gave (null or absent: a new one)."}}}
REVIEWER = Param("reviewer", "query", {"type": "string", "maxLength": 64},
                 "This reviewer's id (from an earlier response); a new one when absent.")

ROUTES = [
    Route("GET", "/api/v1/review/next", "review_next", next_questions, EDITOR,
          "The next questions whose answers would change the library most, leased to this "
          "reviewer for two minutes (another reviewer is not asked them).",
          (Param("q", "query", QUERY_TEXT, "Ask only about samples matching a query."),
           Param("n", "query", {"type": "integer", "minimum": 1, "maximum": MAX_QUESTIONS,
                                "default": 1}, "How many questions."), REVIEWER)),
    Route("POST", "/api/v1/review/answers", "review_answer", answer, EDITOR,
          "Answer a question: a correction (source user) that teaches similar sounds at "
          "once; says how many samples it changed.",
          body=_ANSWER_BODY, responses={201: "Answered.", 404: "No such sample."}),
    Route("POST", "/api/v1/review/answers/{answer_id}/undo", "review_undo", undo, EDITOR,
          "Take an answer back: every sample it changed goes back.",
          (Param("answer_id", "path", {"type": "integer", "minimum": 1},
                 "The answer's id.", True),),
          responses={404: "No such answer."}),
]
