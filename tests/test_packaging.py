"""The distributions: the sdist holds what its tests need and they run from it; the wheel holds the
package data, py.typed, the licence files, the man page and the completions; the build warns about
nothing in our configuration. Built offline, without build isolation (build and setuptools are
in the test extras)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from samplemind import __version__, clidocs

ROOT = Path(__file__).resolve().parent.parent
NAME = f"samplemind-{__version__}"
CEILING = 600  # seconds: a bound on a build or a test run, never a speed check
# What setuptools prints about our environment rather than our configuration: byte-compiling off
# (PYTHONDONTWRITEBYTECODE), and MANIFEST.in's exclusion of *.pyc finding none in a clean tree.
HARMLESS = re.compile(r"byte-compiling is disabled|no previously-included files matching '\*\.py\[cod\]'")

def _source_files() -> list[str]:
    """The project's files, relative to ROOT: git's list in a checkout, else what is on disk."""
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode == 0 and listed.stdout.strip():
        return [name for name in listed.stdout.splitlines() if (ROOT / name).is_file()]
    return [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file()
            and not any(part in {".venv", "build", "dist", "__pycache__"} or part.endswith(".egg-info")
                        for part in p.relative_to(ROOT).parts)]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | str]:
    """An sdist and a wheel built from a copy of the project (the wheel from the sdist, as pip
    and python -m build do), and what the build printed."""
    base = tmp_path_factory.mktemp("packaging")
    source = base / "source"
    # The project's own files only: a working tree may hold data of its own (fetched
    # evaluation sets, broken links in them) that neither git nor the sdist knows.
    for relative in _source_files():
        target = source / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, target)
    result = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir",
                             str(base / "dist"), str(source)],
                            capture_output=True, text=True, timeout=CEILING)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return {"sdist": base / "dist" / f"{NAME}.tar.gz",
            "wheel": base / "dist" / f"{NAME}-py3-none-any.whl",
            "log": result.stdout + result.stderr, "base": base}


@pytest.mark.slow
def test_the_build_warns_about_nothing_in_our_configuration(built) -> None:
    warnings = [line for line in built["log"].splitlines()
                if re.search(r"warn|deprecat", line, re.I) and not HARMLESS.search(line)]
    assert not warnings, "\n".join(warnings)


@pytest.mark.slow
def test_the_sdist_holds_the_whole_project(built) -> None:
    with tarfile.open(built["sdist"]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
        metadata = sdist.extractfile(f"{NAME}/PKG-INFO").read().decode()
    wanted = [name for name in _source_files()
              if name.split("/")[0] in {"samplemind", "tests", "scripts", "benchmarks", "completions", "man"}
              or name in {"LICENSE", "README.md", "CHANGELOG.md", "ARCHITECTURE.md", "pyproject.toml",
                          "MANIFEST.in"}]
    assert {"tests/conftest.py", "tests/helpers.py", "tests/audio_fixtures.py",
            "tests/server_fixtures.py", "LICENSE", "samplemind/NOTICE"} <= set(wanted)
    missing = sorted(set(wanted) - names)
    assert not missing, f"not in the sdist: {missing}"
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    assert "License-Expression: MIT" in metadata


@pytest.mark.slow
def test_the_wheel_holds_package_data_types_licences_man_page_and_completions(built) -> None:
    with zipfile.ZipFile(built["wheel"]) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read(f"{NAME}.dist-info/METADATA").decode()
        data = {relative: wheel.read(f"{NAME}.data/data/{installed}").decode()
                for relative, installed in [
                    (clidocs.MAN_FILE, "share/man/man1/samplemind.1"),
                    (clidocs.BASH_FILE, "share/bash-completion/completions/samplemind.bash"),
                    (clidocs.ZSH_FILE, "share/zsh/site-functions/_samplemind"),
                    (clidocs.FISH_FILE, "share/fish/vendor_completions.d/samplemind.fish")]}
    package = [name for name in _source_files() if name.startswith("samplemind/")]
    assert "samplemind/py.typed" in package and "samplemind/server/ui/index.html" in package
    missing = sorted(set(package) - names)
    assert not missing, f"not in the wheel: {missing}"
    assert {f"{NAME}.dist-info/licenses/LICENSE", f"{NAME}.dist-info/licenses/samplemind/NOTICE"} <= names
    assert "License-Expression: MIT" in metadata and "License-File: LICENSE" in metadata
    assert not re.search(r"^License: ", metadata, re.M)  # the deprecated table form is gone
    for relative, text in data.items():  # the same text `samplemind man` / `completion` print
        assert text == (ROOT / relative).read_text(encoding="utf-8"), relative


@pytest.mark.slow
def test_the_sdist_unpacked_runs_its_own_tests(built) -> None:
    """A packager's check: unpack, run a small subset of the tests against the unpacked code."""
    with tarfile.open(built["sdist"]) as sdist:
        sdist.extractall(built["base"] / "unpacked", filter="data")
    unpacked = built["base"] / "unpacked" / NAME
    where = subprocess.run([sys.executable, "-c", "import samplemind; print(samplemind.__file__)"],
                           cwd=unpacked, capture_output=True, text=True, timeout=CEILING)
    assert Path(where.stdout.strip()).is_relative_to(unpacked), where.stdout + where.stderr
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             "-m", "not slow", "tests/test_scanner.py", "tests/test_cli_docs.py"],
                            cwd=unpacked, capture_output=True, text=True, timeout=CEILING)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"^\d+ passed", result.stdout.splitlines()[-1]), result.stdout[-500:]


@pytest.mark.slow
def test_the_installed_wheel_prints_its_man_page_and_completions(built) -> None:
    """pip installs the wheel (its dependencies are this environment's) and the installed program
    prints the same man page and completions as the repository holds."""
    target = built["base"] / "installed"
    result = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                             "--target", str(target), str(built["wheel"])],
                            capture_output=True, text=True, timeout=CEILING)
    assert result.returncode == 0, result.stderr
    env = {**os.environ, "PYTHONPATH": str(target)}
    program = ("import sys, samplemind; from samplemind.cli import main; "
               "print(samplemind.__file__, file=sys.stderr); main(sys.argv[1:])")
    for words, relative in [(["man"], clidocs.MAN_FILE), (["completion", "zsh"], clidocs.ZSH_FILE)]:
        printed = subprocess.run([sys.executable, "-c", program, *words], env=env, cwd=built["base"],
                                 capture_output=True, text=True, timeout=CEILING)
        assert printed.returncode == 0, printed.stderr
        assert Path(printed.stderr.splitlines()[0]).is_relative_to(target)  # the installed copy
        assert printed.stdout == (ROOT / relative).read_text(encoding="utf-8")
    assert (target / "samplemind" / "py.typed").is_file()
