"""Duplicates and a kit's velocity layers: layers of one sound (same folder, same name but for
Hard/Soft or a number, in loudness steps) are listed as layers, never as files to move aside
(issue 23, defect 7)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import test_ui_browser as ui
from playwright.sync_api import expect

from samplemind import Library, synth

from audio_fixtures import write_audio
from helpers import run_cli

pytestmark = pytest.mark.slow
browser, page, page_errors = ui.browser, ui.page, ui.page_errors  # Chromium fixtures

SR = 44100
GAINS = {"Hard": 1.0, "Med": 0.5, "Soft": 0.25, "Softest": 0.14}  # about 6, 12 and 17 dB down


def _write(path: Path, audio: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_audio(path, audio, SR)


@pytest.fixture
def kit(tmp_path: Path) -> Path:
    """A Hydrogen-like kit: a cowbell in four named layers, a snare in three numbered ones, a
    kick; and outside the kit a real copy of the kick (a duplicate) and of the hard cowbell."""
    root = tmp_path / "Kits" / "GM Kit"
    cowbell = synth.normalize(synth.tom(SR, pitch=560.0, decay=0.15, rng=np.random.default_rng(3)))
    for word, gain in GAINS.items():
        _write(root / f"Cowbell {word}.wav", cowbell * gain)
    snare = synth.normalize(synth.snare(SR, rng=np.random.default_rng(4)))
    for number, gain in ((1, 0.2), (2, 0.45), (3, 1.0)):
        _write(root / f"Snare {number}.wav", snare * gain)
    kick = synth.normalize(synth.kick(SR, rng=np.random.default_rng(5)))
    _write(root / "Kick.wav", kick)
    _write(tmp_path / "Kits" / "Old" / "Kick copy.wav", kick * 0.99)
    return root


@pytest.fixture
def scanned(library: Library, kit: Path) -> Library:
    assert library.scan([kit.parent]).failed == 0
    return library


def test_layers_are_listed_as_layers_not_duplicates(scanned: Library, kit: Path) -> None:
    groups, layers = scanned.dupes_and_layers()
    layer_files = {f"Cowbell {w}.wav" for w in GAINS} | {f"Snare {n}.wav" for n in (1, 2, 3)}
    redundant = {Path(s.path).name for g in groups for s in g.others}
    assert not redundant & layer_files
    assert {Path(s.path).name for g in groups for s in g.samples} == {"Kick.wav", "Kick copy.wav"}
    by_name = {found.instrument: [Path(s.path).name for s in found.layers] for found in layers}
    assert by_name == {"cowbell": ["Cowbell Softest.wav", "Cowbell Soft.wav", "Cowbell Med.wav",
                                   "Cowbell Hard.wav"],
                       "snare": ["Snare 1.wav", "Snare 2.wav", "Snare 3.wav"]}
    for found in layers:
        levels = [s.record["loudness_lufs"] for s in found.layers]
        assert levels == sorted(levels) and found.folder == str(kit)
    # Library.dupes (what --move-to and --delete act on) holds no layer at all.
    assert {Path(s.path).name for g in scanned.dupes() for s in g.samples} == {"Kick.wav", "Kick copy.wav"}


def test_the_cli_shows_layers_with_loudness_and_never_lists_them_to_move(scanned: Library, kit: Path) -> None:
    home = scanned.paths.data_dir
    table = run_cli("dupes", home=home)
    assert table.returncode == 0, table.stderr
    assert "layers" in table.stdout and "LUFS" in table.stdout and "layer" in table.stdout
    assert str(kit / "Cowbell Softest.wav") in table.stdout.replace("\n", "")  # whole, not cut
    assert "2 set(s) of velocity layers or round robins are kept as they are" in table.stderr
    assert "1 group, 1 redundant file(s)" in table.stderr
    paths = run_cli("dupes", "-f", "paths", home=home).stdout.split("\n")
    assert [Path(p).name for p in paths if p] in (["Kick copy.wav"], ["Kick.wav"])
    entries = json.loads(run_cli("dupes", "-f", "json", home=home).stdout)
    assert sorted(e["kind"] for e in entries) == ["layers", "layers", "near"]
    layered = [e for e in entries if e["kind"] == "layers"]
    assert all("others" not in e and "keeper" not in e for e in layered)
    moved = run_cli("dupes", "--move-to", str(kit.parent.parent / "aside"), home=home)
    assert moved.returncode == 0, moved.stderr
    assert all((kit / f"Cowbell {w}.wav").exists() for w in GAINS)
    assert all((kit / f"Snare {n}.wav").exists() for n in (1, 2, 3))


def test_the_duplicates_view_shows_layers_with_their_loudness(scanned: Library, kit: Path, page,
                                                               samplemind_home: Path, tmp_path: Path) -> None:
    live = ui.LiveServer(samplemind_home, open_access=True, upload_dir=tmp_path / "uploads").start()
    try:
        page.goto(live.url + "/")
        page.click("#tab-dupes")
        expect(page.locator("#dupes-status")).to_contain_text("2 set(s) of velocity layers")
        layer_sets = page.locator("#dupes article.layers")
        expect(layer_sets).to_have_count(2)
        cowbell = layer_sets.filter(has_text="cowbell")
        expect(cowbell.locator(".badge.layer")).to_have_count(4)
        expect(cowbell.locator(".badge.dupe")).to_have_count(0)
        names = cowbell.locator(".name").all_inner_texts()
        assert names == ["Cowbell Softest.wav", "Cowbell Soft.wav", "Cowbell Med.wav", "Cowbell Hard.wav"]
        levels = [float(text.split()[0]) for text in cowbell.locator(".loudness").all_inner_texts()]
        assert levels == sorted(levels) and levels[-1] - levels[0] > 10
        # The path keeps its end in view (the kit folder and the file name); a long start is cut.
        first = cowbell.locator(".path").first
        assert first.inner_text() == str(kit / "Cowbell Softest.wav")
        seen = first.evaluate("""(box) => {
          const text = box.querySelector('bdo').firstChild, range = document.createRange();
          const at = (i) => {
            range.setStart(text, i); range.setEnd(text, i + 1); return range.getBoundingClientRect();
          };
          const outer = box.getBoundingClientRect(), end = text.length - 1;
          return { overflows: box.scrollWidth > box.clientWidth,
                   lastInside: at(end).right <= outer.right + 1 && at(end).left >= outer.left,
                   kitInside: at(text.data.lastIndexOf('GM Kit')).left >= outer.left,
                   firstInside: at(0).left >= outer.left };
        }""")
        assert seen == {"overflows": True, "lastInside": True, "kitInside": True, "firstInside": False}
        # A file in a layer set drags out like a row (drag.js).
        dragged = cowbell.locator(".name").first.evaluate("""(element) => {
          const data = new DataTransfer();
          element.dispatchEvent(new DragEvent('dragstart', { bubbles: true, dataTransfer: data }));
          return data.getData('DownloadURL'); }""")
        assert dragged.startswith("audio/wav:Cowbell Softest.wav:" + live.url + "/api/v1/samples/")
        # Only the kick's copy is a duplicate.
        expect(page.locator("#dupes .badge.dupe")).to_have_count(1)
        # "List them" puts the layers in the main list, softest first, for the arrow keys to walk.
        cowbell.locator("button.list-them").click()
        expect(page.locator("#list-source")).to_contain_text("A set of layers")
        ui.wait_js(page, "names => JSON.stringify(window.samplemind.rows().map(r => r.name))"
                         " === JSON.stringify(names)", arg=names)
    finally:
        page.close()
        live.stop()
