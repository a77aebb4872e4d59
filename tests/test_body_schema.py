"""The request-body checks compiled from route schemas (samplemind/server/body_schema.py)."""

from __future__ import annotations

import pytest

from samplemind.server.body_schema import BodyError, check_body, compile_schema

SCHEMA = {
    "type": "object", "required": ["name"], "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 5},
        "a/b~c": {"type": "boolean"},
        "ids": {"type": "array", "minItems": 1, "maxItems": 3,
                "items": {"type": "integer", "minimum": 1, "maximum": 9}},
        "share": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "mode": {"type": "string", "enum": ["loop", "oneshot"]},
        "either": {"type": ["string", "null"], "description": "a note only"}}}


def refusal(schema, body) -> BodyError:
    with pytest.raises(BodyError) as refused:
        check_body(compile_schema(schema), body)
    return refused.value


def test_a_valid_body_passes():
    check_body(compile_schema(SCHEMA), {"name": "kick", "a/b~c": True, "ids": [1, 9],
                                        "share": 0.5, "mode": "loop", "either": None})


@pytest.mark.parametrize(("body", "pointer", "words"), [
    ([], "", "the body must be an object, not []"),
    ({}, "/name", "/name is required"),
    ({"name": 5}, "/name", "/name must be a string, not 5"),
    ({"name": ""}, "/name", "/name must not be empty"),
    ({"name": "longer"}, "/name", "/name is too long: 6 characters (at most 5)"),
    ({"name": "x", "a/b~c": 1}, "/a~1b~0c", "/a~1b~0c must be true or false, not 1"),
    ({"name": "x", "ids": []}, "/ids", "/ids must not be empty"),
    ({"name": "x", "ids": [1, 2, 3, 4]}, "/ids", "/ids has too many items: 4 (at most 3)"),
    ({"name": "x", "ids": [1, True]}, "/ids/1", "/ids/1 must be a whole number, not True"),
    ({"name": "x", "ids": [1, 1.0]}, "/ids/1", "/ids/1 must be a whole number, not 1.0"),
    ({"name": "x", "ids": [0]}, "/ids/0", "/ids/0 must be at least 1, not 0"),
    ({"name": "x", "ids": [10]}, "/ids/0", "/ids/0 must be at most 9, not 10"),
    ({"name": "x", "share": 0}, "/share", "/share must be more than 0, not 0"),
    ({"name": "x", "share": 1}, "/share", "/share must be less than 1, not 1"),
    ({"name": "x", "share": False}, "/share", "/share must be a number, not False"),
    ({"name": "x", "mode": "Loop"}, "/mode", "/mode must be 'loop' or 'oneshot', not 'Loop'"),
    ({"name": "x", "either": 3}, "/either", "/either must be a string or null, not 3"),
    ({"name": "x", "zz": 1, "yy": 2}, "/zz", "/zz, /yy are not fields of this body"),
])
def test_a_refusal_names_the_value_by_its_pointer(body, pointer, words):
    refused = refusal(SCHEMA, body)
    assert refused.pointer == pointer and str(refused).startswith(words), str(refused)
    assert refused.http_status == 400


def test_one_of_required_fields():
    schema = {"type": "object", "properties": {"ids": {"type": "array"}, "query": {"type": "string"}},
              "oneOf": [{"required": ["ids"]}, {"required": ["query"]}]}
    check_body(compile_schema(schema), {"ids": []})
    check_body(compile_schema(schema), {"query": ""})
    for body in ({}, {"ids": [], "query": ""}):
        assert str(refusal(schema, body)) == "the body needs either /ids or /query, not both"


def test_open_objects_take_unknown_fields_and_min_properties():
    schema = {"type": "object", "minProperties": 1, "properties": {"a": {"type": "integer"}}}
    check_body(compile_schema(schema), {"b": [1]})
    assert "at least 1 field(s) of: a" in str(refusal(schema, {}))


def test_a_keyword_outside_the_subset_is_refused_when_compiled():
    with pytest.raises(ValueError, match="pattern"):
        compile_schema({"type": "object", "properties": {"a": {"type": "string", "pattern": "x"}}})
    with pytest.raises(ValueError, match="additionalProperties"):
        compile_schema({"type": "object", "additionalProperties": {"type": "string"}})


def test_lists_of_plain_items_find_the_first_wrong_one():
    schema = {"type": "object", "properties": {
        "paths": {"type": "array", "items": {"type": "string", "minLength": 1}},
        "ids": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}}}}
    check = compile_schema(schema)
    check_body(check, {"paths": ["/a", "/b"], "ids": list(range(1, 1000))})
    for body, words in (({"paths": ["/a", ""]}, "/paths/1 must not be empty"),
                        ({"paths": ["/a", 3]}, "/paths/1 must be a string, not 3"),
                        ({"ids": [*range(1, 500), 2**63]}, "/ids/499 must be at most"),
                        ({"ids": [5, 1.5, 0]}, "/ids/1 must be a whole number, not 1.5")):
        with pytest.raises(BodyError) as refused:
            check_body(check, body)
        assert str(refused.value).startswith(words), str(refused.value)


@pytest.mark.parametrize(("text", "words"), [
    ("abc", "limit must be a whole number, not 'abc'"),
    ("9" * 30, "limit must be a whole number of at most 19 digits, not '999"),
    ("0", "limit must be at least 1, not 0"),
    ("", None),  # empty: the default
    ("7", None),
])
def test_a_query_parameter_is_read_by_its_schema(text, words):
    from samplemind.errors import UsageError
    from samplemind.server.query_params import compile_query
    from samplemind.server.routing import Param

    read = compile_query([Param("limit", "query", {"type": "integer", "minimum": 1,
                                                   "maximum": 1000, "default": 100}, "")])
    if words is None:
        assert read({"limit": text}) == {"limit": int(text or 100)}
        return
    with pytest.raises(UsageError) as refused:
        read({"limit": text})
    assert str(refused.value).startswith(words), str(refused.value)
