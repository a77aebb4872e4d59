"""Request bodies checked against their route's JSON schema: the schema the OpenAPI document
shows is the one that refuses a body (routing.add_routes compiles it once per route).

The subset of JSON Schema our bodies use, compiled into plain closures (a request pays a few
function calls, not a walk of the schema): type, properties, required, additionalProperties
(false only), minProperties, items, minItems, maxItems, minimum, maximum, exclusiveMinimum,
exclusiveMaximum, minLength, maxLength, enum and oneOf; description and default are notes.
Any other keyword is a ValueError when the routes are added, so a schema cannot promise a check
that nothing makes. A refusal is a UsageError (400) naming the value by its JSON pointer
(RFC 6901: "/ids/2"). Checks a schema cannot express (a path must exist, a query must parse)
stay with the code that knows them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import UsageError

Check = Callable[[Any], None]  # raises Refused on a value the schema refuses

_NOTES = {"description", "default", "title", "examples"}
_KEYWORDS = _NOTES | {
    "type", "properties", "required", "additionalProperties", "minProperties", "items",
    "minItems", "maxItems", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "minLength", "maxLength", "enum", "oneOf"}
# Exact types, as a JSON parser makes them (a bool is not an integer here; 1.0 is not one
# either, unlike in JSON Schema, as Python's int() would take it).
_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "integer": (int,),
    "number": (int, float), "boolean": (bool,), "null": (type(None),)}
_NAMES = {"object": "an object", "array": "a list", "string": "a string",
          "integer": "a whole number", "number": "a number", "boolean": "true or false",
          "null": "null"}


class Refused(Exception):
    """Raised inside a check; `path` (innermost first) grows as it leaves each level, so a
    value that passes costs no pointer."""

    def __init__(self, message: str, others: list[str] | None = None) -> None:
        super().__init__(message)
        self.message, self.others = message, others  # others: more names at path's end
        self.path: list[str | int] = []


class BodyError(UsageError):
    """A body its route's schema refuses; `pointer` is where (RFC 6901)."""

    def __init__(self, pointer: str, message: str, subject: str | None = None) -> None:
        super().__init__(f"{subject or pointer or 'the body'} {message}")
        self.pointer = pointer


def pointer_to(parent: str, key: str | int) -> str:
    """The JSON pointer of parent's member key."""
    return f"{parent}/{str(key).replace('~', '~0').replace('/', '~1')}"


def shown(value: Any) -> str:
    """value as a refusal quotes it: its repr, cut at 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _either(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def compile_schema(schema: dict[str, Any]) -> Check:
    """A check for values against schema; ValueError for a keyword outside the subset."""
    unknown = set(schema) - _KEYWORDS
    if unknown:
        raise ValueError(f"body schema keyword(s) not supported: {sorted(unknown)}")
    checks: list[Check] = []
    if "type" in schema:
        checks.append(_type(schema["type"]))
    if "enum" in schema:
        checks.append(_enum(schema["enum"]))
    if {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"} & set(schema):
        checks.append(_range(schema))
    if "minLength" in schema or "maxLength" in schema:
        checks.append(_length(schema.get("minLength"), schema.get("maxLength")))
    if {"items", "minItems", "maxItems"} & set(schema):
        checks.append(_array(schema))
    if {"properties", "required", "additionalProperties", "minProperties"} & set(schema):
        checks.append(_object(schema))
    if "oneOf" in schema:
        checks.append(_one_of(schema["oneOf"]))
    if not checks:
        return lambda value: None
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks

        def both(value: Any) -> None:
            first(value)
            second(value)

        return both
    every = tuple(checks)

    def check(value: Any) -> None:
        for one in every:
            one(value)

    return check


def _type(wanted: str | list[str]) -> Check:
    names = [wanted] if isinstance(wanted, str) else list(wanted)
    allowed = frozenset(kind for name in names for kind in _TYPES[name])
    message = "must be " + _either([_NAMES[name] for name in names])

    def check(value: Any) -> None:
        if type(value) not in allowed:
            raise Refused(f"{message}, not {shown(value)}")

    return check


def _enum(choices: list[Any]) -> Check:
    allowed = frozenset((type(item), item) for item in choices)
    message = "must be " + _either([shown(item) for item in choices])

    def check(value: Any) -> None:
        try:
            if (type(value), value) in allowed:
                return
        except TypeError:  # unhashable: a list or an object
            pass
        raise Refused(f"{message}, not {shown(value)}")

    return check


def _range(schema: dict[str, Any]) -> Check:
    low, high = schema.get("minimum"), schema.get("maximum")
    above, below = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")

    def check(value: Any) -> None:
        if type(value) not in (int, float):
            return  # "type" says what it must be
        if low is not None and value < low:
            raise Refused(f"must be at least {low}, not {shown(value)}")
        if high is not None and value > high:
            raise Refused(f"must be at most {high}, not {shown(value)}")
        if above is not None and value <= above:
            raise Refused(f"must be more than {above}, not {shown(value)}")
        if below is not None and value >= below:
            raise Refused(f"must be less than {below}, not {shown(value)}")

    return check


def _length(shortest: int | None, longest: int | None) -> Check:
    low = shortest or 0
    high = longest if longest is not None else float("inf")

    def check(value: Any) -> None:
        if type(value) is not str or low <= len(value) <= high:
            return
        if len(value) < low:
            raise Refused("must not be empty" if low == 1
                          else f"must be at least {low} characters long")
        raise Refused(f"is too long: {len(value):,} characters (at most {longest:,})")

    return check


def _all_pass(items: dict[str, Any]) -> Callable[[list[Any]], bool] | None:
    """A quick test that a whole list of plain whole numbers or strings passes (sample ids,
    tags, paths): one pass over the list, no call per item. None for other item schemas."""
    if set(items) - _NOTES - {"type", "minimum", "maximum", "minLength"}:
        return None
    low, high, shortest = items.get("minimum"), items.get("maximum"), items.get("minLength", 0)
    if items.get("type") == "integer" and not shortest:
        low = float("-inf") if low is None else low
        high = float("inf") if high is None else high
        return lambda value: (all(type(v) is int for v in value)
                              and (not value or low <= min(value) and max(value) <= high))
    if items.get("type") == "string" and low is None and high is None:
        if shortest:
            return lambda value: all(type(v) is str and len(v) >= shortest for v in value)
        return lambda value: all(type(v) is str for v in value)
    return None


def _array(schema: dict[str, Any]) -> Check:
    fewest, most = schema.get("minItems", 0), schema.get("maxItems")
    item = compile_schema(schema["items"]) if "items" in schema else None
    all_pass = _all_pass(schema["items"]) if "items" in schema else None

    def check(value: Any) -> None:
        if type(value) is not list:
            return
        if len(value) < fewest:
            raise Refused("must not be empty" if fewest == 1
                          else f"must have at least {fewest:,} items")
        if most is not None and len(value) > most:
            raise Refused(f"has too many items: {len(value):,} (at most {most:,})")
        if item is not None and not (all_pass is not None and all_pass(value)):
            index = 0  # the item by item check finds the first wrong one
            try:
                for index, member in enumerate(value):  # noqa: B007 (read in except)
                    item(member)
            except Refused as refused:
                refused.path.append(index)
                raise

    return check


def _object(schema: dict[str, Any]) -> Check:
    properties = {name: compile_schema(sub) for name, sub in schema.get("properties", {}).items()}
    required = tuple(schema.get("required", ()))
    closed = schema.get("additionalProperties", True)
    if closed not in (True, False):
        raise ValueError("additionalProperties: only true or false is supported")
    fewest = schema.get("minProperties", 0)
    known = ", ".join(properties)
    names = properties.keys()

    def check(value: Any) -> None:
        if type(value) is not dict:
            return
        for name in required:
            if name not in value:
                refused = Refused("is required")
                refused.path.append(name)
                raise refused
        if len(value) < fewest:
            raise Refused(f"must have at least {fewest} field(s) of: {known}")
        if not closed and not names >= value.keys():
            unknown = [name for name in value if name not in properties]
            refused = Refused(f"{'is not a field' if len(unknown) == 1 else 'are not fields'}"
                              f" of this body (fields: {known})", unknown[1:])
            refused.path.append(unknown[0])
            raise refused
        name = ""
        try:
            for name, member in value.items():  # noqa: B007 (read in except)
                sub = properties.get(name)
                if sub is not None:
                    sub(member)
        except Refused as refused:
            refused.path.append(name)
            raise

    return check


def _one_of(options: list[dict[str, Any]]) -> Check:
    # The common case, {"oneOf": [{"required": ["ids"]}, {"required": ["query"]}]}: a count
    # of the names present, and a sentence of its own.
    names = [option["required"][0] for option in options
             if set(option) == {"required"} and len(option["required"]) == 1]
    if len(names) == len(options):
        message = ("needs either " + " or ".join(pointer_to("", name) for name in names)
                   + (", not both" if len(names) == 2 else " (exactly one)"))

        def present(value: Any) -> None:
            if type(value) is dict and sum(name in value for name in names) != 1:
                raise Refused(message)

        return present
    compiled = [compile_schema(option) for option in options]
    message = f"must match exactly one of {len(options)} shapes"

    def check(value: Any) -> None:
        matched = 0
        for one in compiled:
            try:
                one(value)
            except Refused:
                continue
            matched += 1
        if matched != 1:
            raise Refused(message)

    return check


def check_body(check: Check, value: Any) -> None:
    """Refuse value (a parsed request body) unless check passes; BodyError names where."""
    try:
        check(value)
    except Refused as refused:
        parts = refused.path[::-1]
        pointer = "".join(pointer_to("", part) for part in parts)
        subject = None
        if refused.others:
            parent = pointer[:len(pointer) - len(pointer_to("", parts[-1]))]
            subject = ", ".join([pointer, *(pointer_to(parent, name) for name in refused.others)])
        raise BodyError(pointer, refused.message, subject) from None
