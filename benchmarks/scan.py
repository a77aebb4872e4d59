"""Scan speed and memory: `python benchmarks/scan.py` (one command, prints every figure).

Generates a library (2,000 one-shots + 100 loops by default, mixed formats) and prints,
as medians of several runs, with the same worker count throughout:
  - cold scan: files/s and audio-seconds/s (fresh catalog and cache each run)
  - baseline 1, decode only (the floor): every file decoded by the same decoder the
    scan uses, through a process pool of the same size
  - baseline 2, a librosa pipeline computing the same kinds of features (loudness,
    spectral shape, MFCC, pitch, chroma key, tempo of loops): what a user would write
  - warm rescan of 10,000 unchanged files (in-process and as the `samplemind scan` CLI)
  - peak RSS while a 40-minute file is analysed
Targets on 2 cores: cold <= 4x decode-only; >= 5x faster than librosa; warm rescan of
10,000 files < 2 s; peak RSS < 1 GB on the 40-minute file.

With --cluster ADDRESS (a running scheduler, tcp://HOST:8786) or --cluster local:N (a
LocalCluster of N single-threaded workers started here, once, before any timing, as a
running cluster would be), the cold scan is also measured on the cluster, interleaved
with the local runs, and the ratio of the two throughputs is printed (target on 2 cores
with local:2: >= 0.85, i.e. within 15% of the local pool).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from samplemind import Library  # noqa: E402
from samplemind.config import default_jobs  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
FORMATS = ("wav", "wav", "flac", "aiff", "mp3", "ogg")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ensure_library(target: Path, oneshots: int, loops: int) -> list[Path]:
    """Generate the benchmark library once; reuse it when it is already there."""
    from samplemind.demo import write_library

    marker = target / f".bench-{oneshots}-{loops}"
    if not marker.exists():
        shutil.rmtree(target, ignore_errors=True)
        log(f"generating {oneshots} one-shots + {loops} loops in {target} ...")
        write_library(target, oneshots, loops, seed=1, formats=FORMATS)
        marker.write_text("ok")
    from samplemind.scanner import walk

    return [Path(entry.path) for entry in walk(str(target))]


# -- baselines, run in a pool of the same size ---------------------------------------------

_loader = None


def _init_quiet() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)


def decode_only(path: str) -> float:
    """Decode with Essentia's AudioLoader (the scan's decoder), reusing one instance."""
    global _loader
    import essentia.standard as es

    if _loader is None:
        _loader = es.AudioLoader(filename=path)
    else:
        _loader.configure(filename=path)
    audio, sr, *_ = _loader()
    return len(audio) / sr


def librosa_pipeline(path: str) -> float:
    """What a user would write with librosa for the same kinds of features."""
    import librosa

    y, sr = librosa.load(path, sr=None, mono=True)
    duration = len(y) / sr
    rms = librosa.feature.rms(y=y)
    _ = 20 * np.log10(np.maximum(rms.mean(), 1e-9)), float(np.max(np.abs(y)))
    librosa.feature.mfcc(y=y, sr=sr, n_mfcc=13)
    librosa.feature.spectral_centroid(y=y, sr=sr)
    librosa.feature.spectral_flatness(y=y)
    librosa.feature.spectral_rolloff(y=y, sr=sr)
    librosa.feature.spectral_bandwidth(y=y, sr=sr)
    librosa.feature.zero_crossing_rate(y)
    librosa.onset.onset_detect(y=y, sr=sr)
    if duration > 1.5:  # loops: tempo and key
        librosa.feature.tempo(y=y, sr=sr)
        # tuning=0: librosa's tuning estimate segfaults in numba on this machine
        chroma = librosa.feature.chroma_stft(y=y, sr=sr, tuning=0.0).mean(axis=1)
        major = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
        minor = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
        [np.corrcoef(np.roll(p, k), chroma)[0, 1] for p in (major, minor) for k in range(12)]
    else:  # one-shots: pitch
        frame = 1 << int(np.ceil(np.log2(2.2 * sr / 30)))  # long enough for 30 Hz at any rate
        librosa.yin(y, fmin=30, fmax=2000, sr=sr, frame_length=frame)
    return duration


def run_pool(function, paths: list[Path], jobs: int) -> tuple[float, float]:
    """Seconds to map function over paths in a fresh pool (start-up included), audio seconds.

    Pebble, like the scan: a worker that crashes costs its file, not the whole run.
    """
    from pebble import ProcessPool

    context = multiprocessing.get_context("forkserver")
    started = time.perf_counter()
    durations = []
    with ProcessPool(max_workers=jobs, initializer=_init_quiet, context=context) as pool:
        results = pool.map(function, [str(p) for p in paths], chunksize=8).result()
        while True:
            try:
                durations.append(next(results))
            except StopIteration:
                break
            except Exception as error:  # noqa: BLE001 - a baseline's crash is reported, not fatal
                log(f"  {function.__name__}: a file failed: {type(error).__name__}")
    return time.perf_counter() - started, float(sum(durations))


# -- samplemind -------------------------------------------------------------------------------


def cold_scan(library_dir: Path, jobs: int, cluster: str | None = None) -> tuple[float, float, int]:
    """One cold scan with a fresh catalog and cache: seconds, audio seconds, failures.
    With cluster, on that Dask cluster (connecting and the version check included)."""
    from samplemind.analysis.backends import open_executor
    from samplemind.config import DEFAULT_TIMEOUT

    with tempfile.TemporaryDirectory(prefix="sm-bench-") as home:
        with Library(home, jobs=jobs) as library:
            started = time.perf_counter()
            if cluster:
                with open_executor(jobs, DEFAULT_TIMEOUT, cluster=cluster) as executor:
                    report = library.scan([library_dir], executor=executor)
            else:
                report = library.scan([library_dir])
            seconds = time.perf_counter() - started
    return seconds, report.audio_seconds, report.failed


def start_cluster(spec: str) -> tuple[object | None, str, str]:
    """(the LocalCluster started for local:N or None, the scheduler address, a description)."""
    if not spec.startswith("local"):
        return None, spec, f"the Dask cluster at {spec}"
    from samplemind.analysis.cluster import start_local_cluster

    workers = int(spec.partition(":")[2] or default_jobs())
    started = time.perf_counter()
    # Started here, the nannies would leave Dask's worker environment in this process, and
    # the local runs would inherit it (MALLOC_TRIM_THRESHOLD_: twice as slow): they don't.
    cluster = start_local_cluster(workers)
    seconds = time.perf_counter() - started
    return cluster, cluster.scheduler_address, (f"LocalCluster, {workers} workers x 1 thread, "
                                                f"started once in {seconds:.1f} s")


def warm_up_cluster(address: str, library_dir: Path, jobs: int) -> None:
    """One small untimed scan, so each worker has started its analysis processes (as after
    the first scan on a long-running cluster)."""
    from samplemind.analysis.backends import open_executor
    from samplemind.config import DEFAULT_TIMEOUT
    from samplemind.scanner import walk

    paths = [entry.path for entry in walk(str(library_dir))][:32]
    with tempfile.TemporaryDirectory(prefix="sm-bench-warm-") as home, \
            open_executor(jobs, DEFAULT_TIMEOUT, cluster=address) as executor, \
            Library(home) as library:
        library.scan(paths, executor=executor)


def measure_in_fresh_process(kind: str, library_dir: Path, jobs: int,
                             cluster: str | None = None) -> dict:
    """Run one measurement in a new interpreter, so each pays its own start-up
    (imports, worker pool or cluster connection) and none inherits another's warm workers."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, __file__, "--measure", kind, "--library",
                             str(library_dir), "--jobs", str(jobs),
                             *(["--cluster", cluster] if cluster else [])],
                            capture_output=True, text=True, check=True)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["wall"] = time.perf_counter() - started  # includes interpreter start-up
    return figures


def measure(kind: str, library_dir: Path, jobs: int, cluster: str | None = None) -> None:
    """The child side of measure_in_fresh_process: print one JSON line of figures."""
    from samplemind.scanner import walk

    started = time.perf_counter()
    if kind == "cold":
        seconds, audio_seconds, failed = cold_scan(library_dir, jobs, cluster)
        figures = {"seconds": seconds, "audio_seconds": audio_seconds, "failed": failed}
    else:
        paths = [Path(entry.path) for entry in walk(str(library_dir))]
        function = decode_only if kind == "decode" else librosa_pipeline
        seconds, audio_seconds = run_pool(function, paths, jobs)
        figures = {"seconds": seconds, "audio_seconds": audio_seconds, "failed": 0}
    figures["process"] = time.perf_counter() - started
    print(json.dumps(figures))


def warm_rescan(library_dir: Path, target_files: int, jobs: int) -> tuple[list[float], list[float]]:
    """Rescans of target_files unchanged files: in-process and through the CLI."""
    big = OUT / f"warm-{target_files}"
    sources = sorted(p for p in library_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not (big / ".done").exists():
        shutil.rmtree(big, ignore_errors=True)
        log(f"linking {target_files} files for the warm rescan ...")
        for index in range(target_files):
            source = sources[index % len(sources)]
            dest = big / f"copy{index // len(sources)}" / source.relative_to(library_dir)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)  # same bytes: analysed once, cache hits after
        (big / ".done").write_text("ok")
    home = OUT / "warm-home"
    shutil.rmtree(home, ignore_errors=True)
    with Library(home, jobs=jobs) as library:
        report = library.scan([big])
        log(f"  warm setup scan: {report.seen} files, {report.analysed} analysed")
    in_process, cli = [], []
    for _ in range(5):
        with Library(home, jobs=jobs) as library:
            started = time.perf_counter()
            report = library.scan([big])
            in_process.append(time.perf_counter() - started)
            assert report.unchanged == target_files and report.analysed == 0, report
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "samplemind", "scan", str(big)], check=True,
                       env=dict(os.environ, SAMPLEMIND_HOME=str(home)),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cli.append(time.perf_counter() - started)
    return in_process, cli


def tree_peak_rss_mb(root: int) -> float:
    """Largest peak RSS (VmHWM) among a process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parent = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    peak, stack = 0.0, [root]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/status") as handle:
                for line in handle:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]) / 1024)
        except OSError:
            continue
    return peak


def long_file_rss(minutes: float) -> tuple[float, float]:
    """Peak RSS (MB) of analysing one long file: the worker alone, and a whole CLI scan."""
    import soundfile as sf

    folder = OUT / "long"
    path = folder / f"long_{minutes:g}min.wav"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        log(f"writing a {minutes:g}-minute stereo file ...")
        sr = 44100
        rng = np.random.default_rng(0)
        with sf.SoundFile(path, "w", sr, 2, "PCM_16") as handle:
            block = sr * 10
            t = np.arange(block) / sr
            for start in range(0, int(minutes * 60 * sr), block):
                tone = 0.3 * np.sin(2 * np.pi * 220 * (t + start / sr))
                noise = 0.05 * rng.standard_normal(block)
                handle.write(np.stack([tone + noise, tone - noise], axis=1).astype(np.float32))
    code = ("import sys; from samplemind.analysis.worker import analyse_file; "
            "analyse_file(sys.argv[1])")
    worker = subprocess.Popen([sys.executable, "-c", code, str(path)])
    _, status, usage = os.wait4(worker.pid, 0)
    assert status == 0, "analysis of the long file failed"
    worker_mb = usage.ru_maxrss / 1024
    with tempfile.TemporaryDirectory(prefix="sm-bench-long-") as home:
        scan = subprocess.Popen([sys.executable, "-m", "samplemind", "scan", "-j", "1", str(folder)],
                                env=dict(os.environ, SAMPLEMIND_HOME=home),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        scan_mb = 0.0
        while scan.poll() is None:  # the workers are grandchildren: watch the whole tree
            scan_mb = max(scan_mb, tree_peak_rss_mb(scan.pid))
            time.sleep(0.05)
    return worker_mb, scan_mb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--oneshots", type=int, default=2000)
    parser.add_argument("--loops", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3, help="runs per median")
    parser.add_argument("--jobs", type=int, default=default_jobs())
    parser.add_argument("--library", type=Path, help="scan this folder instead of generating")
    parser.add_argument("--warm-files", type=int, default=10_000)
    parser.add_argument("--long-minutes", type=float, default=40.0)
    parser.add_argument("--skip-librosa", action="store_true")
    parser.add_argument("--cluster", metavar="ADDRESS",
                        help="also measure the cold scan on a Dask cluster: tcp://HOST:8786, or "
                             "local:N to start a LocalCluster of N workers here")
    parser.add_argument("--measure", choices=("cold", "decode", "librosa"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure, args.library, args.jobs, args.cluster)
        return
    OUT.mkdir(exist_ok=True)
    library_dir = args.library or OUT / "library"
    paths = (ensure_library(library_dir, args.oneshots, args.loops) if not args.library
             else [Path(e.path) for e in __import__("samplemind.scanner").scanner.walk(str(library_dir))])
    n = len(paths)
    size_mb = sum(p.stat().st_size for p in paths) / 1e6
    print(f"library: {n} files, {size_mb:.0f} MB, jobs={args.jobs}, runs={args.runs}")

    cluster, address, described = (start_cluster(args.cluster) if args.cluster
                                    else (None, None, ""))
    if address:
        log(f"cluster: {described}; warming its workers up ...")
        warm_up_cluster(address, library_dir, args.jobs)
    cold, decode, on_cluster = [], [], []
    audio_seconds = 0.0
    for run in range(args.runs):
        scan_figures = measure_in_fresh_process("cold", library_dir, args.jobs)
        decode_figures = measure_in_fresh_process("decode", library_dir, args.jobs)
        cold.append(scan_figures["wall"])
        decode.append(decode_figures["wall"])
        audio_seconds = scan_figures["audio_seconds"]
        log(f"  run {run + 1}: cold scan {cold[-1]:.2f} s ({scan_figures['failed']} failed; "
            f"{scan_figures['seconds']:.2f} s inside Library.scan), decode {decode[-1]:.2f} s")
        if address:
            cluster_figures = measure_in_fresh_process("cold", library_dir, args.jobs, address)
            on_cluster.append(cluster_figures["wall"])
            log(f"  run {run + 1}: cold scan on the cluster {on_cluster[-1]:.2f} s "
                f"({cluster_figures['failed']} failed; {cluster_figures['seconds']:.2f} s inside "
                "Library.scan)")
    cold_s, decode_s = statistics.median(cold), statistics.median(decode)
    print("(each figure: wall time of a fresh process, start-up and worker pool included)")
    print(f"cold scan        : median {cold_s:6.2f} s  {n / cold_s:7.0f} files/s  "
          f"{audio_seconds / cold_s:7.0f} audio-s/s")
    if address:
        cluster_s = statistics.median(on_cluster)
        print(f"cold scan cluster: median {cluster_s:6.2f} s  {n / cluster_s:7.0f} files/s  "
              f"{audio_seconds / cluster_s:7.0f} audio-s/s  ({described}; connecting included)")
        print(f"  ratio cluster/local throughput = {cold_s / cluster_s:.2f}x   (target >= 0.85x)")
        if cluster is not None:
            cluster.close()
    print(f"decode only      : median {decode_s:6.2f} s  {n / decode_s:7.0f} files/s")
    print(f"  ratio cold/decode = {cold_s / decode_s:.2f}x   (target <= 4x)")
    if not args.skip_librosa:
        librosa_s = measure_in_fresh_process("librosa", library_dir, args.jobs)["wall"]
        print(f"librosa pipeline : {librosa_s:6.2f} s  {n / librosa_s:7.0f} files/s  (one run)")
        print(f"  speed-up over librosa = {librosa_s / cold_s:.1f}x   (target >= 5x)")
    if args.warm_files:
        in_process, cli = warm_rescan(library_dir, args.warm_files, args.jobs)
        print(f"warm rescan      : {args.warm_files} unchanged files: median "
              f"{statistics.median(in_process):.2f} s in-process, {statistics.median(cli):.2f} s "
              f"as the CLI ({args.warm_files / statistics.median(cli):.0f} files/s)  (target < 2 s)")
    if args.long_minutes:
        worker_mb, scan_mb = long_file_rss(args.long_minutes)
        print(f"peak RSS         : {args.long_minutes:g}-minute file: worker {worker_mb:.0f} MB, "
              f"largest process of a whole CLI scan {scan_mb:.0f} MB  (target < 1024 MB)")


if __name__ == "__main__":
    main()
