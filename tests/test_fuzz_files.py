"""A scan survives a folder of hostile files: over a thousand mutations of generated audio.

Built with a fixed seed: truncations, flipped header and data bytes, absurd declared rates,
channel counts and lengths, NaN/Inf samples, non-audio bytes under audio names; names with
newlines, control characters, leading dashes and non-UTF-8 bytes; symlink loops, dangling
links and FIFOs. One real scan (the CLI, in its own process, with a 1 GiB worker ceiling)
must finish, exit 3, keep every good file, leave an intact catalog, keep every worker
under the ceiling, and a rescan must retry nothing.
"""

from __future__ import annotations

import json
import math
import os
import random
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytestmark = pytest.mark.slow  # the whole module: `pytest -m "not slow"` leaves it out

SEED = 20261207
CEILING_MB = 1024
MUTANTS_PER_BASE = 150  # x 8 bases = 1,200 hostile files


# --- the material ----------------------------------------------------------------------


def _tone(rng: random.Random, sr: int, seconds: float, channels: int) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    freq = rng.uniform(60, 2000)
    mono = 0.6 * np.sin(2 * np.pi * freq * t) * np.exp(-t * rng.uniform(2, 12))
    return np.stack([mono * (0.8 + 0.2 * c) for c in range(channels)], axis=1).astype(np.float32)


def _bases(folder: Path, rng: random.Random) -> dict[str, bytes]:
    """Eight small, valid files in the containers samplemind reads, as bytes."""
    folder.mkdir()
    specs = [("wav", "WAV", "PCM_16", 44100, 1), ("wav24", "WAV", "PCM_24", 48000, 2),
             ("wavf", "WAV", "FLOAT", 44100, 1), ("aiff", "AIFF", "PCM_16", 44100, 2),
             ("flac", "FLAC", "PCM_16", 44100, 1), ("flac2", "FLAC", "PCM_24", 96000, 2),
             ("ogg", "OGG", "VORBIS", 44100, 1), ("rf64", "RF64", "PCM_16", 22050, 1)]
    out = {}
    for name, container, subtype, sr, channels in specs:
        path = folder / f"{name}.{'ogg' if container == 'OGG' else container.lower()}"
        sf.write(path, _tone(rng, sr, 0.35, channels), sr, format=container, subtype=subtype)
        out[path.name] = path.read_bytes()
    return out


def _set(data: bytearray, offset: int, fmt: str, value) -> None:
    if 0 <= offset and offset + struct.calcsize(fmt) <= len(data):
        struct.pack_into(fmt, data, offset, value)


def _absurd_header(data: bytearray, rng: random.Random) -> None:
    """Declared rate, channels or length no real file has, in the container's own fields."""
    if data[:4] in (b"RIFF", b"RF64"):
        fmt_at = data.find(b"fmt ") + 8
        data_at = data.find(b"data") + 4
        choice = rng.randrange(3)
        if choice == 0:
            _set(data, fmt_at + 4, "<I", rng.choice([0, 1, 7, 999, 100_000_000, 2**31 - 1,
                                                      2**32 - 1]))
        elif choice == 1:
            _set(data, fmt_at + 2, "<H", rng.choice([0, 33, 64, 255, 65535]))
        else:
            _set(data, data_at, "<I", rng.choice([0xFFFFFFF0, 0x7FFFFFFF, 1, 3]))
    elif data[:4] == b"FORM":
        comm = data.find(b"COMM") + 8
        choice = rng.randrange(3)
        if choice == 0:  # the 80-bit rate: NaN, Inf, 1e300-ish, zero, 1 Hz
            data[comm + 8:comm + 18] = rng.choice([
                b"\x7f\xff\xc0" + bytes(7), b"\x7f\xff\x80" + bytes(7),
                b"\x43\xe0\x80" + bytes(7), bytes(10), b"\x3f\xff\x80" + bytes(7)])
        elif choice == 1:
            _set(data, comm, ">h", rng.choice([0, -1, 64, 32767]))
        else:
            _set(data, comm + 2, ">I", rng.choice([0xFFFFFFFF, 2**31, 1]))
    elif data[:4] == b"fLaC":
        packed = int.from_bytes(data[18:26], "big")
        choice = rng.randrange(3)
        if choice == 0:
            packed = (packed & ((1 << 44) - 1)) | (rng.choice([0, 1, 7, 999, 2**20 - 1]) << 44)
        elif choice == 1:
            packed = packed & ~((1 << 36) - 1) | rng.choice([0, 2**36 - 1, 1])
        else:
            packed = packed ^ (rng.randrange(1, 8) << 41)  # channel count
        data[18:26] = packed.to_bytes(8, "big")
    else:  # Ogg: the identification packet's rate and channels
        at = data.find(b"\x01vorbis")
        if at >= 0:
            _set(data, at + 12, "<I", rng.choice([0, 1, 2**31 - 1, 2**32 - 1]))
            _set(data, at + 11, "<B", rng.choice([0, 64, 255]))


def _nan_samples(rng: random.Random) -> bytes:
    audio = _tone(rng, 44100, 0.3, 1)
    idx = rng.randrange(audio.shape[0])
    audio[idx:idx + rng.randrange(1, 50)] = rng.choice([np.nan, np.inf, -np.inf])
    import io

    buf = io.BytesIO()
    sf.write(buf, audio, 44100, format="WAV", subtype="FLOAT")
    return buf.getvalue()


def _mutate(base: bytes, rng: random.Random) -> bytes:
    data = bytearray(base)
    kind = rng.randrange(7)
    if kind == 0:  # truncated anywhere, header included
        return bytes(data[:rng.randrange(0, len(data))])
    if kind == 1:  # flipped header bytes
        for _ in range(rng.randrange(1, 6)):
            data[rng.randrange(min(64, len(data)))] ^= 1 << rng.randrange(8)
        return bytes(data)
    if kind == 2:  # flipped data bytes
        for _ in range(rng.randrange(1, 200)):
            data[rng.randrange(64, len(data))] = rng.randrange(256)
        return bytes(data)
    if kind == 3:
        _absurd_header(data, rng)
        return bytes(data)
    if kind == 4:  # the header, then garbage
        return bytes(data[:rng.randrange(12, 80)]) + rng.randbytes(rng.randrange(0, 20000))
    if kind == 5:
        return _nan_samples(rng)
    return rng.choice([b"", b"\x00" * rng.randrange(1, 5000), rng.randbytes(rng.randrange(1, 9000)),
                       b"#!/bin/sh\necho not audio\n" * 20])


def _hostile_name(rng: random.Random, index: int, ext: str) -> bytes:
    stem = rng.choice([b"plain", b"with\nnewline", b"ctrl\x01\x1b[31m", b"-leading-dash",
                       b"--format=json", b"bad_\xff\xfe", b"tab\there", b"caf\xc3\xa9",
                       b"quote\"'", b" spaced "])
    return stem + b"_%04d." % index + ext


def _utf8(path: Path) -> bool:
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _write(folder: Path, name: bytes, data: bytes) -> Path:
    path = os.path.join(os.fsencode(folder), name)
    with open(path, "wb") as f:
        f.write(data)
    return Path(os.fsdecode(path))


@pytest.fixture(scope="module")
def hostile_library(tmp_path_factory):
    rng = random.Random(SEED)
    root = tmp_path_factory.mktemp("fuzz")
    bases = _bases(root / "_bases_src", rng)
    library = root / "library"
    (library / "good").mkdir(parents=True)
    (library / "hostile").mkdir()
    good: list[Path] = []
    for i, (name, data) in enumerate(sorted(bases.items())):  # every base, under hostile names
        ext = name.rsplit(".", 1)[1].encode()
        good.append(_write(library / "good", _hostile_name(random.Random(i), i, ext), data))
    for i in range(24):  # more good files: other tones, other names
        ext = rng.choice([b"wav", b"flac", b"aiff"])
        path = _write(library / "good", _hostile_name(rng, 100 + i, ext), b"")
        sf.write(os.fsencode(path), _tone(rng, 44100, 0.3, 1), 44100,
                 format={b"wav": "WAV", b"flac": "FLAC", b"aiff": "AIFF"}[ext])
        good.append(path)
    count = 0
    for name, data in sorted(bases.items()):
        ext = name.rsplit(".", 1)[1].encode()
        for _ in range(MUTANTS_PER_BASE):
            _write(library / "hostile", _hostile_name(rng, count, ext), _mutate(data, rng))
            count += 1
    # Links and special files: loops, a dangling link, a link to a directory above, FIFOs.
    specials = library / "hostile" / "specials"
    specials.mkdir()
    os.symlink(specials / "loop_b.wav", specials / "loop_a.wav")
    os.symlink(specials / "loop_a.wav", specials / "loop_b.wav")
    os.symlink(specials / "missing.wav", specials / "dangling.wav")
    os.symlink(library, specials / "up")  # a directory cycle
    for i in range(3):
        os.mkfifo(specials / f"fifo_{i}.wav")
    return library, good, count


# --- watching the workers ----------------------------------------------------------------


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _peak_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class PeakWatcher(threading.Thread):
    """The highest resident peak (VmHWM) any descendant of a process reached."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self.stop = pid, 0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for child in _descendants(self.pid):
                self.peak_kb = max(self.peak_kb, _peak_kb(child))
            time.sleep(0.05)


def _scan(library: Path, home: Path) -> tuple[subprocess.CompletedProcess, int]:
    env = {**os.environ, "SAMPLEMIND_HOME": str(home), "SAMPLEMIND_WORKER_MEMORY_MB": str(CEILING_MB)}
    process = subprocess.Popen([sys.executable, "-m", "samplemind", "scan", str(library),
                                "--format", "json", "--jobs", "2", "--timeout", "30"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    watcher = PeakWatcher(process.pid)
    watcher.start()
    try:
        stdout, stderr = process.communicate(timeout=600)  # a hang fails here, not CI
    finally:
        watcher.stop.set()
        watcher.join()
        if process.poll() is None:
            process.kill()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr), \
        watcher.peak_kb


def test_a_scan_survives_a_thousand_hostile_files(hostile_library, tmp_path):
    library, good, mutants = hostile_library
    assert mutants >= 1000
    home = tmp_path / "home"

    first, peak_kb = _scan(library, home)

    assert first.returncode == 3, first.stderr[-2000:]
    report = json.loads(first.stdout.decode("utf-8"))  # strict UTF-8 and strict JSON
    assert report["failed"] > 0 and report["added"] >= len(good)
    # Every good file is catalogued, whatever its name.
    db = sqlite3.connect(home / "library.db")
    db.text_factory = lambda raw: raw.decode("utf-8", "surrogateescape")
    catalogued = {row[0] for row in db.execute("SELECT path FROM samples")}
    named = {str(path) for path in good if _utf8(path)}
    assert named <= catalogued
    # A name that is not UTF-8 cannot be stored or printed faithfully: the file is skipped
    # with one warning that says to rename it (README: file names).
    unnamed = [path for path in good if not _utf8(path)]
    assert unnamed
    warned = [w["path"] for w in report["warnings"] if "not valid UTF-8" in w["error"]]
    assert len(warned) >= len(unnamed)
    # Failures are one line each, in words, never a Python traceback.
    for failure in report["failures"]:
        assert failure["error"] and "\n" not in failure["error"]
        assert "Traceback" not in failure["error"]
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # Every worker stayed under its ceiling (resident peak, libraries included).
    assert 0 < peak_kb < CEILING_MB * 1024, f"a worker peaked at {peak_kb / 1024:.0f} MB"
    db.close()

    again, _ = _scan(library, home)
    assert again.returncode == 3  # the failed files are still there, still failed
    rescan = json.loads(again.stdout.decode("utf-8"))
    assert rescan["analysed"] == 0 and rescan["added"] == 0 and rescan["updated"] == 0
    assert rescan["unchanged"] == report["added"]


def test_declared_numbers_are_refused_in_words(tmp_path):
    """The reproducers of the review: each is refused before decoding, with a reason."""
    from samplemind.analysis import extract
    from samplemind.errors import DecodeError

    rng = random.Random(SEED)
    bases = _bases(tmp_path / "src", rng)
    wav = bytearray(bases["wav.wav"])
    fmt_at = wav.find(b"fmt ") + 8
    cases = {}
    for rate in (100_000_000, 2**31 - 1, 5):
        data = bytearray(wav)
        _set(data, fmt_at + 4, "<I", rate)
        cases[f"rate_{rate}.wav"] = (data, "sample rate")
    data = bytearray(wav)
    _set(data, fmt_at + 2, "<H", 64)
    cases["ch64.wav"] = (data, "64 audio channels")
    aiff = bytearray(bases["aiff.aiff"])
    comm = aiff.find(b"COMM") + 8
    for label, raw in (("nan", b"\x7f\xff\xc0" + bytes(7)), ("inf", b"\x7f\xff\x80" + bytes(7)),
                       ("huge", b"\x43\xe0\x80" + bytes(7))):
        data = bytearray(aiff)
        data[comm + 8:comm + 18] = raw
        cases[f"{label}.aiff"] = (data, "sample rate")
    flac = bytearray(bases["flac.flac"])
    packed = int.from_bytes(flac[18:26], "big")
    flac[18:26] = ((packed & ((1 << 44) - 1)) | (1 << 44)).to_bytes(8, "big")
    cases["rate1.flac"] = (flac, "sample rate of 1 Hz")
    for name, (data, words) in cases.items():
        path = tmp_path / name
        path.write_bytes(bytes(data))
        with pytest.raises(DecodeError) as caught:
            extract.analyse(str(path))
        message = str(caught.value)
        assert words in message and message.startswith("unsupported:"), (name, message)
        assert "argm" not in message and "shift" not in message


def _unknown_length(data: bytes) -> bytes:
    """A FLAC as encoders write it to a pipe: STREAMINFO's total sample count is 0."""
    flac = bytearray(data)
    packed = int.from_bytes(flac[18:26], "big") & ~((1 << 36) - 1)
    flac[18:26] = packed.to_bytes(8, "big")
    return bytes(flac)


def _id3_tagged(data: bytes) -> bytes:
    return b"ID3\x03\x00\x00" + bytes([0, 0, 2, 0]) + bytes(256) + data


@pytest.mark.parametrize("variant", ["declared", "unknown length", "id3 tag in front"])
def test_long_but_tiny_files_take_the_streaming_path(tmp_path, monkeypatch, variant):
    """20 minutes of stereo FLAC silence is 0.2 MB: chosen by its length, not by its size,
    also when the header does not state the length or an ID3 tag hides the header."""
    from samplemind.analysis import decode, extract, longfile

    path = tmp_path / "silence.flac"
    sf.write(path, np.zeros((20 * 60 * 8000, 2), dtype=np.float32), 8000, subtype="PCM_16")
    change = {"declared": bytes, "unknown length": _unknown_length, "id3 tag in front": _id3_tagged}
    path.write_bytes(change[variant](path.read_bytes()))
    assert path.stat().st_size < decode.SMALL_FILE_BYTES
    streamed = []
    real = longfile.analyse_long
    monkeypatch.setattr(longfile, "analyse_long",
                        lambda *args, **kw: streamed.append(1) or real(*args, **kw))
    record = extract.Extractor().analyse(str(path))
    assert streamed and math.isclose(record["duration"], 1200.0, rel_tol=1e-3)
    assert record["format"] == "flac" and record["channels"] == 2


def test_a_short_file_of_unknown_length_is_analysed_as_usual(tmp_path):
    from samplemind.analysis import extract

    t = np.arange(44100) / 44100
    hit = (0.6 * np.sin(2 * np.pi * 110 * t) * np.exp(-3 * t)).astype(np.float32)
    whole, unknown = tmp_path / "hit.flac", tmp_path / "hit_pipe.flac"
    sf.write(whole, hit, 44100)
    unknown.write_bytes(_unknown_length(whole.read_bytes()))
    a, b = extract.Extractor().analyse(str(whole)), extract.Extractor().analyse(str(unknown))
    for field in ("duration", "type", "note", "audio_hash", "loudness_lufs"):
        assert a[field] == b[field], field


def test_a_truncated_file_is_kept_and_says_so(tmp_path):
    from samplemind import Library
    from samplemind.errors import QueryError

    folder = tmp_path / "lib"
    folder.mkdir()
    audio = _tone(random.Random(1), 44100, 0.9, 1)
    sf.write(folder / "whole.wav", audio, 44100, subtype="PCM_16")
    data = (folder / "whole.wav").read_bytes()
    (folder / "cut.wav").write_bytes(data[: len(data) // 3])
    with Library(home=tmp_path / "home") as lib:
        lib.scan([folder])
        records = {Path(s.path).name: s.to_json() for s in lib.ls("")}
        assert records["whole.wav"]["warnings"] is None
        (warning,) = records["cut.wav"]["warnings"]
        assert warning.startswith("truncated: header declares 0.90 s, 0.3")
        damaged = [s.to_json()["name"] for s in lib.ls("warning:*")]
        assert damaged == [s.to_json()["name"] for s in lib.ls("warning:trunc*")]
        assert not list(lib.ls("warning:clipped"))
        with pytest.raises(QueryError, match=r"warning:\* = any damaged file"):
            list(lib.ls("warning:"))
        assert damaged == ["cut.wav"]
