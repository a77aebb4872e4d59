"""Walking folders, stat-ing files and hashing their bytes.

Change detection is by size and mtime: an unchanged file is never opened. Hashes
are of the file's bytes (BLAKE2b, 128 bits), which is what the feature cache and
move detection key on.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass

# What Essentia's ffmpeg-based decoder reads that people keep samples in.
AUDIO_EXTENSIONS = frozenset({
    ".wav", ".wave", ".bwf", ".rf64", ".w64", ".aif", ".aiff", ".aifc", ".flac", ".ogg",
    ".oga", ".opus", ".mp3", ".mp2", ".m4a", ".aac", ".alac", ".caf", ".wma", ".wv",
    ".ape", ".mpc", ".ac3", ".au", ".snd", ".amr", ".webm", ".mka",
})

HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileEntry:
    """A file found by the walk, with what stat said."""

    path: str
    size: int
    mtime_ns: int
    identity: tuple[int, int] | None = None  # (device, inode): the file however it is reached


def is_audio_name(name: str) -> bool:
    """True for a visible file whose extension is one we decode."""
    if name.startswith("."):
        return False
    return os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS


def walk(root: str, on_skip: Callable[[str, str], None] | None = None,
         reached_elsewhere: Callable[[str, bool], bool] | None = None) -> Iterator[FileEntry]:
    """Yield audio files under root: hidden entries skipped, symlink loops never followed.

    Symlinked folders are followed once; a folder or file reached twice (same device and
    inode) is passed over, which is what breaks loops.

    reached_elsewhere(real_path, is_folder): asked for each symlink, with its resolved
    target; True means the walk of a root reaches that target under its real path (it lies
    inside a root), so the link is not followed: one file is catalogued under one path,
    whatever way it can be reached.
    """
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[tuple[int, int]] = set()
    try:
        root_stat = os.stat(root)
    except OSError as exc:
        if on_skip:
            on_skip(root, exc.strerror or str(exc))
        return
    if stat.S_ISREG(root_stat.st_mode):
        # A file named directly is taken whatever its name, as long as it is audio.
        if os.path.splitext(root)[1].lower() in AUDIO_EXTENSIONS:
            yield FileEntry(root, root_stat.st_size, root_stat.st_mtime_ns,
                            (root_stat.st_dev, root_stat.st_ino))
        elif on_skip:
            on_skip(root, "not an audio file extension")
        return
    stack = [root]
    seen_dirs.add((root_stat.st_dev, root_stat.st_ino))
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
        except OSError as exc:
            if on_skip:
                on_skip(folder, exc.strerror or str(exc))
            continue
        subfolders = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                info = entry.stat()  # follows symlinks
            except OSError as exc:
                if on_skip:
                    on_skip(entry.path, f"broken link or unreadable: {exc.strerror or exc}")
                continue
            identity = (info.st_dev, info.st_ino)
            if reached_elsewhere is not None and entry.is_symlink() and reached_elsewhere(
                    os.path.realpath(entry.path), stat.S_ISDIR(info.st_mode)):
                continue  # catalogued under its real path, by the walk that reaches it there
            if stat.S_ISDIR(info.st_mode):
                if identity not in seen_dirs:
                    seen_dirs.add(identity)
                    subfolders.append(entry.path)
            elif stat.S_ISREG(info.st_mode) and is_audio_name(entry.name):
                if identity in seen_files:
                    continue
                seen_files.add(identity)
                if not _is_utf8(entry.path):
                    # SQLite (and JSON) need valid UTF-8: report it instead of failing a batch.
                    if on_skip:
                        on_skip(entry.path, "the file name is not valid UTF-8; rename the file")
                    continue
                yield FileEntry(entry.path, info.st_size, info.st_mtime_ns, identity)
        stack.extend(reversed(subfolders))  # depth-first, in name order


def _is_utf8(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes arrive as lone surrogates
        return False
    return True


def hash_file(path: str) -> str:
    """BLAKE2b-128 of the file's bytes, hex."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
