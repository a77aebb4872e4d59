"""Shared set-up for the server tests: one scanned demo catalog per test module, and
cheap private copies of it for tests that change things."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from samplemind import Library
from samplemind.config import resolve_paths
from samplemind.demo import write_demo_pack


def build_catalog(base: Path) -> tuple[Path, Path]:
    """(home, pack): the demo pack written and scanned into a fresh home.

    The first demo pack of a test run and the feature cache its scan filled are kept aside
    (beside base, in the run's temporary folder, whichever name this module was imported
    under): later catalogs start from copies of both (the same bytes write_demo_pack writes),
    so each still scans its own pack into its own home, from cached analysis instead of
    synthesising and analysing the 48 files again."""
    pack = base / "pack"
    home = base / "home"
    template = base.parent / "demo-catalog-template"
    if template.is_dir():
        shutil.copytree(template / "pack", pack)
        shutil.copytree(template / "features", resolve_paths(home).feature_cache)
    else:
        write_demo_pack(pack)
    with Library(home, jobs=2, timeout=60) as library:
        report = library.scan([pack])
        assert report.failed == 0
        library.index.current()  # saved once, so each copy starts with an index
        features = library.paths.feature_cache
    if not template.is_dir():  # copied aside before any test can change them
        partial = base.parent / f"{template.name}.{base.name}.partial"
        shutil.copytree(pack, partial / "pack")
        shutil.copytree(features, partial / "features")
        partial.rename(template)
    return home, pack


def copy_home(home: Path, target: Path) -> Path:
    """A private copy of a closed catalog home (catalog, cache, index)."""
    shutil.copytree(home, target)
    return target


def private_pack(home: Path, pack: Path, base: Path, relative_files: list[str]) -> tuple[Path, Path]:
    """(home, folder): a copy of the home plus a folder with copies of some demo files,
    scanned in (their analysis comes from the cache)."""
    new_home = copy_home(home, base / "home")
    folder = base / "mine"
    for relative in relative_files:
        target = folder / Path(relative).name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(pack / relative, target)
    with Library(new_home, jobs=1, timeout=60) as library:
        library.scan([folder])
    return new_home, folder


async def wait_job(client, job_id: str) -> dict:
    """The job once it is done, failed or cancelled (polled through the API)."""
    for _ in range(1200):
        job = await (await client.get(f"/api/v1/jobs/{job_id}")).json()
        if job["status"] in ("done", "failed", "cancelled"):
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")
