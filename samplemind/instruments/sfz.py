"""The SFZ file of an instrument (https://sfzformat.com), as sfizz and other SFZ players read it.

One ``<group>`` per voice (its key, its round robins, its choke group), one ``<region>`` per
sample with its velocity range. ``sample=`` is the last opcode of its line, so a name with
spaces is read to the end of the line; the kit's names carry no ``$`` (a variable to the
SFZ parser), ``=``, ``<``/``>`` or ``#define``/``#include`` (which sfizz reads as directives
even there): export.py's strict cleaning.
"""

from __future__ import annotations

from ..music import midi_to_note
from ..textsafe import printable
from .mapping import Instrument, Zone

EXTENSION = ".sfz"


def _comment(text: str) -> str:
    """One line of comment: no line break can end it early, no "$" is read as a variable, and
    control characters and bytes that are not UTF-8 (a file's name) are written as escapes."""
    return " ".join(printable(str(text)).replace("$", "_").split())


def _group_line(zone: Zone) -> str:
    opcodes = []
    if zone.keytrack:
        opcodes.append(f"pitch_keycenter={zone.key} lokey={zone.lokey} hikey={zone.hikey}")
    else:
        opcodes.append(f"key={zone.key} pitch_keycenter={zone.key} pitch_keytrack=0")
    if zone.loop:
        opcodes.append("loop_mode=loop_continuous")
        if zone.frames:
            opcodes.append(f"loop_start=0 loop_end={zone.frames - 1}")
    else:
        opcodes.append("loop_mode=one_shot")
    if zone.seq_length > 1:
        opcodes.append(f"seq_length={zone.seq_length} seq_position={zone.seq_position}")
    if zone.choke is not None:
        opcodes.append(f"group={zone.choke} off_by={zone.choke} off_mode=fast")
    return "<group> " + " ".join(opcodes)


def render(instrument: Instrument, *, query: str | None = None) -> str:
    """The .sfz text."""
    lines = [f"// {_comment(instrument.name)}: made by samplemind",
             f"// layout: {instrument.layout}" + (f"; query: {_comment(query)}" if query else ""),
             "// Keys and layers are listed in the kit's samplemind-export.json too.", ""]
    for warning in instrument.warnings:
        lines.append(f"// note: {_comment(warning)}")
    # Whole samples in memory (sfizz; other players skip the hint): streamed from the disk, an
    # offline render (sfizz_render, a DAW's bounce) on a busy machine cut sounds at the preload.
    lines += ["<control>", "hint_ram_based=1"]
    previous: tuple[object, ...] | None = None
    for zone in instrument.zones:
        head = (zone.key, zone.voice, zone.seq_position)
        if head != previous:
            previous = head
            about = f"{midi_to_note(zone.key)} ({zone.key}) {zone.role}: {zone.voice}"
            if zone.bpm:
                about += f", loop at {zone.bpm:g} BPM"
            if zone.seq_length > 1:
                about += f", round robin {zone.seq_position} of {zone.seq_length}"
            lines += ["", f"// {_comment(about)}", _group_line(zone)]
        region = "<region>"
        if zone.layers > 1:
            region += f" lovel={zone.lovel} hivel={zone.hivel}"
        lines += [region, f"sample={zone.target}"]
    return "\n".join(lines) + "\n"
