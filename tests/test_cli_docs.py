"""Shell completions and the man page: generated from the CLI, current, and they really complete."""

from __future__ import annotations

import ast
import contextlib
import enum
import io
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
from typing import Annotated

import pytest
import typer

from samplemind import clidocs as gen
from samplemind.cli import app, main
from samplemind.commands.common import SampleType
from samplemind.output import Format

ROOT = pathlib.Path(__file__).resolve().parent.parent
REGENERATE = "python scripts/generate_cli_docs.py"
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
                        "EXIT STATUS", "FILES", "EXAMPLES", "SEE ALSO"]
    # A fixed date (the release's), so the page is the same wherever it is generated.
    assert re.search(rf'^\.TH SAMPLEMIND 1 "{gen.RELEASE_DATE}" ', text, re.M)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", gen.RELEASE_DATE)
    see_also = text.split(".SH SEE ALSO\n", 1)[1]
    assert "\\fBollama\\fR(1)" in see_also and "README" in see_also
    for code in ("0", "1", "2", "3", "4", "130"):
        assert f"\n.B {code}\n" in text
    for variable in ("SAMPLEMIND_HOME", "NO_COLOR"):
        assert f"\n.B {variable}\n" in text
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith('.\\"'):
            continue
        if not line.startswith(".TH "):  # its date is written as dates are: 2026-12-07
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
        assert result.returncode == 0, result.stdout + result.stderr
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


# -- printed by the program itself ------------------------------------------------------------


@pytest.mark.parametrize("words, generated", [
    (["completion", "bash"], gen.BASH_FILE), (["completion", "zsh"], gen.ZSH_FILE),
    (["completion", "FISH"], gen.FISH_FILE), (["man"], gen.MAN_FILE)])
def test_the_program_prints_the_committed_files(words: list[str], generated: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """What a pip or pipx user gets from `samplemind completion SHELL` / `samplemind man` is what
    the repository holds (and test_generated_files_are_current ties both to the code)."""
    assert main(words) == 0
    printed = capsys.readouterr().out
    assert printed == (ROOT / generated).read_text(encoding="utf-8")


def test_completion_refuses_an_unknown_shell(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "tcsh"]) == 2
    assert "tcsh" in capsys.readouterr().err


@pytest.mark.slow
def test_the_installed_program_prints_a_completion_bash_can_use(tmp_path: pathlib.Path) -> None:
    """The one-line install of the README, done by the real program, completes in bash."""
    script = tmp_path / "samplemind"
    with script.open("w") as out:
        result = subprocess.run([sys.executable, "-m", "samplemind", "completion", "bash"],
                                stdout=out, stderr=subprocess.PIPE, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    got = bash_complete(script, "samplemind compl", "samplemind completion ")
    assert [sorted(words) for words in got] == [["completion"], ["bash", "fish", "zsh"]]


# -- the man page names every environment variable the code reads ------------------------------


def _environment_reads() -> dict[str, str]:
    """Every environment variable samplemind/ reads, with where: os.environ.get(X),
    os.getenv(X), os.environ[X] (read, not assigned), X in os.environ, and typer's envvar=X;
    X a string or a module-level NAME = "..." constant of the same file."""
    found: dict[str, str] = {}
    trees = {path: ast.parse(path.read_text(encoding="utf-8"))
             for path in sorted((ROOT / "samplemind").rglob("*.py"))}
    # Module-level NAME = "..." of every module: a constant may be imported from another.
    constants = {target.id: node.value.value for tree in trees.values() for node in tree.body
                 if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                 and isinstance(node.value.value, str)
                 for target in node.targets if isinstance(target, ast.Name)}
    for path, tree in trees.items():

        def name_of(node: ast.AST) -> str | None:
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                return node.value
            if isinstance(node, ast.Name):
                return constants.get(node.id)
            return None

        def is_environ(node: ast.AST) -> bool:
            return ((isinstance(node, ast.Attribute) and node.attr == "environ")
                    or (isinstance(node, ast.Name) and node.id == "environ"))

        for node in ast.walk(tree):
            names: list[str | None] = []
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name):
                last = node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
                # (unparsed only when it can be one of those below: unparsing every call is slow)
                function = ast.unparse(node.func) if last in ("get", "getenv", "Option", "Argument") else ""
                if function in ("os.environ.get", "environ.get", "os.getenv", "getenv") and node.args:
                    names.append(name_of(node.args[0]))
                if function in ("typer.Option", "typer.Argument"):
                    names += [name_of(k.value) for k in node.keywords if k.arg == "envvar"]
            elif (isinstance(node, ast.Subscript) and is_environ(node.value)
                  and isinstance(node.ctx, ast.Load)):
                names.append(name_of(node.slice))
            elif isinstance(node, ast.Compare) and any(is_environ(c) for c in node.comparators):
                names.append(name_of(node.left))
            for name in names:
                where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"
                assert name is not None, f"{where}: an environment variable this test cannot name"
                found.setdefault(name, where)
    return found


def test_every_environment_variable_the_code_reads_is_in_the_man_page() -> None:
    reads = _environment_reads()
    # The scan must see what it is meant to (the two, read through a constant and a literal).
    assert {"SAMPLEMIND_HOME", "SAMPLEMIND_AI_MODEL", "OLLAMA_HOST", "NO_COLOR"} <= set(reads)
    text = (ROOT / gen.MAN_FILE).read_text(encoding="utf-8")
    environment = text.split(".SH ENVIRONMENT\n", 1)[1].split("\n.SH ", 1)[0]
    documented = {name for line in environment.splitlines() if line.startswith(".B ")
                  for name in re.split(r",\s*", line[3:])}
    missing = {name: where for name, where in reads.items() if name not in documented}
    assert not missing, f"read but not in the man page's ENVIRONMENT (clidocs.EXTRA_ENVIRONMENT): {missing}"


# -- --help at 80 columns ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def help_pages() -> dict[str, str]:
    """`samplemind ... --help` of every command and group at COLUMNS=80, by command name."""
    pages = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COLUMNS", "80")
        patch.setenv("LINES", "24")
        for command in gen.load_cli().walk():
            with contextlib.redirect_stdout(io.StringIO()) as out:
                assert main([*command.path, "--help"]) == 0
            pages[command.name] = out.getvalue()
    return pages


def _squeezed(text: str) -> str:
    return "".join(text.split())


def test_help_at_80_columns_reads_whole(cli, help_pages: dict[str, str]) -> None:
    """No line wider than the terminal, nothing cut with an ellipsis, flags without a value
    shown as taking one, no absurd ranges; every summary and help text shown whole."""
    problems = []
    for command in cli.walk():
        page = help_pages[command.name]
        for line in page.splitlines():
            if len(line) > 80:
                problems.append(f"{command.name}: wider than 80: {line!r}")
        if "\u2026" in page:
            problems.append(f"{command.name}: cut with an ellipsis")
        if "<bool>" in page:
            problems.append(f"{command.name}: a flag shown as taking a value")
        for line in re.findall(r"^  -.*<(?:str|int|float)[^>]*>.*$", page, re.M):
            problems.append(f"{command.name}: an option's value named by its Python type: {line}")
        usage = page.splitlines()[0]
        if "{" in usage:
            problems.append(f"{command.name}: typer's braces in the usage line: {usage}")
        arguments = page.split("\nArguments:\n", 1)[1].split("\n\n", 1)[0] if "\nArguments:\n" in page else ""
        if re.search(r"<[a-z\[\]]+>", arguments):
            problems.append(f"{command.name}: an argument shown with its Python type: {arguments}")
        if huge := re.search(r".*\d{7,}.*", page):
            problems.append(f"{command.name}: a number nobody types: {huge[0]}")
        for text in [*(p for p in command.help[:1]), *(p.help for p in command.params)]:
            if _squeezed(text) not in _squeezed(page):
                problems.append(f"{command.name}: not shown whole: {text!r}")
        for child in command.commands:  # the group's list: each summary whole (up to its first stop)
            first = re.split(r"(?<=\.)\s", child.summary)[0]
            if _squeezed(first) not in _squeezed(page):
                problems.append(f"{command.name}: {child.path[-1]}'s summary cut: {first!r}")
    assert not problems, "\n".join(problems)


def test_flags_and_values_read_like_other_tools(help_pages: dict[str, str]) -> None:
    pages = help_pages
    assert re.search(r"^  --link\s{2,}Hard links", pages["samplemind export"], re.M)
    assert re.search(r"^  -n, --limit N\s{2,}At most N samples", pages["samplemind ls"], re.M)
    assert "'{category}/{bpm}_{key}_{name}'" in pages["samplemind export"]
    assert "--settle SECONDS" in pages["samplemind watch"]
    assert "--quiet" not in pages["samplemind watch"]


def test_watch_quiet_still_means_settle() -> None:
    """--settle took over --quiet's seconds; the old spelling still works (hidden, with a warning)."""
    command = typer.main.get_command(app).commands["watch"]
    old = command.make_context("watch", ["folder", "--quiet", "0.5"])
    new = command.make_context("watch", ["folder", "--settle", "0.5"])
    assert old.params["old_quiet"] == 0.5 and old.params["settle"] == 1.0
    assert new.params["settle"] == 0.5 and new.params["old_quiet"] is None
    hidden = [p for p in command.params if "--quiet" in getattr(p, "opts", ())]
    assert hidden and hidden[0].hidden
    assert "--quiet" not in (ROOT / gen.BASH_FILE).read_text(encoding="utf-8").split("'watch')", 1)[1][:300]


def test_ls_limit_takes_any_count() -> None:
    command = typer.main.get_command(app).commands["ls"]
    assert command.make_context("ls", ["-n", str(10**30)]).params["limit"] is None
    assert command.make_context("ls", ["-n", "3"]).params["limit"] == 3
