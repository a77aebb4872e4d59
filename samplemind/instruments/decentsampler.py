"""The Decent Sampler preset of an instrument (``.dspreset``: XML, as its developer's guide
documents it: ``<DecentSampler>`` > ``<groups>`` > ``<group>`` > ``<sample>``).

One ``<group>`` per voice and round-robin slot; each ``<sample>`` has its key range, root
note and velocity range; hats carry the tag ``hihat`` and are silenced by it (a choke group);
round robins use ``seqMode="round_robin"``. Decent Sampler plays WAV, AIFF and FLAC only:
samples in other formats stay in the kit folder but not in the preset (a warning says so).
``validate`` checks a preset against the documented structure (used by the tests).
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from typing import Any

from ..textsafe import printable
from .mapping import HIHAT_ROLES, Instrument, Zone

EXTENSION = ".dspreset"
PLAYABLE = {".wav", ".aif", ".aiff", ".flac"}
CHOKE_TAG = "hihat"
MIN_VERSION = "1.0.0"


def playable(zone: Zone) -> bool:
    """A format Decent Sampler reads."""
    return os.path.splitext(zone.target)[1].lower() in PLAYABLE


def render(instrument: Instrument, *, query: str | None = None) -> tuple[str, list[str]]:
    """The preset's XML text, and the warnings of what it leaves out."""
    root = ET.Element("DecentSampler", minVersion=MIN_VERSION)
    # Words from names and the query: XML 1.0 takes no control character and no lone
    # surrogate (a name that is not UTF-8), so those are written as escapes.
    about = printable(f" {instrument.name}: made by samplemind; layout {instrument.layout}"
                      + (f"; query {query}" if query else "") + " ")
    root.append(ET.Comment(about.replace("--", "- -")))  # "--" may not appear in a comment
    groups = ET.SubElement(root, "groups")
    left_out = [zone.target for zone in instrument.zones if not playable(zone)]
    current: ET.Element | None = None
    head: tuple[Any, ...] | None = None
    for zone in instrument.zones:
        if not playable(zone):
            continue
        if (zone.key, zone.voice, zone.seq_position) != head:
            head = (zone.key, zone.voice, zone.seq_position)
            name = printable(zone.voice) + (f" ({zone.bpm:g} BPM)" if zone.bpm else "")
            attrs = {"name": name, "ampVelTrack": "1"}
            if zone.role in HIHAT_ROLES:
                attrs.update(tags=CHOKE_TAG, silencedByTags=CHOKE_TAG, silencingMode="fast")
            if zone.seq_length > 1:
                attrs.update(seqMode="round_robin", seqLength=str(zone.seq_length),
                             seqPosition=str(zone.seq_position))
            current = ET.SubElement(groups, "group", attrs)
        assert current is not None
        sample = {"path": zone.target, "rootNote": str(zone.key), "loNote": str(zone.lokey),
                  "hiNote": str(zone.hikey), "loVel": str(zone.lovel), "hiVel": str(zone.hivel),
                  "pitchKeyTrack": "1" if zone.keytrack else "0"}
        if zone.loop:
            sample["loopEnabled"] = "true"
        if zone.seq_length > 1:
            sample.update(seqMode="round_robin", seqLength=str(zone.seq_length),
                          seqPosition=str(zone.seq_position))
        ET.SubElement(current, "sample", sample)
    ET.indent(root)
    text = '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
    warnings = []
    if left_out:
        warnings.append(f"{len(left_out)} sample(s) not in WAV, AIFF or FLAC are in the kit but not "
                        f"in the Decent Sampler preset (first: {left_out[0]})")
    return text, warnings


# --- the documented structure, checked ---------------------------------------------------------

_ROOT_CHILDREN = {"ui", "groups", "effects", "midi", "modulators", "tags", "noteSequences",
                  "buses", "keyboard"}
_NOTE_ATTRS = ("rootNote", "loNote", "hiNote")
_VELOCITY_ATTRS = ("loVel", "hiVel")
_SEQ_MODES = {"random", "true_random", "round_robin", "always"}


def validate(text: str, folder: str | None = None) -> list[str]:
    """What in a preset breaks the documented structure ([] when nothing): one root
    ``DecentSampler``, exactly one ``groups``, ``group`` elements in it, ``sample`` elements
    with a relative ``path`` (existing under `folder`, when given) and a ``rootNote``, notes
    and velocities whole numbers in 0..127 with lo <= hi, ``seqMode`` one of the four modes,
    ``seqPosition``/``seqLength`` positive, tags and silencedByTags comma-separated words."""
    problems: list[str] = []
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        return [f"not well-formed XML: {exc}"]
    if root.tag != "DecentSampler":
        return [f"the root element is <{root.tag}>, not <DecentSampler>"]
    for child in root:
        if child.tag not in _ROOT_CHILDREN and not callable(child.tag):
            problems.append(f"unknown element <{child.tag}> under <DecentSampler>")
    groups = root.findall("groups")
    if len(groups) != 1:
        return [*problems, f"{len(groups)} <groups> elements; the format wants exactly one"]
    for index, group in enumerate(groups[0]):
        if callable(group.tag):
            continue  # a comment
        if group.tag != "group":
            problems.append(f"<{group.tag}> under <groups>; only <group> belongs there")
            continue
        problems += _check_seq(group.attrib, f"group {index}")
        for sample in group:
            if callable(sample.tag):
                continue
            if sample.tag not in ("sample", "oscillator", "effects"):
                problems.append(f"<{sample.tag}> in group {index}")
                continue
            if sample.tag == "sample":
                problems += _check_sample(sample.attrib, f"group {index}", folder)
    return problems


def _int(attrs: dict[str, str], name: str, low: int, high: int, where: str) -> tuple[int | None, list[str]]:
    if name not in attrs:
        return None, []
    try:
        value = int(attrs[name])
    except ValueError:
        return None, [f"{where}: {name}={attrs[name]!r} is not a whole number"]
    if not low <= value <= high:
        return value, [f"{where}: {name}={value} is outside {low}..{high}"]
    return value, []


def _check_seq(attrs: dict[str, str], where: str) -> list[str]:
    problems = []
    if "seqMode" in attrs and attrs["seqMode"] not in _SEQ_MODES:
        problems.append(f"{where}: seqMode={attrs['seqMode']!r} is not one of {sorted(_SEQ_MODES)}")
    for name in ("seqPosition", "seqLength"):
        problems += _int(attrs, name, 1 if name == "seqPosition" else 0, 10_000, where)[1]
    for name in ("tags", "silencedByTags"):
        if name in attrs and not all(tag.strip() for tag in attrs[name].split(",")):
            problems.append(f"{where}: {name}={attrs[name]!r} has an empty tag")
    return problems


def _check_sample(attrs: dict[str, str], where: str, folder: str | None) -> list[str]:
    problems = _check_seq(attrs, where)
    path = attrs.get("path")
    if not path:
        problems.append(f"{where}: a <sample> without its required path")
    elif os.path.isabs(path) or path.startswith("..") or "\\" in path:
        problems.append(f"{where}: path {path!r} is not relative to the preset")
    elif folder is not None and not os.path.isfile(os.path.join(folder, *path.split("/"))):
        problems.append(f"{where}: path {path!r} names no file")
    if "rootNote" not in attrs:
        problems.append(f"{where}: a <sample> without its required rootNote ({path})")
    values: dict[str, int | None] = {}
    for name in (*_NOTE_ATTRS, *_VELOCITY_ATTRS):
        values[name], found = _int(attrs, name, 0, 127, where)
        problems += found
    for low, high in (("loNote", "hiNote"), ("loVel", "hiVel")):
        lo, hi = values[low], values[high]
        if lo is not None and hi is not None and lo > hi:
            problems.append(f"{where}: {low} {lo} is above {high} {hi}")
    root, lo, hi = values["rootNote"], values["loNote"], values["hiNote"]
    if root is not None and lo is not None and hi is not None and attrs.get("pitchKeyTrack") == "0":
        if not lo <= root <= hi:
            problems.append(f"{where}: an untracked sample's rootNote is outside its key range")
    for name in ("pitchKeyTrack",):
        if name in attrs:
            try:
                if not 0.0 <= float(attrs[name]) <= 1.0:
                    problems.append(f"{where}: {name} must be 0.0..1.0")
            except ValueError:
                problems.append(f"{where}: {name}={attrs[name]!r} is not a number")
    for name in ("loopEnabled",):
        if name in attrs and attrs[name] not in ("true", "false"):
            problems.append(f"{where}: {name} must be true or false")
    return problems
