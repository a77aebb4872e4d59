"""review and play: the owner answers the questions that teach the library most, and
auditions sounds through the system's player (review.py, play.py)."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from ..errors import SampleMindError, UsageError
from ..output import Format, dumps, err_console
from .common import format_option, open_library, options

app = typer.Typer()

PlayerOption = Annotated[str | None, typer.Option(
    "--player", envvar="SAMPLEMIND_PLAYER", metavar="CMD",
    help="The command that plays a file (default: the first of ffplay, paplay, pw-play, "
         "aplay, afplay found).")]


@app.command()
def play(
    target: Annotated[str, typer.Argument(metavar="FILE|ID|QUERY",
                                          help="A file, a catalog id or a query.")],
    player: PlayerOption = None,
    limit: Annotated[int, typer.Option("--limit", "-n", metavar="N", min=1,
                                       help="Play at most this many matches of a query.")] = 1,
) -> None:
    """Play a sample through the system's audio player."""
    from ..play import play as play_files

    if os.path.isfile(os.path.expanduser(target)):
        paths = [os.path.expanduser(target)]
    else:
        with open_library() as library:
            paths = [library.get(i).record["path"] for i in library.select([target])[:limit]]
        if not paths:
            raise UsageError(f"nothing matches {target!r}")
    with options(player="--player"):
        play_files(paths, player)


def _keys_line(choices: list[str]) -> str:
    numbered = "  ".join(f"{n} {value}" for n, value in enumerate(choices[:9], 1))
    return f"{numbered}\nEnter accept  s skip  p play  u undo  q quit"


def _show(question: dict, choices: list[str]) -> str:
    seconds = f"{question['duration']:.2f} s" if question.get("duration") else "?"
    guess = question["guess"] or "none"
    confidence = question["confidence"]
    sure = f" ({confidence:.2f})" if confidence is not None else ""
    others = ", ".join(f"{a['value']} {a['p']:.2f}" if a.get("p") is not None else a["value"]
                       for a in question["alternatives"])
    lines = [f"\n[{question['sample_id']}] {question['name']}  {seconds}  {question['path']}",
             f"{question['field']}: {guess}{sure}" + (f"   or: {others}" if others else ""),
             f"answer reaches about {question['touches']} similar sound(s)",
             _keys_line(choices)]
    return "\n".join(lines)


def _read_key() -> str:
    """One key press from the terminal (in cbreak mode: see _keys), '' at the end of input."""
    return os.read(sys.stdin.fileno(), 1).decode(errors="replace")


class _keys:
    """The terminal in cbreak mode (keys one at a time, no echo) for the whole session, so
    keys typed ahead are kept; restored on the way out."""

    def __enter__(self) -> None:
        import termios
        import tty

        self.saved = termios.tcgetattr(sys.stdin.fileno())
        tty.setcbreak(sys.stdin.fileno(), termios.TCSANOW)

    def __exit__(self, *exc: object) -> None:
        import termios

        termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, self.saved)


@app.command()
def review(
    query: Annotated[str | None, typer.Argument(
        metavar="QUERY", help="Ask only about the samples this query matches.")] = None,
    fmt: format_option(Format.json, Format.jsonl,
                       help="Print the next questions for scripts instead of asking") = None,
    count: Annotated[int, typer.Option("--count", "-n", metavar="N", min=1,
                                       help="Questions to print with --format.")] = 10,
    reviewer: Annotated[str | None, typer.Option(
        "--reviewer", metavar="NAME",
        help="With --format: lease the questions printed to NAME for two minutes, so no "
             "other reviewer is asked them (answer over the API with the same reviewer). "
             "Without it the list leases nothing.")] = None,
    player: PlayerOption = None,
) -> None:
    """Answer the questions that teach the library most (keys: 1-9 choose, Enter accepts
    the guess, s skip, p play, u undo, q quit)."""
    from ..review import categories

    if fmt is not None:
        if reviewer is not None and not (0 < len(reviewer) <= 64 and reviewer.isprintable()):
            raise UsageError("--reviewer must be a short name (1-64 printable characters)")
        with open_library() as library:
            found = library.review_questions(query, count, reviewer=reviewer)
        if fmt is Format.json:
            sys.stdout.write(dumps(found) + "\n")
        else:
            sys.stdout.write("".join(dumps(q, indent=None) + "\n" for q in found))
        return
    if reviewer is not None:
        raise UsageError("--reviewer goes with --format (a terminal session leases to itself)")
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("review asks questions in a terminal: use --format json for the next "
                         "questions (scripts), or samplemind serve and its web UI's Review tab "
                         "(or its API: GET /api/v1/review/next, POST /api/v1/review/answers)")
    from ..review import new_reviewer

    reviewer = new_reviewer()
    given: list[dict] = []  # this session's answers, newest last
    skipped: set[tuple[int, str]] = set()
    out = sys.stdout
    with open_library() as library, _keys():
        try:
            while True:
                found = [q for q in library.review_questions(query, len(skipped) + 1,
                                                             reviewer=reviewer)
                         if (q["sample_id"], q["field"]) not in skipped]
                if not found:
                    out.write("\nNothing left to ask.\n")
                    break
                question = found[0]
                choices = categories() if question["field"] == "category" else ["oneshot",
                                                                                 "loop"]
                out.write(_show(question, choices) + "\n> ")
                out.flush()
                while True:
                    key = _read_key()
                    if key in ("", "q", "\x04"):
                        raise KeyboardInterrupt
                    if key == "p":
                        try:
                            from ..play import play as play_files

                            with options(player="--player"):
                                play_files([question["path"]], player)
                        except SampleMindError as exc:
                            out.write(f"\n{exc}\n> ")
                            out.flush()
                        continue
                    if key == "u":
                        if not given:
                            out.write("\nnothing to undo\n> ")
                            out.flush()
                            continue
                        last = given.pop()
                        undone = library.review_undo(last["answer_id"])
                        out.write(f"\nundone: {last['field']} of [{last['sample_id']}], "
                                  f"{undone['changed']} sound(s) changed back\n")
                        break
                    if key == "s":
                        skipped.add((question["sample_id"], question["field"]))
                        break
                    value = None
                    if key in ("\r", "\n"):
                        value = question["guess"]
                    elif key.isdigit() and 1 <= int(key) <= min(9, len(choices)):
                        value = choices[int(key) - 1]
                    if value is None:
                        continue
                    done = library.review_answer(question["sample_id"], question["field"],
                                                 value, reviewer=reviewer)
                    given.append(done)
                    out.write(f"\n{question['field']} = {value}: {done['changed']} sound(s) "
                              "changed\n")
                    break
        except KeyboardInterrupt:
            pass
    changed = sum(answer["changed"] for answer in given)
    out.write("\n")
    out.flush()
    err_console().print(f"{len(given)} answers, {changed} sounds changed", highlight=False)
