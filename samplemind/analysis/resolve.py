"""One answer per estimated field, from every source of evidence.

Evidence, strongest first: the user's corrections, embedded metadata (ACID, smpl,
tags), the file and folder names, then the signal analysis (for the category: the shipped
sound model, classify.classify_category). Authored values win, but agreement with the
signal raises their confidence, and disagreement lowers it. An estimate from the signal
carries its calibrated confidence (calibration.py); the analysis record keeps the raw score.
Resolving is cheap and needs no audio, so a move or rename re-resolves names
without re-analysing.
"""

from __future__ import annotations

from typing import Any

from ..models import DESCRIPTOR_FIELDS, ESTIMATED_FIELDS, TEXT_FIELDS
from ..music import camelot, note_to_midi
from .calibration import calibrate
from .classify import CATEGORY_CLASSES, TONAL_FAMILY

# Base confidence of authored evidence, before comparing with the signal.
AUTHORED_CONFIDENCE = {"user": 1.0, "metadata": 0.95, "filename": 0.85}
# The sound contradicts a named category only when the model is at least this sure.
CATEGORY_DISAGREE_CONFIDENCE = 0.6


def _bpm_agrees(authored: float, measured: float | None) -> bool | None:
    if not measured:
        return None
    for factor in (1.0, 0.5, 2.0):
        if abs(measured * factor - authored) <= 0.04 * authored:
            return True
    return False


def _same_pitch_class(a: str | None, b: str | None) -> bool | None:
    if not a or not b:
        return None
    ma, mb = note_to_midi(a), note_to_midi(b)
    if ma is None or mb is None:
        return None
    return ma % 12 == mb % 12


def _category_agrees(authored: str, dsp: str | None, dsp_confidence: float | None
                     ) -> bool | None:
    """Whether the sound supports a named category. "tonal" (a pitched instrument the model
    cannot name) supports keys, guitar, synth, pad...; the sound says nothing about categories
    it has no class for (vocal, fx), nor when it is unsure."""
    if dsp is None:
        return None
    if authored == dsp or (dsp == "tonal" and authored in TONAL_FAMILY):
        return True
    if authored not in CATEGORY_CLASSES and authored not in TONAL_FAMILY:
        return None
    if dsp_confidence is None or dsp_confidence < CATEGORY_DISAGREE_CONFIDENCE:
        return None
    return False


def _agreement(field: str, authored: Any, dsp: Any, dsp_confidence: float | None = None
               ) -> bool | None:
    if field == "bpm":
        return _bpm_agrees(float(authored), dsp)
    if field == "note":
        return _same_pitch_class(authored, dsp)
    if field == "category":
        return _category_agrees(str(authored), dsp, dsp_confidence)
    if dsp is None:
        return None
    return authored == dsp


def resolve(features: dict[str, Any], embedded: dict[str, Any], hints: dict[str, Any],
            overrides: dict[str, Any]) -> dict[str, Any]:
    """Catalog columns for one sample: each estimate with its confidence and source."""
    row: dict[str, Any] = {}
    for field in ESTIMATED_FIELDS:
        dsp_value = features.get(field)
        choice: tuple[Any, float, str] | None = None
        for source, evidence in (("user", overrides), ("metadata", embedded),
                                 ("filename", hints)):
            value = evidence.get(field)
            if value is None:
                continue
            confidence = AUTHORED_CONFIDENCE[source]
            if source != "user":
                agrees = _agreement(field, value, dsp_value,
                                    features.get(f"{field}_confidence"))
                if agrees is True:
                    confidence = min(1.0, confidence + 0.04)
                elif agrees is False:
                    confidence -= 0.25
            choice = (value, confidence, source)
            break
        if choice is None and dsp_value is not None:  # the signal's score, calibrated
            choice = (dsp_value, calibrate(field, features.get(f"{field}_confidence"), dsp_value),
                      "dsp")
        value, confidence, source = choice if choice else (None, None, None)
        row[field] = value
        row[f"{field}_confidence"] = round(confidence, 3) if confidence is not None else None
        row[f"{field}_source"] = source

    # The sound's category is a one-shot's; a sample resolved as a loop (named or set so) keeps
    # only an authored category.
    if row["type"] == "loop" and row["category_source"] == "dsp":
        row.update(category=None, category_confidence=None, category_source=None)
    # Tempo only means something for loops; an authored tempo makes a loop.
    if row["type"] == "oneshot" and row["bpm_source"] == "dsp":
        row.update(bpm=None, bpm_confidence=None, bpm_source=None)
    bpm = row["bpm"]
    row["bpm_alternatives"] = [round(bpm / 2, 2), round(bpm * 2, 2)] if bpm else None
    row["camelot"] = camelot(row["key"])
    # pitch_hz is measured; keep it only when it names the same pitch class as the note.
    pitch_hz = features.get("pitch_hz")
    if row["note_source"] not in (None, "dsp") and _same_pitch_class(
            row["note"], features.get("note")) is False:
        pitch_hz = None
    row["pitch_hz"] = pitch_hz if row["note"] else None
    for name in ("format", "codec", "sample_rate", "channels", "bit_depth", "duration",
                 "audio_hash", "loudness_lufs", "peak_db", *DESCRIPTOR_FIELDS):
        row[name] = features.get(name)
    for name in TEXT_FIELDS:
        row[name] = embedded.get(name)
    row["warnings"] = features.get("warnings") or None  # damage the decoder saw (extract.py)
    return row
