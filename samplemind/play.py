"""Audition a file through the system's audio player (`samplemind play`, `review`'s `p`).

The player is the one given (`--player CMD`, or $SAMPLEMIND_PLAYER), else the first of
PLAYERS found on PATH. None found: ComponentMissing (exit 4) saying what to install.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Sequence

from .errors import BadValue, ComponentMissing, SampleMindError, UsageError

# (command, arguments before the file), in the order they are tried
PLAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ffplay", ("-nodisp", "-autoexit", "-loglevel", "quiet")),
    ("paplay", ()),
    ("pw-play", ()),
    ("aplay", ("-q",)),
    ("afplay", ()),
)
PLAYER_SETTING = "the player setting"  # the CLI says --player (SampleMindError.naming)
INSTALL_HINT = ("no audio player found: install ffmpeg (ffplay), pulseaudio-utils (paplay), "
                f"pipewire (pw-play) or alsa-utils (aplay), or give one with {PLAYER_SETTING}")


def player_command(player: str | None = None) -> list[str]:
    """The command line (without the file) that plays a file."""
    given = player or os.environ.get("SAMPLEMIND_PLAYER")
    if given:
        words = shlex.split(given)
        if not words:
            raise BadValue("player", "needs a command")
        if shutil.which(words[0]) is None:
            raise ComponentMissing(f"audio player not found: {words[0]!r} "
                                   f"(give another with {PLAYER_SETTING})").naming(
                player=PLAYER_SETTING)
        return words
    for name, arguments in PLAYERS:
        found = shutil.which(name)
        if found:
            return [found, *arguments]
    raise ComponentMissing(INSTALL_HINT).naming(player=PLAYER_SETTING)


def play(paths: Sequence[str], player: str | None = None) -> int:
    """Play the files one after another (waiting for each); returns how many played."""
    command = player_command(player)
    played = 0
    for path in paths:
        if not os.path.isfile(path):
            raise UsageError(f"cannot play {path}: the file is not there (rescan its folder?)")
        try:
            result = subprocess.run([*command, path], stdin=subprocess.DEVNULL, check=False)
        except OSError as exc:
            raise SampleMindError(f"cannot run {command[0]}: {exc.strerror or exc}") from exc
        if result.returncode != 0:
            raise SampleMindError(f"{os.path.basename(command[0])} could not play {path} "
                                  f"(exit {result.returncode})")
        played += 1
    return played
