"""SIGTERM during a scan is handled like Ctrl-C (issue 21): the work so far is kept and the
scan resumes, exit 143 (130 for Ctrl-C) with the same message, no leaked semaphores, and
`scan --format json` still prints its report, with interrupted: true."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import run_cli, wait_for_rows, write_library

MESSAGE = "Scan interrupted: what was analysed is kept; scan again to resume."


@pytest.mark.parametrize("signum, to_group, fmt, code", [
    # `kill PID`: a CLI scan in a process of its own; the quick run keeps the API's SIGTERM
    # (test_library_scan_raises_scan_interrupted_with_its_report below)
    pytest.param(signal.SIGTERM, False, "json", 143, marks=pytest.mark.slow),
    pytest.param(signal.SIGTERM, True, "jsonl", 143,  # a service manager stopping the group
                 marks=pytest.mark.slow),
    pytest.param(signal.SIGINT, True, "json", 130, marks=pytest.mark.slow),  # Ctrl-C
])
def test_a_signal_keeps_the_work_and_the_report(samplemind_home: Path, tmp_path: Path,
                                                signum: int, to_group: bool, fmt: str,
                                                code: int) -> None:
    write_library(tmp_path / "lib", 40)
    env = dict(os.environ, SAMPLEMIND_HOME=str(samplemind_home),
               SAMPLEMIND_FAULT_INJECT="hang:hit_039.wav")  # its batch (the 2nd) never finishes
    process = subprocess.Popen([sys.executable, "-m", "samplemind", "scan", "-j", "1",
                                "--format", fmt, str(tmp_path / "lib")], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        # The first batch of 16 is committed; the one worker is stuck in the second.
        assert wait_for_rows(samplemind_home / "library.db", timeout=300, at_least=16) >= 16
        if to_group:
            os.killpg(process.pid, signum)
        else:
            os.kill(process.pid, signum)
        stdout, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == code, stderr
    assert MESSAGE in stderr and "leaked" not in stderr and "Traceback" not in stderr
    report = json.loads(stdout)  # one JSON document (jsonl: one line)
    assert report["interrupted"] is True and report["failed"] == 0 and report["seen"] == 40
    with sqlite3.connect(samplemind_home / "library.db") as db:
        rows = db.execute("SELECT count(*) FROM samples").fetchone()[0]
        failures = db.execute("SELECT count(*) FROM failures").fetchone()[0]
    assert rows == report["added"] >= 16  # what the report counts is in the catalog
    assert failures == 0  # the interrupted files are not remembered as failed
    resumed = run_cli("scan", "--format", "json", str(tmp_path / "lib"), home=samplemind_home)
    assert resumed.returncode == 0, resumed.stderr
    again = json.loads(resumed.stdout)
    assert again["interrupted"] is False
    assert again["unchanged"] == rows and again["added"] == 40 - rows


def test_library_scan_raises_scan_interrupted_with_its_report(tmp_path: Path) -> None:
    """The API: SIGTERM stops Library.scan with ScanInterrupted (a KeyboardInterrupt) that
    carries the report, in a script of its own."""
    write_library(tmp_path / "lib", 40)
    script = tmp_path / "scan.py"
    script.write_text(f"""\
import json, signal
from samplemind import Library
from samplemind.scan import ScanInterrupted

library = Library({str(tmp_path / 'home')!r}, jobs=1)
try:
    library.scan([{str(tmp_path / 'lib')!r}])
except ScanInterrupted as stopped:
    print(json.dumps({{"signal": stopped.signum == signal.SIGTERM,
                      "keyboard": isinstance(stopped, KeyboardInterrupt),
                      "report": stopped.report.to_json()}}))
""")
    env = dict(os.environ, SAMPLEMIND_FAULT_INJECT="hang:hit_039.wav",
               PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    process = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    try:
        assert wait_for_rows(tmp_path / "home" / "library.db", timeout=300, at_least=16) >= 16
        os.kill(process.pid, signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0 and "leaked" not in stderr, stderr
    caught = json.loads(stdout)
    assert caught["signal"] and caught["keyboard"]
    assert caught["report"]["interrupted"] is True and caught["report"]["added"] >= 16
