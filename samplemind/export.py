"""Kits: copy, link or zip a set of samples under a naming pattern, with a JSON manifest.

``plan_export`` turns records into safe relative target names (pure, no I/O);
``export_kit`` writes a kit folder and/or a zip file; ``write_zip`` streams a zip
into any binary file object (the server's download).

Naming rules, in the order they apply:

- ``/`` in the pattern makes folders; a ``/`` or ``..`` inside a value never does
  (every value is rendered inside one path component, then the component is cleaned).
- Placeholders: every record field, plus ``{stem}`` (file name without extension) and
  ``{ext}`` (extension without the dot, lower case). ``{name}`` is the file name.
- A missing value (None, "" or an empty list) renders as ``unknown``, format spec or not.
- Numbers render short: ``120.0`` -> ``120``, ``92.5`` -> ``92.5`` (at most 2 decimals);
  a format spec (``{bpm:03.0f}``) is applied to the raw value instead.
- ``{key}`` renders as ``Am`` / ``F#m`` / ``Cmaj`` / ``F#maj``: short, safe, and read back
  as the same key by the file-name hints of a later scan. ``{tags}`` joins with ``-``.
- Each component: Unicode NFC; control and bidi characters removed; ``/ \\ : * ? " < > |``
  become ``_``; leading dots and spaces, trailing dots and spaces stripped; Windows device
  names (``CON``, ``nul.wav``, ``COM1``) get a leading ``_``; at most 120 bytes of UTF-8
  (the extension is kept); an empty component becomes ``_``.
- The source's extension is always kept: it is appended unless the name already ends with it.
- Targets are unique ignoring case (a kit must survive a copy to macOS or Windows): later
  duplicates get ``_2``, ``_3``, ... before the extension, in input order.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import re
import secrets
import stat
import string
import threading
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from .errors import SampleMindError, UsageError
from .models import RECORD_FIELDS
from .textsafe import json_safe

if TYPE_CHECKING:
    from .instruments import InstrumentSpec

DEFAULT_PATTERN = "{category}/{name}"
MANIFEST_NAME = "samplemind-export.json"
MANIFEST_VERSION = 1
MODES = ("copy", "link", "symlink")
MISSING = "unknown"
MAX_COMPONENT_BYTES = 120  # well under the 255-byte limit of common file systems, leaves room for _N
# Bounded work per name: a width of 10,000,000 cost seconds and megabytes per record.
MAX_PATTERN_CHARS = 1000
MAX_SPEC_NUMBER = 255  # largest width or precision in a placeholder's format spec
MAX_RENDERED_CHARS = 4 * MAX_COMPONENT_BYTES + 32  # more is cut anyway: stop rendering there

Progress = Callable[[int, int, str], None]
Opener = Callable[[dict[str, Any]], IO[bytes]]  # a record's source, opened; raises to skip it

EXTRA_FIELDS = ("stem", "ext")
_UNSAFE = str.maketrans({char: "_" for char in '/\\:*?"<>|'})
# An instrument file lists the names: "$" is a variable and "=" an opcode to an SFZ parser.
_UNSAFE_IN_INSTRUMENTS = str.maketrans({char: "_" for char in "$="})
# sfizz reads " #define" and " #include" even inside a sample= value: the region is lost.
_DIRECTIVE = re.compile(r"#(?=(?:define|include)\b)")
# Bidi overrides and isolates can make "evil\u202evaw.exe" display as "evilexe.wav".
_INVISIBLE = set("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{n}" for n in range(1, 10)),
             *(f"LPT{n}" for n in range(1, 10))}
_EDGE_LEADING = re.compile(r"^[\s.]+")
# Python's format-spec mini-language: [[fill]align][sign][z][#][0][width][grouping][.precision][type]
_FORMAT_SPEC = re.compile(r"(?:.?[<>=^])?[-+ ]?z?#?0?(?P<width>\d*)[,_]?(?:\.(?P<precision>\d+))?"
                          r"[bcdeEfFgGnosxX%]?", re.DOTALL)
_EDGE_TRAILING = re.compile(r"[\s.]+$")
# Already-compressed formats gain nothing from deflate; PCM (wav, aiff, ...) gains a little.
_STORED_FORMATS = {"mp3", "ogg", "oga", "opus", "flac", "m4a", "mp4", "aac", "wma", "wv", "ape"}
# A hard link cannot cross file systems (EXDEV), may be refused on files we do not own
# (EPERM, fs.protected_hardlinks) or unsupported by the file system: fall back to a symlink.
_NO_HARDLINK = {errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EACCES}
_CHUNK = 1 << 20


@dataclass
class ExportItem:
    """One sample placed in a kit: where it came from, where it went, and how."""

    sample_id: int | None
    source: str
    target: str  # relative to the kit root, "/"-separated
    mode: str = "copy"  # "copy", "hardlink", "symlink" or "zip"; a plan says "copy"
    size: int | None = None
    hash: str | None = None  # BLAKE2b-128 of the bytes written; the catalog's hash for links

    def to_json(self) -> dict[str, Any]:
        """The manifest entry."""
        return {"id": self.sample_id, "source": self.source, "target": self.target,
                "mode": self.mode, "size": self.size, "hash": self.hash}


@dataclass
class ExportReport:
    """What an export did: where the kit and zip are, what went where, what was skipped."""

    root: str | None = None
    zip: str | None = None
    manifest: str | None = None  # path of the kit's manifest, or its name inside the zip
    items: list[ExportItem] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)
    instrument: dict[str, Any] | None = None  # the sampler instrument written, and its mapping
    mode: str = "copy"
    pattern: str = DEFAULT_PATTERN
    query: str | None = None
    created_at: str = ""

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form, with schema_version."""
        return {"schema_version": MANIFEST_VERSION, "root": self.root, "zip": self.zip,
                "manifest": self.manifest, "mode": self.mode, "pattern": self.pattern,
                "query": self.query, "created_at": self.created_at, "exported": len(self.items),
                "items": [item.to_json() for item in self.items],
                "skipped": [{"source": source, "reason": reason} for source, reason in self.skipped],
                **({"instrument": self.instrument} if self.instrument is not None else {})}


# --- naming -------------------------------------------------------------------------------

_Piece = tuple[str, str | None, str]  # literal text, field name, format spec


def compile_pattern(pattern: str) -> list[list[_Piece]]:
    """Split a pattern into path components of (literal, field, spec); UsageError if malformed."""
    if not isinstance(pattern, str) or not pattern.strip():
        raise UsageError("the naming pattern is empty")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise UsageError(f"the naming pattern is too long ({len(pattern):,} characters; at most "
                         f"{MAX_PATTERN_CHARS})")
    if pattern.startswith("/"):
        raise UsageError(f"the naming pattern must be relative, not {pattern!r}")
    components: list[list[_Piece]] = []
    for part in pattern.split("/"):
        if not part:
            continue  # "a//b" and a trailing "/" make no empty folder
        if part.strip() in (".", ".."):
            raise UsageError(f"the naming pattern {pattern!r} may not contain '.' or '..' folders")
        try:
            parsed = list(string.Formatter().parse(part))
        except ValueError as exc:
            raise UsageError(f"bad naming pattern {pattern!r}: {exc}") from None
        pieces: list[_Piece] = []
        for literal, name, spec, conversion in parsed:
            if name is not None:
                if not name.isidentifier():
                    # No positional "{}", and no "{path.__class__}" or "{tags[0]}" lookups.
                    raise UsageError(f"bad placeholder {{{name}}} in {pattern!r}: use a field name "
                                     f"such as {{category}} or {{bpm}}")
                if conversion:
                    raise UsageError(f"conversions like !{conversion} are not supported in {pattern!r}")
                if spec:
                    _check_spec(name, spec)
            pieces.append((literal, name, spec or ""))
        components.append(pieces)
    if not components:
        raise UsageError(f"the naming pattern {pattern!r} names no file")
    return components


def _check_spec(name: str, spec: str) -> None:
    """A placeholder's format spec must be well formed, its width and precision bounded."""
    match = _FORMAT_SPEC.fullmatch(spec)
    if match is None:
        raise UsageError(f"bad format spec in {{{name}:{spec[:40]}}}: write e.g. {{bpm:03.0f}} "
                         "or {name:>20}")
    for part in ("width", "precision"):
        digits = match.group(part) or "0"
        if len(digits) > 3 or int(digits) > MAX_SPEC_NUMBER:
            raise UsageError(f"the {part} in {{{name}:{spec[:40]}}} is too large (at most "
                             f"{MAX_SPEC_NUMBER})")


def _number(value: float) -> str:
    if not math.isfinite(value):
        return MISSING
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _short_key(value: Any) -> str:
    """'A minor' -> 'Am', 'F# major' -> 'F#maj'; anything else as written."""
    tonic, _, scale = str(value).partition(" ")
    if scale == "minor":
        return f"{tonic}m"
    if scale == "major":
        return f"{tonic}maj"
    return str(value)


def render_value(name: str, value: Any, spec: str = "") -> str:
    """One placeholder's text, before the component is cleaned."""
    if value is None or value == "" or value == []:
        return MISSING
    if spec:
        try:
            return format(value, spec)
        except (TypeError, ValueError, OverflowError) as exc:  # {size:c} of a 2 MB file
            raise UsageError(f"cannot format {{{name}:{spec}}} for value {value!r}: {exc}") from None
    if name == "key":
        return _short_key(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, (list, tuple)):
        return "-".join(render_value(name, item) for item in value)
    return str(value)


def _clean(text: str) -> str:
    """A path component made safe, not yet shortened."""
    text = unicodedata.normalize("NFC", text)
    text = "".join("_" if unicodedata.category(char) == "Cs" else char for char in text
                   if unicodedata.category(char) != "Cc" and char not in _INVISIBLE)
    text = text.translate(_UNSAFE)
    return _EDGE_TRAILING.sub("", _EDGE_LEADING.sub("", text))


def _fit(stem: str, suffix: str = "", ext: str = "") -> str:
    """stem + suffix + ext within MAX_COMPONENT_BYTES, cut on a character boundary."""
    if stem.split(".")[0].rstrip().upper() in _RESERVED:
        stem = "_" + stem  # "CON.wav" is unusable on Windows whatever its extension
    budget = MAX_COMPONENT_BYTES - len((suffix + ext).encode("utf-8"))
    stem = stem.encode("utf-8")[:budget].decode("utf-8", "ignore")
    stem = _EDGE_TRAILING.sub("", stem) or "_"
    return stem + suffix + ext


def safe_stem(text: str) -> str:
    """A file stem made safe as a kit's names are (and fit for an instrument file); "" if
    nothing is left."""
    stem = _strict(_clean(text))
    return _fit(stem, "", ".dspreset")[: -len(".dspreset")] if stem else ""


def _strict(text: str) -> str:
    """A cleaned component fit for an instrument file's list of names."""
    return _DIRECTIVE.sub("_", text.translate(_UNSAFE_IN_INSTRUMENTS))


def _source_ext(record: dict[str, Any]) -> str:
    """The source file's extension with its dot (".wav"), or "" if it has none worth keeping."""
    base = os.path.basename(str(record.get("path") or record.get("name") or ""))
    ext = os.path.splitext(base)[1]
    # Anything longer or stranger than a real audio extension is just part of the name.
    return ext if 1 < len(ext) <= 16 and _clean(ext[1:]) == ext[1:] else ""


def _render(record: dict[str, Any], components: list[list[_Piece]]) -> tuple[list[str], str, str]:
    """(cleaned folder names, cleaned file stem, extension) for one record."""
    path = str(record.get("path") or "")
    name = str(record.get("name") or os.path.basename(path))
    ext = _source_ext(record)
    extra = {"stem": os.path.splitext(name)[0], "ext": ext[1:].lower(), "name": name}
    texts = []
    for pieces in components:
        out: list[str] = []
        length = 0
        for literal, field_name, spec in pieces:
            if length > MAX_RENDERED_CHARS:
                break  # the component is cut to MAX_COMPONENT_BYTES anyway
            out.append(literal)
            length += len(literal)
            if field_name is None:
                continue
            if field_name in extra:
                value: Any = extra[field_name]
            elif field_name in record or field_name in RECORD_FIELDS:
                value = record.get(field_name)
            else:
                known = ", ".join(("name", "stem", "ext", *(f for f in RECORD_FIELDS if f != "name")))
                raise UsageError(f"unknown field {{{field_name}}} in the naming pattern; fields: {known}")
            rendered = render_value(field_name, value, spec)[:MAX_RENDERED_CHARS]
            out.append(rendered)
            length += len(rendered)
        texts.append(unicodedata.normalize("NFC", "".join(out)[:MAX_RENDERED_CHARS]))
    folders = [_fit(_clean(text)) for text in texts[:-1]]
    last = texts[-1]
    if ext and last[-len(ext):].casefold() == ext.casefold():
        stem, ext = last[: -len(ext)], last[-len(ext):]  # keep the spelling the pattern asked for
    else:
        stem = last
    return folders, _clean(stem), ext


class Planner:
    """Target names one record at a time, unique in the kit (plan_export, incrementally:
    a streamed zip names each file when it gets to it)."""

    def __init__(self, pattern: str = DEFAULT_PATTERN, *, strict: bool = False,
                 reserved: Iterable[str] = ()) -> None:
        self.components = compile_pattern(pattern)
        self.strict = strict  # names an instrument file lists: no "$" or "="
        self.used = {MANIFEST_NAME.casefold(), *(name.casefold() for name in reserved)}
        self.top_files = set(self.used)  # no folder at the kit's top may take these names
        self.folder_spelling: dict[str, str] = {}  # casefolded folder path -> first spelling seen
        self.next_number: dict[str, int] = {}  # casefolded name -> first _N suffix worth trying

    def place(self, record: dict[str, Any]) -> ExportItem:
        """The next record's target; UsageError when its values cannot be named."""
        folders, stem, ext = _render(record, self.components)
        if self.strict:
            folders = [_strict(folder) for folder in folders]
            stem, ext = _strict(stem), _strict(ext)
        spelled: list[str] = []
        for folder in folders:
            if not spelled and folder.casefold() in self.top_files:
                folder += "_"
            key = "/".join([*spelled, folder]).casefold()
            spelled.append(self.folder_spelling.setdefault(key, folder))
        prefix = "".join(f"{folder}/" for folder in spelled)
        # Numbers below the last one given to this name are all taken (used only grows):
        # start there, or a pattern naming every file alike costs O(n^2).
        base = (prefix + stem + ext).casefold()
        number = self.next_number.get(base, 1)
        while True:
            target = prefix + _fit(stem, f"_{number}" if number > 1 else "", ext)
            if target.casefold() not in self.used:
                break
            number += 1
        self.next_number[base] = number + 1
        self.used.add(target.casefold())
        sample_id = record.get("id")
        return ExportItem(sample_id=int(sample_id) if sample_id is not None else None,
                          source=str(record.get("path") or ""), target=target)


def plan_export(records: Iterable[dict[str, Any]], pattern: str = DEFAULT_PATTERN, *,
                strict: bool = False, reserved: Iterable[str] = ()) -> list[ExportItem]:
    """Target names for records under a pattern, unique in the kit; pure (no file is touched).
    strict: names fit for an instrument file; reserved: names taken already (its file)."""
    planner = Planner(pattern, strict=strict, reserved=reserved)
    return [planner.place(record) for record in records]


# --- writing ------------------------------------------------------------------------------

def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _skip_reason(exc: OSError | SampleMindError) -> str:
    """Why a source was left out, in words (for the manifest's skipped and the warning)."""
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, NotRegularFile):
        return "not a regular file"
    if isinstance(exc, OSError):
        return f"cannot read: {exc.strerror or exc}"
    return f"cannot read: {exc}"  # the served check's sentence, as the server's zip says it


def _check_sources(records: Iterable[dict[str, Any]], opener: Opener,
                   ) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Split records into readable ones and (source, reason) for the rest: each source is
    opened through opener (access() is wrong for root and ACLs; opening is the truth)."""
    readable, skipped = [], []
    for record in records:
        path = record.get("path")
        if not path:
            skipped.append((str(record.get("name") or record.get("id") or ""), "the record has no path"))
            continue
        try:
            with opener(record):
                pass
        except (OSError, SampleMindError) as exc:
            skipped.append((str(path), _skip_reason(exc)))
            continue
        readable.append(record)
    return readable, skipped


def _in_real_place(path: str) -> str:
    """The path with its folders resolved (not the last component: that may be a link we replace)."""
    return os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))


def _preflight(root: str | None, zip_file: str | None, items: list[ExportItem], force: bool,
               extra: Sequence[str] = ()) -> None:
    """Refuse, before anything is written, an export that would clobber files."""
    sources = {_in_real_place(os.path.abspath(item.source)) for item in items}
    collisions: list[str] = []

    def check(dest: str) -> None:
        if _in_real_place(dest) in sources:
            raise UsageError(f"{dest} is one of the files being exported: choose another destination")
        if os.path.lexists(dest):
            if os.path.isdir(dest) and not os.path.islink(dest):
                raise UsageError(f"{dest} is a folder, not a file: choose another destination")
            collisions.append(dest)

    if root is not None:
        if os.path.lexists(root) and not os.path.isdir(root):
            raise UsageError(f"{root} exists and is not a folder")
        checked: set[str] = set()
        for target in [item.target for item in items] + [MANIFEST_NAME, *extra]:
            parts = target.split("/")
            for depth in range(1, len(parts)):
                folder = os.path.join(root, *parts[:depth])
                if folder not in checked:
                    checked.add(folder)
                    if os.path.lexists(folder) and not os.path.isdir(folder):
                        raise UsageError(f"{folder} is in the way: it is a file, not a folder")
            check(os.path.join(root, *parts))
    if zip_file is not None:
        check(zip_file)
    if collisions and not force:
        more = f" (and {len(collisions) - 1} more)" if len(collisions) > 1 else ""
        raise UsageError(f"{collisions[0]} already exists{more}; allow overwriting to "
                         "replace it").naming(force="allow overwriting")


def _temp_path(dest: str) -> str:
    """A hidden name next to dest: a crash leaves a .part file, never a half file under dest's name."""
    return os.path.join(os.path.dirname(dest), f".samplemind-{secrets.token_hex(6)}.part")


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _copy(reader: IO[bytes], dest: str) -> tuple[int, str]:
    """Copy an opened (checked) source with its mtime and mode, via a temp name; returns
    (size, hash). Bytes, times and mode all come from the descriptor, not the path (which
    could lead elsewhere by now)."""
    info = os.fstat(reader.fileno())
    temp = _temp_path(dest)
    digest = hashlib.blake2b(digest_size=16)
    size = 0
    try:
        with open(temp, "xb") as writer:
            while chunk := reader.read(_CHUNK):
                digest.update(chunk)
                writer.write(chunk)
                size += len(chunk)
        os.chmod(temp, stat.S_IMODE(info.st_mode))
        os.utime(temp, ns=(info.st_atime_ns, info.st_mtime_ns))
        os.replace(temp, dest)
    except BaseException:
        _remove(temp)
        raise
    return size, digest.hexdigest()


def _link(source: str, dest: str, symlink_only: bool, opened: IO[bytes] | None = None) -> str:
    """A hard link if possible, else an absolute symlink; returns which. opened: the source
    as checked; a hard link must be to that very file (not what the path leads to now)."""
    temp = _temp_path(dest)
    kind = "symlink"
    try:
        if not symlink_only:
            try:
                os.link(source, temp)
                kind = "hardlink"
            except OSError as exc:
                if exc.errno not in _NO_HARDLINK:
                    raise
            if kind == "hardlink" and opened is not None:
                linked, checked = os.stat(temp, follow_symlinks=False), os.fstat(opened.fileno())
                if (linked.st_dev, linked.st_ino) != (checked.st_dev, checked.st_ino):
                    raise OSError(errno.ESTALE, "the file changed while it was exported")
        if kind == "symlink":
            os.symlink(os.path.abspath(source), temp)
        os.replace(temp, dest)
    finally:
        # rename() between two links to one inode succeeds without doing anything (POSIX),
        # which happens when a --force export refreshes its own hard links.
        _remove(temp)
    return kind


def _manifest(report: ExportReport, items: list[ExportItem], mode: str) -> dict[str, Any]:
    data = {"schema_version": MANIFEST_VERSION, "created_at": report.created_at, "query": report.query,
            "pattern": report.pattern, "mode": mode, "items": [item.to_json() for item in items],
            "skipped": [{"source": source, "reason": reason} for source, reason in report.skipped]}
    if report.instrument is not None:
        data["instrument"] = report.instrument
    return data


def _instrument(spec: InstrumentSpec, placed: Sequence[tuple[dict[str, Any], str]],
                report: ExportReport) -> bytes:
    """The instrument file's bytes for the placed (record, target) pairs; its mapping goes
    into the report (and so the manifest)."""
    from .instruments import write

    text, instrument = write(spec, placed, query=report.query)
    report.instrument = {"format": spec.format, "file": spec.file_name, **instrument.to_json()}
    return text.encode("utf-8")


def _manifest_bytes(data: dict[str, Any]) -> bytes:
    # A name that is not UTF-8 is written as \xHH, with its bytes in <field>_b64 (textsafe).
    return (json.dumps(json_safe(data), indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _zip_info(target: str, st: os.stat_result) -> zipfile.ZipInfo:
    """A zip entry for a file: its mtime (clamped to what zip can store), mode and size."""
    year, *rest = time.localtime(st.st_mtime)[:6]
    date_time = (1980, 1, 1, 0, 0, 0) if year < 1980 else (year, *rest)
    info = zipfile.ZipInfo(target, date_time if year <= 2107 else (2107, 12, 31, 23, 59, 59))
    info.external_attr = (st.st_mode & 0xFFFF) << 16
    info.file_size = st.st_size  # lets zipfile pick zip64 up front for files over 4 GiB
    if os.path.splitext(target)[1][1:].lower() in _STORED_FORMATS:
        info.compress_type = zipfile.ZIP_STORED
    else:
        info.compress_type = zipfile.ZIP_DEFLATED
        info._compresslevel = 1  # PCM barely shrinks at any level; level 1 is ~3x faster than 6
    return info


def _zip_items(pairs: list[tuple[dict[str, Any], ExportItem]], fileobj: IO[bytes], report: ExportReport,
               progress: Progress | None, done: int, total: int, opener: Opener,
               instrument: InstrumentSpec | None = None) -> list[ExportItem]:
    """Stream sources, then the instrument file (if any) and the manifest, into a zip; sources
    opener refuses go to report.skipped."""
    zipped: list[ExportItem] = []
    placed: list[tuple[dict[str, Any], str]] = []
    with zipfile.ZipFile(fileobj, "w", allowZip64=True) as archive:
        for record, item in pairs:
            done += 1
            try:
                reader = opener(record)
            except (OSError, SampleMindError) as exc:
                report.skipped.append((item.source, _skip_reason(exc)))
            else:
                with reader:
                    size, digest = _zip_one(archive, item, reader)
                zipped.append(ExportItem(item.sample_id, item.source, item.target, "zip", size, digest))
                placed.append((record, item.target))
            if progress:
                progress(done, total, item.target)
        if instrument is not None:
            _write_entry(archive, instrument.file_name, _instrument(instrument, placed, report))
        manifest = zipfile.ZipInfo(MANIFEST_NAME, time.localtime()[:6])
        manifest.compress_type = zipfile.ZIP_DEFLATED
        manifest.external_attr = 0o644 << 16  # so unzip gives it ordinary permissions
        archive.writestr(manifest, _manifest_bytes(_manifest(report, zipped, "zip")))
    return zipped


def _write_entry(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    """A small file made here (not a source) into the archive."""
    entry = zipfile.ZipInfo(name, time.localtime()[:6])
    entry.compress_type = zipfile.ZIP_DEFLATED
    entry.external_attr = 0o644 << 16
    archive.writestr(entry, data)


def _zip_one(archive: zipfile.ZipFile, item: ExportItem, reader: IO[bytes]) -> tuple[int, str]:
    """Copy one open source into the archive; returns (size, hash)."""
    digest = hashlib.blake2b(digest_size=16)
    size = 0
    with archive.open(_zip_info(item.target, os.fstat(reader.fileno())), "w") as writer:
        try:
            while chunk := reader.read(_CHUNK):
                digest.update(chunk)
                writer.write(chunk)
                size += len(chunk)
        except OSError as exc:
            # Half an entry is already in the stream: this archive cannot be finished.
            raise SampleMindError(f"reading {item.source} failed while zipping: {exc}") from exc
    return size, digest.hexdigest()


def _prepare(records: Iterable[dict[str, Any]], pattern: str, opener: Opener,
             instrument: InstrumentSpec | None = None,
             ) -> tuple[list[tuple[dict[str, Any], ExportItem]], list[tuple[str, str]]]:
    compile_pattern(pattern)  # a bad pattern fails before any file is opened
    readable, skipped = _check_sources(records, opener)
    reserved = [instrument.file_name] if instrument is not None else []
    return list(zip(readable, plan_export(readable, pattern, strict=instrument is not None,
                                          reserved=reserved))), skipped


def write_zip(records: Iterable[dict[str, Any]], fileobj: IO[bytes], pattern: str = DEFAULT_PATTERN, *,
              query: str | None = None, progress: Progress | None = None,
              opener: Opener | None = None) -> ExportReport:
    """Stream a kit as a zip (manifest included) into a binary file object; it need not be seekable.
    opener: how each source is opened and checked (export_kit says more)."""
    opener = opener or open_regular
    pairs, skipped = _prepare(records, pattern, opener)
    report = ExportReport(manifest=MANIFEST_NAME, skipped=skipped, mode="zip", pattern=pattern,
                          query=query, created_at=_now())
    report.items = _zip_items(pairs, fileobj, report, progress, 0, len(pairs), opener)
    return report


class NotRegularFile(OSError):
    """A FIFO, device or folder where a file was expected."""


def open_regular(record: dict[str, Any]) -> IO[bytes]:
    """A record's file opened without blocking (a FIFO or device is refused, not waited on)."""
    fd = os.open(str(record.get("path") or ""), os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFile(errno.EINVAL, "not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class _Sink:
    """Where zipfile writes: bytes collected until taken; dropped once the stream is closed."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.discard = False

    def write(self, data: bytes) -> int:
        if not self.discard:
            self.buffer += data
        return len(data)

    def flush(self) -> None:
        """Nothing to do: the stream's caller takes the bytes."""

    def take(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


class ZipStream:
    """A kit as a zip (manifest included), made a step at a time: each next() reads at most
    STEP_BYTES of sources or opens STEP_FILES files, and answers the zip bytes made (maybe
    b""). Between steps it holds no thread, so a server runs each step in a pool and never
    waits on a slow client while holding one; close() stops the work at once.

    Each source is opened with ``opener`` when its turn comes; one it refuses (OSError or a
    SampleMindError) is skipped and listed in the manifest. The first named record is
    named before the first bytes: a pattern error comes out of the first next()."""

    STEP_BYTES = 1 << 20
    STEP_FILES = 64

    def __init__(self, records: Iterable[dict[str, Any]], pattern: str = DEFAULT_PATTERN, *,
                 opener: Opener = open_regular, query: str | None = None,
                 instrument: InstrumentSpec | None = None) -> None:
        self.instrument = instrument
        self.planner = Planner(pattern, strict=instrument is not None,
                               reserved=[instrument.file_name] if instrument is not None else [])
        self.report = ExportReport(manifest=MANIFEST_NAME, mode="zip", pattern=pattern,
                                   query=query, created_at=_now())
        self._sink = _Sink()
        self._steps = self._run(iter(records), opener)
        self._stepping = threading.Lock()  # close() from another thread waits for a step

    def __iter__(self) -> ZipStream:
        return self

    def __next__(self) -> bytes:
        with self._stepping:
            return next(self._steps)

    def close(self) -> None:
        """Stop: the open source is closed; nothing more is made."""
        self._sink.discard = True
        with self._stepping:
            self._steps.close()

    def _run(self, records: Iterable[dict[str, Any]], opener: Opener) -> Iterator[bytes]:
        sink, report = self._sink, self.report
        read = opened = 0
        placed: list[tuple[dict[str, Any], str]] = []
        with zipfile.ZipFile(sink, "w", allowZip64=True) as archive:
            for record in records:
                if read >= self.STEP_BYTES or opened >= self.STEP_FILES:
                    yield sink.take()
                    read = opened = 0
                source = str(record.get("path") or "")
                opened += 1
                try:
                    reader = opener(record)
                except (OSError, SampleMindError) as exc:
                    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                    report.skipped.append((source or str(record.get("id") or ""), f"cannot read: {reason}"))
                    continue
                with reader:
                    try:
                        item = self.planner.place(record)
                    except UsageError as exc:
                        if not report.items:
                            raise  # nothing written yet: the caller can still answer an error
                        report.skipped.append((source, f"cannot name it: {exc}"))
                        continue
                    digest = hashlib.blake2b(digest_size=16)
                    size = 0
                    with archive.open(_zip_info(item.target, os.fstat(reader.fileno())), "w") as writer:
                        while True:
                            try:
                                chunk = reader.read(_CHUNK)
                            except OSError as exc:
                                raise SampleMindError(f"reading {source} failed while zipping: "
                                                      f"{exc}") from exc
                            if not chunk:
                                break
                            digest.update(chunk)
                            writer.write(chunk)
                            size += len(chunk)
                            read += len(chunk)
                            if read >= self.STEP_BYTES:
                                yield sink.take()
                                read = opened = 0
                report.items.append(ExportItem(item.sample_id, item.source, item.target, "zip", size,
                                               digest.hexdigest()))
                if self.instrument is not None:
                    placed.append((record, item.target))
            if self.instrument is not None:
                _write_entry(archive, self.instrument.file_name,
                             _instrument(self.instrument, placed, report))
            manifest = zipfile.ZipInfo(MANIFEST_NAME, time.localtime()[:6])
            manifest.compress_type = zipfile.ZIP_DEFLATED
            manifest.external_attr = 0o644 << 16
            archive.writestr(manifest, _manifest_bytes(_manifest(report, report.items, "zip")))
        yield sink.take()


def export_kit(records: Iterable[dict[str, Any]], to: str | os.PathLike[str] | None, *, mode: str = "copy",
               pattern: str = DEFAULT_PATTERN, zip_path: str | os.PathLike[str] | None = None,
               force: bool = False, progress: Progress | None = None,
               query: str | None = None, opener: Opener | None = None,
               instrument: InstrumentSpec | None = None) -> ExportReport:
    """Write a kit folder (``to``), a zip file (``zip_path``) or both, each with a manifest.

    mode: "copy", "link" (hard link, or a symlink across file systems) or "symlink".
    Existing files are refused before anything is written unless ``force``. Missing or
    unreadable sources are skipped and listed in ``report.skipped``; the export goes on.

    opener: opens (and checks) a record's source; what it refuses (OSError or a
    SampleMindError) is skipped with the reason. Each file is opened when it is written and
    its bytes come from that descriptor. The default (open_regular) opens without blocking
    and takes regular files only; ``Library.export`` passes the served-file check
    (served.checked_opener: size and mtime as scanned, real path under a scanned root).
    """
    opener = opener or open_regular
    if to is None and zip_path is None:
        raise UsageError("say where to export: a folder, a zip file or both")
    if mode not in MODES:
        raise UsageError(f"unknown export mode {mode!r}; use one of: {', '.join(MODES)}")
    root = os.path.abspath(os.path.expanduser(os.fspath(to))) if to is not None else None
    zip_file = os.path.abspath(os.path.expanduser(os.fspath(zip_path))) if zip_path is not None else None
    pairs, skipped = _prepare(records, pattern, opener, instrument)
    _preflight(root, zip_file, [item for _, item in pairs], force,
               [instrument.file_name] if instrument is not None else [])

    report = ExportReport(root=root, zip=zip_file, skipped=skipped, mode=mode if root else "zip",
                          pattern=pattern, query=query, created_at=_now())
    total = len(pairs) * ((root is not None) + (zip_file is not None))
    done = 0
    for folder in (root, zip_file and os.path.dirname(zip_file)):
        if folder:
            try:
                os.makedirs(folder, exist_ok=True)
            except OSError as exc:
                raise SampleMindError(f"cannot create the folder {folder}: {exc.strerror or exc}") from None
            _check_writable(folder, "to" if folder == root else "zip")
    if root is not None:
        placed: list[tuple[dict[str, Any], ExportItem]] = []
        for record, item in pairs:
            dest = os.path.join(root, *item.target.split("/"))
            try:
                reader = opener(record)  # checked now, when it is written
            except (OSError, SampleMindError) as exc:
                report.skipped.append((item.source, _skip_reason(exc)))
                done_item = None
            else:
                with reader:
                    done_item = _place(record, item, reader, dest, mode, report)
            if done_item is not None:
                report.items.append(done_item)
                placed.append((record, item))
            done += 1
            if progress:
                progress(done, total, item.target)
        if instrument is not None:
            _write_atomic(os.path.join(root, instrument.file_name),
                          _instrument(instrument, [(record, item.target) for record, item in placed], report))
        report.manifest = os.path.join(root, MANIFEST_NAME)
        _write_atomic(report.manifest, _manifest_bytes(_manifest(report, report.items, mode)))
        total -= len(pairs) - len(placed)
        pairs = placed  # the zip holds what the folder holds
    if zip_file is not None:
        temp = _temp_path(zip_file)
        try:
            with open(temp, "xb") as handle:
                zipped = _zip_items(pairs, handle, report, progress, done, total, opener, instrument)
            os.replace(temp, zip_file)
        except BaseException:
            _remove(temp)
            raise
        if root is None:
            report.items = zipped
            report.manifest = MANIFEST_NAME
    return report


def _place(record: dict[str, Any], item: ExportItem, reader: IO[bytes], dest: str, mode: str,
           report: ExportReport) -> ExportItem | None:
    """Copy or link one opened source into the kit; None (and a skipped entry) if it fails."""
    try:
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if mode == "copy":
            size, digest = _copy(reader, dest)
            return ExportItem(item.sample_id, item.source, item.target, "copy", size, digest)
        kind = _link(item.source, dest, symlink_only=mode == "symlink", opened=reader)
        # Links add no bytes: re-reading the file only for its hash would make a link
        # export as slow as a copy, so the catalog's hash is recorded.
        return ExportItem(item.sample_id, item.source, item.target, kind,
                          os.fstat(reader.fileno()).st_size, record.get("hash"))
    except OSError as exc:
        report.skipped.append((item.source, f"cannot export: {exc.strerror or exc}"))
        return None


_DESTINATIONS = {"to": "another folder", "zip": "another place for the zip file"}


def _check_writable(folder: str, setting: str) -> None:
    """A UsageError, before anything is written, for a destination no file can be made in
    (setting: "to", the kit folder, or "zip", the zip file's)."""
    probe = _temp_path(os.path.join(folder, "probe"))
    try:
        with open(probe, "xb"):
            pass
    except OSError as exc:
        instead = _DESTINATIONS[setting]
        raise UsageError(f"cannot write in {folder}: {exc.strerror or exc} (choose "
                         f"{instead})").naming(**{setting: instead}) from None
    _remove(probe)


def _write_atomic(path: str, data: bytes) -> None:
    temp = _temp_path(path)
    try:
        with open(temp, "xb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except BaseException:
        _remove(temp)
        raise
