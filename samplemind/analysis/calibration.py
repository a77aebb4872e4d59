"""Calibrated confidence: what a confidence of 0.9 means.

Every estimate the signal analysis makes (type, category, bpm, key, chord, note) comes with
a raw score from its own method: a classifier's probability, a tempo's peak strength, a key
profile's correlation. Those scores rank answers, but 0.9 from the key finder and 0.9 from
the tempo tracker did not mean the same thing. This module maps each raw score to how often
an answer with that score was right on sound sources held out from the fitting, so that:

    among the signal's estimates with confidence about 0.9, about 9 in 10 are right.

"Right" per estimate: type - loop or one-shot as labelled; category - the labelled class;
bpm - within 4 % of the true tempo (Accuracy1); key - the labelled key (a relative or a fifth
counts as wrong); chord - root and quality; note - the pitch class within 50 cents.

The maps are isotonic (monotone, never lower for a higher raw score) piecewise-linear
curves (for the category, one per class that had enough answers, and one for the rest),
fitted by scripts/fit_calibration.py only on labelled sources whose licence lets us learn
from them (soundfont renders, Sonic Pi, the Salamander piano; the GPL Hydrogen kits and LMMS
are only tested on), judged one source held out at a time, and shipped as calibration.json
beside this file. An estimate with too few such answers has no map. They are
applied where an estimate from the signal enters the catalog (resolve.py, the category
consensus); the analysis record keeps the raw score. An estimate without a map keeps its raw
score. Authored values (names, metadata, corrections) keep their own fixed confidences.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ..models import ESTIMATED_FIELDS

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")
CALIBRATION_VERSION = 1
ESTIMATES = ESTIMATED_FIELDS  # the record's estimates (models.py), each calibrated here
PER_VALUE = ("category",)  # estimates with a map per answer too (see calibrate)


class CalibrationMap:
    """A monotone map from a raw score to the chance of being right (knots x -> y)."""

    def __init__(self, x: Sequence[float], y: Sequence[float]) -> None:
        self.x = np.asarray(x, dtype=np.float64)
        self.y = np.clip(np.maximum.accumulate(np.asarray(y, dtype=np.float64)), 0.0, 1.0)

    def __call__(self, raw: float) -> float:
        if self.x.size == 0:
            return float(raw)
        return float(np.interp(raw, self.x, self.y))

    def to_json(self) -> dict[str, list[float]]:
        return {"x": [round(float(v), 4) for v in self.x], "y": [round(float(v), 4) for v in self.y]}


def fit_isotonic(raw: Iterable[float], right: Iterable[float], *, min_block: int = 20,
                 prior: float = 2.0) -> CalibrationMap:
    """Isotonic regression of right (0/1) on raw score by pool-adjacent-violators, blocks of
    at least ``min_block`` answers, each block's rate shrunk towards the overall rate by
    ``prior`` pseudo-answers and by one right and one wrong (so a block that was always right
    says 0.99 after a hundred answers, not a certainty); knots at each block's mean score."""
    pairs = sorted((float(r), float(c)) for r, c in zip(raw, right) if r is not None
                   and math.isfinite(float(r)))
    if not pairs:
        return CalibrationMap([], [])
    scores = np.array([p[0] for p in pairs])
    hits = np.array([p[1] for p in pairs])
    overall = float(hits.mean())
    # start from runs of min_block (equal scores never split), then pool violators
    blocks: list[list[float]] = []  # [sum of hits, count, sum of scores]
    start = 0
    while start < len(pairs):
        end = min(len(pairs), start + min_block)
        while end < len(pairs) and scores[end] == scores[end - 1]:
            end += 1
        if len(pairs) - end < min_block // 2:
            end = len(pairs)
        blocks.append([float(hits[start:end].sum()), float(end - start),
                       float(scores[start:end].sum())])
        start = end

    def rate(block: list[float]) -> float:
        return (block[0] + prior * overall + 1.0) / (block[1] + prior + 2.0)

    merged: list[list[float]] = []
    for block in blocks:
        merged.append(block)
        while len(merged) > 1 and rate(merged[-2]) >= rate(merged[-1]):
            last = merged.pop()
            merged[-1] = [a + b for a, b in zip(merged[-1], last)]
    x = [b[2] / b[1] for b in merged]
    y = [rate(b) for b in merged]
    if len(x) == 1:  # one block: flat at its rate over the whole range
        x, y = [0.0, 1.0], [y[0], y[0]]
    return CalibrationMap(x, y)


def expected_calibration_error(confidence: Sequence[float], right: Sequence[float],
                               bins: int = 10) -> float:
    """ECE: the count-weighted mean gap between confidence and accuracy over equal-width
    confidence bins."""
    conf = np.asarray(confidence, dtype=np.float64)
    hit = np.asarray(right, dtype=np.float64)
    if conf.size == 0:
        return float("nan")
    index = np.minimum((conf * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            total += mask.sum() * abs(conf[mask].mean() - hit[mask].mean())
    return float(total / conf.size)


def reliability_table(confidence: Sequence[float], right: Sequence[float],
                      bins: int = 10) -> list[tuple[float, float, int, float, float]]:
    """(bin low, bin high, count, mean confidence, accuracy) of each non-empty bin."""
    conf = np.asarray(confidence, dtype=np.float64)
    hit = np.asarray(right, dtype=np.float64)
    index = np.minimum((conf * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        mask = index == b
        if mask.any():
            rows.append((b / bins, (b + 1) / bins, int(mask.sum()), float(conf[mask].mean()),
                         float(hit[mask].mean())))
    return rows


@lru_cache(maxsize=4)
def _load(path: str) -> dict[str, CalibrationMap]:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != CALIBRATION_VERSION:
        return {}
    maps = {}
    for name, spec in (data.get("maps") or {}).items():
        try:
            maps[name] = CalibrationMap(spec["x"], spec["y"])
        except (KeyError, TypeError, ValueError):
            continue
    return maps


def maps(path: Path = CALIBRATION_FILE) -> dict[str, CalibrationMap]:
    """The shipped maps by estimate name (empty when the file is missing or of another
    version: every raw score then passes through unchanged)."""
    return _load(str(path))


def calibrate(estimate: str, raw: float | None, value: Any = None) -> float | None:
    """The calibrated confidence of one estimate's raw score (None stays None). Estimates in
    PER_VALUE have a map per answer where there were enough answers to fit one ("category:kick":
    a kick is called more reliably than a perc at the same probability), else the estimate's."""
    if raw is None:
        return None
    found = maps()
    mapping = found.get(f"{estimate}:{value}") if value is not None else None
    mapping = mapping or found.get(estimate)
    value = mapping(float(raw)) if mapping is not None else float(raw)
    return round(min(1.0, max(0.0, value)), 3)


def raw_score(estimate: str, confidence: float | None, value: Any = None) -> float | None:
    """The raw score that calibrate() turned into ``confidence`` (approximately: where a map
    is flat, the middle of the flat part), for code whose rules were tuned on raw scores
    (teach.py weighs the sound's own probability against a vote share)."""
    if confidence is None:
        return None
    found = maps()
    mapping = found.get(f"{estimate}:{value}") if value is not None else None
    mapping = mapping or found.get(estimate)
    if mapping is None or mapping.x.size == 0:
        return float(confidence)
    ties = mapping.x[np.abs(mapping.y - confidence) <= 5e-4]
    raw = (ties.min() + ties.max()) / 2 if ties.size else np.interp(confidence, mapping.y,
                                                                    mapping.x)
    return float(min(1.0, max(0.0, raw)))


# -- trusted answers only (ls --min-confidence) ---------------------------------------------


def hide_uncertain(record: dict[str, Any], threshold: float) -> dict[str, Any]:
    """The record with every estimate whose confidence is under ``threshold`` shown as
    unknown: its value (and what follows from it: camelot, bpm alternatives, pitch) becomes
    null; its confidence and source stay, so a script can see why."""
    out = dict(record)
    for field in ESTIMATES:
        if field not in out or out[field] is None:
            continue
        confidence = out.get(f"{field}_confidence")
        if confidence is None or confidence < threshold:
            out[field] = None
            for derived in {"key": ("camelot",), "bpm": ("bpm_alternatives",),
                            "note": ("pitch_hz",)}.get(field, ()):
                if derived in out:
                    out[derived] = None
    return out


def trusted_terms(query: str | None, filtered: Iterable[str], threshold: float) -> str:
    """Query terms that make the estimates a listing filters on count only at ``threshold``
    or above: ``category_confidence:0.9..`` for ``cat:kick``, and so on. ``filtered`` names
    estimates filtered by options (--category, --bpm ...); the query's own positive terms on
    an estimate are found by parsing it (a collection's terms are not looked into)."""
    from ..query import ALIASES, parse

    wanted = set(filtered)
    if query:
        for term in parse(query):
            if term.kind != "field" or term.negated:
                continue
            name = ALIASES.get(term.field.lower(), term.field.lower())
            if name == "camelot":
                name = "key"
            if name in ESTIMATES:
                wanted.add(name)
    return " ".join(f"{name}_confidence:{threshold:g}.." for name in ESTIMATES if name in wanted)
