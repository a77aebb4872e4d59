"""Review of layer sets in dupes: a converted copy of one layer (same folder, the same layer
word) is a duplicate the user must see, not a layer; an exact copy is never a layer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from samplemind import Library, synth

from audio_fixtures import write_audio

pytestmark = pytest.mark.slow
SR = 44100


def test_a_copy_of_a_layer_with_the_same_layer_word_is_a_duplicate(library: Library,
                                                                    tmp_path: Path) -> None:
    kit = tmp_path / "Kit"
    kit.mkdir()
    cowbell = synth.normalize(synth.tom(SR, pitch=560.0, decay=0.15, rng=np.random.default_rng(3)))
    write_audio(kit / "Cowbell Soft.wav", cowbell * 0.25, SR)
    write_audio(kit / "Cowbell Hard.wav", cowbell, SR)
    write_audio(kit / "Cowbell Hard.flac", cowbell * 0.98, SR)  # the same hit, converted
    write_audio(kit / "Snare Hard.wav", synth.snare(SR, rng=np.random.default_rng(4)), SR)
    write_audio(kit / "Snare Hard.aiff", synth.snare(SR, rng=np.random.default_rng(4)), SR)  # exact
    assert library.scan([kit]).failed == 0
    groups, layers = library.dupes_and_layers()
    grouped = [sorted(Path(s.path).name for s in g.samples) for g in groups]
    assert ["Cowbell Hard.flac", "Cowbell Hard.wav"] in grouped
    assert ["Snare Hard.aiff", "Snare Hard.wav"] in grouped
    for found in layers:
        names = [Path(s.path).name for s in found.layers]
        # A layer set holds each layer once: no two members share their labels.
        assert len({name.rsplit(".", 1)[0] for name in names}) == len(names), names
        assert not {"Snare Hard.aiff", "Snare Hard.wav"} <= set(names)
    assert {Path(s.path).name for g in library.dupes() for s in g.samples} >= {
        "Cowbell Hard.flac", "Cowbell Hard.wav"}
