"""samplemind: analyse a sample library and find sounds by BPM, key, pitch, category and tags."""

from __future__ import annotations

__version__ = "0.1.0"

from .errors import SampleMindError  # noqa: E402
from .library import Library  # noqa: E402
from .models import SCHEMA_VERSION, FileFailure, Sample, ScanReport  # noqa: E402

__all__ = ["Library", "Sample", "ScanReport", "FileFailure", "SampleMindError",
           "SCHEMA_VERSION", "__version__"]
