"""What a file's container header declares, read from its first (and last) bytes.

The decoders trust these numbers: a WAV that declares 100 MHz, an AIFF whose rate is
NaN or a 223 KB FLAC that declares 20 minutes would make them allocate gigabytes.
Reading the header ourselves, before any decoder runs, lets the analysis refuse what
no real audio has (limits.py) and pick the bounded-memory path by declared length
rather than by file size.

Covered: WAV (incl. WAVE_FORMAT_EXTENSIBLE), RF64/BW64, AIFF/AIFC, FLAC (STREAMINFO),
Ogg Vorbis and Ogg Opus (length from the last page's granule position). Anything else
(MP3, M4A, ...) is left to libsndfile's or Essentia's probe.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

HEAD_BYTES = 65_536  # the chunks before the audio data fit here in every real file
TAIL_BYTES = 65_536  # the last Ogg page starts within this of the end


@dataclass
class Declared:
    """Numbers a header states; None where it states nothing (or nothing usable)."""

    format: str
    sample_rate: float | None = None  # float: an AIFF rate can be NaN, Inf or 1e300
    channels: int | None = None
    frames: int | None = None  # declared length in sample frames
    bits: int | None = None
    data_bytes_missing: int = 0  # the data chunk declares more bytes than the file holds

    @property
    def duration(self) -> float | None:
        """Declared seconds, when rate and length are both known and sane enough to divide."""
        if self.frames is None or not self.sample_rate or not math.isfinite(self.sample_rate) \
                or self.sample_rate <= 0:
            return None
        return self.frames / self.sample_rate


def _id3_length(head: bytes) -> int:
    """Bytes an ID3v2 tag takes at the start of a file (FLAC files sometimes carry one)."""
    if len(head) < 10 or head[:3] != b"ID3" or any(b & 0x80 for b in head[6:10]):
        return 0
    size = int.from_bytes(bytes(head[6:10]), "big")
    size = (size & 0x7F) | ((size >> 1) & 0x3F80) | ((size >> 2) & 0x1FC000) \
        | ((size >> 3) & 0xFE00000)  # four 7-bit "syncsafe" bytes
    return 10 + size + (10 if head[5] & 0x10 else 0)  # a footer repeats the header


def read_declared(path: str, size: int) -> Declared | None:
    """The header's numbers, or None when the format is not one this module reads."""
    with open(path, "rb") as f:
        head = f.read(HEAD_BYTES)
        skip = _id3_length(head)
        if skip:  # the container after the tag decides (an ID3-tagged FLAC is a FLAC)
            f.seek(skip)
            head = f.read(HEAD_BYTES)
            return _flac(head) if head[:4] == b"fLaC" else None
        if head[:4] == b"OggS":
            f.seek(max(0, size - TAIL_BYTES))
            tail = f.read(TAIL_BYTES)
            return _ogg(head, tail)
    if head[:4] in (b"RIFF", b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return _wav(head, size)
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return _aiff(head, size)
    if head[:4] == b"fLaC":
        return _flac(head)
    return None


def _chunks(head: bytes, start: int, big_endian: bool):
    """(id, declared size, data offset) of each chunk header found in ``head``."""
    fmt = ">I" if big_endian else "<I"
    pos = start
    while pos + 8 <= len(head):
        cid = head[pos:pos + 4]
        (length,) = struct.unpack(fmt, head[pos + 4:pos + 8])
        yield cid, length, pos + 8
        pos += 8 + length + (length & 1)  # chunks are padded to even sizes


def _wav(head: bytes, size: int) -> Declared:
    out = Declared(format="wav" if head[:4] == b"RIFF" else "rf64")
    block_align = 0
    ds64_data: int | None = None
    for cid, length, at in _chunks(head, 12, big_endian=False):
        if cid == b"ds64" and at + 16 <= len(head):
            ds64_data = struct.unpack("<Q", head[at + 8:at + 16])[0]
        elif cid == b"fmt " and at + 16 <= len(head):
            _tag, channels, rate, _bps, block_align, bits = struct.unpack(
                "<HHIIHH", head[at:at + 16])
            out.channels, out.sample_rate, out.bits = channels, float(rate), bits or None
        elif cid == b"data":
            if length == 0xFFFFFFFF and ds64_data is not None:
                length = ds64_data
            # 0 and 0xFFFFFFFF are what streaming writers leave when they never seek back.
            if block_align and length not in (0, 0xFFFFFFFF):
                out.frames = length // block_align
                out.data_bytes_missing = max(0, at + length - size)
            break
    return out


def _extended(raw: bytes) -> float:
    """An IEEE 754 80-bit extended float (AIFF's sample rate) as a Python float."""
    exponent = ((raw[0] & 0x7F) << 8) | raw[1]
    mantissa = int.from_bytes(raw[2:10], "big")
    sign = -1.0 if raw[0] & 0x80 else 1.0
    if exponent == 0x7FFF:
        return math.nan if mantissa & ((1 << 63) - 1) else sign * math.inf
    if mantissa == 0:
        return 0.0
    try:
        return sign * math.ldexp(mantissa, exponent - 16383 - 63)
    except OverflowError:
        return sign * math.inf


def _aiff(head: bytes, size: int) -> Declared:
    out = Declared(format="aiff")
    for cid, _length, at in _chunks(head, 12, big_endian=True):
        if cid == b"COMM" and at + 18 <= len(head):
            channels, frames, bits = struct.unpack(">hIh", head[at:at + 8])
            out.channels, out.frames, out.bits = channels, frames, bits or None
            out.sample_rate = _extended(head[at + 8:at + 18])
        elif cid == b"SSND":
            if out.channels and out.bits and out.frames is not None and out.channels > 0 \
                    and out.bits > 0:
                needed = out.frames * out.channels * ((out.bits + 7) // 8)
                out.data_bytes_missing = max(0, at + 8 + needed - size)
            break
    return out


def _flac(head: bytes) -> Declared:
    out = Declared(format="flac")
    # "fLaC", then the STREAMINFO block header (4 bytes), then 34 bytes of STREAMINFO.
    if len(head) < 8 + 18 or head[4] & 0x7F != 0:
        return out
    info = head[8:8 + 18]
    packed = int.from_bytes(info[10:18], "big")  # rate 20 | channels-1 3 | bits-1 5 | total 36
    out.sample_rate = float(packed >> 44)
    out.channels = ((packed >> 41) & 0x7) + 1
    out.bits = ((packed >> 36) & 0x1F) + 1
    total = packed & ((1 << 36) - 1)
    out.frames = total or None  # 0: the encoder did not know the length
    return out


def _ogg(head: bytes, tail: bytes) -> Declared:
    """Rate and channels from the first packet; length from the last page's granule."""
    out = Declared(format="ogg")
    if len(head) < 27:
        return out
    segments = head[26]
    packet = head[27 + segments:27 + segments + 32]
    granule_rate = None
    preskip = 0
    if packet[:7] == b"\x01vorbis" and len(packet) >= 16:
        out.channels = packet[11]
        out.sample_rate = float(struct.unpack("<I", packet[12:16])[0])
        granule_rate = out.sample_rate
    elif packet[:8] == b"OpusHead" and len(packet) >= 12:
        out.channels = packet[9]
        preskip = struct.unpack("<H", packet[10:12])[0]
        out.sample_rate = 48000.0  # Opus always decodes at 48 kHz
        granule_rate = 48000.0
    last = tail.rfind(b"OggS")
    if granule_rate and last >= 0 and last + 14 <= len(tail):
        granule = struct.unpack("<q", tail[last + 6:last + 14])[0]
        if granule > preskip:
            out.frames = granule - preskip
    return out
