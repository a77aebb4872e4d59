"""Versions of what decides a cached analysis. Bump one when its results change.

Kept apart from extract.py so the parent process can build cache keys without
importing Essentia (which costs most of a second).
"""

from __future__ import annotations

EXTRACTOR_VERSION = "11"  # extract.py, the modules it uses and category_model.npz
METADATA_VERSION = "1"  # metadata.py (embedded chunks and tags)


def analysis_version() -> str:
    """The version part of every feature-cache key."""
    return f"{EXTRACTOR_VERSION}+m{METADATA_VERSION}"
