"""Chords, keys, notes and tempo by rule (issue 17), on audio generated here with known answers.

- a chord one-shot gets its chord (several qualities) and the key it implies;
- a drum loop gets no key and no chord, whatever its tempo;
- a 25 s pad progression gets its key and no note;
- slow loops read slow: 62 BPM reads 62, not 124;
- a chord whose bass note outweighs the upper voices (a recording's doubled, harder-struck bass)
  still gets its chord, while a single note of the same instrument keeps its note; so does a
  piano-like chord whose loud bass and its octave have strongly stretched partials, while a
  single low piano-like note with the same stretch keeps its note;
- a half-time groove (snare on 3, even eighth hats) reads at its written tempo, and a backbeat
  with accented sixteenth hats at the slower one;
- ``chord:Am`` finds the A minor chord in a scanned library, and a name can give a chord.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from samplemind.analysis.extract import analyse
from samplemind.analysis.names import filename_hints
from samplemind.music import CHORD_QUALITIES, NOTE_NAMES, key_of_chord, midi_to_hz, parse_chord
from samplemind.query import compile_query
from tests.audio_fixtures import synth_drum_hit, synth_drum_loop, write_audio

SR = 44100


def _partials(freq: float, t: np.ndarray, count: int = 8, rolloff: float = 1.2) -> np.ndarray:
    """A harmonic tone whose upper partials fade faster (a plucked or struck string)."""
    x = np.zeros_like(t)
    for k in range(1, count + 1):
        if k * freq < SR / 2 * 0.9:
            x += np.sin(2 * np.pi * k * freq * t + 0.4 * k) / k ** rolloff * np.exp(-t * 0.6 * k)
    return x


def synth_chord(chord: str, seconds: float = 2.5, strum: float = 0.012) -> np.ndarray:
    """A strummed chord one-shot: the root in the bass (C3..B3), the chord tones above it,
    each string a little later than the one below, decaying to silence."""
    root, quality = parse_chord(chord)
    bass = 48 + root
    notes = [bass] + [bass + 12 + interval for interval in CHORD_QUALITIES[quality]]
    n = int(seconds * SR)
    out = np.zeros(n)
    for order, midi in enumerate(notes):
        start = int(order * strum * SR)
        t = np.arange(n - start) / SR
        out[start:] += _partials(midi_to_hz(midi), t) * np.minimum(1.0, t / 0.004)
    out *= np.exp(-np.arange(n) / SR / (seconds / 3))
    out[-int(0.01 * SR):] *= np.linspace(1.0, 0.0, int(0.01 * SR))
    return (0.8 * out / np.max(np.abs(out))).astype(np.float32)


def synth_pad_progression(tonic: int, minor: bool, seconds: float = 25.0) -> np.ndarray:
    """A pad playing i-iv-V-i (I-IV-V-I) three times over, slow attack, each chord held ~2 s,
    with a bass root; it fades out on the tonic."""
    third = 3 if minor else 4
    chords = [(0, third, 7), (5, 5 + third, 12), (7, 11, 14), (0, third, 7)]
    chord_seconds = seconds / 12
    n = int(seconds * SR)
    seg = int(chord_seconds * SR)
    t = np.arange(seg) / SR
    env = np.minimum(1.0, t / 0.4) * np.minimum(1.0, (chord_seconds - t) / 0.2)
    out = np.zeros(n)
    for index in range(int(np.ceil(n / seg))):
        degrees = chords[index % len(chords)]
        root = 48 + tonic
        x = sum(_harmonic(midi_to_hz(root + 12 + d), t) for d in degrees)
        x = x + 0.7 * _harmonic(midi_to_hz(root + degrees[0] - 12 + (12 if degrees[0] > 6 else 0)), t)
        piece = x * env
        start = index * seg
        out[start:start + seg] += piece[: max(0, min(seg, n - start))]
    out *= np.minimum(1.0, (n - np.arange(n)) / (2.0 * SR))  # fade out
    return (0.8 * out / np.max(np.abs(out))).astype(np.float32)


def _harmonic(freq: float, t: np.ndarray) -> np.ndarray:
    """A steady pad voice (sawtooth-like, eight partials, slight detune chorus)."""
    x = np.zeros_like(t)
    for k in range(1, 9):
        if k * freq < SR / 2 * 0.9:
            x += (np.sin(2 * np.pi * k * freq * t) + np.sin(2 * np.pi * k * freq * 1.003 * t)) / k
    return x


@pytest.mark.parametrize("chord", ["C", "Am", "G7", "Fmaj7", "Dm7", "Esus4", "Bbsus2", "Bdim"])
def test_a_chord_one_shot_gets_its_chord(tmp_path: Path, chord: str) -> None:
    path = write_audio(tmp_path / "sample.wav", synth_chord(chord), SR)
    record = analyse(str(path))
    root, quality = parse_chord(chord)
    expected = f"{NOTE_NAMES[root]}{quality}"
    assert record["type"] == "oneshot"
    assert record["chord"] == expected
    assert 0.0 < record["chord_confidence"] <= 1.0
    assert record["note"] is None  # a chord is not a note
    assert record["key"] == key_of_chord(expected)  # dim implies none


def test_the_key_a_lone_chord_implies() -> None:
    assert key_of_chord("Am") == "A minor"
    assert key_of_chord("Dm7") == "D minor"
    assert key_of_chord("G7") == "G major"
    assert key_of_chord("F#maj7") == "F# major"
    assert key_of_chord("Esus4") == "E major"
    assert key_of_chord("Bdim") is None


@pytest.mark.parametrize("bpm, bars, pattern", [(62, 2, "rock"), (90, 2, "hiphop"),
                                                (128, 2, "house"), (174, 4, "dnb")])
def test_a_drum_loop_gets_no_key(tmp_path: Path, bpm: float, bars: int, pattern: str) -> None:
    path = write_audio(tmp_path / "sample.wav", synth_drum_loop(bpm, bars, SR, pattern=pattern), SR)
    record = analyse(str(path))
    assert record["type"] == "loop"
    assert record["key"] is None
    assert record["chord"] is None


@pytest.mark.slow
@pytest.mark.parametrize("tonic, minor, key", [(2, True, "D minor"), (7, False, "G major")])
def test_a_25_second_pad_progression_gets_a_key_and_no_note(tmp_path: Path, tonic: int,
                                                            minor: bool, key: str) -> None:
    path = write_audio(tmp_path / "sample.wav", synth_pad_progression(tonic, minor), SR)
    record = analyse(str(path))
    assert record["key"] == key
    assert record["note"] is None
    assert record["chord"] is None  # it moves through four chords


@pytest.mark.parametrize("bpm, bars", [(62, 1), (62, 2), (67, 2), (134, 4)])
def test_slow_and_fast_loops_read_their_own_tempo(tmp_path: Path, bpm: float, bars: int) -> None:
    path = write_audio(tmp_path / "sample.wav", synth_drum_loop(bpm, bars, SR), SR)
    record = analyse(str(path))
    assert record["bpm"] == pytest.approx(bpm, rel=0.02)


def _string(freq: float, n: int, start: int, inharmonicity: float = 1e-4) -> np.ndarray:
    """A struck string: stretched partials (f_k = k f sqrt(1 + B k^2)), the upper ones dying
    faster, from sample ``start`` of ``n``."""
    t = np.arange(n - start) / SR
    x = np.zeros(n)
    for k in range(1, 13):
        fk = k * freq * np.sqrt(1 + inharmonicity * k * k)
        if fk < SR / 2 * 0.9:
            x[start:] += np.sin(2 * np.pi * fk * t + 0.7 * k) / k ** 1.1 * np.exp(-t * (0.8 + 0.5 * k))
    x[start:] *= np.minimum(1.0, t / 0.003)
    return x


def synth_bass_heavy_chord(chord: str, seconds: float = 2.5) -> np.ndarray:
    """A rolled chord over a loud bass: the root at A1..G#2 and its octave, both 8 dB over the
    upper voices (the chord tones in the two octaves above, a few cents out of tune), each
    voice 25 ms after the one below. YIN hears the bass note in most of them."""
    root, quality = parse_chord(chord)
    bass = 33 + (root - 33) % 12
    n = int(seconds * SR)
    out = 2.5 * (_string(midi_to_hz(bass), n, 0) + _string(midi_to_hz(bass + 12), n, 0))
    upper = [bass + 12 + interval for interval in CHORD_QUALITIES[quality][1:]] + [bass + 24]
    upper += [bass + 24 + interval for interval in CHORD_QUALITIES[quality][1:]]
    for order, midi in enumerate(upper, 1):
        cents = (-6, 4, -3, 5)[order % 4]
        out += _string(midi_to_hz(midi + cents / 100), n, int(order * 0.025 * SR))
    return (0.8 * out / np.max(np.abs(out))).astype(np.float32)


@pytest.mark.parametrize("chord", ["C", "Em", "F#m", "A7", "Dsus2", "Gm"])
def test_a_chord_over_a_loud_bass_is_a_chord_not_the_bass_note(tmp_path: Path, chord: str) -> None:
    path = write_audio(tmp_path / "sample.wav", synth_bass_heavy_chord(chord), SR)
    record = analyse(str(path))
    assert record["chord"] == chord
    assert record["note"] is None
    assert record["key"] == key_of_chord(chord)


@pytest.mark.parametrize("midi", [33, 38, 45, 52])
def test_a_single_string_keeps_its_note(tmp_path: Path, midi: int) -> None:
    n = int(2.5 * SR)
    audio = _string(midi_to_hz(midi), n, 0)
    path = write_audio(tmp_path / "sample.wav", (0.8 * audio / np.max(np.abs(audio))).astype(np.float32), SR)
    record = analyse(str(path))
    assert record["note"] is not None and record["note"].rstrip("0123456789") == NOTE_NAMES[midi % 12]
    assert record["chord"] is None


def _piano_string(freq: float, n: int, start: int, inharmonicity: float) -> np.ndarray:
    """A piano-like string: 20 stretched partials (f_k = k f sqrt(1 + B k^2)), bright (1/k^0.9),
    the upper ones dying faster, from sample ``start`` of ``n``."""
    t = np.arange(n - start) / SR
    x = np.zeros(n)
    for k in range(1, 21):
        fk = k * freq * np.sqrt(1 + inharmonicity * k * k)
        if fk < SR / 2 * 0.9:
            x[start:] += np.sin(2 * np.pi * fk * t + 0.7 * k) / k ** 0.9 * np.exp(-t * (0.5 + 0.3 * k))
    x[start:] *= np.minimum(1.0, t / 0.002)
    return x


def synth_piano_chord(chord: str, seconds: float = 2.5) -> np.ndarray:
    """A chord over a loud piano bass: the root at C2..B2 and its octave, 12 dB over the other
    chord tones (each sounded once, in the octave above, 20 ms apart), the bass strings
    stretched most (B = 3e-4 and 2e-4). The old test (energy off the bass's first 8 harmonics)
    read every one of these as the bass note."""
    root, quality = parse_chord(chord)
    bass = 36 + (root - 36) % 12
    n = int(seconds * SR)
    out = 4.0 * (_piano_string(midi_to_hz(bass), n, 0, 3e-4)
                 + _piano_string(midi_to_hz(bass + 12), n, 0, 2e-4))
    for order, interval in enumerate(CHORD_QUALITIES[quality][1:], 1):
        out += _piano_string(midi_to_hz(bass + 12 + interval), n, int(order * 0.02 * SR), 1.5e-4)
    return (0.8 * out / np.max(np.abs(out))).astype(np.float32)


@pytest.mark.parametrize("chord", ["C", "Em", "F#m", "A7", "Dsus2", "Gm", "A#maj7", "D#sus4"])
def test_a_piano_chord_over_a_loud_stretched_bass_gets_its_chord(tmp_path: Path, chord: str) -> None:
    path = write_audio(tmp_path / "sample.wav", synth_piano_chord(chord), SR)
    record = analyse(str(path))
    assert record["chord"] == chord
    assert record["note"] is None
    assert record["key"] == key_of_chord(chord)
    assert 0.0 < record["chord_confidence"] <= 1.0


@pytest.mark.parametrize("midi", [28, 33, 36, 40, 45])
def test_a_single_low_piano_note_with_stretched_partials_keeps_its_note(tmp_path: Path, midi: int) -> None:
    n = int(2.5 * SR)
    audio = _piano_string(midi_to_hz(midi), n, 0, 6e-4)  # the 20th partial ~190 cents sharp
    path = write_audio(tmp_path / "sample.wav", (0.8 * audio / np.max(np.abs(audio))).astype(np.float32), SR)
    record = analyse(str(path))
    assert record["note"] == f"{NOTE_NAMES[midi % 12]}{midi // 12 - 1}"
    assert record["chord"] is None


def test_the_partials_of_a_stretched_note_explain_its_peaks() -> None:
    # The fit finds the stretch: a lone string leaves nothing for another note, and a second
    # string a major third up stands out as pitch class 4 of the first.
    from samplemind.analysis import spectral, tonal

    n = int(2.0 * SR)
    low = _piano_string(midi_to_hz(38), n, 0, 5e-4)
    k_fft, hop = tonal.key_frame_sizes(SR)
    alone = spectral.power_frames(low.astype(np.float32), k_fft, hop)
    pcs, _concentration, _f0, octave_below = tonal.other_notes(alone, SR, k_fft, midi_to_hz(38))
    assert pcs.max() < tonal.NOTE_CHORD_MIN_OTHER and not octave_below
    both = low + 0.5 * _piano_string(midi_to_hz(38 + 16), n, 0, 1.5e-4)
    power = spectral.power_frames(both.astype(np.float32), k_fft, hop)
    pcs, concentration, _f0, _below = tonal.other_notes(power, SR, k_fft, midi_to_hz(38))
    assert int(np.argmax(pcs)) == 4 and pcs[4] >= tonal.NOTE_CHORD_MIN_OTHER
    assert concentration >= tonal.NOTE_CHORD_MIN_CONCENTRATION


def synth_groove(bpm: float, bars: int, snare_steps: tuple[int, ...], hat_steps: int,
                 hat_accent: float) -> np.ndarray:
    """A trimmed loop of 16 sixteenths a bar at ``bpm``: kick on step 0, snares on
    ``snare_steps``, hats every ``hat_steps`` steps, every other hat at ``hat_accent``."""
    step = 60.0 / bpm / 4
    n = round(bars * 16 * step * SR)
    out = np.zeros(n)
    hits = {kind: synth_drum_hit(kind, SR, i) for i, kind in enumerate(("kick", "snare", "hihat"))}

    def put(kind: str, at: float, gain: float) -> None:
        start = round(at * SR)
        stop = min(n, start + len(hits[kind]))
        out[start:stop] += gain * hits[kind][: stop - start]

    for bar in range(bars):
        t0 = bar * 16 * step
        put("kick", t0, 1.0)
        put("kick", t0 + 10 * step, 0.8)
        for s in snare_steps:
            put("snare", t0 + s * step, 0.9)
        for index, s in enumerate(range(0, 16, hat_steps)):
            put("hihat", t0 + s * step, 0.4 * (hat_accent if index % 2 else 1.0))
    return (0.9 * out / np.max(np.abs(out))).astype(np.float32)


@pytest.mark.parametrize("bpm, bars", [(140, 2), (150, 4), (170, 2)])
def test_a_half_time_groove_reads_its_written_tempo(tmp_path: Path, bpm: float, bars: int) -> None:
    # snare on 3 only, even eighth hats: hit for hit a backbeat at bpm/2 save for the hats
    audio = synth_groove(bpm, bars, snare_steps=(8,), hat_steps=2, hat_accent=1.0)
    record = analyse(str(write_audio(tmp_path / "sample.wav", audio, SR)))
    assert record["bpm"] == pytest.approx(bpm, rel=0.02)


@pytest.mark.parametrize("bpm, bars", [(70, 1), (75, 2), (85, 2)])
def test_a_backbeat_with_accented_sixteenth_hats_reads_slow(tmp_path: Path, bpm: float, bars: int) -> None:
    audio = synth_groove(bpm, bars, snare_steps=(4, 12), hat_steps=1, hat_accent=0.5)
    record = analyse(str(write_audio(tmp_path / "sample.wav", audio, SR)))
    assert record["bpm"] == pytest.approx(bpm, rel=0.02)


def test_the_chord_query_term() -> None:
    assert compile_query("chord:Am").params == ["Am"]
    assert compile_query("chord:'A minor'").params == ["Am"]
    assert compile_query("chord:Bbmaj7").params == ["A#maj7"]
    assert sorted(compile_query("chord:m7").params) == sorted(f"{n}m7" for n in NOTE_NAMES)
    with pytest.raises(Exception, match="unknown chord"):
        compile_query("chord:Hm")


def test_a_name_gives_a_chord_and_its_key() -> None:
    assert filename_hints("Pack/Am_chord.wav") == {"chord": "Am", "key": "A minor"}
    assert filename_hints("Pack/Cmaj7 stab.wav")["chord"] == "Cmaj7"
    assert filename_hints("Pack/Cmaj7 stab.wav")["key"] == "C major"
    assert "chord" not in filename_hints("Pack/Loop_128_Am.wav")  # a loop's key, not a chord
    assert filename_hints("Pack/Piano_C3.wav").get("note") == "C3"


@pytest.mark.slow
def test_chord_am_finds_the_a_minor_chord_in_a_scanned_library(tmp_path: Path, library) -> None:
    folder = tmp_path / "pack"
    folder.mkdir()
    write_audio(folder / "one.wav", synth_chord("Am"), SR)
    write_audio(folder / "two.wav", synth_chord("C"), SR)
    write_audio(folder / "Dm7 chord.wav", synth_drum_loop(120, 1, SR), SR)  # the name decides
    library.scan([folder])
    found = {Path(s.path).name: s.record for s in library.ls("chord:Am")}
    assert list(found) == ["one.wav"]
    assert found["one.wav"]["chord_source"] == "dsp"
    named = next(iter(library.ls("chord:Dm7"))).record
    assert named["chord_source"] == "filename" and named["key"] == "D minor"
    assert [Path(s.path).name for s in library.ls("chord:C")] == ["two.wav"]


def test_a_note_with_nothing_beside_it_but_its_own_pitch_class_is_no_chord() -> None:
    # A stretched low string plus a ring three octaves up that its partials do not explain:
    # the only energy off the note is on the note's own pitch class. There is no other tone
    # to make a chord of (it was named a major chord at confidence 1.0 from 0/0 arithmetic).
    import warnings

    from samplemind.analysis import tonal

    sr, n_fft = 44100, 16384
    bins = np.arange(n_fft // 2 + 1)
    f0, stretch = 110.0, 1e-3
    peaks = [(n * f0 * np.sqrt(1 + stretch * n * n), 1.0 / n) for n in range(1, 10)]
    peaks.append((8 * f0 * 2 ** (-15 / 1200), 0.4))
    power = np.full((1, bins.size), 1e-9)
    for hz, level in peaks:
        power[0] += level * np.exp(-0.5 * ((bins - hz * n_fft / sr) / 0.7) ** 2)
    pcs, _concentration, _f0, _below = tonal.other_notes(power, sr, n_fft, f0)
    assert pcs[0] >= tonal.NOTE_CHORD_MIN_OTHER and pcs[1:].max() == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no 0/0 on the way
        assert tonal.chord_on_note(power, sr, n_fft, f0) == (None, None)


def _low_string_frames(extra: tuple[float, ...] = ()) -> tuple[np.ndarray, int, int]:
    """Power frames shaped like Salamander's recorded C2 (v10): a stretched C2 string whose
    fundamental is missing from the loud first frames and rises as the upper partials die (the
    2nd partial is the loudest, so each frame's bass note is C3); ``extra``: other strings, Hz,
    held at a third of the 2nd partial's level."""
    sr, n_fft = 48000, 8192
    bins = np.arange(n_fft // 2 + 1)
    f0, stretch = midi_to_hz(36), 3e-4
    # partial number -> amplitude in the recording's loudest frame (the 2nd = 1)
    measured = {2: 1.0, 3: 0.328, 4: 0.273, 5: 0.141, 6: 0.078, 7: 0.090, 9: 0.048, 10: 0.077,
                11: 0.081, 12: 0.032, 13: 0.195, 14: 0.094, 15: 0.080}
    frames = []
    for i in range(12):
        decay = 0.8 ** i
        peaks = [(f0, min(0.6, 0.02 * i))]  # absent at first, then rising
        peaks += [(n * f0 * np.sqrt(1 + stretch * n * n), decay * level) for n, level in measured.items()]
        peaks += [(hz, decay / 3) for hz in extra]
        row = np.full(bins.size, 1e-9)
        for hz, level in peaks:
            row += level ** 2 * np.exp(-0.5 * ((bins - hz * n_fft / sr) / 0.7) ** 2)
        frames.append(row)
    return np.array(frames), sr, n_fft


def test_one_low_note_with_a_weak_fundamental_is_no_chord() -> None:
    # Salamander's C2: YIN gives no note (no fundamental in the loud frames), its 2nd, 3rd and
    # 5th partials (C3, G3, E4) make a C major triad in the chroma, and it was named a C chord
    # at confidence 1.0. A partial an octave below the bass note, whose partials explain every
    # peak: one note, no chord to name.
    from samplemind.analysis import tonal

    power, sr, n_fft = _low_string_frames()
    assert tonal.bass_hz(power, sr, n_fft) == pytest.approx(2 * midi_to_hz(36), rel=0.01)
    assert tonal.one_note_under_the_bass(power, sr, n_fft)


def test_a_chord_over_that_low_note_is_still_a_chord() -> None:
    # The same string with E3 and G3 beside it (not its partials): the rule leaves it to the
    # chord templates, as before.
    from samplemind.analysis import tonal

    power, sr, n_fft = _low_string_frames((midi_to_hz(52), midi_to_hz(55)))
    assert tonal.bass_hz(power, sr, n_fft) == pytest.approx(2 * midi_to_hz(36), rel=0.01)
    assert not tonal.one_note_under_the_bass(power, sr, n_fft)


def _series_frames(f0: float, partials: dict[float, float], frames: int = 8) -> tuple[np.ndarray, int, int]:
    """Steady power frames with a peak at n * f0 for each partial number n -> amplitude (peaks
    as narrow as a Hann window's main lobe: an A0's partials lie 4.7 bins apart)."""
    sr, n_fft = 48000, 8192
    bins = np.arange(n_fft // 2 + 1)
    row = np.full(bins.size, 1e-9)
    for number, level in partials.items():
        row += level ** 2 * np.exp(-0.5 * ((bins - number * f0 * n_fft / sr) / 0.5) ** 2)
    return np.tile(row, (frames, 1)), sr, n_fft


def test_the_common_period_of_a_chord_is_no_note() -> None:
    # Salamander's A#sus2 over a doubled bass read as A#0: its notes A#2, A#3, C4, F4 are
    # partials 4, 8, 9, 12 of A#0 (with their own partials 16, 18, 24, ...), and nothing sounds
    # partials 5, 6, 7, 10, 11: a series with gaps is several notes, not one.
    from samplemind.analysis import tonal

    f0 = midi_to_hz(22)  # A#0
    partials = {4: 1.0, 8: 0.9, 9: 0.6, 12: 0.7, 16: 0.3, 18: 0.2, 24: 0.2, 27: 0.1, 36: 0.1}
    power, sr, n_fft = _series_frames(f0, partials)
    assert tonal.bass_hz(power, sr, n_fft) == pytest.approx(4 * f0, rel=0.01)
    assert tonal.common_period(power, sr, n_fft, f0)


def test_a_low_note_whose_first_partials_are_weak_is_a_note() -> None:
    # A low piano string (Salamander's A0): its 1st and 2nd partials under BASS_FLOOR of the
    # loudest, so the lowest strong peak is its 3rd; but every partial from there up sounds.
    from samplemind.analysis import tonal

    f0 = midi_to_hz(21)  # A0
    partials = {1: 0.05, 2: 0.1, **{n: 1.0 / n ** 0.3 for n in range(3, 40)}}
    power, sr, n_fft = _series_frames(f0, partials)
    assert tonal.bass_hz(power, sr, n_fft) == pytest.approx(3 * f0, rel=0.01)
    assert not tonal.common_period(power, sr, n_fft, f0)
    # and a note whose fundamental is strong is never a common period
    power, sr, n_fft = _series_frames(midi_to_hz(40), {n: 1.0 / n for n in range(1, 12)})
    assert not tonal.common_period(power, sr, n_fft, midi_to_hz(40))


def _weak_low_note(midi: int, seconds: float = 2.5) -> np.ndarray:
    """A low string whose 1st and 2nd partials are faint (30 dB under the 3rd), 20 stretched
    partials from there up."""
    n = int(seconds * SR)
    t = np.arange(n) / SR
    freq = midi_to_hz(midi)
    x = np.zeros(n)
    for k in range(1, 21):
        fk = k * freq * np.sqrt(1 + 2e-4 * k * k)
        gain = 0.03 if k <= 2 else 1.0
        x += gain * np.sin(2 * np.pi * fk * t + 0.7 * k) / k ** 0.5 * np.exp(-t * (0.5 + 0.2 * k))
    x *= np.minimum(1.0, t / 0.002)
    return (0.8 * x / np.max(np.abs(x))).astype(np.float32)


@pytest.mark.parametrize("midi", [21, 24, 28])
def test_a_low_note_heard_from_its_third_partial_up_keeps_its_note(tmp_path: Path, midi: int) -> None:
    # YIN reads the note from the series; the common-period rule must not turn it into the
    # chord its partials 3-6 sound (a fifth, the root, a major third).
    path = write_audio(tmp_path / "sample.wav", _weak_low_note(midi), SR)
    record = analyse(str(path))
    assert record["note"] == f"{NOTE_NAMES[midi % 12]}{midi // 12 - 1}"
    assert record["chord"] is None
    assert record["key"] is None


def _faint_third_maj7(root_midi: int, third_gain: float = 0.15, seconds: float = 2.5) -> np.ndarray:
    """A maj7 over a loud piano bass (the root and its octave) whose major third is faint:
    no chord template fits (the third under CHORD_TONE_MIN) and YIN reads the bass note."""
    n = int(seconds * SR)
    out = (3.0 * _piano_string(midi_to_hz(root_midi), n, 0, 2e-4)
           + 2.0 * _piano_string(midi_to_hz(root_midi + 12), n, 0, 2e-4))
    for order, (interval, gain) in enumerate(((16, third_gain), (19, 1.0), (23, 1.0)), 1):
        out += gain * _piano_string(midi_to_hz(root_midi + interval), n, int(order * 0.015 * SR), 1.5e-4)
    return (0.8 * out / np.max(np.abs(out))).astype(np.float32)


@pytest.mark.parametrize("root", [37, 39, 41, 43])
def test_a_held_chord_no_template_fits_gets_the_key_of_its_notes(tmp_path: Path, root: int) -> None:
    # Salamander's C#maj7 and D#maj7 got nothing: the third too faint for the maj7 template,
    # no quality fitting the notes beside the bass. The notes beside the bass stand out
    # (several_notes: chord_on_note's single-note and cymbal tests), so it gets a key.
    path = write_audio(tmp_path / "sample.wav", _faint_third_maj7(root), SR)
    record = analyse(str(path))
    assert record["key"] == f"{NOTE_NAMES[root % 12]} major"
    assert record["note"] is None


def test_several_notes_beside_a_bass_but_not_a_single_note_nor_a_ring() -> None:
    from samplemind.analysis import tonal

    f0 = midi_to_hz(36)  # C2 with E3 and B3 beside it (off its partials)
    partials = {n: 1.0 / n for n in range(1, 16)}
    power, sr, n_fft = _series_frames(f0, {**partials, 2 ** (16 / 12): 0.3, 2 ** (23 / 12): 0.3})
    assert tonal.several_notes(power, sr, n_fft)
    power, sr, n_fft = _series_frames(f0, partials)  # the note alone
    assert not tonal.several_notes(power, sr, n_fft)
    # a ring of inharmonic partials scattered over many pitch classes (a ride's bell)
    rng = np.random.default_rng(3)
    ring = {1.0: 1.0, **{float(r): 0.25 for r in rng.uniform(1.3, 40.0, 30)}}
    power, sr, n_fft = _series_frames(midi_to_hz(60), ring)
    assert not tonal.several_notes(power, sr, n_fft)
