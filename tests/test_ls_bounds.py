"""Review of Library.ls's option words: an option carries the query language's bounds, so a
long list of alternatives is a BadValue naming it, never an SQLite error."""

from __future__ import annotations

import pytest

from samplemind import Library
from samplemind.errors import BadValue, UsageError


@pytest.mark.parametrize("option", ["bpm", "key", "category", "type"])
def test_a_thousand_alternatives_in_an_option_is_a_bad_value(library: Library, option: str) -> None:
    word = {"bpm": "120", "key": "Am", "category": "kick", "type": "loop"}[option]
    with pytest.raises(BadValue, match=option) as raised:
        list(library.ls(**{option: ",".join([word] * 1000)}))
    assert isinstance(raised.value, UsageError)
    assert list(library.ls(**{option: ",".join([word] * 10)})) == []  # a few are fine
    with pytest.raises(UsageError, match="too long"):  # as the same words in a query
        list(library.ls(f"{option}:" + ",".join([word] * 1000)))
