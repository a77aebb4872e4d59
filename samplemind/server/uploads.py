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
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(1, 10)),
             *(f"LPT{n}" for n in range(1, 10))}
# Removed from names: every character of Unicode categories Cc (controls; C0 and DEL are
# replaced with "_" by _UNSAFE instead), Cf (format: bidi controls, zero-width spaces and
# joiners, soft hyphens, BOM), Zl and Zp (line and paragraph separators).
_REMOVED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
_C0 = frozenset(map(chr, [*range(0x20), 0x7F]))


def _without_invisible(text: str) -> str:
    return "".join(char for char in text
                   if char in _C0 or unicodedata.category(char) not in _REMOVED_CATEGORIES)


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
    C0 controls, DEL and reserved characters become ``_``; other controls (U+0080-U+009F),
    format characters (bidi controls, zero-width spaces, soft hyphens) and line and
    paragraph separators go; leading dots go (no hidden files); Windows
    device names get a leading ``_``; at most 120 bytes of UTF-8, the extension kept.
    """
    if not raw:
        raise UsageError("every uploaded file needs a file name (filename=... in its part)")
    name = unicodedata.normalize("NFC", _without_invisible(client_text(raw)))
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
