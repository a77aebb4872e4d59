#!/usr/bin/env bash
# Fetch the labelled evaluation audio: real samples from Debian packages that nobody on
# the team wrote or generated, unpacked without installing them.
#
#   benchmarks/data/fetch.sh [DEST [PACKAGE ...]]   (default: benchmarks/data/eval, the list below)
#
# scripts/fetch_training_kits.sh names its own Debian packages this way.
#
# Each package is fetched with `apt-get download` and unpacked with `dpkg -x` into
# DEST/<package>/, so it works as root and as a normal user and touches nothing outside
# DEST. Idempotent: a package whose DEST/<package>/.unpacked names the same version is
# skipped. Packages:
#   hydrogen-data       Hydrogen's GMRockKit and TR808EmulationKit (drumkit.xml names every
#                       instrument and its velocity layers)
#   hydrogen-drumkits   12 more Hydrogen kits (acoustic kits with velocity layers, electro,
#                       hand percussion, djembes)
#   lmms-common         LMMS samples: drums/, basses/, instruments/, stringsnpads/, beats/ ...
#   sonic-pi-samples    Sonic Pi's CC0 samples (bd_, sn_, drum_, elec_, perc_, bass_, loop_ ...)
#   fluid-soundfont-gm  the FluidR3 General MIDI soundfont (for rendering notes later; MIT)
#   musescore-general-soundfont-small  MuseScore General (MIT; parts CC0/public domain): a
#                       second soundfont, so chords and progressions come from two sources
# Never hydrogen-drumkits-effects: it is kept for independent checks.
set -euo pipefail

PACKAGES=(hydrogen-data hydrogen-drumkits lmms-common sonic-pi-samples fluid-soundfont-gm
          musescore-general-soundfont-small)
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEST="${1:-$HERE/eval}"
if [ "$#" -gt 1 ]; then
    PACKAGES=("${@:2}")
fi
mkdir -p "$DEST"
DEST="$(cd "$DEST" && pwd)"

candidate() {  # the version apt would download, or nothing when apt does not know the package
    apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ && $2 != "(none)" {print $2}'
}

# apt's package lists may be missing on a fresh machine; only root can refresh them.
if [ -z "$(candidate "${PACKAGES[0]}")" ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "apt does not know ${PACKAGES[0]} yet: running apt-get update" >&2
        apt-get update -qq >&2
    else
        echo "error: apt does not know ${PACKAGES[0]}; ask root to run 'apt-get update'" >&2
        exit 1
    fi
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# As root, apt drops to the _apt user to download and warns when that user cannot write
# the folder; a world-writable temp folder of our own avoids the warning.
chmod 0777 "$WORK"

for package in "${PACKAGES[@]}"; do
    version="$(candidate "$package")"
    if [ -z "$version" ]; then
        echo "error: no Debian package named $package here" >&2
        exit 1
    fi
    target="$DEST/$package"
    if [ -f "$target/.unpacked" ] && [ "$(cat "$target/.unpacked")" = "$version" ]; then
        echo "$package $version: already unpacked, skipped"
        continue
    fi
    rm -rf "$target"
    (cd "$WORK" && apt-get download -q "$package=$version" >/dev/null)
    deb="$(ls "$WORK"/"${package}"_*.deb)"
    mkdir -p "$target"
    dpkg -x "$deb" "$target"
    echo "$version" > "$target/.unpacked"  # written last: a half-unpacked package is redone
    echo "$package $version: fetched $(du -h "$deb" | cut -f1) .deb, unpacked $(du -sh "$target" | cut -f1)"
    rm -f "$deb"
done

echo "in $DEST:"
for package in "${PACKAGES[@]}"; do
    printf '  %-20s %-26s %s\n' "$package" "$(cat "$DEST/$package/.unpacked")" \
        "$(du -sh "$DEST/$package" | cut -f1)"
done
echo "  total $(du -sh "$DEST" | cut -f1)"
