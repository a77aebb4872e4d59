"""Per-file audio analysis: path -> a flat, JSON-serialisable dict of features.

One :class:`Extractor` per worker process holds the configured Essentia
algorithms (decoder, metadata reader, key profile) and the K-filter matrices,
and is reused for every file; Essentia algorithms are not thread-safe, so
never share one across threads. :func:`analyse` uses a lazily created
per-process instance.

How a file is analysed (modules in this package):

- ``decode``: small files are identified from their first bytes, larger ones
  probed by libsndfile (else Essentia's MetadataReader); one reused
  ``AudioLoader`` decodes (libsndfile for > 2 channels). Unreadable, empty,
  truncated or non-audio files raise :class:`~samplemind.errors.DecodeError`.
- ``loudness``: hash, sample peak and BS.1770 loudness per channel.
- ``spectral``: the mono mix's STFT (~46 ms Hann frames side by side) pooled
  into spectral descriptors, MFCC and chroma; an RMS envelope; the "hit": ~12 ms-hop
  frames of the 0.5 s after the loudest moment, as attack/body/tail spectra (colour,
  per-band decay, low resonance, partial salience).
- ``rhythm`` + ``classify``: onsets, periodicity, loop/one-shot; for loop
  candidates the frames in between are added (one every ~12 ms) and the tempo
  is estimated and snapped to the loop's length.
- ``tonal``: YIN pitch (a note for one pitch held) and a peak chroma: nothing where
  it shows no harmony (drums, noise); a chord (and the key it implies) where one
  harmony is held throughout; Essentia ``Key`` where the harmony moves.
- ``longfile``: files over ``LONG_FILE_SECONDS`` (or ``LONG_FILE_SAMPLES``)
  are streamed in blocks with bounded memory; long material (> 64 s) is never
  a loop ("oneshot" then means "not a loop"), gets a ``bpm`` only when a 60 s
  window from its middle has a clear pulse, and never a ``note``.

Returned keys (``None`` where not applicable):

======================  ===============================================================
key                     meaning
======================  ===============================================================
format                  container, lowercase: wav, flac, aiff, ogg, mp3, m4a, ...
codec                   decoder codec name (``pcm_s24le``, ``flac``, ``mp3``, ...)
sample_rate             Hz (int)
channels                int
bit_depth               bits per sample for PCM/lossless, None for lossy codecs
duration                seconds
audio_hash              blake2b-128 hex of (rate, channels, float32 PCM): equal for the
                        same audio in wav/flac/aiff at the same bit depth
loudness_lufs           integrated loudness, BS.1770-4 gating; sounds under 400 ms are
                        measured as one block (no gating); None only for digital silence
peak_db                 sample peak, dBFS; None for digital silence
type                    "loop" or "oneshot" (classify.py): cut to repeat or not. A phrase that
                        rings out (a 25 s progression) is a "oneshot" in that sense and still
                        gets a key, never a note; material over 64 s is "oneshot" (= not a loop)
type_confidence         0..1
category                one-shots up to 12 s: kick, snare, hihat, cymbal, tom, clap, perc,
                        bass or tonal (a pitched instrument), from the sound alone
                        (classify.classify_category, the shipped model); else None
category_confidence     0..1, the model's calibrated probability of that category
bpm                     tempo of loops in 70-180 BPM (snapped to whole beats of the
                        duration when it fits) and of rhythmic long material; else None
bpm_confidence          0..1
bpm_alternatives        [half, double] of bpm, or None
key                     "A minor" / "F# major" for any material with harmony to name (loops,
                        progressions, long material: Essentia's Key on the peak chroma; a held
                        chord: the key it implies, music.key_of_chord); None for drums, noise,
                        effects and single notes (tonal.has_harmony, from the sound alone)
key_confidence          0..1
chord                   "Am", "G7", "Fmaj7", "Dm7", "Esus4", "Bdim"... for a sound holding one
                        chord throughout (stabs, strums, pads, keys hits; tonal.estimate_chord);
                        None for notes, progressions, drums and noise
chord_confidence        0..1
note                    "A1" for pitched one-shots; else None
pitch_hz                fundamental of that note, Hz
note_confidence         0..1
spectral_centroid       Hz, energy-weighted mean over frames
spectral_flatness       0..1, geometric/arithmetic mean of the power spectrum (1 = noise)
spectral_rolloff        Hz below which 85 % of the energy lies
spectral_bandwidth      Hz, spread of the spectrum around its centroid
spectral_contrast       dB between loud and quiet mel bands (high = sparse/tonal)
brightness              0..1, energy share above 1.5 kHz
low_energy_ratio        0..1, energy share below 150 Hz
zero_crossing_rate      0..1, share of sample pairs that change sign
attack_time             s, from 20 % to 90 % of the peak amplitude
decay_time              s, from the peak until the level is 20 dB lower
temporal_centroid       0..1, centre of the energy envelope as a share of the duration
crest_db                peak-to-RMS ratio, dB
end_level_db            last ~46 ms relative to the loudest part, dB (low = decays out)
onset_rate              onsets per second
onset_count             number of detected onsets
tonalness               0..1, how periodic/pitched (YIN clarity, energy-weighted)
vector                  VECTOR_DIM raw floats, blocks in VECTOR_BLOCKS
peaks                   waveform overview: min,max interleaved over <= 256 buckets (mono)
warnings                damage that did not stop the analysis, as sentences ("truncated:
                        header declares 0.44 s, 0.15 s decoded"); None when there is none
======================  ===============================================================
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass

import numpy as np

from samplemind import music
from samplemind.analysis import classify, rhythm, spectral, tonal
from samplemind.analysis.decode import (
    SMALL_FILE_BYTES,
    AudioInfo,
    Decoder,
    bit_depth_from_codec,
    check_file,
    info_from_header,
    new_audio_hash,
    probe,
    read_header,
    sniff,
    update_audio_hash,
)
from samplemind.analysis.header import Declared
from samplemind.analysis.layout import VECTOR_DIM
from samplemind.analysis.limits import check_declared
from samplemind.analysis.loudness import KFilterBank, LoudnessMeter
from samplemind.errors import DecodeError

LONG_FILE_SECONDS = 600.0
LONG_FILE_SAMPLES = 32_000_000  # also long past this many samples (hi-res, many channels)
LOUDNESS_BLOCK_SECONDS = 20
PEAK_BUCKETS = 256
RHYTHM_WINDOW_SECONDS = 60.0  # longer material: onsets/tempo from a middle window this long
MAX_SPECTRAL_FRAMES = 3000
MIN_TEMPO_CONFIDENCE = 0.05
CATEGORY_MAX_SECONDS = classify.CATEGORY_MAX_SECONDS  # longer one-shots get no category


@dataclass
class Parts:
    """Everything measured about one sound, before it is flattened into the record."""

    stats: spectral.FrameStats
    envelope: spectral.Envelope
    hit: spectral.Hit
    zcr: float
    duration: float
    onset_count: int
    onset_rate: float
    onset_strength: float
    periodicity: float
    ioi_cv: float
    type: str
    type_confidence: float
    tempo: rhythm.TempoResult | None
    pitch: tonal.PitchResult
    key: str | None
    key_confidence: float | None
    chord: str | None = None
    chord_confidence: float | None = None


@dataclass
class Harmony:
    """What the peak chroma says: key, chord, and the pitch result (a note may be withdrawn)."""

    pitch: tonal.PitchResult
    key: str | None = None
    key_confidence: float | None = None
    chord: str | None = None
    chord_confidence: float | None = None


def _num(value: float | None, digits: int) -> float:
    """Round; non-finite values (never expected) become 0.0 so JSON stays valid."""
    if value is None or not math.isfinite(value):
        return 0.0
    return round(float(value), digits)


def _opt(value: float | None, digits: int) -> float | None:
    """Round, keeping None."""
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def _log(value: float, base: float = 10.0, floor: float = 1e-6) -> float:
    return math.log(max(value, floor), base)


def build_vector(p: Parts) -> list[float]:
    """Assemble the VECTOR_DIM raw feature vector (layout in VECTOR_BLOCKS)."""
    s = p.stats
    w = s.weight if s.weight > 0 else 1.0
    mfcc_mean = s.mfcc / w if s.mfcc is not None else np.zeros(spectral.N_MFCC)
    log_c = s.mean("log_centroid")
    centroid_spread = math.sqrt(max(0.0, s.mean("log_centroid_sq") - log_c ** 2))
    spectral_block = [
        _log(s.mean("centroid"), 2, 1.0), _log(s.mean("bandwidth"), 2, 1.0),
        _log(s.mean("rolloff"), 2, 1.0), _log(s.mean("flatness"), 10, 1e-8),
        _log(p.zcr, 10, 1e-5), s.mean("brightness"), s.mean("low_ratio"),
        s.mean("contrast"), centroid_spread, p.onset_strength, *p.hit.low_centroid.tolist(),
    ]
    e = p.envelope
    envelope_block = [
        _log(e.attack_time), _log(e.decay_time), _log(p.duration), e.temporal_centroid,
        e.crest_db, e.end_level_db, e.sustain, _log(e.active_duration),
        *p.hit.band_decay.tolist(),
    ]
    chroma = s.chroma / s.chroma.sum() if s.chroma is not None and s.chroma.sum() > 0 \
        else np.full(12, 1.0 / 12)
    entropy = float(-(chroma * np.log(chroma + 1e-12)).sum() / math.log(12))
    strength = p.pitch.clarity * (1.0 - entropy)  # how much the chroma means anything
    h = p.hit
    tonal_block = [*((chroma - 1.0 / 12) * strength).tolist(), p.pitch.clarity, entropy,
                   *h.low_peak.tolist(), *h.low_salience.tolist(), *h.salience.tolist()]
    bpm = p.tempo.bpm if p.tempo is not None and p.type == "loop" else None
    rhythm_block = [
        math.log1p(p.onset_rate), p.periodicity, math.log2(bpm / 120.0) if bpm else 0.0,
        p.ioi_cv, math.log1p(p.onset_count), 1.0 if p.type == "loop" else 0.0,
    ]
    vector = [*mfcc_mean.tolist(), *p.hit.cepstra.tolist(), *spectral_block, *envelope_block,
              *tonal_block, *rhythm_block]
    assert len(vector) == VECTOR_DIM
    return [_num(v, 5) for v in vector]


def build_record(info: AudioInfo, codec: str | None, sample_rate: int, channels: int,
                 audio_hash: str, meter: LoudnessMeter, parts: Parts,
                 peaks: list[float]) -> dict:
    """Flatten everything into the documented record (exact key set, rounded floats)."""
    s = parts.stats
    bit_depth = info.bit_depth if info.bit_depth is not None \
        else bit_depth_from_codec(codec or "")
    tempo = parts.tempo
    bpm = round(float(tempo.bpm), 2) if tempo is not None else None
    pitch = parts.pitch
    vector = build_vector(parts)
    # The sound's category: one-shots only, not long material (the model knows hits and notes).
    category, category_confidence = classify.classify_category(
        vector, pitch.hz if pitch.note else None,
        parts.type if parts.duration <= CATEGORY_MAX_SECONDS else "long")
    return {
        "format": info.format,
        "codec": codec,
        "sample_rate": int(sample_rate),
        "channels": int(channels),
        "bit_depth": bit_depth,
        "duration": round(parts.duration, 4),
        "audio_hash": audio_hash,
        "loudness_lufs": _opt(meter.integrated(), 2),
        "peak_db": _opt(meter.peak_db(), 2),
        "type": parts.type,
        "type_confidence": _num(parts.type_confidence, 3),
        "category": category,
        "category_confidence": category_confidence,
        "bpm": bpm,
        "bpm_confidence": _opt(tempo.confidence, 3) if tempo is not None else None,
        "bpm_alternatives": rhythm.bpm_alternatives(bpm) if bpm is not None else None,
        "key": parts.key,
        "key_confidence": _opt(parts.key_confidence, 3),
        "chord": parts.chord,
        "chord_confidence": _opt(parts.chord_confidence, 3),
        "note": pitch.note,
        "pitch_hz": _opt(pitch.hz, 2),
        "note_confidence": _opt(pitch.confidence, 3),
        "spectral_centroid": _num(s.mean("centroid"), 1),
        "spectral_flatness": _num(s.mean("flatness"), 5),
        "spectral_rolloff": _num(s.mean("rolloff"), 1),
        "spectral_bandwidth": _num(s.mean("bandwidth"), 1),
        "spectral_contrast": _num(s.mean("contrast"), 2),
        "brightness": _num(s.mean("brightness"), 4),
        "low_energy_ratio": _num(s.mean("low_ratio"), 4),
        "zero_crossing_rate": _num(parts.zcr, 5),
        "attack_time": _num(parts.envelope.attack_time, 4),
        "decay_time": _num(parts.envelope.decay_time, 4),
        "temporal_centroid": _num(parts.envelope.temporal_centroid, 4),
        "crest_db": _num(parts.envelope.crest_db, 2),
        "end_level_db": _num(parts.envelope.end_level_db, 2),
        "onset_rate": _num(parts.onset_rate, 3),
        "onset_count": int(parts.onset_count),
        "tonalness": _num(pitch.clarity, 3),
        "vector": vector,
        "peaks": peaks,
        "warnings": None,  # set by Extractor.analyse: damage seen while decoding
    }


class Extractor:
    """Configured Essentia algorithms for one process; call :meth:`analyse` per file."""

    def __init__(self) -> None:
        self.decoder = Decoder()
        self.kbank = KFilterBank()
        self.keys = tonal.KeyEstimator()

    def analyse(self, path: str) -> dict:
        """Analyse one audio file; raises DecodeError when it cannot be read as audio."""
        path = os.fspath(path)
        size = check_file(path)
        # What the header declares is checked before any decoder sees the file: a rate or
        # channel count no real audio has would make the decoder or the STFT take gigabytes.
        declared = read_header(path, size)
        if declared is not None:
            check_declared(declared.sample_rate, declared.channels)
        info = self._info(path, size, declared)
        measured = None
        if declared is not None and declared.frames is None and declared.format in ("flac", "ogg"):
            # A FLAC or Ogg stream that does not state its length (encoded from a pipe) can be
            # an hour of audio in a few hundred KB: measure it first, decoded at a low rate
            # (bounded memory), and never trust libsndfile's guess (it cannot seek in it).
            measured = self.decoder.decode_mono_resampled(path, longfile_rate())
            info = dataclasses.replace(info, duration=measured.size / longfile_rate(),
                                       frames=None, streamable=False)
        if _is_long(info, size):
            from samplemind.analysis import longfile  # only long files need it

            if info.streamable is None:  # known from the header: can libsndfile stream it?
                info = probe(path, self.decoder.metadata)
                check_declared(info.sample_rate or None, info.channels or None)
            record = longfile.analyse_long(self, path, info, fallback_mono=measured)
            record["warnings"] = damage_warnings(declared, record["duration"])
            return record
        audio, sr, channels, codec = self.decoder.decode(path, info)
        check_declared(sr, channels, where="decoded stream")
        if not math.isfinite(float(np.sum(audio, dtype=np.float64))):
            raise DecodeError("corrupt audio data (NaN or infinite sample values)")
        h = new_audio_hash(sr, channels)
        update_audio_hash(h, audio)
        meter = LoudnessMeter(sr, channels, self.kbank)
        step = LOUDNESS_BLOCK_SECONDS * sr  # bounded temporaries for longer files
        for start in range(0, audio.shape[0], step):
            meter.feed(audio[start:start + step], last=start + step >= audio.shape[0])
        mono = spectral.mono_mix(audio)
        parts = self.analyse_signal(mono, sr)
        peaks = spectral.waveform_peaks(mono, PEAK_BUCKETS)
        record = build_record(info, codec, sr, channels, h.hexdigest(), meter, parts, peaks)
        record["warnings"] = damage_warnings(declared, audio.shape[0] / sr)
        return record

    def _info(self, path: str, size: int, declared: Declared | None) -> AudioInfo:
        """Container facts: a small file's from its header (or first bytes), a larger
        file's from libsndfile (else Essentia's MetadataReader), checked in both cases."""
        if size <= SMALL_FILE_BYTES:
            if declared is not None:
                return info_from_header(declared)
            info = sniff(path)
            if info is not None:
                return info
        info = probe(path, self.decoder.metadata)
        check_declared(info.sample_rate or None, info.channels or None)
        return info

    def analyse_signal(self, mono: np.ndarray, sr: int) -> Parts:
        """Descriptors, type, tempo, pitch and key of a mono signal held in memory."""
        duration = mono.size / sr
        n_fft, fine_hop = spectral.stft_sizes(sr)
        hop = n_fft  # ~46 ms: enough for pooled descriptors and onsets; loops get refined
        power = spectral.power_frames(mono, n_fft, hop, max_frames=MAX_SPECTRAL_FRAMES)
        stats, mel_db = spectral.frame_stats(power, sr, n_fft)
        env = spectral.envelope_features(mono, sr)
        zcr = spectral.zero_crossing_rate(mono)
        if duration > classify.MAX_LOOP_SECONDS:  # rhythm from a middle window, fine frames
            half = int(RHYTHM_WINDOW_SECONDS * sr / 2)
            mid = mono.size // 2
            window = mono[max(0, mid - half): mid + half]
            rpower = spectral.power_frames(window, n_fft, fine_hop)
            return self.finish(mono, sr, stats, env, zcr, rpower,
                               spectral.mel_db(rpower, sr, n_fft), fine_hop,
                               window.size / sr, duration,
                               hit=spectral.hit_features(mono, sr, env.peak_time))
        return self.finish(mono, sr, stats, env, zcr, power, mel_db, hop, duration, duration,
                           hit=spectral.hit_features(mono, sr, env.peak_time))

    def finish(self, mono: np.ndarray, sr: int, stats: spectral.FrameStats,
               env: spectral.Envelope, zcr: float, rpower: np.ndarray, rmel: np.ndarray,
               hop: int, rduration: float, duration: float,
               key_sums: tonal.ChromaSums | None = None,
               hit: spectral.Hit | None = None) -> Parts:
        """Onsets, type, tempo, pitch and key from frames ``hop`` apart of (part of) the sound.

        ``rpower``/``rmel`` cover the whole sound (or, for long material, a window of
        ``rduration`` seconds). Frames coarser than ~12 ms are refined for loop candidates.
        ``hit`` defaults to the hit at ``env.peak_time`` in ``mono``.
        """
        if hit is None:
            hit = spectral.hit_features(mono, sr, env.peak_time)
        n_fft = (rpower.shape[1] - 1) * 2
        freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
        long_material = duration > classify.MAX_LOOP_SECONDS
        onsets, strength = self._onsets(rpower, rmel, sr / hop)
        cues = classify.LoopCues(duration=duration, onset_count=int(onsets.size),
                                 periodicity=0.0, end_level_db=env.end_level_db,
                                 fits_beats=False, temporal_centroid=env.temporal_centroid)
        # Tempo only for what may be a loop: several events, two and still sounding at the
        # end, or a long sound held to the end.
        maybe_loop = (not long_material and duration >= classify.MIN_LOOP_SECONDS
                      and (onsets.size >= 3 or (onsets.size == 2 and env.end_level_db > -25.0)
                           or classify.held_to_the_end(cues)))
        fine_hop = spectral.stft_sizes(sr)[1]
        if maybe_loop and hop > fine_hop and rpower.shape[0] < MAX_SPECTRAL_FRAMES:
            # Tempo needs ~12 ms frames: add the frames that fall between the coarse ones.
            count = rpower.shape[0]
            powers, mels = [rpower], [rmel]
            for offset in range(fine_hop, hop, fine_hop):
                extra = spectral.power_frames(mono[offset:], n_fft, hop)[:count]
                extra = np.concatenate([extra, np.zeros((count - extra.shape[0], extra.shape[1]),
                                                        dtype=extra.dtype)])
                powers.append(extra)
                mels.append(spectral.mel_db(extra, sr, n_fft))
            # Interleave, then drop the padding rows past the end of the sound.
            total = min(count * len(powers), 1 + mono.size // fine_hop)
            rpower = np.stack(powers, axis=1).reshape(count * len(powers), -1)[:total]
            rmel = np.stack(mels, axis=1).reshape(count * len(powers), -1)[:total]
            hop = fine_hop
            onsets, strength = self._onsets(rpower, rmel, sr / hop)
        frame_rate = sr / hop
        onset_rate = onsets.size / rduration if rduration > 0 else 0.0
        periodicity = rhythm.periodicity(strength, frame_rate)
        ioi_cv = rhythm.inter_onset_regularity(onsets / frame_rate)
        tempo = None
        if maybe_loop:
            tempo = rhythm.estimate_tempo(rpower, freqs, frame_rate, duration, True, strength)
        cues = dataclasses.replace(cues, onset_count=int(onsets.size), periodicity=periodicity,
                                   fits_beats=bool(tempo and tempo.snapped), ioi_cv=ioi_cv)
        kind, kind_conf = classify.classify_type(cues)
        if long_material and periodicity >= 0.3 and onsets.size >= 8:
            tempo = rhythm.estimate_tempo(rpower, freqs, frame_rate, rduration, False, strength)
        elif kind != "loop":
            tempo = None
        if tempo is not None and tempo.confidence < MIN_TEMPO_CONFIDENCE:
            tempo = None  # a loop without a pulse (pads, textures)
        # With little energy below 150 Hz a note's fundamental can't be low: search from 110 Hz
        # only, with 4x shorter frames (hats, snares, claps, leads are the common case).
        fmin = tonal.FMIN if stats.mean("low_ratio") >= 0.02 or stats.weight == 0 else 110.0
        pitch = self._pitch(mono, sr, env, kind, long_material, fmin)
        harmony = self._harmony(mono, sr, kind, long_material, pitch, duration, key_sums)
        pitch = harmony.pitch
        return Parts(stats=stats, envelope=env, hit=hit, zcr=zcr, duration=duration,
                     onset_count=int(onsets.size), onset_rate=onset_rate,
                     onset_strength=float(strength.mean()) if strength.size else 0.0,
                     periodicity=periodicity, ioi_cv=ioi_cv, type=kind,
                     type_confidence=kind_conf, tempo=tempo, pitch=pitch, key=harmony.key,
                     key_confidence=harmony.key_confidence, chord=harmony.chord,
                     chord_confidence=harmony.chord_confidence)

    def _harmony(self, mono: np.ndarray, sr: int, kind: str, long_material: bool,
                 pitch: tonal.PitchResult, duration: float,
                 key_sums: tonal.ChromaSums | None) -> Harmony:
        """Key, chord and whether the note stands, from the sound's peak chroma.

        Whatever the type: nothing for sounds with no harmony to name (tonal.has_harmony);
        a note only for one pitch held (not a chord's common period, nor a note with other
        notes beside it); a one-shot holding one harmony gets a chord and the key it implies
        (music.key_of_chord), or when no chord is named but several notes are held, the key of
        the whole; a harmony that moves (a progression, a tonal loop, long material) gets a key
        from Essentia's Key.
        """
        none = Harmony(pitch=pitch)
        if duration < tonal.HARMONY_MIN_SECONDS or not np.any(mono):
            return none
        parts: list[tonal.ChromaSums] | None = None
        kpower = None
        if key_sums is None:
            k_fft, k_hop = tonal.key_frame_sizes(sr)
            kpower = spectral.power_frames(mono, k_fft, k_hop, max_frames=400)
            key_sums = tonal.chroma_sums(kpower, sr, k_fft, edges=True)
            parts = tonal.segments(kpower, sr, k_fft)
        if not tonal.has_harmony(key_sums):
            # Nothing tonal to name; a note needs its own periodicity, which drums lack anyway.
            return none
        held = parts is None or tonal.held_harmony(parts)  # too short to move: held
        read = pitch  # the note YIN read, which stands if nothing else is named
        if pitch.note is not None:
            if held or parts is None or duration < tonal.MOVING_MIN_SECONDS:
                if (held and not long_material and kpower is not None and pitch.hz
                        and tonal.chord_like(key_sums, pitch.clarity)):
                    # a chord over a loud bass note reads as that note
                    chord, confidence = tonal.chord_over_note(key_sums, kpower, sr, k_fft,
                                                              pitch.hz)
                    if chord is not None:
                        key = music.key_of_chord(chord)
                        return Harmony(pitch=tonal.PitchResult(clarity=pitch.clarity),
                                       chord=chord, chord_confidence=confidence, key=key,
                                       key_confidence=confidence if key else None)
                    if not (tonal.common_period(kpower, sr, k_fft, pitch.hz)
                            or tonal.several_notes(kpower, sr, k_fft, pitch.hz)):
                        return none  # one pitch held: a note, no chord
                    # YIN's pitch is the common period of a chord's notes, or other notes
                    # stand beside it that no chord quality fits: no note
                else:
                    return none  # one pitch held: a note, no chord
            else:
                read = tonal.PitchResult(clarity=pitch.clarity)  # the pitch moves: no note
            pitch = tonal.PitchResult(clarity=pitch.clarity)
        several = False
        if (held and not long_material and tonal.chord_like(key_sums, pitch.clarity)
                and not (kpower is not None and tonal.one_note_under_the_bass(kpower, sr, k_fft))):
            # one harmony held: a chord (stab, strum, pad, keys hit); not one low note whose
            # weak fundamental YIN missed (its partials 2, 3 and 5 are a major triad)
            chord, confidence = tonal.estimate_chord(key_sums)
            if chord is None and kpower is not None:
                # no template fits the whole (a loud bass drowns the other voices): the notes
                # heard beside the bass note
                chord, confidence = tonal.chord_over_bass(kpower, sr, k_fft)
            if chord is not None:
                key = music.key_of_chord(chord)
                return Harmony(pitch=pitch, chord=chord, chord_confidence=confidence, key=key,
                               key_confidence=confidence if key else None)
            # no chord named, but several notes held beside the bass: the key of the whole
            several = kpower is not None and tonal.several_notes(kpower, sr, k_fft)
        if not several and kind != "loop" and not long_material and (
                held or duration < tonal.MOVING_MIN_SECONDS
                or not tonal.phrase_like(key_sums, pitch.clarity)):
            return Harmony(pitch=read)  # one pitch, a tuned drum, a cymbal; or too short
        # A harmony that moves, or one no chord template fits: the key of the whole.
        key, key_conf = self.keys.estimate(key_sums)
        if key is None or key_sums.sustain < tonal.HARMONY_MIN_SUSTAIN and (
                key_conf is None or key_conf < tonal.WEAK_KEY_MIN_STRENGTH):
            return Harmony(pitch=read)  # little that holds and no clear key: drums that ring
        return Harmony(pitch=pitch, key=key, key_confidence=key_conf)

    @staticmethod
    def _onsets(power: np.ndarray, mel: np.ndarray, frame_rate: float) -> tuple[np.ndarray,
                                                                             np.ndarray]:
        """(onset frame indices, onset-strength envelope)."""
        strength = rhythm.onset_strength(mel, frame_rate)
        energy_db = 10.0 * np.log10(power.sum(axis=1) + 1e-12)
        return rhythm.pick_onsets(strength, frame_rate, energy_db), strength

    @staticmethod
    def _pitch(mono: np.ndarray, sr: int, env: spectral.Envelope, kind: str,
               long_material: bool, fmin: float) -> tonal.PitchResult:
        """YIN after the attack; a note only for one-shots."""
        if not mono.size or not np.any(mono):
            return tonal.PitchResult(clarity=0.0)
        if kind == "loop" or long_material:
            result = tonal.analyse_pitch(mono, sr, 0, mono.size, n_frames=3, fmin=fmin)
            return tonal.PitchResult(clarity=result.clarity)
        # A note must hold from just after the attack until it has faded by 20 dB.
        start = int((env.peak_time + 0.01) * sr)
        stop = int((env.peak_time + env.decay_time) * sr)
        return tonal.analyse_pitch(mono, sr, start, stop, n_frames=2, fmin=fmin)


def longfile_rate() -> int:
    """The low rate long files that libsndfile cannot stream are decoded at."""
    from samplemind.analysis import longfile

    return longfile.FALLBACK_RATE


def damage_warnings(declared: Declared | None, decoded_seconds: float) -> list[str] | None:
    """What is visibly wrong with a file that still decoded (None: nothing): today a stream
    shorter than its header declares, i.e. a truncated download or copy."""
    expected = declared.duration if declared is not None else None
    if expected is None:
        return None
    # Codecs pad or trim a few ms at the ends; a loss beyond 1% and 10 ms is damage.
    if decoded_seconds < expected * 0.99 - 0.01:
        return [f"truncated: header declares {expected:.2f} s, {decoded_seconds:.2f} s decoded"]
    return None


def _is_long(info: AudioInfo, size: int) -> bool:
    """Whether to take the bounded-memory path (duration, sample count, or a huge unknown)."""
    if info.duration is not None:
        samples = info.duration * info.sample_rate * max(1, info.channels)
        return info.duration > LONG_FILE_SECONDS or samples > LONG_FILE_SAMPLES
    # No duration in the header: assume at least 64 kbit/s (8 kB/s) of compressed audio.
    return size > LONG_FILE_SECONDS * 8000


_EXTRACTOR: Extractor | None = None


def analyse(path: str) -> dict:
    """Analyse ``path`` with this process's lazily created :class:`Extractor`."""
    global _EXTRACTOR
    if _EXTRACTOR is None:
        _EXTRACTOR = Extractor()
    return _EXTRACTOR.analyse(path)
