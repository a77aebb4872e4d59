"""What the shipped numbers learn from: only audio whose licence allows it (CC0, MIT, BSD,
CC-BY credited in NOTICE), never GPL, CC-BY-SA or unclear sources; those are test sources
only. Checked on the one licence table (benchmarks/data/labels.py) and on
scripts/fit_calibration.py with small made-up rows (no scan)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
for folder in (ROOT / "benchmarks" / "data", ROOT / "benchmarks", ROOT / "scripts"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import calibration as bench  # noqa: E402  (benchmarks/calibration.py)
import fit_calibration  # noqa: E402  (scripts/fit_calibration.py)
import fit_type  # noqa: E402  (scripts/fit_type.py)
import labels  # noqa: E402  (benchmarks/data/labels.py)

from samplemind.analysis import calibration  # noqa: E402

NOT_LEARNT = ("hydrogen", "hydrogen-data", "hydrogen-drumkits", "hydrogen-drumkits-effects",
              "lmms", "lmms-common", "pydrummer808")
# the evaluation set's learnable sources, then the real training kits (fetch_training_kits.sh)
LEARNT = {"fluidr3", "musescore", "salamander", "sonic-pi", "sonic-pi-samples", "sonic-pi-loops",
          "exadrums", "stk", "drumterm", "muldjord"}


def test_the_learn_from_list_excludes_gpl_and_unclear_sources():
    assert labels.LEARN_FROM == LEARNT
    for source in NOT_LEARNT:
        assert source not in labels.LEARN_FROM
        assert not labels.may_learn_from(source)
    assert not labels.may_learn_from("a source nobody read the licence of")
    for source in labels.LEARN_FROM:
        licence = labels.SOURCE_LICENCES[source].licence
        assert "GPL" not in licence and "SA" not in licence and "NC" not in licence, source


def test_every_source_the_evaluation_set_names_has_a_licence_entry():
    import recorded  # noqa: F401  (benchmarks/data/recorded.py: "salamander", "sonic-pi")
    import render

    named = {*labels.HYDROGEN_KITS, "lmms-common", "sonic-pi-samples", *render.SOUNDFONTS,
             "hydrogen", "lmms", "sonic-pi", "salamander"}  # loops: their kit's first part
    assert named <= set(labels.SOURCE_LICENCES)


def test_every_real_training_kit_has_a_licence_entry():
    import train_category  # scripts/train_category.py

    assert set(train_category.REAL_KITS) <= set(labels.SOURCE_LICENCES)
    assert set(train_category.LEFT_OUT) - labels.LEARN_FROM == {"pydrummer808"}


def test_fit_type_learns_from_the_same_list():
    assert fit_type.LEARN_FROM is labels.LEARN_FROM


def _rows(source: str, count: int, seed: int, right_when_sure: bool) -> list[dict]:
    """Rows of one source: raw scores spread over 0.3-1; right about as often as the raw
    score says, or (right_when_sure False) wrong whenever the score is above 0.8."""
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(count):
        raw = float(rng.uniform(0.3, 1.0))
        right = rng.uniform() < raw if right_when_sure or raw <= 0.8 else False
        rows.append({"raw": raw, "right": float(right), "source": source,
                     "unit": f"{source}/{index % 7}", "path": f"{source}/{index}.wav"})
    return rows


def test_fit_calibration_drops_the_rows_of_sources_not_learnt_from():
    clean = _rows("fluidr3", 150, 1, True) + _rows("musescore", 120, 2, True)
    gpl = _rows("hydrogen-drumkits", 400, 3, False) + _rows("lmms-common", 90, 4, False)
    maps, without_map = fit_calibration.fit({"type": clean + gpl})
    assert "type" not in without_map
    shipped = maps["type"]
    expected = bench.fit_maps(clean, per_value=False)[None].to_json()
    assert (shipped["x"], shipped["y"]) == (expected["x"], expected["y"])
    assert shipped["n"] == len(clean)
    assert shipped["sources"] == ["fluidr3", "musescore"]
    assert shipped["tested_on"] == ["hydrogen-drumkits", "lmms-common"]
    # the GPL rows, always wrong when sure, would have pulled the top of the map down
    assert calibration.CalibrationMap(shipped["x"], shipped["y"])(0.95) > 0.8


def test_an_estimate_with_too_few_learnable_rows_keeps_no_map():
    few = _rows("sonic-pi", bench.MIN_ROWS - 1, 5, True)
    plenty_of_gpl = _rows("hydrogen", 300, 6, True)
    maps, without_map = fit_calibration.fit({"bpm": few + plenty_of_gpl})
    assert "bpm" not in maps and "bpm" in without_map
    # held out, every row then shows its raw score: what the catalog shows without a map
    rows = few + plenty_of_gpl
    held = bench.held_out_confidences(rows)
    assert np.allclose(held, [r["raw"] for r in rows])


def test_test_sources_are_scored_by_the_map_fitted_on_every_learnable_row():
    clean = _rows("fluidr3", 150, 7, True) + _rows("salamander", 110, 8, True)
    gpl = _rows("lmms-common", 80, 9, False)
    rows = clean + gpl
    held = bench.held_out_confidences(rows)
    shipped = bench.fit_maps(clean, per_value=False)[None]
    assert np.allclose(held[len(clean):], [shipped(r["raw"]) for r in gpl])
    # a learnable row is scored by the map fitted on the other learnable source only
    without = bench.fit_maps(clean[150:], per_value=False)[None]
    assert np.allclose(held[:150], [without(r["raw"]) for r in clean[:150]])


@pytest.mark.parametrize("name", calibration.ESTIMATES)
def test_the_shipped_maps_were_fitted_on_learnable_sources_only(name):
    document = json.loads(calibration.CALIBRATION_FILE.read_text())
    assert set(document["learnt_from"]) <= labels.LEARN_FROM
    spec = document["maps"].get(name)
    if spec is None:
        assert name in document["without_map"]
    else:
        assert set(spec["sources"]) <= labels.LEARN_FROM
