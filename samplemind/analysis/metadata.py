"""Metadata a sample carries about itself: RIFF/BWF/ACID/smpl, AIFF chunks and audio tags.

read_embedded only reads headers and chunks (never audio), never raises, and returns
only the keys it found: ``bpm``, ``key``, ``note``, ``type``, ``tags``, ``title``,
``artist``, ``comment``, ``description``, ``originator``, ``date``, ``beats``, ``loops``.
What file and folder names say (``category`` among it) is analysis/names.py's
filename_hints; the version of both, part of the cache key, is versions.METADATA_VERSION.
"""

from __future__ import annotations

import math
import os
import re
import struct
import unicodedata
from typing import BinaryIO

from samplemind.music import NOTE_NAMES, camelot, midi_to_note, parse_key

__all__ = ["read_embedded"]


_MAX_CHUNK = 1 << 20  # metadata chunks bigger than this are not metadata we want
_MAX_CHUNKS = 4096  # a file of millions of tiny chunks must not stall a worker
_MAX_TEXT = 1024
_MAX_LOOPS = 64
_TAG_EXTENSIONS = {".mp3", ".flac", ".ogg", ".oga", ".opus", ".spx", ".m4a", ".mp4", ".aac",
                   ".alac", ".wma", ".asf", ".ape", ".wv", ".mpc", ".tta"}
_INFO_FIELDS = {b"INAM": "title", b"IART": "artist", b"ICMT": "comment", b"ICRD": "date"}
_CAMELOT_TO_KEY = {camelot(f"{pc} {mode}"): f"{pc} {mode}"
                   for pc in NOTE_NAMES for mode in ("major", "minor")}
# Only the mode words ignore case: "AB" must not read as A-flat, and "m"/"M" differ.
_KEY_TEXT = re.compile(r"^([A-Ga-g])\s*([#♯b♭]?)\s*[-_ ]?\s*"
                       r"((?i:major|minor|maj|min|moll|dur)|m|M)?$")


def read_embedded(path: str) -> dict:
    """Values from tags and chunks inside the file; unreadable parts are simply left out."""
    out: dict = {}
    try:
        path = os.fspath(path)
        with open(path, "rb") as f:
            head = f.read(12)
            size = os.fstat(f.fileno()).st_size
            if head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
                wants_tags = _read_riff(f, size, out)
            elif head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
                wants_tags = _read_aiff(f, size, out)
            else:
                wants_tags = os.path.splitext(path)[1].lower() in _TAG_EXTENSIONS
        if wants_tags and not _read_tags(path, out) and head[:4] == b"fLaC":
            with open(path, "rb") as f:
                _read_flac_comments(f, out)
    except Exception:  # noqa: BLE001 - corrupt input: keep what was read before it went wrong
        return out
    return out


# --- value checks: everything goes through _put so junk never reaches the record ---

def _put(out: dict, field: str, value: object) -> None:
    """Set ``field`` if the value is sane and the field is not already set (first source wins)."""
    if field in out or value is None:
        return
    if field == "bpm":
        value = _number(value)
        if value is None or not 30.0 <= value <= 300.0:
            return
        value = round(value, 3)
    elif field == "note":
        if not isinstance(value, int) or not 0 <= value <= 127:
            return
        value = midi_to_note(value)
    elif field == "key":
        value = _key_from_text(value) if isinstance(value, str) else None
    elif field == "beats":
        if not isinstance(value, int) or not 0 < value <= 100_000:
            return
    elif field in ("type", "loops"):
        pass
    else:
        value = _text(value)
    if value is not None:
        out[field] = value


def _add_tags(out: dict, text: object) -> None:
    """Split keyword/genre text on ';' and ',' into lower-case tags, without duplicates."""
    cleaned = _text(text)
    if not cleaned:
        return
    tags = out.setdefault("tags", [])
    for part in re.split(r"[;,]", cleaned):
        tag = part.strip().lower()
        # "(17)"-style numeric ID3v1 genre references carry no words
        if tag and len(tag) <= 64 and tag.strip("()0123456789") and tag not in tags:
            tags.append(tag)
    if not tags:
        del out["tags"]


def _text(value: object) -> str | None:
    """Decoded, stripped text, or None for empty/binary junk."""
    if isinstance(value, (bytes, bytearray)):
        raw = bytes(value).split(b"\0", 1)[0]
        try:
            value = raw.decode("utf-8")
        except UnicodeDecodeError:
            value = raw.decode("latin-1")  # RIFF/AIFF text is usually 8-bit ANSI
    if not isinstance(value, str):
        return None
    value = value.strip()[:_MAX_TEXT].strip()
    if not value or "\ufffd" in value or not any(c.isalnum() for c in value):
        return None
    if any(unicodedata.category(c) == "Cc" and c not in "\t\r\n" for c in value):
        return None
    return value


def _number(value: object) -> float | None:
    if isinstance(value, str):
        match = re.match(r"\s*(\d{1,4}(?:[.,]\d+)?)", value)
        value = float(match.group(1).replace(",", ".")) if match else None
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


def _key_from_text(text: str) -> str | None:
    """Tag spellings of a key: "Am", "A minor", "F# Major", "Abm", Camelot "8A", Open Key "1m"."""
    text = text.strip()
    match = re.match(r"^(1[0-2]|0?[1-9])\s*([ABabdmDM])$", text)
    if match:
        number, letter = int(match.group(1)), match.group(2).upper()
        if letter in "DM":  # Open Key: 1d = C major = Camelot 8B
            number, letter = (number + 6) % 12 + 1, "B" if letter == "D" else "A"
        return _CAMELOT_TO_KEY.get(f"{number}{letter}")
    match = _KEY_TEXT.match(text)
    if not match:
        return None
    mode = match.group(3) or ""
    if len(mode) > 1:
        mode = mode.lower()  # "Minor" -> "minor"; the lone "m"/"M" keeps its case
    return parse_key(f"{match.group(1).upper()}{match.group(2)} {mode}".strip())


# --- WAV: RIFF / RF64 / BW64 ---

def _chunks(f: BinaryIO, size: int, big_endian: bool, sizes: dict[bytes, int] | None = None):
    """Yield (id, body offset, body size) for each chunk after the 12-byte form header."""
    fmt = ">I" if big_endian else "<I"
    pos = 12
    for _ in range(_MAX_CHUNKS):
        if pos + 8 > size:
            return
        f.seek(pos)
        header = f.read(8)
        if len(header) < 8:
            return
        cid, length = header[:4], struct.unpack(fmt, header[4:])[0]
        if length == 0xFFFFFFFF and sizes is not None and cid in sizes:
            length = sizes[cid]  # RF64: the real size lives in ds64
        yield cid, pos + 8, length
        end = pos + 8 + length
        # Chunks are padded to even sizes, but some writers forget the pad byte.
        if length & 1:
            f.seek(end)
            peek = f.read(5)
            if not _is_id(peek[1:5]) and _is_id(peek[:4]):
                end -= 1
            end += 1
        if end <= pos:
            return
        pos = end


def _is_id(data: bytes) -> bool:
    return len(data) == 4 and all(32 <= b < 127 for b in data)


def _read_body(f: BinaryIO, offset: int, length: int) -> bytes:
    f.seek(offset)
    return f.read(min(length, _MAX_CHUNK))  # may be short when the file is truncated


def _read_riff(f: BinaryIO, size: int, out: dict) -> bool:
    """Parse LIST/INFO, bext, acid, smpl (and ds64 for RF64); True when an id3 chunk exists."""
    rf64_sizes: dict[bytes, int] = {}
    block_align = frames = 0
    has_id3 = False
    smpl = None
    for cid, offset, length in _chunks(f, size, False, rf64_sizes):
        if cid == b"ds64":
            body = _read_body(f, offset, length)
            if len(body) >= 16:
                rf64_sizes[b"data"] = struct.unpack_from("<Q", body, 8)[0]
            if len(body) >= 28:
                count = struct.unpack_from("<I", body, 24)[0]
                for i in range(min(count, (len(body) - 28) // 12)):
                    cid2, size2 = struct.unpack_from("<4sQ", body, 28 + 12 * i)
                    rf64_sizes[cid2] = size2
        elif cid == b"fmt " and length >= 14:
            block_align = struct.unpack("<H", _read_body(f, offset + 12, 2).ljust(2, b"\0"))[0]
        elif cid == b"data":
            frames = length // block_align if block_align else 0
        elif cid == b"LIST":
            body = _read_body(f, offset, length)
            if body[:4] == b"INFO":
                _parse_info(body[4:], out)
        elif cid == b"bext":
            _parse_bext(_read_body(f, offset, length), out)
        elif cid == b"acid":
            _parse_acid(_read_body(f, offset, length), out)
        elif cid == b"smpl":
            smpl = _read_body(f, offset, length)
        elif cid in (b"id3 ", b"ID3 "):
            has_id3 = True
    if smpl is not None:  # after the loop: needs the data size, which may come later
        _parse_smpl(smpl, frames, out)
    return has_id3


def _parse_info(body: bytes, out: dict) -> None:
    pos = 0
    while pos + 8 <= len(body):
        cid, length = struct.unpack_from("<4sI", body, pos)
        value = body[pos + 8:pos + 8 + length]
        if cid in _INFO_FIELDS:
            _put(out, _INFO_FIELDS[cid], value)
        elif cid == b"IGNR":
            _add_tags(out, value)
        elif cid == b"IKEY":
            # Some tools put the musical key here; a lone key spelling is that, not a keyword.
            text = _text(value)
            if text and len(text) > 1 and _key_from_text(text):
                _put(out, "key", text)
            else:
                _add_tags(out, value)
        pos += 8 + length + (length & 1)


def _parse_bext(body: bytes, out: dict) -> None:
    # EBU Tech 3285: Description[256] Originator[32] OriginatorReference[32] Date[10] ...
    _put(out, "description", body[0:256])
    _put(out, "originator", body[256:288])
    date = _text(body[320:330])
    if date and re.fullmatch(r"\d{4}[-:/. ]\d{2}[-:/. ]\d{2}", date):
        _put(out, "date", f"{date[:4]}-{date[5:7]}-{date[8:10]}")


def _parse_acid(body: bytes, out: dict) -> None:
    # flags u32, root note u16, ? u16, ? f32, beats u32, meter denom u16, meter num u16,
    # tempo f32 (libsndfile's wav_read_acid_chunk). Truncated bodies give what they hold.
    if len(body) < 4:
        return
    flags = struct.unpack_from("<I", body)[0]
    _put(out, "type", "oneshot" if flags & 0x01 else "loop")
    if flags & 0x02 and len(body) >= 6:
        _put(out, "note", struct.unpack_from("<H", body, 4)[0])
    if len(body) >= 16:
        _put(out, "beats", struct.unpack_from("<I", body, 12)[0])
    if len(body) >= 24:
        _put(out, "bpm", struct.unpack_from("<f", body, 20)[0])


def _parse_smpl(body: bytes, frames: int, out: dict) -> None:
    # 9 u32 header fields (unity note is the 4th, loop count the 8th), then 24-byte loops.
    if len(body) < 16:
        return
    unity = struct.unpack_from("<I", body, 12)[0]
    if unity != 60:  # 60 (C4) is what most writers store when nobody set a note
        _put(out, "note", unity)
    if len(body) < 36:
        return
    count = min(struct.unpack_from("<I", body, 28)[0], (len(body) - 36) // 24, _MAX_LOOPS)
    loops = []
    for i in range(count):
        start, end = struct.unpack_from("<II", body, 36 + 24 * i + 8)
        if start < end:
            loops.append([start, end])
    _put_loops(out, loops, frames)


def _put_loops(out: dict, loops: list[list[int]], frames: int) -> None:
    if not loops:
        return
    _put(out, "loops", loops)
    # A loop over (nearly) the whole file is a loop sample; a short sustain loop is a
    # sampler instrument's one-shot, so it says nothing about the type.
    if frames and max(end - start for start, end in loops) >= 0.9 * (frames - 1):
        _put(out, "type", "loop")


# --- AIFF / AIFC ---

def _read_aiff(f: BinaryIO, size: int, out: dict) -> bool:
    """Parse NAME, AUTH, ANNO, COMT, INST (+ MARK for loops); True when an ID3 chunk exists."""
    frames = 0
    has_id3 = False
    inst = None
    markers: dict[int, int] = {}
    for cid, offset, length in _chunks(f, size, True):
        if cid == b"COMM":
            body = _read_body(f, offset, 6)
            if len(body) == 6:
                frames = struct.unpack(">hI", body)[1]
        elif cid == b"NAME":
            _put(out, "title", _read_body(f, offset, length))
        elif cid == b"AUTH":
            _put(out, "artist", _read_body(f, offset, length))
        elif cid == b"ANNO":
            _put(out, "comment", _read_body(f, offset, length))
        elif cid == b"COMT":
            body = _read_body(f, offset, length)
            # numComments u16, then timeStamp u32, marker i16, count u16, text
            if len(body) >= 10:
                count = struct.unpack_from(">H", body, 8)[0]
                _put(out, "comment", body[10:10 + count])
        elif cid == b"INST":
            inst = _read_body(f, offset, length)
        elif cid == b"MARK":
            markers = _parse_marks(_read_body(f, offset, length))
        elif cid in (b"ID3 ", b"id3 "):
            has_id3 = True
    if inst:
        # baseNote, detune, lowNote, highNote, lowVel, highVel (i8), gain i16,
        # sustainLoop and releaseLoop: (playMode, beginMarker, endMarker) i16 each.
        if inst[0] != 60:  # same "nobody set it" default as smpl
            _put(out, "note", inst[0])
        loops = []
        for at in (8, 14):
            if len(inst) >= at + 6:
                mode, begin, end = struct.unpack_from(">hhh", inst, at)
                if mode and begin in markers and end in markers and markers[begin] < markers[end]:
                    loops.append([markers[begin], markers[end]])
        _put_loops(out, loops, frames)
    return has_id3


def _parse_marks(body: bytes) -> dict[int, int]:
    """MARK chunk -> {marker id: sample frame}."""
    markers: dict[int, int] = {}
    if len(body) < 2:
        return markers
    pos = 2
    for _ in range(struct.unpack_from(">H", body)[0]):
        if pos + 7 > len(body):
            break
        marker_id, position, name_len = struct.unpack_from(">hIB", body, pos)
        markers[marker_id] = position
        pos += 7 + name_len + (1 - name_len % 2)  # pstring padded to an even total
    return markers


# --- compressed formats: Essentia's MetadataReader (TagLib) ---

def _read_tags(path: str, out: dict) -> bool:
    """Map the TagLib tag pool onto our fields; False when Essentia could not read it."""
    try:
        import essentia
        essentia.log.infoActive = False
        essentia.log.warningActive = False
        import essentia.standard as es

        pool = es.MetadataReader(filename=path, failOnError=False)()[7]
        prefix = "metadata.tags."
        tags = {}
        for name in pool.descriptorNames():
            if name.startswith(prefix):
                values = pool[name]
                tags[name[len(prefix):]] = [values] if isinstance(values, str) else list(values)
    except Exception:  # noqa: BLE001 - e.g. TagLib text that is not UTF-8 makes Essentia raise
        return False
    _map_tags(tags, out)
    return True


def _map_tags(tags: dict[str, list], out: dict) -> None:
    """Apply lower-cased tag names (TagLib property names or Vorbis fields) to ``out``."""
    for name, values in tags.items():
        for value in values:
            if not isinstance(value, str):
                continue
            if name in ("bpm", "tbpm", "tempo"):
                _put(out, "bpm", value)
            elif name in ("key", "initialkey", "tkey"):
                _put(out, "key", value)
            elif name == "genre":
                _add_tags(out, value)
            elif name in ("title", "artist", "comment", "description", "date"):
                _put(out, name, value)


def _read_flac_comments(f: BinaryIO, out: dict) -> None:
    """Read FLAC's VORBIS_COMMENT block by hand when TagLib gave up on it."""
    f.seek(4)
    for _ in range(128):
        header = f.read(4)
        if len(header) < 4:
            return
        block_type, length = header[0] & 0x7F, int.from_bytes(header[1:], "big")
        if block_type == 4:
            _map_tags(_vorbis_comments(f.read(min(length, _MAX_CHUNK))), out)
            return
        if header[0] & 0x80:
            return
        f.seek(length, os.SEEK_CUR)


def _vorbis_comments(body: bytes) -> dict[str, list]:
    tags: dict[str, list] = {}
    if len(body) < 8:
        return tags
    pos = 4 + struct.unpack_from("<I", body)[0]
    if pos + 4 > len(body):
        return tags
    count = struct.unpack_from("<I", body, pos)[0]
    pos += 4
    for _ in range(min(count, 1024)):
        if pos + 4 > len(body):
            break
        length = struct.unpack_from("<I", body, pos)[0]
        entry = _text(body[pos + 4:pos + 4 + length]) or ""
        pos += 4 + length
        name, sep, value = entry.partition("=")
        if sep:
            tags.setdefault(name.lower(), []).append(value)
    return tags
