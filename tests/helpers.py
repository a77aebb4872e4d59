"""Small helpers for scan and CLI tests: quick audio files and running the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

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
