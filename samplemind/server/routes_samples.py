"""Catalog routes: samples, similar, dupes, map, tags, corrections, collections, figures."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from aiohttp import web

from ..errors import NotFound, UsageError
from ..library import Library
from ..models import CORRECTABLE_FIELDS, ESTIMATED_FIELDS, RECORD_FIELDS, versioned
from ..organise import SUGGEST_SCHEMA
from ..similarity.dupes import THRESHOLD_SCHEMA as DUPES_THRESHOLD_SCHEMA
from ..similarity.map_levels import DEFAULT_POINTS as MAP_DEFAULT_POINTS
from ..similarity.map_levels import MAX_LEVEL as MAP_MAX_LEVEL
from ..similarity.map_levels import MAX_POINTS as MAP_MAX_POINTS
from .errors import Forbidden
from .http import (
    body_response,
    checked_body,
    context,
    encode,
    json_call,
    json_now,
    sample_id,
    spliced_response,
    unique_ids,
)
from .query_params import query_args
from .routing import ADMIN, EDITOR, ID, QUERY_TEXT, VIEWER, Param, Route, sample_ids

DEFAULT_PAGE = 100
MAX_PAGE = 1000
MAX_K = 1000
MAX_TAG_IDS = 10_000  # samples tagged by one POST /api/v1/tags

Q = Param("q", "query", QUERY_TEXT,
          "A query in the CLI's query language, e.g. `cat:kick bpm:120..128 sort:bpm-`.")
MAP_LEVEL = Param("level", "query", {"type": "integer", "minimum": 0, "maximum": MAP_MAX_LEVEL},
                  "Level of detail: 2^level x 2^level cells over the map.")
MAP_CELL = {"type": "integer", "minimum": 0, "maximum": 2**MAP_MAX_LEVEL - 1}
MAP_RECT = tuple(Param(name, "query", {"type": "number", "minimum": -2, "maximum": 2},
                       f"Region of the map ({name}; map coordinates run -1..1, y up).")
                 for name in ("x0", "y0", "x1", "y1"))


# -- samples ------------------------------------------------------------------------------


def _query_tag(query: str | None) -> str:
    return hashlib.blake2b((query or "").encode("utf-8", "surrogatepass"), digest_size=6).hexdigest()


def encode_cursor(offset: int, query: str | None) -> str:
    """An opaque cursor: where the next page starts, and which query it belongs to."""
    text = json.dumps({"o": offset, "q": _query_tag(query)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, query: str | None) -> int:
    """The offset a cursor points at; UsageError for a damaged or foreign cursor."""
    if not cursor:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset = data["o"]
        tag = data["q"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise UsageError("bad cursor: pass next_cursor from the previous page as it was") from None
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset < 2**62:
        raise UsageError("bad cursor: pass next_cursor from the previous page as it was")
    if tag != _query_tag(query):
        raise UsageError("this cursor belongs to another query: start again without one")
    return offset


async def list_samples(request: web.Request) -> web.StreamResponse:
    args = query_args(request)
    query, limit = args["q"], args["limit"]
    offset = decode_cursor(args["cursor"], query)
    # Ids from SQLite in a worker thread, the records spliced on the loop from the record
    # cache, the page kept while the catalog stays at its generation (query_cache.py). The
    # query's own limit:N still caps the whole listing (Library.query_ids).
    body = await context(request).pool.queries.page(
        query, offset, limit, args["total"],
        lambda next_offset: encode_cursor(next_offset, query))
    return await spliced_response(request, body)


async def get_sample(request: web.Request) -> web.StreamResponse:
    ref = sample_id(request)
    body = context(request).pool.records.body(ref)  # on the loop: see record_cache.py
    if body is None:
        raise NotFound(f"no sample has id {ref} (samplemind ls shows the ids)")
    return body_response(request, body)


def _similar(library: Library, ref: int, k: int, aspects: str | None, type_: str | None,
             category: str | None, query: str | None) -> dict[str, Any]:
    hits = library.similar([ref], k=k, aspects=aspects, type=type_, category=category, query=query)
    return versioned(id=ref, hits=[hit.to_json() for hit in hits])


async def similar(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    ref = sample_id(request)
    given = query_args(request)
    category = given["category"]
    args = (ref, given["k"], given["aspect"], given["type"],
            category.lower() if category else None, given["q"])
    # The usual question is looked up in the table of nearest neighbours (neighbour_keeper.py);
    # others, or while the table is not current, are searched in a worker thread. The answer
    # is spliced on the loop from the records the record cache holds encoded
    # (record_cache.py), unless too many are not there.
    found = ctx.neighbours.encoded(ref, given["k"]) if args[2:] == (None, None, None, None) else None
    if found is None:
        found = [(hit.id, encode(hit.fields())) for hit in await ctx.pool.run(_ranked, *args)]
    body = ctx.pool.records.hits_body(versioned(id=ref), found)
    if body is None:
        return await json_call(request, _similar, *args)
    return await spliced_response(request, body)


def _ranked(library: Library, ref: int, k: int, aspects: str | None, type_: str | None,
            category: str | None, query: str | None) -> list[Any]:
    return library.ranked([ref], k=k, aspects=aspects, type=type_, category=category,
                          query=query)


async def peaks(request: web.Request) -> web.StreamResponse:
    return await json_call(request, Library.peaks, sample_id(request))


def _set(library: Library, ref: int, values: dict[str, Any]) -> dict[str, Any]:
    return library.set(ref, values).to_json()


async def set_fields(request: web.Request) -> web.StreamResponse:
    ref = sample_id(request)
    # Types: the route's schema; which values each field takes: Library.set
    # (organise.check_overrides).
    body = checked_body(request)
    response = await json_call(request, _set, ref, body)
    context(request).watcher.nudge()
    return response


def _forget(library: Library, ref: int, delete_file: bool) -> dict[str, Any]:
    return library.forget(ref, delete_file=delete_file)


async def forget(request: web.Request) -> web.StreamResponse:
    response = await json_call(request, _forget, sample_id(request), False)
    context(request).watcher.nudge()
    return response


async def delete_file(request: web.Request) -> web.StreamResponse:
    if not context(request).config.allow_delete:
        raise Forbidden("deleting files is off: start the server with --allow-delete "
                        "(DELETE /api/v1/samples/{id} only forgets the catalog entry)")
    response = await json_call(request, _forget, sample_id(request), True)
    context(request).watcher.nudge()
    return response


# -- duplicates, map ------------------------------------------------------------------------


async def dupes(request: web.Request) -> web.StreamResponse:
    args = query_args(request)
    threshold, exact, near, query = args["threshold"], args["exact"], args["near"], args["q"]

    def work(library: Library) -> dict[str, Any]:
        groups, layers = library.dupes_and_layers(threshold=threshold, exact=exact, near=near,
                                                  query=query)
        return versioned(groups=[group.to_json() for group in groups],
                         layers=[found.to_json() for found in layers])

    return await json_call(request, work)


def _map_rect(args: dict[str, Any]) -> tuple[float, float, float, float] | None:
    """x0, y0, x1, y1 (all four or none): a region of the map."""
    values = [args[name] for name in ("x0", "y0", "x1", "y1")]
    if all(value is None for value in values):
        return None
    if any(value is None for value in values):
        raise UsageError("give all of x0, y0, x1 and y1, or none")
    return values[0], values[1], values[2], values[3]  # type: ignore[return-value]


async def sound_map(request: web.Request) -> web.StreamResponse:
    args = query_args(request)
    query, level, points, rect = args["q"], args["level"], args["points"], _map_rect(args)
    return await json_call(request, lambda library: library.map_view(
        query, level=level, rect=rect, points=points))


async def sound_map_ids(request: web.Request) -> web.StreamResponse:
    """The ids behind a map region or one cell (a selection, a bin opened as a list)."""
    args = query_args(request)
    query, rect, level, cx, cy = args["q"], _map_rect(args), args["level"], args["cx"], args["cy"]
    if (rect is None) == (level is None or cx is None or cy is None):
        raise UsageError("give either a region (x0, y0, x1, y1) or a cell (level, cx, cy)")

    def work(library: Library) -> dict[str, Any]:
        ids = (library.map_region(rect, query) if rect is not None
               else library.map_cell(level, cx, cy, query))  # type: ignore[arg-type]
        return versioned(count=len(ids), ids=ids)

    return await json_call(request, work)


# -- tags, collections, suggestions ---------------------------------------------------------


def _selected_ids(library: Library, ids: list[int] | None, query: str | None) -> list[int]:
    # Ids and queries only: a path in a request never selects anything.
    if ids is not None:
        return [library.get(i).id for i in ids]
    return [sample.id for sample in library.ls(query)]


async def list_tags(request: web.Request) -> web.StreamResponse:
    # Kept current from the change feed, encoded once per generation (query_cache.py).
    return body_response(request, await context(request).pool.facets.tags())


async def apply_tags(request: web.Request) -> web.StreamResponse:
    body = checked_body(request)  # the route's schema: tags, ids or query, remove
    tags = body["tags"]
    if isinstance(tags, str):
        tags = [tags]
    remove = body.get("remove", False)
    ids, query = body.get("ids"), body.get("query")
    if ids is not None:
        ids = unique_ids(ids)

    def work(library: Library) -> dict[str, Any]:
        selected = _selected_ids(library, ids, query)
        if not selected:
            return versioned(samples=0, changed=0)
        return versioned(library.tag([str(i) for i in selected], tags, remove=remove))

    response = await json_call(request, work)
    context(request).watcher.nudge()
    return response


async def list_collections(request: web.Request) -> web.StreamResponse:
    return await json_call(request, lambda library: versioned(
        collections=library.collections()))


async def save_collection(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    query = checked_body(request)["query"]
    return await json_call(request, lambda library: library.save_collection(name, query))


async def delete_collection(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]

    def work(library: Library) -> dict[str, Any]:
        library.delete_collection(name)
        return versioned(deleted=name)

    return await json_call(request, work)


async def suggestions(request: web.Request) -> web.StreamResponse:
    args = query_args(request)  # the same schema as the POST body's
    query, k, threshold = args["q"], args["k"], args["threshold"]
    return await json_call(request, lambda library: versioned(
        suggestions=library.suggest(query, k=k, threshold=threshold)))


async def apply_suggestions(request: web.Request) -> web.StreamResponse:
    body = checked_body(request)  # the route's schema: types and ranges
    query = body.get("q") or None
    k = body.get("k", SUGGEST_SCHEMA["k"]["default"])
    threshold = float(body.get("threshold", SUGGEST_SCHEMA["threshold"]["default"]))
    response = await json_call(request, lambda library: versioned(
        applied=library.suggest(query, k=k, threshold=threshold, apply=True)))
    context(request).watcher.nudge()
    return response


# -- figures -----------------------------------------------------------------------------------


async def stats(request: web.Request) -> web.StreamResponse:
    # Kept current from the change feed, encoded once per generation (query_cache.py).
    return body_response(request, await context(request).pool.facets.stats())


async def index_status(request: web.Request) -> web.StreamResponse:
    return await json_call(request, lambda library: library.index_status())


async def failures(request: web.Request) -> web.StreamResponse:
    return await json_call(request, lambda library: versioned(
        failures=[failure.to_json() for failure in library.failures()]))


async def record_schema(request: web.Request) -> web.StreamResponse:
    """What the record holds and what a person may correct: the core's lists, so the UI keeps
    no copy of its own."""
    return json_now(request, versioned(fields=list(RECORD_FIELDS),
                                       estimated=list(ESTIMATED_FIELDS),
                                       correctable=list(CORRECTABLE_FIELDS)))


async def cache_stats(request: web.Request) -> web.StreamResponse:
    return await json_call(request, lambda library: library.cache_stats())


_TAGS_BODY = {
    "type": "object", "required": ["tags"], "additionalProperties": False,
    "properties": {"tags": {"type": ["array", "string"], "items": {"type": "string"},
                            "minItems": 1, "maxItems": 1000,
                            "description": "The tags (one tag: a list of one, or the string)."},
                   "ids": sample_ids(MAX_TAG_IDS),
                   "query": {"type": "string"}, "remove": {"type": "boolean"}},
    "oneOf": [{"required": ["ids"]}, {"required": ["query"]}]}
_SET_BODY = {"type": "object", "minProperties": 1, "additionalProperties": False,
             "properties": {name: {"type": ["string", "number", "null"]} for name in CORRECTABLE_FIELDS}}
_SUGGEST_BODY = {"type": "object", "additionalProperties": False,
                 "properties": {"q": {"type": "string"}, **SUGGEST_SCHEMA}}
NAME = Param("name", "path", {"type": "string"}, "Collection name.", True)
K = Param("k", "query", {"type": "integer", "minimum": 1, "maximum": MAX_K, "default": 10},
          "How many.")

ROUTES = [
    Route("GET", "/api/v1/samples", "samples_list", list_samples, VIEWER,
          "List samples matching a query, a page at a time (cursor pagination).",
          (Q, Param("limit", "query", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE,
                                       "default": DEFAULT_PAGE}, "Page size."),
           Param("cursor", "query", {"type": "string", "maxLength": 200},
                 "next_cursor of the previous page."),
           Param("total", "query", {"type": "boolean", "default": False},
                 "Also count every sample the query matches (`total`)."))),
    Route("GET", "/api/v1/samples/{id}", "sample_get", get_sample, VIEWER,
          "One sample, every field.", (ID,), responses={404: "No such sample."}),
    Route("PATCH", "/api/v1/samples/{id}", "sample_set", set_fields, EDITOR,
          "Correct fields (bpm, key, note, type, category; null clears) with source user.",
          (ID,), body=_SET_BODY, responses={404: "No such sample."}),
    Route("DELETE", "/api/v1/samples/{id}", "sample_forget", forget, EDITOR,
          "Remove a sample from the catalog (the file stays; a rescan adds it again).",
          (ID,), responses={404: "No such sample."}),
    Route("DELETE", "/api/v1/samples/{id}/file", "sample_delete_file", delete_file, ADMIN,
          "Delete the sample's file from disk and the catalog (needs --allow-delete).",
          (ID,), responses={403: "Started without --allow-delete.", 404: "No such sample."}),
    Route("GET", "/api/v1/samples/{id}/similar", "sample_similar", similar, VIEWER,
          "The samples that sound most like this one.",
          (ID, K, Param("aspect", "query", {"type": "string", "maxLength": 500},
                        "Aspect weights, e.g. `timbre=2,pitch=0`."),
           Param("type", "query", {"type": "string", "enum": ["loop", "oneshot"], "maxLength": 7},
                 "Only this type."),
           Param("category", "query", {"type": "string", "maxLength": 100}, "Only this category."),
           Q),
          responses={404: "No such sample."}),
    Route("GET", "/api/v1/samples/{id}/peaks", "sample_peaks", peaks, VIEWER,
          "Waveform overview: [min, max] pairs over equal slices (mono).", (ID,),
          responses={404: "No such sample."}),
    Route("GET", "/api/v1/dupes", "dupes", dupes, VIEWER,
          "Groups of exact and near duplicates, each with a suggested keeper (`groups`), and "
          "the sets of alike sounds that are one sound's velocity layers or round robins "
          "(`layers`, softest first: never redundant).",
          (Param("threshold", "query", DUPES_THRESHOLD_SCHEMA,
                 "Near-duplicate distance threshold."),
           Param("exact", "query", {"type": "boolean", "default": True}, "Include exact groups."),
           Param("near", "query", {"type": "boolean", "default": True}, "Include near groups."),
           Q)),
    Route("GET", "/api/v1/map", "map", sound_map, VIEWER,
          "The sound map of a query's samples (PCA of the sound vectors) at a level of detail: "
          "the points themselves when at most `points` are in view, else bins of the level's "
          "cells (count, centroid, main category, a sample to play), each sample counted once; "
          "with the legend and the query's extent.",
          (Q, MAP_LEVEL, Param("points", "query", {"type": "integer", "minimum": 0,
                                                    "maximum": MAP_MAX_POINTS,
                                                    "default": MAP_DEFAULT_POINTS},
                               "Most points to send before binning."),
           *MAP_RECT)),
    Route("GET", "/api/v1/map/ids", "map_ids", sound_map_ids, VIEWER,
          "Ids of a query's samples in a region of the map, or in one cell of a level.",
          (Q, *MAP_RECT, MAP_LEVEL,
           Param("cx", "query", MAP_CELL, "Cell column (with level)."),
           Param("cy", "query", MAP_CELL, "Cell row (with level)."))),
    Route("GET", "/api/v1/tags", "tags_list", list_tags, VIEWER,
          "Every tag with how many samples carry it."),
    Route("POST", "/api/v1/tags", "tags_apply", apply_tags, EDITOR,
          "Add (or with remove: true, remove) user tags on samples selected by ids or a query.",
          body=_TAGS_BODY),
    Route("GET", "/api/v1/collections", "collections_list", list_collections, VIEWER,
          "Saved collections (queries usable as @NAME)."),
    Route("PUT", "/api/v1/collections/{name}", "collection_save", save_collection, EDITOR,
          "Save a query as a collection.", (NAME,),
          body={"type": "object", "required": ["query"], "additionalProperties": False,
                "properties": {"query": {"type": "string"}}}),
    Route("DELETE", "/api/v1/collections/{name}", "collection_delete", delete_collection, EDITOR,
          "Forget a collection.", (NAME,), responses={404: "No such collection."}),
    Route("GET", "/api/v1/suggestions", "suggestions", suggestions, VIEWER,
          "Tag suggestions for untagged samples, voted by user-tagged neighbours.",
          (Param("q", "query", QUERY_TEXT, "Only samples matching this query."),
           Param("k", "query", SUGGEST_SCHEMA["k"], "Neighbours."),
           Param("threshold", "query", SUGGEST_SCHEMA["threshold"], "Share of votes needed."))),
    Route("POST", "/api/v1/suggestions", "suggestions_apply", apply_suggestions, EDITOR,
          "Write the tag suggestions (source suggested).", body=_SUGGEST_BODY),
    Route("GET", "/api/v1/stats", "stats", stats, VIEWER,
          "Library figures: counts by type, category and format; size; roots."),
    Route("GET", "/api/v1/index", "index_status", index_status, VIEWER,
          "Vector index figures."),
    Route("GET", "/api/v1/schema", "record_schema", record_schema, VIEWER,
          "The record's fields, its estimates and the fields a person may correct "
          "(PATCH /api/v1/samples/{id})."),
    Route("GET", "/api/v1/failures", "failures", failures, VIEWER,
          "Files that failed their last analysis."),
    Route("GET", "/api/v1/cache", "cache_stats", cache_stats, VIEWER,
          "Feature cache figures."),
]
