"""Analysis on a Dask cluster: the same catalog as the local pool, failures that stay with
their file, versions checked before any work is sent, and a lost scheduler that ends the
scan cleanly. Real worker processes throughout (a LocalCluster, and `dask scheduler` /
`dask worker` processes for the lost scheduler)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import samplemind
from samplemind import Library
from samplemind.analysis.backends import CLUSTER_ENV, open_executor
from samplemind.analysis.cluster import DaskExecutor, start_local_cluster
from samplemind.analysis.worker import FAULT_ENV
from samplemind.cli import main
from samplemind.demo import write_demo_pack
from samplemind.errors import ClusterError, UsageError

from helpers import write_hit, write_library

pytestmark = pytest.mark.slow  # the whole module: `pytest -m "not slow"` leaves it out

# The cluster's workers (not this process, nor its local pool) meet these faults.
FAULTS = "abort:crash_me.wav,hang:stuck.wav,kill-owner:killer.wav"
VOLATILE = {"id", "analysed_at", "scanned_at"}
# How long to wait for Dask workers to (re)start: a ceiling, not an expectation (the wait ends
# as soon as they run); 60 s was once too little on a busy 2-core machine.
WORKERS_CEILING = 240  # under pytest-timeout's 300 s per test (pyproject)


@pytest.fixture(scope="module")
def cluster():
    """Three single-threaded worker processes under nannies (restarted when they die)."""
    import dask
    import distributed  # noqa: F401 - its config defaults must exist before they are changed

    # A task is tried on two workers that die before Dask gives up on it; its default
    # tries four (the same behaviour, with more waiting).
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        local = start_local_cluster(3, env={FAULT_ENV: FAULTS})
    yield local
    local.close()


@pytest.fixture(scope="module")
def demo_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("demo") / "pack"
    write_demo_pack(target)
    return target


def catalog_of(home: Path) -> dict[str, dict]:
    """Every record by path, without ids and timestamps, with the stored analysis."""
    with Library(home) as library:
        records = {sample.path: {key: value for key, value in sample.to_json().items()
                                 if key not in VOLATILE} for sample in library.ls()}
        for path, vector, peaks, analysis in library.catalog.query(
                "SELECT path, vector, peaks, analysis FROM samples"):
            records[path].update(vector=vector, peaks=peaks, analysis=analysis)
    return records


def test_a_cluster_scan_catalogs_the_same_as_the_local_pool(cluster, demo_pack: Path,
                                                            tmp_path: Path) -> None:
    with Library(tmp_path / "local", jobs=2) as library:
        local_report = library.scan([demo_pack])
    seen: list[tuple[int, int, str]] = []
    with open_executor(2, 30, cluster=cluster.scheduler_address) as executor, \
            Library(tmp_path / "cluster") as library:
        report = library.scan([demo_pack], executor=executor,
                              progress=lambda done, total, path, phase: seen.append(
                                  (done, total, phase)))
    assert (report.added, report.analysed, report.failed) == \
        (local_report.added, local_report.analysed, 0)
    analysing = [(done, total) for done, total, phase in seen if phase == "analysing"]
    assert [done for done, _ in analysing] == list(range(1, report.added + 1))
    assert analysing[-1] == (report.added, report.added)
    local, remote = catalog_of(tmp_path / "local"), catalog_of(tmp_path / "cluster")
    assert sorted(remote) == sorted(local) and len(local) == report.added
    for path, record in local.items():
        for field, value in record.items():
            assert remote[path][field] == value, (path, field)


def test_path_maps_and_shipped_bytes_give_the_same_records(cluster, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    write_library(lib, 5)
    mirror = tmp_path / "mount"  # where "the workers" see the same files
    mirror.symlink_to(lib)
    with Library(tmp_path / "local", jobs=1) as library:
        library.scan([lib])
    notes: list[str] = []
    with open_executor(1, 30, cluster=cluster.scheduler_address,
                       path_map=[f"{lib}={mirror}"]) as executor, \
            Library(tmp_path / "mapped") as library:
        assert executor.remote_path(str(lib / "Kicks" / "a.wav")) == str(mirror / "Kicks" / "a.wav")
        assert library.scan([lib], executor=executor).added == 5
    # Workers that do not see the files (a map to nowhere) are sent their contents.
    with DaskExecutor(cluster.scheduler_address, 30, path_map=[(str(lib), "/nowhere")],
                      notify=notes.append) as executor, Library(tmp_path / "auto") as library:
        assert library.scan([lib], executor=executor).added == 5
        assert executor.ship
    assert any("do not see the files" in note for note in notes)
    with open_executor(1, 30, cluster=cluster.scheduler_address, ship_bytes=True) as executor, \
            Library(tmp_path / "shipped") as library:
        assert library.scan([lib], executor=executor).added == 5
    expected = catalog_of(tmp_path / "local")
    for name in ("mapped", "auto", "shipped"):
        assert catalog_of(tmp_path / name) == expected, name


def test_a_wrong_path_map_is_refused_before_analysis(cluster, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    write_library(tmp_path / "lib", 2)
    with open_executor(1, 30, cluster=cluster.scheduler_address,
                       path_map=[f"{tmp_path / 'lib'}=/nowhere"]) as executor, \
            Library(tmp_path / "home") as library:
        # In the core's words (a scan started by the server or watch has no options) ...
        with pytest.raises(ClusterError, match=r"does not see /nowhere/.*\(mapped from .* by a "
                           r"path map\): check the mapping, or use the ship-bytes setting$"):
            library.scan([tmp_path / "lib"], executor=executor)
        assert library.catalog.count() == 0 and library.failures() == []
    # ... and in the command's.
    code = main(["--home", str(tmp_path / "home"), "scan", str(tmp_path / "lib"), "--cluster",
                 cluster.scheduler_address, "--path-map", f"{tmp_path / 'lib'}=/nowhere"])
    assert code == 4
    assert "by --path-map): check the mapping, or use --ship-bytes" in capsys.readouterr().err


@pytest.mark.parametrize(("arguments", "core", "cli"), [
    (["--path-map", "nowhere"], "bad entry 'nowhere' in a path map: use LOCAL=REMOTE",
     "bad entry 'nowhere' in --path-map: use LOCAL=REMOTE"),
    (["--cluster", "local:0"], "bad cluster address 'local:0': use tcp://HOST:8786",
     "bad --cluster 'local:0': use tcp://HOST:8786"),
])
def test_bad_cluster_settings_are_named_by_the_caller(
        arguments: list[str], core: str, cli: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    write_library(tmp_path / "lib", 1)
    settings = dict(zip(arguments[::2], arguments[1::2]))
    cluster = settings.get("--cluster", "local:1")
    monkeypatch.setenv(CLUSTER_ENV, cluster)  # the settings a server or watch would scan with
    with pytest.raises(UsageError) as refused:
        open_executor(1, 30, path_map=[settings["--path-map"]] if "--path-map" in settings else None)
    assert str(refused.value).startswith(core) and "--" not in str(refused.value)
    monkeypatch.delenv(CLUSTER_ENV)
    code = main(["--home", str(tmp_path / "home"), "scan", str(tmp_path / "lib"),
                 *(arguments if "--cluster" in settings else ["--cluster", cluster, *arguments])])
    assert code == 2
    assert cli in capsys.readouterr().err


def test_the_clusters_per_file_texts_name_the_options_on_the_command_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    from samplemind.analysis.backends import SETTING_WORDS
    from samplemind.analysis.cluster import shipping_notice, unseen_file
    from samplemind.commands.common import in_options
    from samplemind.commands.scan import CLUSTER_OPTIONS, print_scan_summary
    from samplemind.models import FileFailure, ScanReport

    failure = unseen_file("tcp://10.0.0.2:40000", "/mnt/s/a.wav")
    notice = shipping_notice(1, 2)
    assert "--" not in failure and "--" not in notice  # kept in the catalog, seen by the web UI

    def say(text: str) -> str:
        return in_options(text, SETTING_WORDS, CLUSTER_OPTIONS)

    print_scan_summary(ScanReport(seen=1, failed=1, failures=[FileFailure("/s/a.wav", failure)]),
                       say)
    assert "(use --path-map LOCAL=REMOTE, or --ship-bytes)" in capsys.readouterr().err
    assert say(notice).endswith("(use --path-map LOCAL=REMOTE if they mount them elsewhere)")


def test_a_crash_and_a_hang_fail_only_their_files(cluster, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    lib = tmp_path / "lib"
    write_library(lib, 8)
    write_hit(lib / "Odd" / "crash_me.wav", freq=350, seed=50)
    write_hit(lib / "Odd" / "stuck.wav", freq=351, seed=51)
    # SAMPLEMIND_CLUSTER alone sends a scan to the cluster (so do the server's scan jobs);
    # only the cluster's workers know the faults, so these failures prove where it ran.
    monkeypatch.setenv(CLUSTER_ENV, cluster.scheduler_address)
    with Library(tmp_path / "home", timeout=3) as library:
        report = library.scan([lib])
    failed = {Path(failure.path).name: failure.error for failure in report.failures}
    assert (report.added, report.failed) == (8, 2), failed
    assert "the analysis worker crashed (SIGABRT) on this file" in failed["crash_me.wav"]
    assert "timed out after 3 s" in failed["stuck.wav"]


def test_a_file_that_kills_its_dask_worker_fails_alone(cluster, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    write_library(lib, 8)
    write_hit(lib / "Odd" / "killer.wav", freq=352, seed=52)
    with open_executor(2, 30, cluster=cluster.scheduler_address) as executor, \
            Library(tmp_path / "home") as library:
        report = library.scan([lib], executor=executor)
    assert (report.added, report.failed) == (8, 1), report.failures
    assert report.failures[0].path.endswith("killer.wav")
    assert "Dask workers analysing this file died (tried on 4 workers)" in report.failures[0].error


def worker_pids(cluster) -> list[int]:
    """The worker processes' ids, once all three run (earlier tests killed some)."""
    from distributed import Client

    with Client(cluster.scheduler_address, set_as_default=False) as client:
        client.wait_for_workers(3, timeout=WORKERS_CEILING)
        return sorted(client.run(os.getpid).values())


def test_a_worker_killed_mid_scan_loses_no_file(cluster, demo_pack: Path, tmp_path: Path) -> None:
    victim = worker_pids(cluster)[0]
    killed: list[int] = []

    def progress(done: int, total: int, path: str, phase: str) -> None:
        if phase == "analysing" and not killed:
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    with open_executor(2, 30, cluster=cluster.scheduler_address) as executor, \
            Library(tmp_path / "home") as library:
        report = library.scan([demo_pack], executor=executor, progress=progress)
    assert killed and report.failed == 0
    assert report.added == library_size(demo_pack)


def library_size(folder: Path) -> int:
    from samplemind.scanner import walk

    return sum(1 for _ in walk(str(folder)))


def test_other_versions_on_the_workers_are_refused_before_any_work(
        cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    write_library(tmp_path / "lib", 2)
    assert len(worker_pids(cluster)) == 3
    # This process now claims another release than the one the real workers report.
    monkeypatch.setattr(samplemind, "__version__", "9.9.9")
    with pytest.raises(ClusterError, match=r"3 of 3 Dask workers .* run other versions"):
        open_executor(1, 30, cluster=cluster.scheduler_address)
    code = main(["--home", str(tmp_path / "home"), "scan", str(tmp_path / "lib"),
                 "--cluster", cluster.scheduler_address])
    err = capsys.readouterr().err
    assert code == 4
    assert "samplemind 0.1.0 (here 9.9.9)" in err and "nothing was sent" in err
    with Library(tmp_path / "home") as library:
        assert library.catalog.count() == 0 and library.cache_stats()["entries"] == 0


def test_cluster_options_need_a_cluster(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_library(tmp_path / "lib", 1)
    assert main(["scan", str(tmp_path / "lib"), "--ship-bytes"]) == 2
    assert "need --cluster" in capsys.readouterr().err


# -- a lost scheduler: real `dask scheduler` and `dask worker` processes ------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def scheduler_and_worker(tmp_path: Path):
    dask_cli = shutil.which("dask", path=os.path.dirname(sys.executable)) or "dask"
    address = f"tcp://127.0.0.1:{_free_port()}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": tmp_path}
    scheduler = subprocess.Popen([dask_cli, "scheduler", "--host", "127.0.0.1", "--port",
                                  address.rsplit(":", 1)[1], "--no-dashboard"], **quiet)
    worker = subprocess.Popen([dask_cli, "worker", address, "--nthreads", "1", "--no-dashboard",
                               "--no-nanny"], **quiet)
    try:
        yield address, scheduler
    finally:
        for process in (worker, scheduler):  # its analysis processes die with the worker
            process.kill()
            process.wait()


def test_a_lost_scheduler_ends_the_scan_keeping_finished_work(
        scheduler_and_worker, demo_pack: Path, tmp_path: Path) -> None:
    address, scheduler = scheduler_and_worker
    total = library_size(demo_pack)

    def kill_the_scheduler(done: int, total: int, path: str, phase: str) -> None:
        if phase == "analysing" and scheduler.poll() is None:
            scheduler.kill()
            scheduler.wait()

    deadline = time.monotonic() + WORKERS_CEILING
    while True:  # the worker process may still be starting
        try:
            executor = open_executor(1, 30, cluster=address)
            break
        except ClusterError:
            if time.monotonic() > deadline:
                raise
    with executor, Library(tmp_path / "home") as library:
        with pytest.raises(ClusterError, match="lost the connection to the Dask scheduler"):
            library.scan([demo_pack], executor=executor, progress=kill_the_scheduler)
        kept = library.catalog.count()
        assert 0 < kept < total and library.failures() == []
    # The next scan (here on the local pool) analyses only what was left.
    with Library(tmp_path / "home", jobs=2) as library:
        report = library.scan([demo_pack])
        assert (report.unchanged, report.added, report.failed) == (kept, total - kept, 0)
        assert library.catalog.count() == total
