"""The README stays true: its commands are the ones CI runs, and every command is documented."""

from __future__ import annotations

import re

from typer.main import get_command

from samplemind.cli import app
from samplemind.models import RECORD_FIELDS

from helpers import REPO


def _readme() -> str:
    return (REPO / "README.md").read_text()


def _shell_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, flags=re.S)


def test_readme_opens_with_the_demo_and_test_commands() -> None:
    blocks = _shell_blocks(_readme())
    assert "samplemind demo" in blocks[0]
    assert "pytest" in blocks[1]


def test_ci_runs_the_readme_test_command() -> None:
    test_command = _shell_blocks(_readme())[1].strip()
    ci_lines = (REPO / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines


def test_every_command_and_record_field_is_documented() -> None:
    readme = _readme()
    for name in get_command(app).commands:
        assert f"samplemind {name}" in readme, name
    for field in RECORD_FIELDS:
        if field.endswith(("_confidence", "_source")):
            continue
        assert f"`{field}`" in readme, field


def test_changelog_has_an_unreleased_section() -> None:
    changelog = (REPO / "CHANGELOG.md").read_text()
    assert changelog.index("## Unreleased") < changelog.index("### New features")
