"""Small helpers for scan and CLI tests: quick audio files and running the CLI."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from samplemind import synth

from audio_fixtures import write_audio

REPO = Path(__file__).resolve().parent.parent


def write_hit(path: Path, freq: float = 60.0, seconds: float = 0.4, sr: int = 44100,
              seed: int = 0) -> Path:
    """A decaying tone with a little noise: a cheap one-shot."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    audio = np.sin(2 * np.pi * freq * t) * np.exp(-t * 12) + 0.02 * rng.standard_normal(t.size)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (0.8 * audio / np.max(np.abs(audio))).astype(np.float32), sr)
    return path


def write_library(root: Path, count: int) -> list[Path]:
    """count distinct one-shots in two sub-folders."""
    return [write_hit(root / ("Kicks" if i % 2 else "Toms") / f"hit_{i:03d}.wav",
                      freq=50 + 7 * i, seed=i) for i in range(count)]


def run_cli(*args: str, home: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 300, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m samplemind ARGS` in a real process; returns the completed process."""
    environment = dict(os.environ)
    if home is not None:
        environment["SAMPLEMIND_HOME"] = str(home)
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "samplemind", *args], capture_output=True,
                          text=True, env=environment, timeout=timeout, input=input)


PACK_SR = 44100


def write_small_pack(root: Path) -> Path:
    """Four kicks (Kicks/Kick_00..03), four hats (Hats/hat_00..03) and a 120 BPM drum loop
    (Loops/beat_120bpm.wav) under root; returns root."""
    for folder in ("Kicks", "Hats", "Loops"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for i, pitch in enumerate((45, 50, 55, 60)):
        write_audio(root / "Kicks" / f"Kick_{i:02d}.wav",
                    synth.normalize(synth.kick(PACK_SR, pitch=pitch, rng=np.random.default_rng(i))),
                    PACK_SR)
    for i in range(4):
        write_audio(root / "Hats" / f"hat_{i:02d}.wav",
                    synth.normalize(synth.hihat(PACK_SR, rng=np.random.default_rng(10 + i))),
                    PACK_SR)
    write_audio(root / "Loops" / "beat_120bpm.wav",
                synth.normalize(synth.drum_loop(PACK_SR, 120, 2)), PACK_SR)
    return root


def ls_names(home: Path, query: str) -> list[str]:
    """The file names `samplemind ls QUERY` lists, in its order."""
    out = run_cli("ls", query, "-f", "json", home=home)
    assert out.returncode == 0, out.stderr
    return [row["name"] for row in json.loads(out.stdout)]


def wait_for_rows(catalog: Path, timeout: float = 120, at_least: int = 1) -> int:
    """Poll the catalog of a running scan until it has committed some samples."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if catalog.exists():
            try:
                with sqlite3.connect(catalog, timeout=5) as db:
                    rows = db.execute("SELECT count(*) FROM samples").fetchone()[0]
            except sqlite3.OperationalError:
                continue
            if rows >= at_least:
                return rows
    return rows if catalog.exists() else 0


def set_statistics(home: Path, state: str, stale_fraction: int = 5) -> None:
    """The planner's statistics: none, fresh (a full ANALYZE), or stale (those of a catalog
    with 1/stale_fraction of the samples, as after a first small scan and a bulk write)."""
    from samplemind import Library

    with Library(home) as library:
        conn = library.catalog.conn
        if state == "fresh":
            assert library.catalog.update_statistics(force=True)
            return
        conn.execute("ANALYZE")
        if state == "none":
            conn.execute("DROP TABLE sqlite_stat1")
            return
        rows = conn.execute("SELECT tbl, idx, stat FROM sqlite_stat1").fetchall()
        conn.execute("DELETE FROM sqlite_stat1")
        for table, index, stat in rows:
            numbers = stat.split()
            numbers[0] = str(max(1, int(numbers[0]) // stale_fraction))
            conn.execute("INSERT INTO sqlite_stat1 VALUES (?, ?, ?)",
                         (table, index, " ".join(numbers)))
