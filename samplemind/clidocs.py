"""The shell completions and the man page, generated from the command line itself.

`samplemind completion bash|zsh|fish` and `samplemind man` print them (so a pip or pipx install
has them, current for its version); the copies in completions/ and man/ of the repository are
written by the same code (`python scripts/generate_cli_docs.py`; a test checks they are equal).

The completion scripts are static: completing a word never starts Python, so it is instant and the
scripts can be checked in and reviewed. Everything is read from the click command tree (commands,
nested groups, arguments, options, their types and help), so new commands need no change here.
"""

from __future__ import annotations

import enum
import pathlib
import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, get_args, get_origin

PROG = "samplemind"
BASH_FILE = "completions/samplemind.bash"
ZSH_FILE = "completions/_samplemind"
FISH_FILE = "completions/samplemind.fish"
MAN_FILE = "man/samplemind.1"
REGENERATE = "python scripts/generate_cli_docs.py"
NOTICE = f"Generated from the command line (samplemind/clidocs.py): do not edit; run `{REGENERATE}`."
# The man page's date: the release date of the version it documents, fixed so that the page is the
# same wherever and whenever it is generated (a packager's SOURCE_DATE_EPOCH changes nothing).
RELEASE_DATE = "2026-12-07"
SHELLS = ("bash", "zsh", "fish")

# The contract of cli.main(); the command tree cannot tell these.
EXIT_CODES = [
    ("0", "Success (also when a pipe such as | head closes early)."),
    ("1", "Error: one \"error: ...\" line on stderr; --traceback shows the details."),
    ("2", "Usage error: a bad option, range or key."),
    ("3", "Finished, but some files failed; they are listed in the summary."),
    ("4", "An optional component is missing or unreachable."),
    ("130", "Interrupted (Ctrl-C); what was analysed is kept."),
    ("143", "Terminated (SIGTERM) during a scan or a watch; what was analysed is kept."),
]
DESCRIPTION = [
    "samplemind keeps a catalog of your samples: scan folders, then list and filter them by type, "
    "category, tempo, key and note. Scans are incremental: unchanged files are not opened, moved files "
    "keep their id, and analysis results are cached by content hash, so a second scan is quick.",
    "Results go to standard output; progress, summaries, warnings and errors go to standard error. "
    "Listings take --format table, json, jsonl, csv or paths.",
]
# Variables the code reads that no option names (options' own variables are listed with them).
EXTRA_ENVIRONMENT = [
    ("SAMPLEMIND_AI_MODEL", "The Ollama model describe, doctor and ls --ask use when "
     "--model is not given (default: llama3.2:3b)."),
    ("OLLAMA_HOST", "Where Ollama listens, HOST:PORT or a URL (default: 127.0.0.1:11434), as for "
     "the ollama command itself."),
    ("SAMPLEMIND_PATH_MAP", "With a cluster: where its workers see local folders, "
     "LOCAL=REMOTE pairs separated by the path separator (:), like scan --path-map."),
    ("SAMPLEMIND_SHIP_BYTES", "With a cluster: 1 sends file contents to its workers, "
     "like scan --ship-bytes."),
    ("SAMPLEMIND_WORKER_MEMORY_MB", "The memory one analysis worker may use, in MiB, before "
     "the file it works on fails (default: half the memory shared by the workers, 1.5 to 4 GiB; "
     "0: no limit)."),
    ("SAMPLEMIND_FAULT_INJECT", "For the test suite only: makes analysis workers fail on "
     "files of given names (abort:NAME, hang:NAME, raise:NAME, comma separated)."),
    ("NO_COLOR", "When set, nothing is coloured. Output to a pipe or file is always plain."),
    ("XDG_DATA_HOME, XDG_CACHE_HOME", "Where the catalog and the cache go on Linux when neither "
     "--home nor SAMPLEMIND_HOME is given (default: ~/.local/share and ~/.cache)."),
]
SEE_ALSO = [("ollama", 1), ("sqlite3", 1), ("ffplay", 1)]
SEE_ALSO_TEXT = ("README.md in the source distribution: queries, the sample record's fields, the HTTP "
                 "API and the web UI (samplemind serve prints their addresses).")
FILES = [
    ("~/.local/share/samplemind/library.db",
     "The catalog (SQLite) when neither --home nor SAMPLEMIND_HOME is given; other platforms use "
     "their user data folder."),
    ("~/.local/share/samplemind/index/",
     "Vector indexes for similarity search, derived from the catalog."),
    ("~/.cache/samplemind/features/",
     "The feature cache: analysis results keyed by file content hash (2 GiB at most)."),
    ("DIR/library.db, DIR/index/, DIR/cache/",
     "The catalog, the indexes and the cache with --home DIR or SAMPLEMIND_HOME=DIR."),
]
# From the README. render_man() refuses an example whose command or long option no longer exists.
EXAMPLES = [
    ("Write a generated sample pack to ./samplemind-demo, scan it and list it:", "samplemind demo"),
    ("Add a folder to the catalog, or bring it up to date:", "samplemind scan ~/Samples"),
    ("Loops between 118 and 130 BPM:", "samplemind ls --type loop --bpm 118..130"),
    ("Paths of everything in A minor, for another program:", "samplemind ls --key Am --format paths"),
    ("A few fields of one sample as JSON:",
     "samplemind show samplemind-demo/Bass/bass_A1.wav --format json | jq '{note, pitch_hz}'"),
    ("Keep the catalog and cache in one folder:", "samplemind --home ~/.samplemind stats"),
]

# A plain-string parameter is completed with file names when its metavar (or name) says it takes one:
# PATH..., FILE|ID, DIR. Anything else (a query, a tag) gets no file names thrown at it.
PATH_METAVAR = re.compile(r"(?<![A-Z0-9])(PATHS?|FILES?|DIRS?|DIRECTORY|FOLDER)(?![A-Z0-9])")
DIR_METAVAR = re.compile(r"^(DIRS?|DIRECTORY|FOLDER)(\.\.\.)?$")


@dataclass(frozen=True)
class Param:
    """One option or argument, reduced to what completion and the man page need."""

    is_option: bool
    names: tuple[str, ...]  # options: every spelling (-f, --format, --no-x); arguments: the shown name
    help: str  # the help text alone
    detail: str  # the help text with what --help appends ([default: ...], [required], ranges)
    nvals: int  # options: words read after the option (0: a flag); arguments: -1 when variadic
    value: str  # the value as the man page shows it: a metavar, the choices, or the option's name
    label: str  # a short name for the value in completion menus: the metavar or the option's name
    kind: str  # how to complete the value: "choice", "file", "dir" or "" (nothing to offer)
    choices: tuple[str, ...]
    required: bool
    multiple: bool  # an option that may be given more than once
    eager: bool  # --help, --version: nothing else matters once given
    envvar: tuple[str, ...]
    is_help: bool


@dataclass(frozen=True)
class Command:
    """A command or group, with its parameters and (for groups) its sub-commands."""

    path: tuple[str, ...]  # ("cache", "stats"); () is the program itself
    help: tuple[str, ...]  # paragraphs
    params: tuple[Param, ...]
    commands: tuple[Command, ...]  # sorted by name

    @property
    def name(self) -> str:
        return " ".join((PROG, *self.path))

    @property
    def summary(self) -> str:
        return self.help[0] if self.help else ""

    @property
    def options(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.is_option)

    @property
    def arguments(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if not p.is_option)

    def walk(self) -> Iterator[Command]:
        """This command, then every command below it, depth first."""
        yield self
        for command in self.commands:
            yield from command.walk()


# -- reading the click tree ------------------------------------------------------------------


def _paragraphs(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    text = text.split("\f")[0]  # click hides what follows a form feed from --help
    lines = [line for line in text.splitlines() if line.strip() != "\b"]  # click's no-rewrap marker
    blocks = re.split(r"\n\s*\n", "\n".join(lines))
    return tuple(" ".join(block.split()) for block in blocks if block.strip())


def _choice_text(choice: Any) -> str:
    return str(choice.value) if isinstance(choice, enum.Enum) else str(choice)


def _completion(param: Any) -> tuple[str, tuple[str, ...]]:
    """How to complete the value of a parameter, from its declared type."""
    descriptor = getattr(param, "type_descriptor", None)
    if descriptor is None:  # not a Typer parameter: nothing known about it
        return "", ()
    if descriptor.choices:
        return "choice", tuple(_choice_text(choice) for choice in descriptor.choices)
    info = descriptor.parameter_info
    annotation = descriptor.annotation
    if get_origin(annotation) is list and get_args(annotation):
        annotation = get_args(annotation)[0]
    metavar = (param.metavar or param.name or "").upper()
    if descriptor.is_file or (isinstance(annotation, type) and issubclass(annotation, pathlib.PurePath)):
        if not info.dir_okay:
            return "file", ()
        return ("dir" if not info.file_okay or DIR_METAVAR.match(metavar) else "file"), ()
    if annotation is str and PATH_METAVAR.search(metavar):
        return ("dir" if DIR_METAVAR.match(metavar) else "file"), ()
    return "", ()


def _option_order(name: str) -> tuple[int, str]:
    return len(name) - len(name.lstrip("-/+")), name


def _param(param: Any, ctx: Any, help_option: Any) -> Param:
    is_option = getattr(param, "param_type_name", "") == "option"
    kind, choices = _completion(param)
    record = param.get_help_record(ctx)
    detail = " ".join(record[1].split()) if record else ""
    help_text = " ".join((getattr(param, "help", None) or "").split())
    if is_option:
        # As --help shows them (-f, --format); sorted because click keeps help names in a set.
        names = (*sorted(param.opts, key=_option_order), *sorted(param.secondary_opts, key=_option_order))
        nvals = 0 if getattr(param, "is_flag", False) or getattr(param, "count", False) else param.nargs
        longest = max(names, key=lambda name: _option_order(name)[0])
        label = param.metavar or longest.lstrip("-/+")
        value = param.metavar or "|".join(choices) or label.replace("-", "_").upper()
    else:
        label = value = param.metavar or param.name
        names, nvals = (label,), param.nargs
    envvar = param.envvar or ()
    return Param(
        is_option=is_option, names=names, help=help_text, detail=detail, nvals=nvals, value=value,
        label=label, kind=kind, choices=choices, required=bool(param.required),
        multiple=bool(getattr(param, "multiple", False)), eager=bool(param.is_eager),
        envvar=(envvar,) if isinstance(envvar, str) else tuple(envvar), is_help=param is help_option)


def _command(command: Any, name: str, path: tuple[str, ...], parent: Any) -> Command:
    from typer._click import Context

    ctx = Context(command, parent=parent, info_name=name, **command.context_settings)
    help_option = command.get_help_option(ctx)
    params = tuple(_param(p, ctx, help_option) for p in command.get_params(ctx)
                   if not getattr(p, "hidden", False))
    children = []
    if hasattr(command, "list_commands"):  # a group
        for child_name in sorted(command.list_commands(ctx)):
            child = command.get_command(ctx, child_name)
            if child is not None and not child.hidden:
                children.append(_command(child, child_name, (*path, child_name), ctx))
    text = command.help or command.short_help
    return Command(path=path, help=_paragraphs(text), params=params, commands=tuple(children))


def read_app(app: Any) -> Command:
    """The command tree of a Typer app, as the generators see it."""
    import typer

    return _command(typer.main.get_command(app), PROG, (), None)


def read_command(command: Any) -> Command:
    """The command tree below a click command (the root one: the whole program)."""
    return _command(command, PROG, (), None)


def load_cli() -> Command:
    """The samplemind command tree."""
    from samplemind.cli import app

    return read_app(app)


# -- bash ------------------------------------------------------------------------------------


def _sh(text: str) -> str:
    """Quote a word for bash."""
    return "'" + text.replace("'", "'\\''") + "'"


def _words(choices: tuple[str, ...]) -> str:
    """Choices as a word list that bash's compgen -W and fish's -a split and unquote."""
    return " ".join(re.sub(r"([^\w.,:/@%+=-])", r"\\\1", choice) for choice in choices)


def _bash_kind(param: Param) -> str:
    return f"choice {_words(param.choices)}" if param.kind == "choice" else param.kind


def render_bash(cli: Command) -> str:
    """A bash completion script: lookup tables as case statements, no Python at completion time."""
    table, option_table = [], []
    for command in cli.walk():
        key = " ".join(command.path)
        table.append(f"        {_sh(key)})")
        if command.commands:
            table.append(f"            commands={_sh(' '.join(c.path[-1] for c in command.commands))}")
        options = sorted(name for option in command.options for name in option.names)
        table.append(f"            options={_sh(' '.join(options))}")
        fixed = [a for a in command.arguments if a.nvals != -1]
        rest = [a for a in command.arguments if a.nvals == -1]
        if fixed:  # an argument of nargs N takes N slots
            kinds = " ".join(_sh(_bash_kind(a)) for a in fixed for _ in range(a.nvals))
            table.append(f"            args=({kinds})")
        if rest:  # a variadic argument takes every remaining word
            table.append(f"            rest={_sh(_bash_kind(rest[0]))}")
        table.append("            ;;")
        for option in command.options:
            if option.nvals:
                spellings = "|".join(_sh(f"{key}:{name}") for name in option.names)
                kind = _sh(_bash_kind(option))
                option_table.append(f"        {spellings}) nvals={option.nvals} kind={kind} ;;")
    commands_case = "\n".join(table)
    options_case = "\n".join(option_table)
    return f"""\
# bash completion for {PROG}                                         -*- shell-script -*-
# {NOTICE}
# Static tables: completing never starts Python. Needs bash 4.

# _{PROG}_command PATH: set commands, options, args (a kind per argument) and rest (the kind of a
# variadic argument) for the command at PATH (sub-command names joined by spaces; '' is {PROG}).
_{PROG}_command() {{
    commands= options= rest=
    args=()
    case $1 in
{commands_case}
    esac
}}

# _{PROG}_option PATH OPTION: set nvals (words the option reads) and kind (how to complete them).
_{PROG}_option() {{
    nvals=0 kind=
    case "$1:$2" in
{options_case}
    esac
}}

# _{PROG}_reply KIND WORD: complete WORD as KIND: "choice A B ...", file, dir or nothing.
_{PROG}_reply() {{
    case $1 in
        choice\\ *) mapfile -t COMPREPLY < <(compgen -W "${{1#choice }}" -- "$2") ;;
        file) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$2") ;;
        dir) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -d -- "$2") ;;
    esac
}}

_{PROG}() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} path= word i npos=0 pending=0 dashdash=0 last=
    local commands options rest nvals kind
    local -a args
    COMPREPLY=()
    # Walk the words before the cursor: descend into sub-commands, skip option values, count arguments.
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${{COMP_WORDS[i]}}
        if [[ $word == = && $pending -gt 0 ]]; then
            continue  # bash splits --option=value at the '=' (COMP_WORDBREAKS)
        elif ((pending > 0)); then
            pending=$((pending - 1))
        elif [[ $dashdash == 0 && $word == -- ]]; then
            dashdash=1
        elif [[ $dashdash == 0 && $word == -?* ]]; then
            _{PROG}_option "$path" "${{word%%=*}}"
            # Without '=' in COMP_WORDBREAKS, --option=value is one word and reads nothing more.
            [[ $word == *=* ]] || pending=$nvals
            last=${{word%%=*}}
        else
            _{PROG}_command "$path"
            if [[ $dashdash == 0 && " $commands " == *" $word "* ]]; then
                path=${{path:+$path }}$word npos=0  # a sub-command: its own options and arguments follow
            else
                npos=$((npos + 1))
            fi
        fi
    done
    if ((pending > 0)); then  # the value of the option before the cursor
        [[ $cur == = ]] && cur=
        _{PROG}_option "$path" "$last"
        _{PROG}_reply "$kind" "$cur"
        return 0
    fi
    _{PROG}_command "$path"
    if [[ $dashdash == 0 && $cur == --*=* ]]; then  # --option=value as one word: keep the prefix
        _{PROG}_option "$path" "${{cur%%=*}}"
        _{PROG}_reply "$kind" "${{cur#*=}}"
        COMPREPLY=("${{COMPREPLY[@]/#/${{cur%%=*}}=}}")
    elif [[ $dashdash == 0 && $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$options" -- "$cur")
    elif [[ -n $commands ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$commands" -- "$cur")
    elif ((npos < ${{#args[@]}})); then
        _{PROG}_reply "${{args[npos]}}" "$cur"
    elif [[ -n $rest ]]; then
        _{PROG}_reply "$rest" "$cur"
    elif [[ $dashdash == 0 ]]; then  # no argument left to fill: offer the options
        mapfile -t COMPREPLY < <(compgen -W "$options" -- "$cur")
    fi
    return 0
}}

complete -F _{PROG} {PROG}
"""


# -- zsh -------------------------------------------------------------------------------------


def _zsh_func(command: Command) -> str:
    return "_" + "_".join(re.sub(r"\W", "_", part) for part in (PROG, *command.path))


def _zsh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _zsh_brackets(text: str) -> str:
    """Text for the [description] of an _arguments spec."""
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")


def _zsh_action(param: Param) -> str:
    if param.kind == "choice":
        # The (...) list is evaluated: a backslash keeps a space, quote or parenthesis literal.
        return "(" + " ".join(re.sub(r"([\\\s()'\":])", r"\\\1", c) for c in param.choices) + ")"
    return {"file": "_files", "dir": "_files -/"}.get(param.kind, " ")


def _zsh_option_specs(option: Param) -> list[str]:
    if option.eager:
        exclude = "(- *)"  # --help, --version: nothing else is completed after them
    elif option.multiple:
        exclude = "*"
    else:
        exclude = f"({' '.join(option.names)})" if len(option.names) > 1 else ""
    description = f"[{_zsh_brackets(option.help)}]"
    message = option.label.replace(":", "\\:")
    values = f":{message}:{_zsh_action(option)}" * option.nvals
    specs = []
    for name in option.names:
        # A value may follow in the same word (--format=json, -fjson) or in the next one.
        suffix = "" if not option.nvals else ("=" if name.startswith("--") else "+")
        specs.append(_zsh_quote(f"{exclude}{name}{suffix}{description}{values}"))
    return specs


def _zsh_argument_specs(command: Command) -> list[str]:
    specs = []
    position = 1
    for argument in command.arguments:
        message = argument.label.replace(":", "\\:")
        if argument.nvals == -1:
            specs.append(_zsh_quote(f"*:{message}:{_zsh_action(argument)}"))
            break
        for _ in range(argument.nvals):
            optional = "" if argument.required else ":"
            specs.append(_zsh_quote(f"{position}:{optional}{message}:{_zsh_action(argument)}"))
            position += 1
    return specs


def _zsh_function(command: Command) -> str:
    specs = [s for option in command.options for s in _zsh_option_specs(option)]
    lines = [f"{_zsh_func(command)}() {{"]
    if command.commands:
        specs += [_zsh_quote(f": :{_zsh_func(command)}_commands"), _zsh_quote("*:: :->command")]
        lines += ["  local curcontext=$curcontext state state_descr line ret=1",
                  "  typeset -A opt_args"]
        lines.append("  _arguments -C -S \\")
        lines += [f"    {spec} \\" for spec in specs[:-1]]
        lines.append(f"    {specs[-1]} && ret=0")
        lines += ["  if [[ $state == command ]]; then",
                  f"    curcontext=${{curcontext%:*:*}}:{'-'.join((PROG, *command.path))}-$words[1]:",
                  "    case $words[1] in"]
        lines += [f"      ({c.path[-1]}) {_zsh_func(c)} && ret=0 ;;" for c in command.commands]
        lines += ["    esac", "  fi", "  return ret", "}", "",
                  f"{_zsh_func(command)}_commands() {{", "  local -a commands=("]
        lines += ["    " + _zsh_quote(f"{c.path[-1].replace(':', chr(92) + ':')}:{c.summary}")
                  for c in command.commands]
        lines += ["  )", f"  _describe -t commands {_zsh_quote(command.name + ' command')} commands"]
    elif specs := specs + _zsh_argument_specs(command):
        lines.append("  _arguments -S \\")
        lines += [f"    {spec} \\" for spec in specs[:-1]]
        lines.append(f"    {specs[-1]}")
    else:  # no options (not even --help) and no arguments
        lines.append("  _nothing")
    lines.append("}")
    return "\n".join(lines)


def render_zsh(cli: Command) -> str:
    """A zsh completion function: _arguments per command, _describe for sub-commands."""
    functions = "\n\n".join(_zsh_function(command) for command in cli.walk())
    return f"""\
#compdef {PROG}
# zsh completion for {PROG}.
# {NOTICE}

{functions}

# Autoloaded from $fpath this file is the completion function; sourced, it registers itself.
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
  _{PROG} "$@"
else
  compdef _{PROG} {PROG}
fi
"""


# -- fish ------------------------------------------------------------------------------------


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish_option_flags(option: Param) -> str:
    flags = []
    for name in option.names:
        if name.startswith("--"):
            flags.append(f"-l {_fish_quote(name[2:])}")
        elif len(name) == 2:
            flags.append(f"-s {_fish_quote(name[1:])}")
        else:  # a single-dash long option such as -foo
            flags.append(f"-o {_fish_quote(name[1:])}")
    if option.nvals:
        if option.kind == "choice":
            flags.append(f"-x -a {_fish_quote(_words(option.choices))}")
        elif option.kind in ("file", "dir"):
            flags.append("-r -F")
        else:
            flags.append("-x")
    return " ".join(flags)


def render_fish(cli: Command) -> str:
    """A fish completion script: complete -c per command, argument and option, with descriptions."""
    cases, nvals_lines, lines = [], [], []
    for command in cli.walk():
        key = " ".join(command.path)
        if command.commands:
            names = " ".join(_fish_quote(c.path[-1]) for c in command.commands)
            cases += [f"        case {_fish_quote(key)}", f"            printf '%s\\n' {names}"]
        for option in command.options:
            if option.nvals:
                spellings = " ".join(_fish_quote(f"{key}:{name}") for name in option.names)
                nvals_lines += [f"        case {spellings}", f"            echo {option.nvals}"]
        using = f"-n {_fish_quote(' '.join(('__' + PROG + '_using', *command.path)))}"
        lines.append(f"\n# {command.name}")
        for child in command.commands:
            lines.append(f"complete -c {PROG} {using} -a {_fish_quote(child.path[-1])} "
                         f"-d {_fish_quote(child.summary)}")
        for option in command.options:
            lines.append(f"complete -c {PROG} {using} {_fish_option_flags(option)} "
                         f"-d {_fish_quote(option.help)}")
        for argument in command.arguments:
            if argument.kind == "choice":
                lines.append(f"complete -c {PROG} {using} -a {_fish_quote(_words(argument.choices))} "
                             f"-d {_fish_quote(argument.help)}")
            elif argument.kind in ("file", "dir"):
                lines.append(f"complete -c {PROG} {using} -F")
    commands_case = "\n".join(cases)
    nvals_case = "\n".join(nvals_lines)
    completions = "\n".join(lines)
    return f"""\
# fish completion for {PROG}.
# {NOTICE}

# The sub-commands of the command at path $argv[1] (names joined by spaces; '' is {PROG}).
function __{PROG}_commands --argument-names path
    switch $path
{commands_case}
    end
end

# How many words option $argv[2] of the command at path $argv[1] reads after it.
function __{PROG}_nvals --argument-names path option
    switch "$path:$option"
{nvals_case}
        case '*'
            echo 0
    end
end

# The sub-command path typed so far, skipping options and their values.
function __{PROG}_path
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l path
    set -l skip 0
    for token in $tokens
        if test $skip -gt 0
            set skip (math $skip - 1)
        else if string match -q -- '-*' $token
            # --option=value carries its value; other options read theirs from the next words
            string match -q -- '--*=*' $token; or set skip (__{PROG}_nvals "$path" $token)
        else if contains -- $token (__{PROG}_commands "$path")
            set -a path $token
        end
    end
    echo "$path"
end

# Whether the sub-command path typed so far is exactly $argv.
function __{PROG}_using
    set -l path (__{PROG}_path)
    test "$path" = "$argv"
end

# No file names unless a rule below asks for them.
complete -c {PROG} -f
{completions}
"""


# -- man page --------------------------------------------------------------------------------


def _roff(text: str) -> str:
    """Escape text for roff: backslashes, hyphens (as \\-, so options copy and paste), non-ASCII."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "".join(c if ord(c) < 128 else f"\\[u{ord(c):04X}]" for c in text)


def _line(text: str) -> str:
    """A roff text line: one starting with . or ' would be read as a request."""
    return "\\&" + text if text.startswith((".", "'")) else text


def _fill(text: str) -> str:
    """Roff text lines of at most 80 columns."""
    lines = textwrap.wrap(text, 80, break_long_words=False, break_on_hyphens=False)
    return "\n".join(_line(line) for line in lines)


def _man_option(option: Param) -> str:
    names = ", ".join(f"\\fB{_roff(name)}\\fR" for name in option.names)
    value = f" \\fI{_roff(option.value)}\\fR" * option.nvals
    return f".TP\n{names}{value}\n{_fill(_roff(option.detail))}"


def _man_usage(command: Command) -> str:
    parts = [f"\\fB{_roff(command.name)}\\fR"]
    if any(not option.is_help for option in command.options):
        parts.append("[\\fIOPTIONS\\fR]")
    if command.commands:
        parts.append("\\fICOMMAND\\fR")
    for argument in command.arguments:
        shown = f"\\fI{_roff(argument.value)}\\fR" + ("..." if argument.nvals == -1 else "")
        parts.append(shown if argument.required else f"[{shown}]")
    return " ".join(parts)


def _man_command(command: Command) -> list[str]:
    lines = [f'.SS "{" ".join(command.path)}"', _fill(_man_usage(command))]
    for paragraph in command.help:
        lines += [".PP", _fill(_roff(paragraph))]
    if command.commands:
        names = ", ".join(f"\\fB{_roff(c.path[-1])}\\fR" for c in command.commands)
        lines += [".PP", f"Sub\\-commands: {names}."]
    for argument in command.arguments:
        lines.append(f".TP\n\\fI{_roff(argument.value)}\\fR\n{_fill(_roff(argument.detail))}")
    lines += [_man_option(option) for option in command.options if not option.is_help]
    return lines


def _check_examples(cli: Command, examples: list[tuple[str, str]]) -> None:
    """Fail on an example whose command or long option is gone, so the examples cannot rot."""
    for _, example in examples:
        words = example.split("|")[0].split()[1:]
        command = cli
        for word in words:
            options = {n.split("=")[0] for o in command.options for n in o.names}
            children = {c.path[-1]: c for c in command.commands}
            if word.startswith("--") and word.split("=")[0] not in options:
                raise ValueError(f"EXAMPLES: {example!r}: {command.name} has no option {word}")
            if word in children:
                command = children[word]
        if command.commands:
            raise ValueError(f"EXAMPLES: {example!r} names no command of {command.name}")


def render_man(cli: Command, examples: list[tuple[str, str]] = EXAMPLES) -> str:
    """A section 1 man page in plain man(7) macros."""
    from samplemind import __version__

    _check_examples(cli, examples)
    name_line = cli.summary.rstrip(".")
    name_line = name_line[:1].lower() + name_line[1:]
    lines = [
        f'.\\" Man page for {PROG}.',
        f'.\\" {NOTICE}',
        f'.TH {PROG.upper()} 1 "{RELEASE_DATE}" "{PROG} {__version__}" "User Commands"',
        ".nh",  # no hyphenation and a ragged right margin: option names stay whole
        ".ad l",
        ".SH NAME",
        f"{PROG} \\- {_roff(name_line)}",
        ".SH SYNOPSIS",
        f"\\fB{PROG}\\fR [\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIARGUMENTS\\fR]",
        ".SH DESCRIPTION",
    ]
    paragraphs = [*cli.help[1:], *DESCRIPTION]  # the first is the NAME line already
    lines += _join_paragraphs([_fill(_roff(paragraph)) for paragraph in paragraphs])
    lines += [".SH COMMANDS", "Every command also takes \\fB\\-h\\fR, \\fB\\-\\-help\\fR to print its help."]
    for command in list(cli.walk())[1:]:
        lines += _man_command(command)
    lines += [".SH GLOBAL OPTIONS", "These go before the command."]
    lines += [_man_option(option) for option in cli.options]
    lines.append(".SH ENVIRONMENT")
    for command in cli.walk():
        for option in command.options:
            for variable in option.envvar:
                where = f" of {command.name}" if command.path else ""
                text = f"Same as {option.names[-1]}{where}. {option.help}"
                lines.append(f".TP\n.B {variable}\n{_fill(_roff(text))}")
    lines += [f".TP\n.B {variable}\n{_fill(_roff(text))}" for variable, text in EXTRA_ENVIRONMENT]
    lines.append(".SH EXIT STATUS")
    lines += [f".TP\n.B {code}\n{_fill(_roff(text))}" for code, text in EXIT_CODES]
    lines.append(".SH FILES")
    lines += [f".TP\n.I {_roff(path)}\n{_fill(_roff(text))}" for path, text in FILES]
    lines.append(".SH EXAMPLES")
    examples = [f"{_fill(_roff(text))}\n.RS 4\n.nf\n{_line(_roff(example))}\n.fi\n.RE"
                for text, example in examples]
    lines += _join_paragraphs(examples)
    lines.append(".SH SEE ALSO")
    lines.append(", ".join(f"\\fB{_roff(name)}\\fR({section})" for name, section in SEE_ALSO) + ".")
    lines += [".PP", _fill(_roff(SEE_ALSO_TEXT))]
    return "\n".join(lines) + "\n"


def _join_paragraphs(paragraphs: list[str]) -> list[str]:
    """Paragraphs separated by .PP (none before the first: it follows a heading)."""
    lines: list[str] = []
    for paragraph in paragraphs:
        lines += [".PP", paragraph] if lines else [paragraph]
    return lines


# -- files -----------------------------------------------------------------------------------


def render(cli: Command, what: str) -> str:
    """One generated text: "bash", "zsh", "fish" (completions) or "man"."""
    renderers = {"bash": render_bash, "zsh": render_zsh, "fish": render_fish, "man": render_man}
    return renderers[what](cli)


def render_all(cli: Command | None = None) -> dict[str, str]:
    """Every generated file: its path relative to the repository, and its text."""
    cli = cli or load_cli()
    return {BASH_FILE: render_bash(cli), ZSH_FILE: render_zsh(cli), FISH_FILE: render_fish(cli),
            MAN_FILE: render_man(cli)}


def write_all(root: pathlib.Path) -> list[pathlib.Path]:
    """Write every generated file under root (a checkout); returns their paths."""
    written = []
    for relative, text in render_all().items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8", newline="\n")
        written.append(target)
    return written


def outdated(root: pathlib.Path) -> list[str]:
    """The generated files under root that are missing or differ from what the CLI gives now."""
    stale = []
    for relative, text in render_all().items():
        target = root / relative
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            stale.append(relative)
    return stale
