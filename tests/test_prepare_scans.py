"""Library.prepare_scans (the server calls it at start-up) starts the process analysis
workers fork from, so the first file a team adds does not wait for Essentia's import; not
when a Dask cluster analyses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# In a fresh interpreter: the forkserver is one per process, and this one's may be running.
PROBE = """
import json, sys, time
import psutil
from samplemind import Library
library = Library(sys.argv[1], jobs=1)
before = [p.cmdline() for p in psutil.Process().children()]
library.prepare_scans()
deadline = time.monotonic() + 60
after = []
while time.monotonic() < deadline:
    after = [" ".join(p.cmdline()) for p in psutil.Process().children()]
    if any("forkserver" in line for line in after) or sys.argv[2] == "cluster":
        break
    time.sleep(0.1)
library.close()
print(json.dumps({"before": len(before), "after": after}))
"""


def _children(home: Path, env: dict[str, str], mode: str) -> dict[str, object]:
    result = subprocess.run([sys.executable, "-c", PROBE, str(home), mode], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_preparing_starts_the_workers_forkserver(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SAMPLEMIND_CLUSTER"}
    seen = _children(tmp_path / "home", env, "local")
    assert seen["before"] == 0
    assert any("forkserver" in line for line in seen["after"]), seen


def test_with_a_cluster_no_local_forkserver_is_started(tmp_path: Path) -> None:
    env = {**os.environ, "SAMPLEMIND_CLUSTER": "tcp://127.0.0.1:9"}  # never connected to
    seen = _children(tmp_path / "home", env, "cluster")
    assert not any("forkserver" in line for line in seen["after"]), seen
