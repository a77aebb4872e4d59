"""The OpenAPI 3.1 document, built from the route declarations (so it cannot drift)."""

from __future__ import annotations

import re
from typing import Any

from .. import __version__
from .routing import Route

ERROR_SCHEMA = {
    "type": "object", "required": ["ok", "error", "status"],
    "properties": {"ok": {"const": False}, "error": {"type": "string"},
                   "status": {"type": "integer"}},
}
REASONS = {200: "OK", 101: "Switching Protocols", 201: "Created", 202: "Accepted", 206: "Partial Content",
           304: "Not Modified", 400: "Bad request (a bad query or parameter).",
           403: "Forbidden", 404: "Not found", 405: "Method not allowed",
           413: "Too large", 415: "Unsupported media type", 416: "Range not satisfiable",
           422: "Could not be processed", 503: "Not ready"}


def _operation(route: Route) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": route.name, "summary": route.summary,
        "x-samplemind-role": route.role,
        "parameters": [{"name": p.name, "in": p.where, "required": p.required or p.where == "path",
                        "description": p.description, "schema": p.schema} for p in route.params],
    }
    if route.body is not None:
        operation["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": route.body}}}
    if route.multipart:
        operation["requestBody"] = {"required": True, "content": {"multipart/form-data": {
            "schema": {"type": "object", "properties": {
                "file": {"type": "array", "items": {"type": "string", "format": "binary"}}}}}}}
    success = next((status for status in (201, 202) if status in route.responses), 200)
    responses: dict[str, Any] = {}
    if success == 200:
        responses["200"] = {"description": "OK", "content": {route.produces: {"schema": {}}}}
    for status, why in sorted(route.responses.items()):
        entry: dict[str, Any] = {"description": why or REASONS.get(status, "")}
        if status >= 400:
            entry["content"] = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        elif status in (200, 201, 202, 206):
            entry["content"] = {route.produces: {"schema": {}}}
        responses[str(status)] = entry
    if route.params or route.body is not None or route.multipart:
        responses.setdefault("400", {"description": REASONS[400], "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Error"}}}})
    operation["responses"] = responses
    return operation


def build(routes: list[Route]) -> dict[str, Any]:
    """The document for these routes."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if not route.openapi:
            continue
        path = re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", route.path)
        paths.setdefault(path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "samplemind", "version": __version__,
                 "description": "The HTTP API of `samplemind serve`. Errors are always "
                                "`{\"ok\": false, \"error\": ..., \"status\": N}`. Each "
                                "operation's `x-samplemind-role` is the role it needs."},
        "paths": paths,
        "components": {"schemas": {"Error": ERROR_SCHEMA}},
    }
