"""The Python API from a plain script: no `if __name__ == "__main__":` guard, or the script
read from stdin (`python - <<EOF`), still scans with the worker pool (issue 21)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers import write_library

SCRIPT = """\
import json
from samplemind import Library

library = Library({home!r}, jobs=2)
report = library.scan([{folder!r}])
print(json.dumps({{"added": report.added, "failed": report.failed,
                  "listed": len(list(library.ls()))}}))
library.close()
"""


def _run(args: list[str], tmp_path: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], input=stdin, capture_output=True, text=True,
                          cwd=tmp_path, timeout=600, env={**os.environ, "PYTHONPATH": str(
                              Path(__file__).resolve().parent.parent)})


def test_a_script_without_the_main_guard_scans(tmp_path: Path) -> None:
    write_library(tmp_path / "lib", 5)
    script = tmp_path / "no_guard.py"
    script.write_text(SCRIPT.format(home=str(tmp_path / "home"), folder=str(tmp_path / "lib")))
    result = _run([str(script)], tmp_path)
    assert result.returncode == 0, result.stderr
    # One line: the workers did not run the script again (that would scan and print twice).
    assert [json.loads(line) for line in result.stdout.splitlines()] == \
        [{"added": 5, "failed": 0, "listed": 5}]


def test_a_script_read_from_stdin_scans(tmp_path: Path) -> None:
    write_library(tmp_path / "lib", 4)
    result = _run(["-"], tmp_path, SCRIPT.format(home=str(tmp_path / "home"),
                                                  folder=str(tmp_path / "lib")))
    assert result.returncode == 0, result.stderr
    assert "<stdin>" not in result.stderr
    assert json.loads(result.stdout) == {"added": 4, "failed": 0, "listed": 4}
