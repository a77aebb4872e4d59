"""Upload file names: whatever a client sends becomes one safe file name in the upload
folder, or is refused."""

from __future__ import annotations

import os
import re
import secrets
import unicodedata

from ..errors import UsageError
from ..scanner import AUDIO_EXTENSIONS
from .errors import UnsupportedMediaType

MAX_NAME_BYTES = 120
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]')
_INVISIBLE = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068"
                                    "\u2069\ufeff"))
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(1, 10)),
             *(f"LPT{n}" for n in range(1, 10))}


def client_text(raw: str) -> str:
    """A client's text as valid UTF-8: a header's raw bytes (b"\\xff\\xfe", decoded with
    surrogates) or lone surrogates become U+FFFD, so the name can be stored and answered."""
    try:
        raw.encode("utf-8")
        return raw
    except UnicodeEncodeError:
        pass
    try:
        return raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # surrogates that are not escaped bytes
        return raw.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def safe_upload_name(raw: str | None) -> str:
    """A client's file name as one safe, visible file name with an audio extension.

    Only the last component counts (``../../x.wav`` and ``C:\\x.wav`` become ``x.wav``);
    control, bidi and reserved characters go; leading dots go (no hidden files); Windows
    device names get a leading ``_``; at most 120 bytes of UTF-8, the extension kept.
    """
    if not raw:
        raise UsageError("every uploaded file needs a file name (filename=... in its part)")
    name = unicodedata.normalize("NFC", client_text(raw)).translate(_INVISIBLE)
    name = re.split(r"[/\\]", name)[-1]
    name = _UNSAFE.sub("_", name).strip().lstrip(".").strip()
    stem, ext = os.path.splitext(name)
    ext = ext.lower()
    if ext not in AUDIO_EXTENSIONS:
        raise UnsupportedMediaType(
            f"not an audio file name: {raw!r} (use one of {' '.join(sorted(AUDIO_EXTENSIONS))})")
    stem = stem.rstrip(". ") or "upload"
    if stem.split(".")[0].upper() in _RESERVED:
        stem = "_" + stem
    encoded = stem.encode("utf-8")
    limit = MAX_NAME_BYTES - len(ext.encode("utf-8"))
    if len(encoded) > limit:
        stem = encoded[:limit].decode("utf-8", "ignore").rstrip(". ") or "upload"
    return stem + ext


def temp_name() -> str:
    """A hidden name for a file still arriving: scans skip hidden files."""
    return f".upload-{secrets.token_hex(8)}.part"


def claim(folder: str, temp: str, name: str) -> str:
    """Give a finished upload its name without replacing anything: name, name_2, ... ."""
    stem, ext = os.path.splitext(name)
    number = 1
    while True:
        candidate = os.path.join(folder, name if number == 1 else f"{stem}_{number}{ext}")
        try:
            os.link(temp, candidate)  # fails if the name is taken, unlike rename
        except FileExistsError:
            number += 1
            continue
        except OSError:  # no hard links here: reserve the name, then move onto it
            try:
                os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            except FileExistsError:
                number += 1
                continue
            os.replace(temp, candidate)
            return candidate
        os.unlink(temp)
        return candidate
