"""Core errors say no caller's words; the CLI says its option (commands.common.options)."""

from __future__ import annotations

import pytest

from samplemind.ai.errors import ModelTimeout
from samplemind.commands.common import in_options, options
from samplemind.errors import BadValue, UsageError

from helpers import run_cli


def test_a_named_setting_is_said_as_the_option_and_the_error_kept():
    error = ModelTimeout("no answer within 5 s (raise the timeout)").naming(timeout="the timeout")
    assert str(error) == "no answer within 5 s (raise the timeout)"  # over HTTP, as it is
    with pytest.raises(ModelTimeout) as said, options(timeout="--timeout"):
        raise error
    assert str(said.value) == "no answer within 5 s (raise --timeout)"
    assert said.value.exit_code == ModelTimeout.exit_code


def test_other_errors_and_settings_pass_unchanged():
    with pytest.raises(ModelTimeout, match=r"\(raise the timeout\)$"), options(model="--model"):
        raise ModelTimeout("late (raise the timeout)").naming(timeout="the timeout")
    # A path the message shows before the words keeps them: the last are the setting's.
    assert in_options("/s/a path map/x.wav: (use a path map)", {"path_map": "a path map"},
                      {"path_map": "--path-map"}) == "/s/a path map/x.wav: (use --path-map)"
    with pytest.raises(UsageError, match="^plain$"), options(timeout="--timeout"):
        raise UsageError("plain")
    with pytest.raises(UsageError, match="^--ask must say what"), options(words="--ask"):
        raise BadValue("words", "must say what to look for")


def test_the_cli_says_home_where_the_core_says_another_home(tmp_path):
    from samplemind import Library
    from samplemind.errors import SampleMindError

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(SampleMindError, match=r"\(choose another home\)$"):
        Library(blocker / "home")
    result = run_cli("ls", home=blocker / "home")
    assert result.returncode != 0 and "(choose another --home)" in result.stderr, result.stderr
