"""Per-file analysis with real Essentia on numpy-generated audio."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import soundfile as sf

from samplemind.analysis import classify, extract
from samplemind.analysis.extract import Extractor, analyse
from samplemind.analysis.layout import VECTOR_BLOCKS, VECTOR_DIM
from samplemind.analysis.versions import EXTRACTOR_VERSION
from samplemind.errors import DecodeError
from samplemind.music import hz_to_midi, midi_to_hz, midi_to_note, parse_key

from audio_fixtures import (
    DRUM_KINDS,
    synth_bass_loop,
    synth_chord_loop,
    synth_drum_hit,
    synth_drum_loop,
    synth_held_chord,
    synth_noise,
    synth_riser,
    synth_tone,
    write_audio,
    write_chord_loop,
    write_drum_hit,
    write_drum_loop,
    write_long_file,
    write_noise,
    write_tone,
)

RECORD_KEYS = {
    "format", "codec", "sample_rate", "channels", "bit_depth", "duration", "audio_hash",
    "loudness_lufs", "peak_db", "type", "type_confidence", "category", "category_confidence",
    "bpm", "bpm_confidence", "bpm_alternatives", "key", "key_confidence", "chord",
    "chord_confidence", "note", "pitch_hz",
    "note_confidence",
    "spectral_centroid", "spectral_flatness", "spectral_rolloff", "spectral_bandwidth",
    "spectral_contrast", "brightness", "low_energy_ratio", "zero_crossing_rate", "attack_time",
    "decay_time", "temporal_centroid", "crest_db", "end_level_db", "onset_rate", "onset_count",
    "tonalness", "vector", "peaks", "warnings",
}


@pytest.fixture(scope="module")
def ex() -> Extractor:
    return Extractor()


def _cents(hz: float, midi: int) -> float:
    return abs(hz_to_midi(hz) - midi) * 100.0


# --- interface ----------------------------------------------------------------------------


def test_vector_blocks_tile_the_vector():
    assert isinstance(EXTRACTOR_VERSION, str) and EXTRACTOR_VERSION
    assert set(VECTOR_BLOCKS) == {"timbre", "spectral", "envelope", "tonal", "rhythm"}
    spans = sorted(VECTOR_BLOCKS.values())
    assert spans[0][0] == 0 and spans[-1][1] == VECTOR_DIM
    for (_, stop), (start, _) in zip(spans, spans[1:]):
        assert stop == start
    assert 48 <= VECTOR_DIM <= 128


def test_record_has_exactly_the_documented_keys_and_is_strict_json(tmp_path, ex):
    path = write_drum_hit(tmp_path / "kick.wav", "kick")
    rec = ex.analyse(str(path))
    assert set(rec) == RECORD_KEYS
    text = json.dumps(rec, allow_nan=False)  # raises on NaN/inf
    assert json.loads(text) == rec
    for key, value in rec.items():  # plain Python types only (no numpy scalars)
        assert type(value) in (str, int, float, list, type(None)), (key, type(value))
    assert len(rec["vector"]) == VECTOR_DIM
    assert all(isinstance(v, float) and math.isfinite(v) for v in rec["vector"])
    assert rec["format"] == "wav" and rec["codec"] == "pcm_s16le"
    assert rec["sample_rate"] == 44100 and rec["channels"] == 1 and rec["bit_depth"] == 16
    assert rec["duration"] == pytest.approx(0.5, abs=1e-3)
    assert len(rec["audio_hash"]) == 32 and int(rec["audio_hash"], 16) >= 0
    for key in ("spectral_centroid", "spectral_rolloff", "spectral_bandwidth"):
        assert 0.0 < rec[key] < 22050.0
    assert 0.0 < rec["spectral_flatness"] < 1.0
    assert 0.0 < rec["attack_time"] < 0.05 and 0.05 < rec["decay_time"] < 0.5


def test_peaks_overview(tmp_path, ex):
    x = synth_tone(57, 1.0, 44100, "saw")
    rec = ex.analyse(str(write_audio(tmp_path / "t.wav", x)))
    peaks = rec["peaks"]
    assert len(peaks) == 512
    mins, maxs = np.array(peaks[0::2]), np.array(peaks[1::2])
    assert np.all(mins <= maxs) and np.all(np.abs(peaks) <= 1.0)
    assert all(round(v, 4) == v for v in peaks)
    assert maxs.max() == pytest.approx(float(x.max()), abs=2e-4)  # 16-bit quantisation
    assert maxs[-1] < 0.1 * maxs.max()  # the decay shows in the overview
    tiny = ex.analyse(str(write_audio(tmp_path / "tiny.wav", x[:100])))
    assert len(tiny["peaks"]) == 200  # fewer buckets than samples are never invented


def test_module_level_analyse_matches_extractor(tmp_path, ex):
    path = str(write_tone(tmp_path / "a.wav", 69, 0.5))
    assert analyse(path) == ex.analyse(path)
    assert extract._EXTRACTOR is not None
    first = extract._EXTRACTOR
    analyse(path)
    assert extract._EXTRACTOR is first


# --- decoding and hashing -----------------------------------------------------------------


@pytest.mark.parametrize("subtype", ["PCM_16", "PCM_24"])
def test_same_audio_in_wav_flac_aiff_hashes_equal(tmp_path, ex, subtype):
    rng = np.random.default_rng(3)
    stereo = np.stack([synth_tone(50, 0.6, 44100, "saw"), 0.3 * rng.standard_normal(26460)], 1)
    records = {}
    for suffix in ("wav", "flac", "aiff"):
        path = write_audio(tmp_path / f"x_{subtype}.{suffix}", stereo, subtype=subtype)
        records[suffix] = ex.analyse(str(path))
    hashes = {r["audio_hash"] for r in records.values()}
    assert len(hashes) == 1
    bits = int(subtype[-2:])
    assert {r["bit_depth"] for r in records.values()} == {bits}
    assert {r["format"] for r in records.values()} == {"wav", "flac", "aiff"}
    assert records["wav"]["codec"] == f"pcm_s{bits}le"
    assert records["aiff"]["codec"] == f"pcm_s{bits}be"
    assert records["flac"]["codec"] == "flac"
    # A one-sample change is a different sound.
    stereo[1000, 0] += 0.01
    other = ex.analyse(str(write_audio(tmp_path / f"y_{subtype}.wav", stereo, subtype=subtype)))
    assert other["audio_hash"] not in hashes


def test_lossy_formats_decode(tmp_path, ex):
    x = synth_tone(57, 1.0, 44100, "saw")
    for suffix in ("ogg", "mp3"):
        rec = ex.analyse(str(write_audio(tmp_path / f"t.{suffix}", x)))
        assert rec["format"] == suffix
        assert rec["bit_depth"] is None
        assert rec["duration"] == pytest.approx(1.0, abs=0.08)
        assert rec["note"] == "A3"


def test_multichannel_file(tmp_path, ex):
    x = synth_tone(45, 0.5, 48000, "bass")
    path = write_audio(tmp_path / "quad.wav", np.stack([x, x, 0.5 * x, 0 * x], 1), sr=48000,
                       subtype="PCM_24")
    rec = ex.analyse(str(path))
    assert rec["channels"] == 4 and rec["sample_rate"] == 48000 and rec["bit_depth"] == 24
    assert rec["note"] == "A2"


def _header_only_wav(path):
    with open(path, "wb") as f:
        f.write(b"RIFF" + (36).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little"))
        f.write((1).to_bytes(2, "little") + (1).to_bytes(2, "little"))
        f.write((44100).to_bytes(4, "little") + (88200).to_bytes(4, "little"))
        f.write((2).to_bytes(2, "little") + (16).to_bytes(2, "little"))
        f.write(b"data" + (0).to_bytes(4, "little"))
    return path


@pytest.mark.parametrize("case, fragment", [
    ("empty", "empty file"),
    ("text", "not an audio file"),
    ("header_only", "truncated or corrupt"),
    ("truncated_flac", "truncated or corrupt"),
    ("random_mp3", "audio"),
    ("missing", "file not found"),
    ("directory", "directory"),
])
def test_bad_files_raise_decode_error_with_a_clear_message(tmp_path, ex, case, fragment):
    path = tmp_path / f"{case}.wav"
    if case == "empty":
        path.write_bytes(b"")
    elif case == "text":
        path.write_text("this is not audio\n" * 50)
    elif case == "header_only":
        _header_only_wav(path)
    elif case == "truncated_flac":
        good = write_tone(tmp_path / "good.flac", 60, 1.0)
        path = tmp_path / "cut.flac"
        path.write_bytes(good.read_bytes()[:300])
    elif case == "random_mp3":
        path = tmp_path / "noise.mp3"
        path.write_bytes(np.random.default_rng(1).bytes(4000))
    elif case == "directory":
        path = tmp_path / "adir.wav"
        path.mkdir()
    with pytest.raises(DecodeError) as err:
        ex.analyse(str(path))
    message = str(err.value)
    assert fragment in message
    assert "\n" not in message and len(message) < 200
    # The extractor is still usable afterwards.
    assert ex.analyse(str(write_drum_hit(tmp_path / "ok.wav", "snare")))["type"] == "oneshot"


def test_nan_samples_are_a_decode_error(tmp_path, ex):
    x = synth_tone(60, 0.5).astype(np.float32)
    x[100] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(str(path), x, 44100, subtype="FLOAT")
    with pytest.raises(DecodeError, match="NaN"):
        ex.analyse(str(path))


# --- loudness -------------------------------------------------------------------------------


def test_loudness_of_reference_sine_and_peak(tmp_path, ex):
    sr = 48000
    t = np.arange(5 * sr) / sr
    sine = 0.1 * np.sin(2 * np.pi * 1000 * t)
    rec = ex.analyse(str(write_audio(tmp_path / "ref.wav", np.stack([sine, sine], 1), sr=sr,
                                     subtype="FLOAT")))
    # BS.1770: a 1 kHz tone at -20 dBFS in both channels reads about -20 LUFS (-19.99).
    assert rec["loudness_lufs"] == pytest.approx(-19.99, abs=0.05)
    assert rec["peak_db"] == pytest.approx(-20.0, abs=0.01)


def test_loudness_matches_essentia_reference_on_noise(tmp_path, ex):
    import essentia.standard as es

    rng = np.random.default_rng(0)
    x = (rng.standard_normal((3 * 44100, 2)) * np.exp(-np.arange(3 * 44100) / 44100 / 0.8)[:, None]
         * 0.2).astype(np.float32)
    ref = es.LoudnessEBUR128(sampleRate=44100)(x)[2]
    rec = ex.analyse(str(write_audio(tmp_path / "n.wav", x, subtype="FLOAT")))
    assert rec["loudness_lufs"] == pytest.approx(ref, abs=0.05)


def test_loudness_sums_channels(tmp_path, ex):
    x = synth_chord_loop("C major", 2.0)
    mono = ex.analyse(str(write_audio(tmp_path / "m.wav", x, subtype="FLOAT")))
    dual = ex.analyse(str(write_audio(tmp_path / "d.wav", np.stack([x, x], 1), subtype="FLOAT")))
    wide = ex.analyse(str(write_audio(tmp_path / "w.wav", np.stack([x, 0.5 * x], 1),
                                      subtype="FLOAT")))
    assert dual["loudness_lufs"] == pytest.approx(mono["loudness_lufs"] + 3.01, abs=0.01)
    assert wide["loudness_lufs"] == pytest.approx(mono["loudness_lufs"] + 0.97, abs=0.01)


def test_short_and_silent_sounds_have_sane_loudness(tmp_path, ex):
    hat = ex.analyse(str(write_drum_hit(tmp_path / "hat.wav", "hihat")))  # 150 ms < 400 ms block
    assert hat["duration"] < 0.4
    assert math.isfinite(hat["loudness_lufs"]) and -40 < hat["loudness_lufs"] < 0
    silent = ex.analyse(str(write_audio(tmp_path / "silence.wav", np.zeros(22050))))
    assert silent["loudness_lufs"] is None and silent["peak_db"] is None
    assert silent["type"] == "oneshot" and silent["note"] is None and silent["key"] is None
    assert all(math.isfinite(v) for v in silent["vector"])


# --- tempo, loops -------------------------------------------------------------------------


@pytest.mark.parametrize("bpm", [90, 120, 128, 140, 174])
@pytest.mark.parametrize("bars", [1, 2, 4])
def test_bpm_of_drum_loops(tmp_path, ex, bpm, bars):
    pattern = {90: "hiphop", 120: "rock", 128: "house", 140: "rock", 174: "dnb"}[bpm]
    rec = ex.analyse(str(write_drum_loop(tmp_path / "loop.wav", bpm, bars, pattern=pattern)))
    assert rec["type"] == "loop"
    assert rec["bpm"] == pytest.approx(bpm, abs=1.0)
    assert type(rec["bpm"]) is float
    assert rec["bpm_alternatives"] == [pytest.approx(rec["bpm"] / 2), pytest.approx(rec["bpm"] * 2)]
    assert 0.0 < rec["bpm_confidence"] <= 1.0
    assert rec["key"] is None and rec["note"] is None


@pytest.mark.parametrize("pattern", ["rock", "house", "hiphop", "dnb"])
def test_bpm_patterns_at_other_tempi_and_formats(tmp_path, ex, pattern):
    for bpm, suffix in ((100, "flac"), (160, "aiff")):
        path = write_drum_loop(tmp_path / f"l{bpm}.{suffix}", bpm, 2, pattern=pattern)
        assert ex.analyse(str(path))["bpm"] == pytest.approx(bpm, abs=1.0)


@pytest.mark.slow
def test_bpm_sweep_over_patterns_tempi_and_lengths(ex):
    """The metrical-level choice (e.g. 87 vs 174) holds across patterns, not just one."""
    from samplemind.analysis import rhythm, spectral

    sr = 44100
    n_fft, hop = spectral.stft_sizes(sr)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    misses = []
    for pattern in ("rock", "house", "hiphop", "dnb"):
        for bpm in (70, 85, 100, 110, 150, 160, 170):
            for bars in (1, 2, 4):
                x = synth_drum_loop(bpm, bars, sr, pattern=pattern)
                power = spectral.power_frames(x, n_fft, hop)
                strength = rhythm.onset_strength(spectral.mel_db(power, sr, n_fft), sr / hop)
                tempo = rhythm.estimate_tempo(power, freqs, sr / hop, x.size / sr, True, strength)
                if tempo is None or abs(tempo.bpm - bpm) >= 1.0 or not tempo.snapped:
                    misses.append((pattern, bpm, bars, tempo and round(tempo.bpm, 1)))
    assert not misses


def test_untrimmed_loop_falls_back_to_the_dsp_tempo(tmp_path, ex):
    x = synth_drum_loop(126, 4, pattern="house")
    x = x[: int(x.size * 0.83)]  # not a whole number of beats any more
    rec = ex.analyse(str(write_audio(tmp_path / "cut.wav", x)))
    assert rec["type"] == "loop"
    assert rec["bpm"] == pytest.approx(126, abs=1.5)
    assert rec["bpm"] != round(rec["bpm"])  # not snapped to a duration-derived value


@pytest.mark.parametrize("key", ["C major", "A minor", "F# major", "D# minor", "G major",
                                 "E minor", "Bb major", "F minor"])
def test_key_of_chord_loops(tmp_path, ex, key):
    rec = ex.analyse(str(write_chord_loop(tmp_path / "chords.wav", key, 4.0)))
    assert rec["key"] == parse_key(key)
    assert 0.0 < rec["key_confidence"] <= 1.0
    assert rec["type"] == "loop"
    assert rec["note"] is None


@pytest.mark.parametrize("key", ["A minor", "E major", "C# minor", "Bb major"])
def test_key_of_bass_loops(tmp_path, ex, key):
    rec = ex.analyse(str(write_audio(tmp_path / "bass.wav", synth_bass_loop(key, 120, 2))))
    assert rec["type"] == "loop"
    assert rec["bpm"] == pytest.approx(120, abs=1.0)
    assert rec["key"] == parse_key(key)


def test_a_held_chord_cut_at_full_level_is_a_loop_with_a_key(tmp_path, ex):
    rec = ex.analyse(str(write_audio(tmp_path / "pad.wav", synth_held_chord("F# minor", 3.5))))
    assert rec["onset_count"] <= 2  # no pattern to speak of
    assert rec["type"] == "loop"
    assert rec["key"] == "F# minor"


def test_a_riser_is_a_one_shot(tmp_path, ex):
    rec = ex.analyse(str(write_audio(tmp_path / "riser.wav", synth_riser(4.0))))
    assert rec["end_level_db"] > -6.0  # ends loud, like a held loop ...
    assert rec["type"] == "oneshot"  # ... but its energy builds up: not a loop


def test_single_notes_and_toms_get_no_key(tmp_path, ex):
    for name, audio in (("note", synth_tone(45, 3.0, 44100, "saw", decay=3.0)),
                        ("tom", synth_drum_hit("tom"))):
        rec = ex.analyse(str(write_audio(tmp_path / f"{name}.wav", audio)))
        assert rec["key"] is None, name


def test_chord_loop_key_in_lossy_and_resampled_files(tmp_path, ex):
    x = synth_chord_loop("D major", 6.0, 48000)
    assert ex.analyse(str(write_audio(tmp_path / "c.mp3", x, sr=48000)))["key"] == "D major"
    y = synth_chord_loop("B minor", 4.0, 22050)
    assert ex.analyse(str(write_audio(tmp_path / "c.ogg", y, sr=22050)))["key"] == "B minor"


# --- pitch, one-shots -----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("waveform", ["sine", "saw", "bass", "pluck"])
def test_note_of_pitched_one_shots_from_b0_to_2khz(tmp_path, ex, waveform):
    failures = []
    for midi in (23, 28, 33, 40, 45, 52, 57, 64, 69, 76, 81, 88, 95):  # B0 .. B6 (1976 Hz)
        seconds = 1.0 if midi < 40 else 0.5
        rec = ex.analyse(str(write_tone(tmp_path / f"{midi}.wav", midi, seconds,
                                        waveform=waveform)))
        ok = (rec["note"] == midi_to_note(midi) and rec["pitch_hz"] is not None
              and _cents(rec["pitch_hz"], midi) < 50 and rec["type"] == "oneshot"
              and rec["key"] is None and rec["bpm"] is None and rec["note_confidence"] > 0.5)
        if not ok:
            failures.append((midi, rec["note"], rec["pitch_hz"], rec["type"]))
    assert not failures


def test_note_at_other_rates_and_short_lengths(tmp_path, ex):
    for sr, midi, seconds in ((22050, 36, 0.6), (48000, 60, 0.2), (96000, 84, 0.3),
                              (44100, 72, 0.12)):
        rec = ex.analyse(str(write_tone(tmp_path / f"{sr}_{midi}.wav", midi, seconds, sr=sr)))
        assert rec["note"] == midi_to_note(midi), (sr, midi, rec["note"])
        assert _cents(rec["pitch_hz"], midi) < 50


@pytest.mark.parametrize("kind", DRUM_KINDS)
def test_drum_hits_are_one_shots_without_note_or_key(tmp_path, ex, kind):
    rec = ex.analyse(str(write_drum_hit(tmp_path / f"{kind}.wav", kind)))
    assert rec["type"] == "oneshot"
    assert rec["note"] is None and rec["key"] is None and rec["bpm"] is None
    assert rec["onset_count"] == 1


def test_noise_has_no_note_or_key(tmp_path, ex):
    for name, kwargs in (("steady", {}), ("decaying", {"decay": 0.2})):
        rec = ex.analyse(str(write_noise(tmp_path / f"{name}.wav", 1.5, **kwargs)))
        assert rec["note"] is None and rec["key"] is None
        assert rec["tonalness"] < 0.5
        assert rec["spectral_flatness"] > 0.3


def test_clicks_dc_and_tiny_files_are_handled(tmp_path, ex):
    click = np.zeros(21000)
    click[1000] = 0.9
    for name, audio in (("click", click), ("dc", np.full(22050, 0.3)),
                        ("tiny", np.array([0.1, -0.2, 0.3, 0.0, 0.1]))):
        rec = ex.analyse(str(write_audio(tmp_path / f"{name}.wav", audio)))
        assert rec["note"] is None and rec["key"] is None, name
        assert rec["type"] == "oneshot"
        assert json.dumps(rec, allow_nan=False)
    assert ex.analyse(str(tmp_path / "click.wav"))["tonalness"] < 0.5


def test_descriptors_separate_kinds_of_sound(tmp_path, ex):
    rec = {k: ex.analyse(str(write_drum_hit(tmp_path / f"{k}.wav", k))) for k in DRUM_KINDS}
    assert rec["kick"]["spectral_centroid"] < rec["snare"]["spectral_centroid"] \
        < rec["hihat"]["spectral_centroid"]
    assert rec["kick"]["low_energy_ratio"] > 0.5 > rec["hihat"]["low_energy_ratio"]
    assert rec["hihat"]["brightness"] > 0.8
    tone = ex.analyse(str(write_tone(tmp_path / "tone.wav", 57, 1.0, waveform="saw")))
    noise = ex.analyse(str(write_noise(tmp_path / "noise.wav", 1.0)))
    assert tone["tonalness"] > 0.9 > 0.5 > noise["tonalness"]
    assert noise["zero_crossing_rate"] > 10 * tone["zero_crossing_rate"]


# --- loop vs one-shot ---------------------------------------------------------------------


def test_loop_or_one_shot(tmp_path, ex):
    def kind(name, audio, sr=44100):
        return ex.analyse(str(write_audio(tmp_path / f"{name}.wav", audio, sr)))["type"]

    assert kind("loop", synth_drum_loop(100, 2, pattern="rock")) == "loop"
    assert kind("chords", synth_chord_loop("C major", 4.0)) == "loop"
    assert kind("long_tone", synth_tone(45, 2.5, 44100, "pluck")) == "oneshot"
    assert kind("noise_swell", synth_noise(1.2, decay=0.3)) == "oneshot"
    rng = np.random.default_rng(5)
    hits = np.zeros(int(3.1 * 44100))  # a few hits at random times, then silence
    for start in rng.uniform(0, 1.5, 3):
        i = int(start * 44100)
        hits[i:i + 2000] += rng.standard_normal(2000) * np.exp(-np.arange(2000) / 300)
    assert kind("fx", hits) == "oneshot"


def test_classifier_is_a_pure_function_of_cues():
    loop = classify.LoopCues(duration=4.0, onset_count=16, periodicity=0.7, end_level_db=-10,
                             fits_beats=True)
    hit = classify.LoopCues(duration=0.8, onset_count=1, periodicity=0.0, end_level_db=-60,
                            fits_beats=False)
    assert classify.classify_type(loop)[0] == "loop"
    assert classify.classify_type(hit)[0] == "oneshot"
    for cues in (loop, hit):
        kind, confidence = classify.classify_type(cues)
        assert 0.5 <= confidence <= 1.0
    # Evidence moves the score the right way.
    weaker = classify.LoopCues(duration=4.0, onset_count=16, periodicity=0.7, end_level_db=-70,
                               fits_beats=False)
    assert classify.loop_score(weaker) < classify.loop_score(loop)
    too_long = classify.LoopCues(duration=300.0, onset_count=600, periodicity=0.9,
                                 end_level_db=0.0, fits_beats=True)
    assert classify.classify_type(too_long)[0] == "oneshot"


# --- long files ---------------------------------------------------------------------------


def test_long_path_matches_in_memory_path(tmp_path, ex, monkeypatch):
    """Exact quantities are identical whichever path analyses the file."""
    x = np.concatenate([synth_chord_loop("E minor", 8.0, 22050), synth_drum_loop(120, 4, 22050)])
    stereo = np.stack([x, 0.8 * x[::-1]], 1)
    path = str(write_audio(tmp_path / "mid.flac", stereo, sr=22050, subtype="PCM_24"))
    whole = ex.analyse(path)
    monkeypatch.setattr(extract, "LONG_FILE_SECONDS", 5.0)
    blocks = ex.analyse(path)
    for key in ("audio_hash", "peak_db", "peaks", "duration", "format", "codec", "bit_depth",
                "sample_rate", "channels"):
        assert blocks[key] == whole[key], key
    assert blocks["loudness_lufs"] == pytest.approx(whole["loudness_lufs"], abs=0.011)
    assert blocks["zero_crossing_rate"] == pytest.approx(whole["zero_crossing_rate"], rel=1e-3)
    assert blocks["spectral_centroid"] == pytest.approx(whole["spectral_centroid"], rel=0.25)
    assert set(blocks) == RECORD_KEYS


@pytest.mark.slow
def test_long_file_is_analysed_in_blocks(tmp_path, ex, monkeypatch):
    a_minor = tuple(midi_to_hz(m) for m in (57, 60, 64))  # A3 C4 E4, held for 12 minutes
    path = write_long_file(tmp_path / "long.wav", 12 * 60, sr=22050, tones_hz=a_minor)
    calls = []
    real = extract.Decoder.decode
    monkeypatch.setattr(extract.Decoder, "decode",
                        lambda self, p, info: calls.append(p) or real(self, p, info))
    rec = ex.analyse(str(path))
    assert not calls  # never decoded whole
    assert set(rec) == RECORD_KEYS
    assert rec["duration"] == pytest.approx(720.0, abs=0.01)
    assert rec["sample_rate"] == 22050 and rec["channels"] == 1 and rec["bit_depth"] == 16
    assert rec["type"] == "oneshot" and rec["note"] is None and rec["bpm"] is None
    # Three 0.1 sines + 0.05 RMS noise: 0.13 RMS, -17.6 dBFS; K-weighting adds a little.
    assert -19.5 < rec["loudness_lufs"] < -16.0
    assert -8.0 < rec["peak_db"] < -4.0  # 0.3 of tones + the largest of 16M noise samples
    assert len(rec["peaks"]) == 512 and min(rec["peaks"][1::2]) > 0.25
    assert 150 < rec["spectral_centroid"] < 1500
    assert rec["key"] == "A minor"
    assert rec["onset_count"] <= 2 and rec["decay_time"] > 60
    assert json.dumps(rec, allow_nan=False)


@pytest.mark.slow
def test_long_path_for_formats_libsndfile_cannot_stream(tmp_path, ex, monkeypatch):
    """m4a/aac-style files go through Essentia's low-rate mono decode instead."""
    path = str(write_chord_loop(tmp_path / "c.wav", "G major", 12.0))
    real_probe = extract.probe

    def fake_probe(p, reader=None):
        info = real_probe(p, reader)
        info.streamable = False
        info.bit_depth = None
        return info

    whole = ex.analyse(path)
    monkeypatch.setattr(extract, "probe", fake_probe)
    monkeypatch.setattr(extract, "LONG_FILE_SECONDS", 5.0)
    rec = ex.analyse(path)
    assert rec["duration"] == pytest.approx(12.0, abs=0.05)
    assert rec["sample_rate"] == 44100
    assert rec["key"] == "G major"
    # 11 kHz mono stands in for the file: chords below 5 kHz keep their loudness.
    assert rec["loudness_lufs"] == pytest.approx(whole["loudness_lufs"], abs=0.3)
