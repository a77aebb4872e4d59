"""Bodies made from a route's JSON schema: a smallest valid one, and invalid ones each with
the JSON pointer a refusal must name (tests of the router's body checks)."""

from __future__ import annotations

from typing import Any

_WRONG_OBJECT = {"wrong": True}


def _types(schema: dict[str, Any]) -> list[str]:
    wanted = schema.get("type", [])
    return [wanted] if isinstance(wanted, str) else list(wanted)


def valid_value(schema: dict[str, Any]) -> Any:
    """A smallest value schema takes (the subset the routes use)."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = _types(schema)[0]
    if kind == "object":
        return valid_body(schema)
    if kind == "array":
        return [valid_value(schema.get("items", {"type": "string"}))] * max(
            schema.get("minItems", 0), 1)
    if kind == "string":
        return "x" * max(schema.get("minLength", 0), 1)
    if kind == "integer":
        return max(schema.get("minimum", 1), 1)
    if kind == "number":
        return schema.get("maximum", 1)
    if kind == "boolean":
        return True
    return None


def valid_body(schema: dict[str, Any]) -> dict[str, Any]:
    """The required properties (and the first oneOf's), each with a smallest valid value."""
    properties = schema.get("properties", {})
    names = list(schema.get("required", []))
    if "oneOf" in schema:
        names += schema["oneOf"][0].get("required", [])
    return {name: valid_value(properties[name]) for name in names}


def invalid_bodies(schema: dict[str, Any]) -> list[tuple[Any, str]]:
    """(body, the pointer a refusal names): the root not an object, each required property
    missing, each property of a wrong type, out of range or too long, a wrong list item,
    and an unknown property where the schema is closed."""
    base = valid_body(schema)
    cases: list[tuple[Any, str]] = [(["not", "an", "object"], "the body")]
    for name in schema.get("required", []):
        cases.append(({key: value for key, value in base.items() if key != name}, f"/{name}"))
    for name, sub in schema.get("properties", {}).items():
        types = _types(sub)
        wrong = _WRONG_OBJECT if "object" not in types else [1]
        cases.append(({**base, name: wrong}, f"/{name}"))
        if "enum" in sub:
            cases.append(({**base, name: "not-one-of-them"}, f"/{name}"))
        if "minimum" in sub:
            cases.append(({**base, name: sub["minimum"] - 1}, f"/{name}"))
        if "maximum" in sub:
            cases.append(({**base, name: sub["maximum"] + 1}, f"/{name}"))
        if "maxLength" in sub:
            cases.append(({**base, name: "x" * (sub["maxLength"] + 1)}, f"/{name}"))
        if "minLength" in sub and sub["minLength"] > 0:
            cases.append(({**base, name: ""}, f"/{name}"))
        if "items" in sub:
            item = valid_value(sub["items"])
            cases.append(({**base, name: [item, _WRONG_OBJECT]}, f"/{name}/1"))
            if "minItems" in sub and sub["minItems"] > 0 and "array" in types and len(types) == 1:
                cases.append(({**base, name: []}, f"/{name}"))
    if schema.get("additionalProperties") is False:
        cases.append(({**base, "zz_unknown": 1}, "/zz_unknown"))
    return cases
