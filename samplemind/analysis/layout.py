"""The layout of the sound vector: which numbers belong to which aspect.

Kept apart from extract.py so that the similarity code (and every CLI command that
imports it) does not load Essentia just to know the vector's shape.
"""

from __future__ import annotations

# Raw values (standardised across the library later), in this order:
# "The hit" is the ~0.5 s from the loudest moment on (spectral.hit_features), in three stages:
# attack (-10..30 ms), body (30..120 ms), tail (120..500 ms). How the spectrum changes over
# them is what tells a kick from a tom, a clap from a snare, a cymbal from a hi-hat.
VECTOR_BLOCKS: dict[str, tuple[int, int]] = {
    # MFCC 1-13 energy-weighted means over the sound; MFCC 1-8 of the hit's attack, body and
    # tail mel spectra (each normalised to its total: colour, not level)
    "timbre": (0, 37),
    # log2 centroid, log2 bandwidth, log2 roll-off (Hz), log10 flatness, log10 zero-crossing
    # rate, brightness, low-energy ratio, contrast (dB), centroid spread (octaves), mean
    # onset strength (dB); log2 centroid of 25-600 Hz in the hit's attack, body, tail
    "spectral": (37, 50),
    # log10 attack, log10 decay, log10 duration, temporal centroid, crest (dB), end level
    # (dB), sustain share, log10 active duration; the hit's decay per band (< 150 Hz,
    # 150-800 Hz, 0.8-4 kHz, > 4 kHz): dB under the band's own peak 30, 100, 300 ms after it
    "envelope": (50, 70),
    # chroma C..B minus 1/12, scaled by tonal strength (tonalness x (1 - entropy): ~0 for
    # noise, whose chroma is chance), tonalness, chroma entropy (0 one class .. 1 flat);
    # the hit's strongest 25-600 Hz partial per stage (log2 Hz) and its salience over the
    # band's median (dB); salience of partials in the body: 99th percentile and mean
    # excess of a bin over its +-7 bin neighbourhood (dB), energy share of bins 6 dB over it
    "tonal": (70, 93),
    # log(1 + onset rate), periodicity, log2(bpm / 120) (0 without a bpm), inter-onset
    # spread, log(1 + onset count), 1 for loops
    "rhythm": (93, 99),
}
VECTOR_DIM = 99
