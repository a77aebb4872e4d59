"""The descriptor cut-offs (samplemind/ai/descriptor_thresholds.json) are thirds of sounds whose
licence lets us learn from them: scripts/fit_descriptors.py's grouping and percentiles on small
made-up rows (no scan), and the shipped file's provenance."""

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

import fit_descriptors  # noqa: E402  (scripts/fit_descriptors.py)
import labels  # noqa: E402  (benchmarks/data/labels.py)

from samplemind.ai import descriptors  # noqa: E402


def _rows(source: str, count: int, category: str | None, type: str = "oneshot",
          centroid: float = 100.0, step: float = 10.0) -> list[dict]:
    """``count`` rows whose centroid climbs from ``centroid`` by ``step``; the other
    descriptors are plain functions of the index."""
    return [{"source": source, "type": type, "category": category,
             "spectral_centroid": centroid + step * index, "spectral_flatness": 0.001 * index,
             "duration": 0.1 + 0.05 * index, "loudness_lufs": -30.0 + 0.5 * index}
            for index in range(count)]


def _thirds(values: list[float]) -> list[float]:
    return [fit_descriptors.two_figures(v) for v in np.percentile(values, (33, 67))]


def test_rows_of_sources_not_learnt_from_are_dropped():
    clean_kicks = _rows("sonic-pi-samples", 24, "kick", centroid=60.0, step=5.0)
    gpl_kicks = _rows("hydrogen-drumkits", 60, "kick", centroid=900.0, step=50.0)
    unclear = _rows("pydrummer808", 30, "kick", centroid=5000.0)
    loops = _rows("fluidr3", 25, None, type="loop", centroid=300.0)
    table, provenance = fit_descriptors.fit(clean_kicks + gpl_kicks + unclear + loops)
    assert table["kick"]["spectral_centroid"] == _thirds(
        [r["spectral_centroid"] for r in clean_kicks])
    assert provenance["groups"]["kick"] == {"n": 24, "sources": {"sonic-pi-samples": 24}}
    assert provenance["groups"]["all"]["n"] == 24 + 25
    assert set(provenance["groups"]["all"]["sources"]) == {"sonic-pi-samples", "fluidr3"}
    assert table["all"]["spectral_centroid"] == _thirds(
        [r["spectral_centroid"] for r in clean_kicks + loops])
    for source in ("hydrogen-drumkits", "pydrummer808", "lmms-common"):
        assert source in provenance["not_learnt_from"]


def test_groups_by_labelled_category_and_type_and_leaves_small_groups_out():
    rows = (_rows("fluidr3", 30, "tonal", centroid=500.0)
            + _rows("musescore", 10, "pad", centroid=2000.0)  # folded into tonal
            + _rows("sonic-pi-samples", fit_descriptors.MIN_SAMPLES - 1, "snare")
            + _rows("sonic-pi", 22, None, type="loop", centroid=300.0)
            + _rows("exadrums", 3, "hihat", centroid=7000.0))
    table, provenance = fit_descriptors.fit(rows)
    assert list(table) == ["all", "loop", "tonal"]
    assert provenance["groups"]["tonal"]["n"] == 40
    assert provenance["groups"]["loop"] == {"n": 22, "sources": {"sonic-pi": 22}}
    assert provenance["too_few"] == {"snare": fit_descriptors.MIN_SAMPLES - 1, "hihat": 3}
    tonal = [r for r in rows if r["category"] in ("tonal", "pad")]
    for field in fit_descriptors.FIELDS:
        assert table["tonal"][field] == _thirds([r[field] for r in tonal])
        low, high = table["all"][field]
        assert low <= high


def test_the_fallback_groups_must_have_enough_sounds():
    few_loops = _rows("sonic-pi", 5, None, type="loop")
    with pytest.raises(ValueError, match="loop"):
        fit_descriptors.fit(_rows("fluidr3", 40, "tonal") + few_loops)


def test_cut_offs_keep_two_significant_figures():
    assert fit_descriptors.two_figures(0.000123456) == 0.00012
    assert fit_descriptors.two_figures(1234.5) == 1200
    assert fit_descriptors.two_figures(-23.4) == -23
    assert fit_descriptors.two_figures(0.0) == 0


def test_the_written_file_loads_as_groups_and_keeps_its_provenance_aside(tmp_path):
    rows = _rows("fluidr3", 30, "bass") + _rows("sonic-pi", 21, None, type="loop")
    table, provenance = fit_descriptors.fit(rows, left_out={"muldjord": "why"})
    document = json.loads(fit_descriptors.document(table, provenance))
    assert document[fit_descriptors.PROVENANCE_KEY] == provenance
    assert {g: c for g, c in document.items() if not g.startswith("_")} == table


def test_the_shipped_table_was_fitted_on_learnable_sources_only():
    document = json.loads(descriptors.THRESHOLDS_FILE.read_text())
    provenance = document[fit_descriptors.PROVENANCE_KEY]
    assert set(descriptors.THRESHOLDS) == set(provenance["groups"])
    assert {"all", "loop"} <= set(descriptors.THRESHOLDS)
    for group, info in provenance["groups"].items():
        assert info["n"] >= provenance["min_samples"], group
        for origin in info["sources"]:
            # "fluidr3 drum kits": the soundfont's own drum kits, rendered
            assert labels.may_learn_from(origin.split()[0]), origin
