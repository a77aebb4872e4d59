"""Shell completions and the man page: generated from the CLI, current, and they really complete."""

from __future__ import annotations

import enum
import importlib.util
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
from typing import Annotated

import pytest
import typer

from samplemind.cli import app
from samplemind.commands.common import SampleType
from samplemind.output import Format

ROOT = pathlib.Path(__file__).resolve().parent.parent
REGENERATE = "python scripts/generate_cli_docs.py"


def _load_generator():
    spec = importlib.util.spec_from_file_location("generate_cli_docs", ROOT / "scripts/generate_cli_docs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


gen = _load_generator()
GENERATED = [gen.BASH_FILE, gen.ZSH_FILE, gen.FISH_FILE, gen.MAN_FILE]


@pytest.fixture(scope="module")
def cli():
    """The command tree the generator reads."""
    return gen.load_cli()


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The generated files, written now from the current CLI into a scratch folder."""
    root = tmp_path_factory.mktemp("generated")
    gen.write_all(root)
    return root


def bash_complete(script: pathlib.Path, *queries: str, cwd: pathlib.Path | None = None) -> list[list[str]]:
    """COMPREPLY for each command line (the cursor at its end), from one bash that sourced script.

    A query ending in a space completes an empty word. Words are split as bash's completion splits
    them, except that '=' must be written as its own word (as COMP_WORDBREAKS makes it).
    """
    lines = [f"source {shlex.quote(str(script))}",
             'q() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _samplemind; '
             'printf "%s\\n" "${COMPREPLY[*]}"; }']
    for query in queries:
        words = query.split() + ([""] if query.endswith(" ") else [])
        lines.append("q " + " ".join(shlex.quote(word) for word in words))
    result = subprocess.run(["bash", "--norc", "--noprofile", "-c", "\n".join(lines)], cwd=cwd,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and not result.stderr, result.stderr
    replies = result.stdout.split("\n")[:-1]
    assert len(replies) == len(queries), result.stdout
    return [reply.split() for reply in replies]


def _words_in(text: str, word: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


# -- current and complete ------------------------------------------------------------------


def test_generated_files_are_current(fresh: pathlib.Path) -> None:
    stale = [name for name in GENERATED
             if not (ROOT / name).is_file()
             or (ROOT / name).read_text(encoding="utf-8") != (fresh / name).read_text(encoding="utf-8")]
    assert not stale, f"out of date: {', '.join(stale)}; run {REGENERATE}"


@pytest.mark.slow
def test_check_names_the_stale_files(tmp_path: pathlib.Path) -> None:
    gen.write_all(tmp_path)
    assert gen.outdated(tmp_path) == []
    (tmp_path / gen.FISH_FILE).write_text("# edited by hand\n", encoding="utf-8")
    (tmp_path / gen.MAN_FILE).unlink()
    assert gen.outdated(tmp_path) == [gen.FISH_FILE, gen.MAN_FILE]


def test_every_command_argument_and_option_has_help() -> None:
    """Walks the click tree itself (not the generator's view of it); hidden ones need no help."""
    offenders = []

    def walk(command, name: str) -> None:
        if not (command.help or command.short_help or "").strip():
            offenders.append(f"{name} (command)")
        for param in command.params:
            if getattr(param, "hidden", False):
                continue
            if not (getattr(param, "help", None) or "").strip():
                kind = param.param_type_name
                label = "/".join(param.opts) if kind == "option" else param.metavar or param.name
                offenders.append(f"{name} {label} ({kind})")
        for child_name, child in sorted(getattr(command, "commands", {}).items()):
            if not child.hidden:
                walk(child, f"{name} {child_name}")

    walk(typer.main.get_command(app), "samplemind")
    assert not offenders, "no help text: " + "; ".join(offenders)


def _fish_spelling(option: str) -> str:
    if option.startswith("--"):
        return f"-l '{option[2:]}'"
    return f"-s '{option[1:]}'" if len(option) == 2 else f"-o '{option[1:]}'"


def test_every_command_and_option_is_in_every_file(cli, fresh: pathlib.Path) -> None:
    """Each file names every sub-command and option, spelled as that file spells them."""
    spell_command = {
        gen.BASH_FILE: lambda path: path[-1],
        gen.ZSH_FILE: lambda path: f"'{path[-1]}:",
        gen.FISH_FILE: lambda path: f"-a '{path[-1]}'",
        gen.MAN_FILE: lambda path: f'.SS "{" ".join(path)}"',
    }
    spell_option = {
        gen.BASH_FILE: lambda option: option,
        gen.ZSH_FILE: lambda option: option,
        gen.FISH_FILE: _fish_spelling,
        gen.MAN_FILE: lambda option: f"\\fB{option.replace('-', chr(92) + '-')}\\fR",
    }
    missing = []
    for name in GENERATED:
        text = (fresh / name).read_text(encoding="utf-8")
        for command in cli.walk():
            words = [spell_command[name](command.path)] if command.path else []
            words += [spell_option[name](n) for option in command.options for n in option.names]
            missing += [f"{name}: {command.name}: {word}" for word in words
                        if not (_words_in(text, word) if name == gen.BASH_FILE else word in text)]
    assert not missing, "\n".join(missing)


# -- bash ------------------------------------------------------------------------------------


def test_bash_script_parses() -> None:
    result = subprocess.run(["bash", "-n", str(ROOT / gen.BASH_FILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_bash_completes_commands_options_and_values(tmp_path: pathlib.Path) -> None:
    (tmp_path / "abc.wav").touch()
    (tmp_path / "abd").mkdir()
    formats = sorted(f.value for f in Format)
    got = bash_complete(
        ROOT / gen.BASH_FILE,
        "samplemind sc",
        "samplemind ls --for",
        "samplemind ls --format ",
        "samplemind ls --format = js",  # --format=js as bash splits it
        "samplemind ls --type ",
        "samplemind cache ",
        "samplemind cache stats --f",
        "samplemind --home /some/dir s",  # the value of a global option is not a command
        "samplemind scan ab",
        "samplemind scan abc.wav ab",  # PATH... takes any number of words
        "samplemind stats ",  # no argument to fill: the options
        cwd=tmp_path)
    assert got[0] == ["scan"] or ("scan" in got[0] and all(w.startswith("sc") for w in got[0]))
    assert got[1] == ["--format"]
    assert sorted(got[2]) == formats
    assert sorted(got[3]) == [f for f in formats if f.startswith("js")]
    assert sorted(got[4]) == sorted(t.value for t in SampleType)
    assert {"clear", "stats"} <= set(got[5])
    assert got[6] == ["--format"]
    assert {"scan", "show", "stats"} <= set(got[7]) and all(w.startswith("s") for w in got[7])
    assert sorted(got[8]) == ["abc.wav", "abd"]
    assert sorted(got[9]) == ["abc.wav", "abd"]
    assert "--format" in got[10]


def test_bash_offers_every_sub_command_and_option(cli) -> None:
    """For every group its sub-commands, for every command its options: new commands included."""
    queries, expected = [], []
    for command in cli.walk():
        prefix = " ".join(("samplemind", *command.path))
        if command.commands:
            queries.append(prefix + " ")
            expected.append(sorted(c.path[-1] for c in command.commands))
        queries.append(prefix + " -")
        expected.append(sorted(n for option in command.options for n in option.names))
    got = bash_complete(ROOT / gen.BASH_FILE, *queries)
    wrong = [f"{q!r}: {sorted(g)} != {e}" for q, g, e in zip(queries, got, expected) if sorted(g) != e]
    assert not wrong, "\n".join(wrong)


# -- zsh and fish: checked by the shells where they are installed ---------------------------


def test_zsh_script(cli) -> None:
    text = (ROOT / gen.ZSH_FILE).read_text(encoding="utf-8")
    assert text.startswith("#compdef samplemind\n")
    for command in list(cli.walk())[1:]:
        assert f"{gen._zsh_func(command)}()" in text, command.name
        assert f"'{command.path[-1]}:" in text, command.name  # listed, with a description
    if shutil.which("zsh"):
        result = subprocess.run(["zsh", "-n", str(ROOT / gen.ZSH_FILE)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        # Sourced (not autoloaded), the file registers itself with compdef.
        program = 'autoload -Uz compinit && compinit -u -D && source "$1" && print -r -- $_comps[samplemind]'
        result = subprocess.run(["zsh", "-f", "-c", program, "zsh", str(ROOT / gen.ZSH_FILE)],
                                capture_output=True, text=True, timeout=30)
        assert result.stdout.strip() == "_samplemind", result.stderr


def test_fish_script(cli) -> None:
    text = (ROOT / gen.FISH_FILE).read_text(encoding="utf-8")
    for command in list(cli.walk())[1:]:
        parent = " ".join(("__samplemind_using", *command.path[:-1]))
        assert f"-n '{parent}' -a '{command.path[-1]}' -d '" in text, command.name
    if shutil.which("fish"):
        result = subprocess.run(["fish", "-n", str(ROOT / gen.FISH_FILE)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        program = "source $argv[1]; for line in $argv[2..-1]; complete -C $line; echo '<end>'; end"
        queries = ["samplemind sc", "samplemind cache ", "samplemind --home /x ", "samplemind ls --format "]
        result = subprocess.run(["fish", "--no-config", "-c", program, str(ROOT / gen.FISH_FILE), *queries],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        blocks = result.stdout.split("<end>\n")[:-1]
        got = [{line.split("\t")[0] for line in block.splitlines()} for block in blocks]
        assert "scan" in got[0]
        assert {"clear", "stats"} <= got[1]
        assert {"scan", "ls"} <= got[2]
        assert got[3] == {f.value for f in Format}


# -- man page --------------------------------------------------------------------------------


def test_man_page_sections_and_escaping() -> None:
    text = (ROOT / gen.MAN_FILE).read_text(encoding="utf-8")
    assert re.search(r'^\.TH SAMPLEMIND 1 ', text, re.M)
    headings = re.findall(r"^\.SH (.+)$", text, re.M)
    assert headings == ["NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "GLOBAL OPTIONS", "ENVIRONMENT",
                        "EXIT STATUS", "FILES", "EXAMPLES"]
    for code in ("0", "1", "2", "3", "4", "130"):
        assert f"\n.B {code}\n" in text
    for variable in ("SAMPLEMIND_HOME", "NO_COLOR"):
        assert f"\n.B {variable}\n" in text
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith('.\\"'):
            continue
        assert not re.search(r"(?<!\\)-", line), f"line {number}: unescaped hyphen: {line}"
        assert line.isascii(), f"line {number}: not ASCII: {line}"
        if line.startswith((".", "'")):
            assert re.match(r"^\.(TH|SH|SS|PP|TP|B|I|RS|RE|nf|fi|nh|ad) ?", line), f"line {number}: {line}"


def test_man_page_renders_without_warnings() -> None:
    page = str(ROOT / gen.MAN_FILE)
    if shutil.which("groff"):
        result = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", page],
                                capture_output=True, text=True)
        assert result.returncode == 0 and not result.stderr, result.stderr
    if shutil.which("mandoc"):
        result = subprocess.run(["mandoc", "-Tlint", "-Werror", page], capture_output=True, text=True)
        assert result.returncode < 3, result.stdout + result.stderr  # 2 is a warning: the empty date
    # Without either, the structure test above is the check.


def test_man_page_examples_must_exist(cli) -> None:
    with pytest.raises(ValueError, match="--no-such-option"):
        gen.render_man(cli, [("Gone:", "samplemind ls --no-such-option")])
    with pytest.raises(ValueError, match="names no command"):
        gen.render_man(cli, [("Half a command:", "samplemind cache")])


# -- the generator reads any command tree -----------------------------------------------------


class Colour(str, enum.Enum):
    """Choices for the synthetic app."""

    red = "red"
    blue = "blue"


def _synthetic_app() -> typer.Typer:
    """Nested groups, typed arguments and options: what later commands may bring."""
    root = typer.Typer(help="Root.", context_settings={"help_option_names": ["-h", "--help"]})
    collection = typer.Typer(help="Collections.")
    tag = typer.Typer(help="Tags of a collection.")
    collection.add_typer(tag, name="tag")
    root.add_typer(collection, name="collection")

    @root.command()
    def similar(
        colour: Annotated[Colour, typer.Argument(help="A colour.")],
        into: Annotated[pathlib.Path | None, typer.Option(
            "--into", file_okay=False, help="A folder.")] = None,
        size: Annotated[tuple[int, int], typer.Option("--size", help="Width and height.")] = (1, 2),
        loud: Annotated[bool, typer.Option("--loud/--quiet", help="Loudness.")] = True,
    ) -> None:
        """Similar sounds."""

    @tag.command("set")
    def tag_set(files: Annotated[list[pathlib.Path], typer.Argument(help="Files.")]) -> None:
        """Set tags."""

    return root


def test_generator_handles_nested_groups_and_typed_parameters(tmp_path: pathlib.Path) -> None:
    tree = gen.read_app(_synthetic_app())
    script = tmp_path / "synthetic.bash"
    script.write_text(gen.render_bash(tree), encoding="utf-8")
    (tmp_path / "folder").mkdir()
    (tmp_path / "file.wav").touch()
    got = bash_complete(
        script,
        "samplemind collection ",
        "samplemind collection tag ",
        "samplemind collection tag set f",
        "samplemind similar ",
        "samplemind similar --size 1 2 r",  # both values of --size are skipped
        "samplemind similar --into f",
        "samplemind similar red --q",
        cwd=tmp_path)
    assert [sorted(reply) for reply in got] == [
        ["tag"], ["set"], ["file.wav", "folder"], ["blue", "red"], ["red"], ["folder"], ["--quiet"]]
    man = gen.render_man(tree, [("Similar red sounds:", "samplemind similar red")])
    assert '.SS "collection tag set"' in man and "\\fB\\-\\-loud\\fR, \\fB\\-\\-quiet\\fR" in man
