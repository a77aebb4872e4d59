"""Write samplemind/similarity/reference_stats.json: the mean and spread of every number
of the sound vector over the built-in demo pack.

Small libraries pool their statistics with these (see similarity/vectors.py). Run it
again whenever the vector layout changes; tests/test_similar.py fails until you do.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from samplemind import Library  # noqa: E402
from samplemind.analysis.layout import VECTOR_DIM  # noqa: E402
from samplemind.analysis.versions import EXTRACTOR_VERSION  # noqa: E402
from samplemind.demo import write_demo_pack  # noqa: E402
from samplemind.similarity.vectors import REFERENCE_FILE  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        write_demo_pack(Path(scratch) / "pack")
        with Library(Path(scratch) / "home") as library:
            report = library.scan([Path(scratch) / "pack"])
            if report.failed:
                raise SystemExit(f"{report.failed} demo files failed to analyse")
            _, raw = library.catalog.vectors()
    data = {"extractor_version": EXTRACTOR_VERSION, "vector_dim": VECTOR_DIM,
            "samples": len(raw), "mean": [round(float(v), 6) for v in raw.mean(axis=0)],
            "std": [round(float(v), 6) for v in raw.std(axis=0)]}
    REFERENCE_FILE.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {REFERENCE_FILE.relative_to(REPO)} from {len(raw)} demo samples")


if __name__ == "__main__":
    main()
