"""Decoding: a cheap probe, Essentia's AudioLoader, block reading for long files, the audio hash.

Every failure to read a file as audio becomes a :class:`DecodeError` with one
message a person can act on.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import essentia
import numpy as np
import soundfile as sf

# Essentia prints INFO lines when essentia.standard is imported: silence it first.
essentia.log.infoActive = False
essentia.log.warningActive = False
import essentia.standard as es  # noqa: E402  (after silencing its import-time logging)

from samplemind.analysis.header import Declared, read_declared  # noqa: E402
from samplemind.errors import DecodeError  # noqa: E402

# libsndfile container names -> our lowercase format names.
_SF_FORMATS = {"WAV": "wav", "WAVEX": "wav", "AIFF": "aiff", "FLAC": "flac", "OGG": "ogg",
               "MP3": "mp3", "MPEG": "mp3", "RF64": "rf64", "W64": "w64", "CAF": "caf",
               "AU": "au"}
_EXT_FORMATS = {"aif": "aiff", "aifc": "aiff", "wave": "wav", "oga": "ogg", "mpga": "mp3"}
# libsndfile subtype -> bit depth (lossy codecs have none).
_SF_BITS = {"PCM_S8": 8, "PCM_U8": 8, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32,
            "FLOAT": 32, "DOUBLE": 64, "ALAC_16": 16, "ALAC_20": 20, "ALAC_24": 24,
            "ALAC_32": 32, "DWVW_12": 12, "DWVW_16": 16, "DWVW_24": 24, "DPCM_8": 8,
            "DPCM_16": 16}
_PCM_CODEC = re.compile(r"^pcm_[suf](\d+)")
_HASH_SIZE = 16
_SNDFILE_MP3 = "MP3" in sf.available_formats()


@dataclass
class AudioInfo:
    """What the probe learnt about a file before decoding it."""

    format: str
    codec: str | None
    sample_rate: int
    channels: int
    bit_depth: int | None
    duration: float | None  # seconds; None when the container does not say
    frames: int | None
    streamable: bool | None  # libsndfile can read it block by block (None: not asked)


# No codec packs ten minutes of audio into this little (it would be < 5 kbit/s), and such a
# file decodes to a few tens of MB at most: sniffing its first bytes is probe enough.
SMALL_FILE_BYTES = 384_000


def _ext_format(path: str) -> str:
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    return _EXT_FORMATS.get(ext, ext) or "unknown"


def check_file(path: str) -> int:
    """Return the file size, or raise DecodeError for a missing, unreadable or empty file."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise DecodeError("file not found") from None
    except OSError as exc:
        raise DecodeError(f"cannot read file ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise DecodeError("is a directory, not an audio file")
    if st.st_size == 0:
        raise DecodeError("empty file (0 bytes)")
    return st.st_size


def read_header(path: str, size: int) -> Declared | None:
    """What the container header declares (header.py), or None for formats it does not read."""
    try:
        return read_declared(path, size)
    except OSError as exc:
        raise DecodeError(f"cannot read file ({exc.strerror or exc})") from None


def info_from_header(declared: Declared) -> AudioInfo:
    """The probe's view of a small file, from its (already checked) header."""
    rate = declared.sample_rate
    return AudioInfo(format=declared.format, codec=None,
                     sample_rate=int(rate) if rate else 0, channels=declared.channels or 0,
                     # WAV/AIFF bit depths come from the codec name, as for probed files.
                     bit_depth=declared.bits if declared.format == "flac" else None,
                     duration=declared.duration, frames=declared.frames, streamable=None)


def sniff(path: str) -> AudioInfo | None:
    """Container facts from the first bytes (no libsndfile open); None if unrecognised."""
    try:
        with open(path, "rb") as f:
            head = f.read(32)
    except OSError as exc:
        raise DecodeError(f"cannot read file ({exc.strerror or exc})") from None
    bits = None
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        fmt = "wav" if head[:4] == b"RIFF" else "rf64"
    elif head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        fmt = "aiff"
    elif head[:4] == b"fLaC" and len(head) >= 22:
        fmt = "flac"
        bits = (((head[20] & 0x01) << 4) | (head[21] >> 4)) + 1  # STREAMINFO bits per sample
    elif head[:4] == b"OggS":
        fmt = "ogg"
    elif head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        fmt = "mp3"
    else:
        return None
    return AudioInfo(format=fmt, codec=None, sample_rate=0, channels=0, bit_depth=bits,
                     duration=None, frames=None, streamable=None)


def probe(path: str, reader: es.MetadataReader | None = None) -> AudioInfo:
    """Read container facts cheaply (libsndfile header, else Essentia's MetadataReader)."""
    try:
        info = sf.info(path)
    except RuntimeError:  # libsndfile does not know the format (m4a, aac, wma, ...)
        info = None
    if info is not None and info.samplerate > 0:
        return AudioInfo(
            format=_SF_FORMATS.get(info.format, info.format.lower()),
            codec=codec_from_soundfile(info),
            sample_rate=int(info.samplerate),
            channels=int(info.channels),
            bit_depth=_SF_BITS.get(info.subtype),
            duration=float(info.frames) / info.samplerate,
            frames=int(info.frames),
            streamable=True,
        )
    duration = None
    sample_rate = channels = 0
    if reader is not None:
        try:
            reader.configure(filename=path, failOnError=False)
            out = reader()
            duration = float(out[-4]) or None
            sample_rate, channels = int(out[-2]), int(out[-1])
        except RuntimeError:  # no tags/properties: the decoder will decide
            duration = None
    return AudioInfo(format=_ext_format(path), codec=None, sample_rate=sample_rate,
                     channels=channels, bit_depth=None, duration=duration, frames=None,
                     streamable=False)


_SF_CODEC = {"PCM_S8": "pcm_s8", "PCM_U8": "pcm_u8", "PCM_16": "pcm_s16", "PCM_24": "pcm_s24",
             "PCM_32": "pcm_s32", "FLOAT": "pcm_f32", "DOUBLE": "pcm_f64", "VORBIS": "vorbis",
             "OPUS": "opus", "MPEG_LAYER_III": "mp3", "MPEG_LAYER_II": "mp2",
             "ULAW": "pcm_mulaw", "ALAW": "pcm_alaw"}


def codec_from_soundfile(info: sf._SoundFileInfo) -> str:  # soundfile.info()'s return type
    """ffmpeg-style codec name from libsndfile's header info (``pcm_s24be``, ``flac``, ...)."""
    if info.format == "FLAC":
        return "flac"
    codec = _SF_CODEC.get(info.subtype, info.subtype.lower())
    if codec.startswith("pcm_") and codec[-1].isdigit() and codec not in ("pcm_s8", "pcm_u8"):
        big = info.format in ("AIFF", "CAF") and info.endian != "LITTLE"
        codec += "be" if big else "le"
    return codec


def bit_depth_from_codec(codec: str) -> int | None:
    """``"pcm_s24le"`` -> 24; None for compressed codecs."""
    match = _PCM_CODEC.match(codec or "")
    return int(match.group(1)) if match else None


def _decode_message(exc: Exception) -> str:
    """Turn an Essentia/ffmpeg error into one actionable sentence."""
    text = str(exc)
    lower = text.lower()
    if "more than 2 channels" in lower:
        return "unsupported: more than 2 audio channels in a format libsndfile cannot read"
    if "no such file" in lower:
        return "file not found"
    if "permission denied" in lower:
        return "cannot read file (permission denied)"
    if "invalid data found" in lower or "does not contain an audio stream" in lower \
            or "no audio stream" in lower:
        return "not an audio file (no decodable audio stream)"
    if "stream information" in lower or "end of file" in lower:
        return "truncated or corrupt audio file (could not read the audio stream)"
    if "operation not permitted" in lower or "invalid argument" in lower:
        # ffmpeg's EPERM/EINVAL: its demuxer refused the data. The file itself was readable
        # (check_file opened it), so this is not a permissions problem.
        return "corrupt or unsupported audio data (the decoder refused the stream)"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    first = re.sub(r"^.*?AudioLoader:\s*", "", first)
    return f"could not decode audio ({first[:160]})"


class Decoder:
    """One reusable Essentia AudioLoader (configure per file, never re-create)."""

    def __init__(self) -> None:
        self._loader: es.AudioLoader | None = None
        self.metadata = es.MetadataReader()

    def decode(self, path: str, info: AudioInfo) -> tuple[np.ndarray, int, int, str]:
        """Decode a whole file -> (float32 array (n, channels), sample_rate, channels, codec).

        ``info`` is the probe's view: files libsndfile can read get it as a fallback
        (more than two channels, or a variant ffmpeg rejects).
        """
        try:
            if self._loader is None:
                self._loader = es.AudioLoader(filename=path)
            else:
                self._loader.configure(filename=path)
            audio, sr, channels, _md5, _bitrate, codec = self._loader()
        except RuntimeError as exc:  # Essentia reports every decoder failure this way
            if "bad_alloc" in str(exc):  # past the worker's memory ceiling (limits.py)
                raise MemoryError(str(exc)) from None
            if _sndfile_readable(path, info):
                return _decode_with_soundfile(path, info)
            raise DecodeError(_decode_message(exc)) from None
        codec = str(codec)
        if codec.startswith("mp3") and _SNDFILE_MP3 and not _sndfile_readable(path, info):
            # ffmpeg finds MPEG sync words even in random bytes; mpg123 (libsndfile) checks
            # frames properly. (A first-bytes check is not enough: 1 in 2048 random files
            # starts with something that parses as an MPEG frame header.)
            raise DecodeError("not an audio file or a corrupt MP3 (no valid MPEG audio frames)")
        if audio.ndim != 2 or audio.shape[0] == 0:
            raise DecodeError("no audio samples decoded (truncated or corrupt)")
        channels = int(channels)
        if channels == 1:
            audio = np.ascontiguousarray(audio[:, 0])[:, None]
        return audio, round(sr), channels, codec

    def decode_mono_resampled(self, path: str, sample_rate: int) -> np.ndarray:
        """Decode any ffmpeg format straight to mono at ``sample_rate`` (bounded memory)."""
        try:
            audio = es.MonoLoader(filename=path, sampleRate=sample_rate)()
        except RuntimeError as exc:
            if "bad_alloc" in str(exc):
                raise MemoryError(str(exc)) from None
            raise DecodeError(_decode_message(exc)) from None
        if audio.size == 0:
            raise DecodeError("no audio samples decoded (truncated or corrupt)")
        return audio


def _sndfile_readable(path: str, info: AudioInfo) -> bool:
    """Whether libsndfile opens the file (asked lazily for sniffed files)."""
    if info.streamable is None:
        try:
            sf_info = sf.info(path)
        except RuntimeError:
            info.streamable = False
        else:
            info.streamable = sf_info.samplerate > 0
            info.codec = codec_from_soundfile(sf_info) if info.streamable else None
    return bool(info.streamable)


def _decode_with_soundfile(path: str, info: AudioInfo) -> tuple[np.ndarray, int, int, str]:
    """libsndfile decode: any channel count (AudioLoader stops at stereo)."""
    try:
        audio, sr = sf.read(path, dtype="float32", always_2d=True)
    except ValueError:  # soundfile's "array is too big": a length no file really has
        raise MemoryError("the stream declares more samples than fit in memory") from None
    except RuntimeError as exc:
        raise DecodeError(f"could not decode audio ({str(exc)[:160]})") from None
    if audio.shape[0] == 0:
        raise DecodeError("no audio samples decoded (truncated or corrupt)")
    return np.ascontiguousarray(audio), int(sr), int(audio.shape[1]), info.codec or "unknown"


def iter_blocks(path: str, blocksize: int) -> Iterator[np.ndarray]:
    """Yield float32 blocks (frames, channels) of a libsndfile-readable file."""
    try:
        yield from sf.blocks(path, blocksize=blocksize, dtype="float32", always_2d=True)
    except RuntimeError as exc:  # soundfile's errors derive from RuntimeError
        raise DecodeError(f"could not decode audio ({exc})") from None


def new_audio_hash(sample_rate: int, channels: int) -> hashlib.blake2b:
    """Start the audio hash: blake2b-128 over (rate, channels) then float32 interleaved samples."""
    h = hashlib.blake2b(digest_size=_HASH_SIZE)
    h.update(struct.pack("<II", int(sample_rate), int(channels)))
    return h


def update_audio_hash(h: hashlib.blake2b, block: np.ndarray) -> None:
    """Feed a (frames, channels) float32 block; equal PCM gives equal bytes in any container."""
    h.update(np.ascontiguousarray(block, dtype=np.float32).data)

