"""Request bodies checked against their route's JSON schema: the schema the OpenAPI document
shows is the one that refuses a body (routing.add_routes compiles it once per route).

The subset of JSON Schema our bodies use, compiled into plain closures (a request pays a few
function calls, not a walk of the schema): type, properties, required, additionalProperties
(false only), minProperties, items, minItems, maxItems, minimum, maximum, exclusiveMinimum,
exclusiveMaximum, minLength, maxLength, enum and oneOf; description and default are notes.
Any other keyword is refused when the route is declared, so a schema cannot promise a check
that nothing makes. A refusal is a UsageError (400) naming the value by its JSON pointer
(RFC 6901: "/ids/2"). Checks a schema cannot express (a path must exist, a query must parse)
stay with the code that knows them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import UsageError

Check = Callable[[Any, str], None]  # (value, its JSON pointer); raises BodyError

_NOTES = {"description", "default", "title", "examples"}
_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}
_NAMES = {"object": "an object", "array": "a list", "string": "a string",
          "integer": "a whole number", "number": "a number", "boolean": "true or false",
          "null": "null"}


class BodyError(UsageError):
    """A body its route's schema refuses; `pointer` is where (RFC 6901)."""

    def __init__(self, pointer: str, message: str, subject: str | None = None) -> None:
        super().__init__(f"{subject or pointer or 'the body'} {message}")
        self.pointer = pointer


def pointer_to(parent: str, key: str | int) -> str:
    """The JSON pointer of parent's member key."""
    return f"{parent}/{str(key).replace('~', '~0').replace('/', '~1')}"


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _either(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def compile_schema(schema: dict[str, Any]) -> Check:
    """A check for values against schema; ValueError for a keyword outside the subset."""
    unknown = set(schema) - _NOTES - {
        "type", "properties", "required", "additionalProperties", "minProperties", "items",
        "minItems", "maxItems", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
        "minLength", "maxLength", "enum", "oneOf"}
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
    if len(checks) == 1:
        return checks[0]

    def check(value: Any, pointer: str) -> None:
        for one in checks:
            one(value, pointer)

    return check


def _type(wanted: str | list[str]) -> Check:
    names = [wanted] if isinstance(wanted, str) else list(wanted)
    tests = [_TYPES[name] for name in names]
    message = "must be " + _either([_NAMES[name] for name in names])

    def check(value: Any, pointer: str) -> None:
        for test in tests:
            if test(value):
                return
        raise BodyError(pointer, f"{message}, not {_shown(value)}")

    return check


def _enum(allowed: list[Any]) -> Check:
    message = "must be " + _either([_shown(item) for item in allowed])

    def check(value: Any, pointer: str) -> None:
        if not any(value == item and type(value) is type(item) for item in allowed):
            raise BodyError(pointer, f"{message}, not {_shown(value)}")

    return check


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _range(schema: dict[str, Any]) -> Check:
    low, high = schema.get("minimum"), schema.get("maximum")
    above, below = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")

    def check(value: Any, pointer: str) -> None:
        if not _is_number(value):
            return  # "type" says what it must be
        if low is not None and value < low:
            raise BodyError(pointer, f"must be at least {low}, not {_shown(value)}")
        if high is not None and value > high:
            raise BodyError(pointer, f"must be at most {high}, not {_shown(value)}")
        if above is not None and value <= above:
            raise BodyError(pointer, f"must be more than {above}, not {_shown(value)}")
        if below is not None and value >= below:
            raise BodyError(pointer, f"must be less than {below}, not {_shown(value)}")

    return check


def _length(shortest: int | None, longest: int | None) -> Check:
    def check(value: Any, pointer: str) -> None:
        if not isinstance(value, str):
            return
        if shortest is not None and len(value) < shortest:
            raise BodyError(pointer, "must not be empty" if shortest == 1
                            else f"must be at least {shortest} characters long")
        if longest is not None and len(value) > longest:
            raise BodyError(pointer, f"is too long: {len(value):,} characters "
                                     f"(at most {longest:,})")

    return check


def _array(schema: dict[str, Any]) -> Check:
    fewest, most = schema.get("minItems"), schema.get("maxItems")
    item = compile_schema(schema["items"]) if "items" in schema else None

    def check(value: Any, pointer: str) -> None:
        if not isinstance(value, list):
            return
        if fewest is not None and len(value) < fewest:
            raise BodyError(pointer, "must not be empty" if fewest == 1
                            else f"must have at least {fewest:,} items")
        if most is not None and len(value) > most:
            raise BodyError(pointer, f"has too many items: {len(value):,} (at most {most:,})")
        if item is not None:
            for index, member in enumerate(value):
                item(member, f"{pointer}/{index}")

    return check


def _object(schema: dict[str, Any]) -> Check:
    properties = {name: compile_schema(sub) for name, sub in schema.get("properties", {}).items()}
    required = list(schema.get("required", ()))
    closed = schema.get("additionalProperties", True)
    if closed not in (True, False):
        raise ValueError("additionalProperties: only true or false is supported")
    fewest = schema.get("minProperties")
    known = ", ".join(properties)

    def check(value: Any, pointer: str) -> None:
        if not isinstance(value, dict):
            return
        for name in required:
            if name not in value:
                raise BodyError(pointer_to(pointer, name), "is required")
        if fewest is not None and len(value) < fewest:
            raise BodyError(pointer, f"must have at least {fewest} field(s) of: {known}")
        if not closed and not properties.keys() >= value.keys():
            unknown = [pointer_to(pointer, name) for name in value if name not in properties]
            raise BodyError(unknown[0], f"{'is not a field' if len(unknown) == 1 else 'are not fields'}"
                            f" of this body (fields: {known})", ", ".join(unknown))
        for name, member in value.items():
            sub = properties.get(name)
            if sub is not None:
                sub(member, pointer_to(pointer, name))

    return check


def _one_of(options: list[dict[str, Any]]) -> Check:
    compiled = [compile_schema(option) for option in options]
    # The common case, {"oneOf": [{"required": ["ids"]}, {"required": ["query"]}]}, gets a
    # sentence of its own.
    names = [option["required"][0] for option in options
             if set(option) == {"required"} and len(option["required"]) == 1]
    message = ("needs either " + " or ".join(pointer_to("", name) for name in names)
               + (", not both" if len(names) == 2 else " (exactly one)")
               if len(names) == len(options) else
               f"must match exactly one of {len(options)} shapes")

    def check(value: Any, pointer: str) -> None:
        matched = 0
        for one in compiled:
            try:
                one(value, pointer)
            except BodyError:
                continue
            matched += 1
        if matched != 1:
            raise BodyError(pointer, message)

    return check


def check_body(check: Check, value: Any) -> None:
    """Refuse value (a parsed request body) unless check passes; BodyError names where."""
    check(value, "")
