"""Embedded metadata (RIFF/BWF/ACID/smpl, AIFF, tags) and filename hints, on real files."""

from __future__ import annotations

import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from samplemind.analysis.metadata import _read_tags, read_embedded
from samplemind.analysis.names import filename_hints
from samplemind.music import note_to_midi, parse_key

CATEGORIES = {"kick", "snare", "hihat", "cymbal", "tom", "clap", "perc", "bass", "synth",
              "pad", "keys", "guitar", "vocal", "fx"}
TEXT = {"title", "artist", "comment", "description", "originator", "date"}
FRAMES = 22050


# --- file builders ---------------------------------------------------------------

def chunk(cid: bytes, body: bytes, big_endian: bool = False, pad: bool = True) -> bytes:
    size = struct.pack(">I" if big_endian else "<I", len(body))
    return cid + size + body + (b"\0" if pad and len(body) % 2 else b"")


def write_audio(path: Path, fmt: str = "WAV", subtype: str = "PCM_16", **strings: str) -> Path:
    signal = 0.3 * np.sin(2 * np.pi * 220 * np.arange(FRAMES) / 44100)
    with sf.SoundFile(path, "w", 44100, 1, format=fmt, subtype=subtype) as f:
        for name, value in strings.items():
            setattr(f, name, value)
        f.write(signal.astype("float32"))
    return path


def wav_with(path: Path, *chunks: bytes, fmt: str = "WAV") -> Path:
    """A real WAV (or RF64) from soundfile, with chunks appended and the sizes fixed."""
    write_audio(path, fmt)
    data = path.read_bytes() + b"".join(chunks)
    if data[:4] == b"RIFF":
        data = data[:4] + struct.pack("<I", len(data) - 8) + data[8:]
    else:  # RF64: the RIFF size lives in ds64
        assert data[12:16] == b"ds64"
        data = data[:20] + struct.pack("<Q", len(data) - 8) + data[28:]
    path.write_bytes(data)
    return path


def info(**fields: bytes) -> bytes:
    return chunk(b"LIST", b"INFO" + b"".join(chunk(k.encode(), v) for k, v in fields.items()))


def bext(description: bytes, originator: bytes, date: bytes) -> bytes:
    body = (description.ljust(256, b"\0") + originator.ljust(32, b"\0") + b"\0" * 32
            + date.ljust(10, b"\0") + b"12:00:00" + b"\0" * 8 + b"\1\0" + b"\0" * 254)
    return chunk(b"bext", body)


def acid(flags: int, root: int, beats: int, tempo: float) -> bytes:
    return chunk(b"acid", struct.pack("<IHHfIHHf", flags, root, 0x8000, 0.0, beats, 4, 4, tempo))


def smpl(unity: int, loops: list[tuple[int, int]], claimed: int | None = None) -> bytes:
    count = len(loops) if claimed is None else claimed
    head = struct.pack("<9I", 0, 0, 22675, unity, 0, 0, 0, count, 0)
    body = b"".join(struct.pack("<6I", i, 0, s, e, 0, 0) for i, (s, e) in enumerate(loops))
    return chunk(b"smpl", head + body)


def aiff_with(path: Path, *chunks: bytes) -> Path:
    write_audio(path, "AIFF")
    data = path.read_bytes() + b"".join(chunks)
    path.write_bytes(data[:4] + struct.pack(">I", len(data) - 8) + data[8:])
    return path


def inst(base: int, sustain: tuple[int, int, int] = (0, 0, 0)) -> bytes:
    return chunk(b"INST", struct.pack(">bbbbbbh3h3h", base, 0, 0, 127, 1, 127, 0,
                                      *sustain, 0, 0, 0), big_endian=True)


def mark(markers: dict[int, int]) -> bytes:
    body = struct.pack(">H", len(markers))
    for marker_id, position in markers.items():
        body += struct.pack(">hIB", marker_id, position, 1) + b"m"  # 1+1 bytes: no pad
    return chunk(b"MARK", body, big_endian=True)


def id3v24(**frames: str) -> bytes:
    def syncsafe(n: int) -> bytes:
        return bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])
    body = b"".join(k.encode() + syncsafe(len(v.encode()) + 1) + b"\0\0\3" + v.encode()
                    for k, v in frames.items())
    return b"ID3\4\0\0" + syncsafe(len(body)) + body


def flac_with_comments(path: Path, comments: list[bytes]) -> Path:
    """Replace libsndfile's VORBIS_COMMENT block with our own fields (BPM, KEY...)."""
    write_audio(path, "FLAC", title="x")
    data = path.read_bytes()
    pos, blocks = 4, []
    while True:
        last, kind = data[pos] & 0x80, data[pos] & 0x7F
        length = int.from_bytes(data[pos + 1:pos + 4], "big")
        if kind != 4:
            blocks.append((kind, data[pos + 4:pos + 4 + length]))
        pos += 4 + length
        if last:
            break
    body = struct.pack("<I", 4) + b"test" + struct.pack("<I", len(comments))
    body += b"".join(struct.pack("<I", len(c)) + c for c in comments)
    blocks.append((4, body))
    out = b"fLaC"
    for i, (kind, block) in enumerate(blocks):
        out += bytes([kind | (0x80 if i == len(blocks) - 1 else 0)])
        out += len(block).to_bytes(3, "big") + block
    path.write_bytes(out + data[pos:])
    return path


def ogg_crc(page: bytes) -> int:
    crc = 0
    for byte in page:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def ogg_with(path: Path, replace: dict[bytes, bytes]) -> Path:
    """An Ogg Vorbis file whose placeholder comments are overwritten in place (same length)."""
    write_audio(path, "OGG", "VORBIS", title="T" * 24, comment="C" * 24)
    data = bytearray(path.read_bytes())
    for old, new in replace.items():
        at = data.find(old)
        assert at > 0 and len(new) <= len(old)
        data[at:at + len(old)] = new.ljust(len(old))
        page = data.rfind(b"OggS", 0, at)
        segments = data[page + 26]
        length = 27 + segments + sum(data[page + 27:page + 27 + segments])
        data[page + 22:page + 26] = b"\0\0\0\0"
        data[page + 22:page + 26] = struct.pack("<I", ogg_crc(bytes(data[page:page + length])))
    path.write_bytes(bytes(data))
    return path


def m4a(path: Path) -> Path:
    """A minimal MP4 container holding only an iTunes tag list (no audio track)."""
    def atom(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", 8 + len(payload)) + kind + payload

    def data(kind: int, value: bytes) -> bytes:
        return atom(b"data", struct.pack(">II", kind, 0) + value)

    ilst = atom(b"ilst", atom(b"\xa9nam", data(1, b"M4A Title"))
                + atom(b"\xa9gen", data(1, b"Soul"))
                + atom(b"tmpo", data(21, struct.pack(">H", 92))))
    meta = atom(b"meta", b"\0" * 4 + atom(b"hdlr", b"\0" * 8 + b"mdirappl" + b"\0" * 9) + ilst)
    ftyp = atom(b"ftyp", b"M4A \0\0\0\0M4A mp42isom")
    path.write_bytes(ftyp + atom(b"moov", atom(b"udta", meta)))
    return path


def assert_valid(result: dict) -> None:
    """Every value is in the documented vocabulary and sane."""
    allowed = {"bpm", "key", "note", "type", "category", "tags", "beats", "loops"} | TEXT
    assert set(result) <= allowed, result
    if "bpm" in result:
        assert isinstance(result["bpm"], float) and 30 <= result["bpm"] <= 300
    if "key" in result:
        assert parse_key(result["key"]) == result["key"]
    if "note" in result:
        assert 0 <= note_to_midi(result["note"]) <= 127
    assert result.get("type", "loop") in ("loop", "oneshot")
    assert result.get("category", "kick") in CATEGORIES
    for tag in result.get("tags", []):
        assert isinstance(tag, str) and tag == tag.lower() and tag.strip()
    for start, end in result.get("loops", []):
        assert isinstance(start, int) and 0 <= start < end
    if "beats" in result:
        assert isinstance(result["beats"], int) and result["beats"] > 0
    for field in TEXT & set(result):
        assert isinstance(result[field], str) and result[field].strip()


# --- WAV ---------------------------------------------------------------------------

def test_wav_info_bext_acid_smpl(tmp_path: Path) -> None:
    path = wav_with(
        tmp_path / "x.wav",
        info(INAM=b"Dusty Loop\0", IART=b"Someone\0", ICMT=b"made at night\0",
             IGNR=b"Hip Hop\0", IKEY=b"drums; vinyl, Dusty\0", ICRD=b"2021-05-04\0"),
        bext(b"Boom bap drums", b"Pro Tools", b"2020-01-31"),
        acid(0x02, 57, 8, 92.0),
        smpl(60, [(0, FRAMES - 1)]),
    )
    assert sf.info(str(path)).frames == FRAMES  # still a valid WAV for decoders
    result = read_embedded(str(path))
    assert result == {
        "title": "Dusty Loop", "artist": "Someone", "comment": "made at night",
        "date": "2021-05-04", "tags": ["hip hop", "drums", "vinyl", "dusty"],
        "description": "Boom bap drums", "originator": "Pro Tools",
        "type": "loop", "note": "A3", "beats": 8, "bpm": 92.0, "loops": [[0, FRAMES - 1]],
    }


def test_acid_oneshot_without_root_note(tmp_path: Path) -> None:
    result = read_embedded(str(wav_with(tmp_path / "x.wav", acid(0x01, 64, 0, 0.0))))
    assert result == {"type": "oneshot"}  # root flag unset: note 64 is not trusted; tempo 0 dropped


def test_smpl_note_and_whole_file_loop_make_a_loop(tmp_path: Path) -> None:
    result = read_embedded(str(wav_with(tmp_path / "x.wav", smpl(36, [(0, FRAMES - 1)]))))
    assert result == {"note": "C2", "loops": [[0, FRAMES - 1]], "type": "loop"}


def test_smpl_sustain_loop_is_not_a_loop_and_default_note_ignored(tmp_path: Path) -> None:
    result = read_embedded(str(wav_with(tmp_path / "x.wav", smpl(60, [(1000, 2000)]))))
    assert result == {"loops": [[1000, 2000]]}


def test_smpl_claiming_a_billion_loops(tmp_path: Path) -> None:
    path = wav_with(tmp_path / "x.wav", smpl(48, [(10, 20)], claimed=1_000_000_000))
    assert read_embedded(str(path)) == {"note": "C3", "loops": [[10, 20]]}


def test_rf64(tmp_path: Path) -> None:
    path = wav_with(tmp_path / "x.wav", info(INAM=b"Big\0"), acid(0x00, 0, 16, 140.0), fmt="RF64")
    assert path.read_bytes()[:4] == b"RF64"
    assert read_embedded(str(path)) == {"title": "Big", "type": "loop", "beats": 16, "bpm": 140.0}


def test_bw64_and_ds64_sized_data_chunk(tmp_path: Path) -> None:
    """A data chunk whose 32-bit size is 0xFFFFFFFF is skipped using ds64's size."""
    path = wav_with(tmp_path / "x.wav", info(IART=b"Broadcaster\0"), fmt="RF64")
    data = bytearray(path.read_bytes())
    data[:4] = b"BW64"
    at = data.find(b"data")
    data[at + 4:at + 8] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))
    assert read_embedded(str(path)) == {"artist": "Broadcaster"}


def test_odd_chunk_without_pad_byte(tmp_path: Path) -> None:
    # Some writers forget the pad byte after an odd-sized chunk; the next chunk must still be found.
    odd = chunk(b"junk", b"abc", pad=False)
    path = wav_with(tmp_path / "x.wav", odd, info(INAM=b"After odd\0"))
    assert read_embedded(str(path)) == {"title": "After odd"}


def test_odd_chunk_with_pad_byte_and_odd_info_values(tmp_path: Path) -> None:
    path = wav_with(tmp_path / "x.wav", chunk(b"junk", b"abc"),
                    info(INAM=b"Odd\0", IART=b"Ab\0"))  # 4- and 3-byte values: padded
    assert read_embedded(str(path)) == {"title": "Odd", "artist": "Ab"}


def test_junk_and_out_of_range_values_are_dropped(tmp_path: Path) -> None:
    path = wav_with(tmp_path / "x.wav",
                    info(INAM=b"\x01\x02\x03\x04", IART=b"   \0", ICMT=b"---\0", IGNR=b"(17)\0"),
                    acid(0x02, 200, 0, 1000.0), smpl(300, []))
    assert read_embedded(str(path)) == {"type": "loop"}


def test_ikey_holding_a_musical_key(tmp_path: Path) -> None:
    path = wav_with(tmp_path / "x.wav", info(IKEY=b"F#m\0"))
    assert read_embedded(str(path)) == {"key": "F# minor"}


def test_latin1_text(tmp_path: Path) -> None:
    path = wav_with(tmp_path / "x.wav", info(IART=b"Bj\xf6rk\0"))
    assert read_embedded(str(path)) == {"artist": "Björk"}


def test_id3_chunk_inside_wav_adds_tempo_and_key(tmp_path: Path) -> None:
    tag = id3v24(TIT2="From ID3", TBPM="174", TKEY="Gm")
    path = wav_with(tmp_path / "x.wav", info(INAM=b"From INFO\0"), chunk(b"id3 ", tag))
    # INFO is parsed first and wins for title; ID3 fills what INFO lacks.
    assert read_embedded(str(path)) == {"title": "From INFO", "bpm": 174.0, "key": "G minor"}


def test_libsndfile_written_info(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "x.wav", title="Written", artist="By sf", genre="Techno")
    assert read_embedded(str(path)) == {"title": "Written", "artist": "By sf", "tags": ["techno"]}


def test_plain_wav_has_nothing(tmp_path: Path) -> None:
    assert read_embedded(str(write_audio(tmp_path / "x.wav"))) == {}


# --- AIFF --------------------------------------------------------------------------

def test_aiff_inst_mark_and_text_chunks(tmp_path: Path) -> None:
    comt = struct.pack(">HIhH", 1, 0, 0, 7) + b"comment\0"
    path = aiff_with(tmp_path / "x.aiff", inst(45, (1, 1, 2)), mark({1: 0, 2: FRAMES - 1}),
                     chunk(b"NAME", b"Piano A2", True), chunk(b"AUTH", b"Me", True),
                     chunk(b"COMT", comt, True), chunk(b"APPL", b"stoc" + b"\0" * 11, True))
    assert sf.info(str(path)).frames == FRAMES
    assert read_embedded(str(path)) == {
        "note": "A2", "loops": [[0, FRAMES - 1]], "type": "loop",
        "title": "Piano A2", "artist": "Me", "comment": "comment",
    }


def test_aiff_default_base_note_and_libsndfile_anno(tmp_path: Path) -> None:
    write_audio(tmp_path / "y.aiff", "AIFF", title="Named", comment="hello")
    assert read_embedded(str(tmp_path / "y.aiff")) == {"title": "Named", "comment": "hello"}
    path = aiff_with(tmp_path / "x.aif", inst(60, (1, 7, 8)))  # markers missing: no loops
    assert read_embedded(str(path)) == {}


# --- compressed formats via Essentia -----------------------------------------------

def test_flac_vorbis_comments(tmp_path: Path) -> None:
    path = flac_with_comments(tmp_path / "x.flac", [
        b"TITLE=Flac Title", b"ARTIST=Flac Artist", b"BPM=97.5", b"KEY=F#m",
        b"GENRE=Hip Hop", b"GENRE=Boom Bap", b"DESCRIPTION=desc", b"COMMENT=c"])
    assert sf.info(str(path)).frames == FRAMES
    assert read_embedded(str(path)) == {
        "title": "Flac Title", "artist": "Flac Artist", "bpm": 97.5, "key": "F# minor",
        "tags": ["hip hop", "boom bap"], "description": "desc", "comment": "c"}


def test_flac_camelot_initialkey(tmp_path: Path) -> None:
    path = flac_with_comments(tmp_path / "x.flac", [b"INITIALKEY=8A", b"BPM=12000"])
    assert read_embedded(str(path)) == {"key": "A minor"}


def test_flac_when_essentia_raises_falls_back_to_own_parser(tmp_path: Path) -> None:
    # An encoded UTF-16 surrogate (as some Java taggers write) makes Essentia raise
    # UnicodeDecodeError for the whole file; the FLAC comment block is then read by hand.
    path = flac_with_comments(tmp_path / "x.flac",
                              [b"TITLE=A\xed\xa0\x80B", b"BPM=120", b"ARTIST=Me"])
    assert _read_tags(str(path), {}) is False
    assert read_embedded(str(path)) == {"bpm": 120.0, "artist": "Me"}  # junk title dropped


def test_mp3_when_essentia_raises_gives_nothing(tmp_path: Path) -> None:
    # Same Essentia failure in an ID3v2 frame: there is no hand parser for ID3, so the
    # file yields nothing (and, above all, does not raise).
    plain = write_audio(tmp_path / "plain.mp3", "MP3", "MPEG_LAYER_III")
    path = tmp_path / "x.mp3"
    frames = b"TIT2\0\0\0\6\0\0\3A\xed\xa0\x80B" + b"TBPM\0\0\0\4\0\0\3128"
    path.write_bytes(b"ID3\4\0\0\0\0\0" + bytes([len(frames)]) + frames + plain.read_bytes())
    assert _read_tags(str(path), {}) is False
    assert read_embedded(str(path)) == {}


def test_ogg_vorbis_tags(tmp_path: Path) -> None:
    path = ogg_with(tmp_path / "x.ogg", {b"TITLE=" + b"T" * 24: b"BPM=126.5",
                                         b"COMMENT=" + b"C" * 24: b"INITIALKEY=10A"})
    assert sf.info(str(path)).frames == FRAMES  # CRCs fixed: still a valid Ogg
    assert read_embedded(str(path)) == {"bpm": 126.5, "key": "B minor"}  # Camelot 10A


def test_ogg_written_by_soundfile(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "x.ogg", "OGG", "VORBIS", title="Ogg", artist="A", genre="Dub")
    assert read_embedded(str(path)) == {"title": "Ogg", "artist": "A", "tags": ["dub"]}


def test_mp3_id3v2(tmp_path: Path) -> None:
    # libsndfile writes an ID3v1 tag at the end; TagLib reads the ID3v2 one in front instead.
    plain = write_audio(tmp_path / "plain.mp3", "MP3", "MPEG_LAYER_III", artist="v1 artist")
    path = tmp_path / "x.mp3"
    path.write_bytes(id3v24(TIT2="Mp3 Title", TBPM="128", TKEY="Abm", TCON="House")
                     + plain.read_bytes())
    assert read_embedded(str(path)) == {
        "title": "Mp3 Title", "bpm": 128.0, "key": "G# minor", "tags": ["house"]}


def test_mp3_id3v1_only(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "x.mp3", "MP3", "MPEG_LAYER_III", artist="v1 artist",
                       title="Old tag")
    assert read_embedded(str(path)) == {"title": "Old tag", "artist": "v1 artist"}


def test_m4a_ilst(tmp_path: Path) -> None:
    assert read_embedded(str(m4a(tmp_path / "x.m4a"))) == {
        "title": "M4A Title", "tags": ["soul"], "bpm": 92.0}


# --- broken input never raises -----------------------------------------------------

def test_truncated_and_missing_files(tmp_path: Path) -> None:
    full = wav_with(tmp_path / "full.wav", acid(0x02, 57, 8, 92.0),
                    info(INAM=b"Title\0", IART=b"Artist\0"))
    data = full.read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(data[:-10])  # inside the LIST chunk: title survives, artist is cut
    assert read_embedded(str(cut)) == {"type": "loop", "note": "A3", "beats": 8, "bpm": 92.0,
                                       "title": "Title"}
    at = data.find(b"acid")
    cut.write_bytes(data[:at + 8 + 14])  # acid body cut after the beats' first bytes
    assert read_embedded(str(cut)) == {"type": "loop", "note": "A3"}
    for name, body in (("empty.wav", b""), ("head.wav", b"RIFF\0\0\0\0WAVE"),
                       ("huge.wav", b"RIFF\xff\xff\xff\xffWAVELIST\xff\xff\xff\xffINFOINAM"),
                       ("form.aiff", b"FORM\0\0\0\4AIFFINST\0\0\0\2\x3c"),
                       ("x.mp3", b"ID3\4\0\0\x7f\x7f\x7f\x7f" + b"\xff" * 50),
                       ("x.flac", b"fLaC\x84\xff\xff\xff"), ("x.ogg", b"OggS" + b"\0" * 40)):
        (tmp_path / name).write_bytes(body)
        assert read_embedded(str(tmp_path / name)) == {}
    assert read_embedded(str(tmp_path / "nope.wav")) == {}
    assert read_embedded(str(tmp_path)) == {}  # a directory


def _write_temp(data: bytes, suffix: str) -> dict:
    with tempfile.NamedTemporaryFile(suffix=suffix) as f:
        f.write(data)
        f.flush()
        return read_embedded(f.name)


HEADERS = [b"", b"RIFF\0\0\0\0WAVE", b"RF64\xff\xff\xff\xffWAVEds64", b"FORM\0\0\0\0AIFF",
           b"FORM\0\0\0\0AIFC", b"fLaC", b"ID3\3\0\0", b"OggS\0\2", b"\0\0\0\x20ftypM4A "]


@pytest.mark.slow
@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(HEADERS), st.binary(max_size=600),
       st.sampled_from([".wav", ".aif", ".flac", ".mp3", ".ogg", ".m4a", ".bin"]))
def test_read_embedded_never_raises_on_arbitrary_bytes(header: bytes, tail: bytes,
                                                       suffix: str) -> None:
    assert_valid(_write_temp(header + tail, suffix))


_CORPUS: dict[str, bytes] = {}


def _corpus() -> dict[str, bytes]:
    if not _CORPUS:
        with tempfile.TemporaryDirectory() as tmp:
            _build_corpus(Path(tmp))
    return _CORPUS


def _build_corpus(folder: Path) -> None:
    """Valid files with every chunk we parse, for the mutation test to damage."""
    _CORPUS[".wav"] = wav_with(folder / "a.wav", info(INAM=b"T\0", IKEY=b"a;b\0"),
                               bext(b"d", b"o", b"2020-01-01"), acid(2, 60, 4, 120.0),
                               smpl(40, [(0, 100)])).read_bytes()
    _CORPUS[".aiff"] = aiff_with(folder / "a.aiff", inst(40, (1, 1, 2)), mark({1: 0, 2: 99}),
                                 chunk(b"NAME", b"N", True)).read_bytes()
    _CORPUS[".flac"] = flac_with_comments(folder / "a.flac", [b"BPM=90"]).read_bytes()[:4000]


@pytest.mark.slow
@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from([".wav", ".aiff", ".flac"]), st.data())
def test_read_embedded_never_raises_on_mutated_files(suffix: str, data: st.DataObject) -> None:
    raw = bytearray(_corpus()[suffix])
    header_end = 200 if suffix == ".flac" else len(raw)
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(raw) - 1))
        if data.draw(st.booleans()):
            at = len(raw) - 1 - data.draw(st.integers(0, min(400, len(raw) - 1)))  # the chunks
        raw[min(at, header_end)] = data.draw(st.integers(0, 255))
    raw = raw[:data.draw(st.integers(0, len(raw)))]
    assert_valid(_write_temp(bytes(raw), suffix))


# --- filename hints ----------------------------------------------------------------

NAMES = [
    # (path, expected hints)
    ("Loop_128_Am.wav", {"bpm": 128.0, "key": "A minor", "type": "loop"}),
    ("DrumLoop_90bpm_Fm.wav", {"bpm": 90.0, "key": "F minor", "type": "loop"}),
    ("Bass Loop 120 BPM C#_minor.wav",
     {"bpm": 120.0, "key": "C# minor", "type": "loop", "category": "bass"}),
    ("Synth_bpm140_Bbmaj.wav", {"bpm": 140.0, "key": "A# major", "type": "loop",
                                "category": "synth"}),
    ("Pad A min.wav", {"key": "A minor", "category": "pad"}),
    ("Keys_Amin_Chord.wav", {"key": "A minor", "chord": "Am", "category": "keys"}),
    ("Guitar_Cmaj_riff_100.wav", {"key": "C major", "bpm": 100.0, "type": "loop",
                                  "category": "guitar"}),
    ("Vox_F#m_Chop.wav", {"key": "F# minor", "category": "vocal"}),
    ("8A - 124 - Deep Groove Loop.wav", {"key": "A minor", "bpm": 124.0, "type": "loop"}),
    ("Bass_A1.wav", {"note": "A1", "category": "bass"}),
    ("Synth Bass C#2.wav", {"note": "C#2", "category": "bass"}),
    ("Pluck_Bb2.wav", {"note": "A#2", "category": "synth"}),
    ("808 Sub C-1.wav", {"note": "C-1", "category": "bass"}),
    ("kick_02.wav", {"category": "kick"}),
    ("Snare 2.wav", {"category": "snare"}),
    ("808_Cowbell.wav", {"category": "perc"}),
    ("808.wav", {}),
    ("Amb_pad.wav", {"category": "pad"}),
    ("FM_Bass.wav", {"category": "bass"}),  # "FM" is not F major
    ("Kick_Hit_120.wav", {"category": "kick", "type": "oneshot"}),  # no loop words: 120 isn't bpm
    ("Snare_2B.wav", {"category": "snare"}),  # "2B" is a variant, not Camelot
    ("BassDrum_Punchy.wav", {"category": "kick"}),
    ("Hi-Hat Open 03.wav", {"category": "hihat"}),
    ("ClosedHH_01.wav", {"category": "hihat"}),
    ("TR808_CP.wav", {"category": "clap"}),
    ("Rim_Shot.wav", {"category": "snare"}),
    ("Oh_Yeah_Vocal.wav", {"category": "vocal"}),  # a word beats the "OH" abbreviation
    ("FX_Riser_Long.wav", {"category": "fx"}),
    ("Perc_Shaker_Loop_95.wav", {"category": "perc", "type": "loop", "bpm": 95.0}),
    ("Packs/One Shots/Kicks/Punchy.wav", {"category": "kick", "type": "oneshot"}),
    ("Loops/128 BPM/Groove_01.wav", {"bpm": 128.0, "type": "loop"}),
    ("Vocal Pack/Drums/Loop_01.wav", {"type": "loop"}),  # "Drums/" stops the climb
    ("Kicks/Drum_01.wav", {"category": "kick"}),  # the file name has no category word
    ("Bass/Loops/Lead_Am_120.wav", {"category": "synth", "type": "loop", "key": "A minor",
                                    "bpm": 120.0}),  # the name wins over folders
    ("Drum & Bass/Loop_174.wav", {"bpm": 174.0, "type": "loop"}),  # a genre, not bass
    # sonic-pi / Debian sample names
    ("/usr/share/sonic-pi/samples/bd_haus.flac", {"category": "kick"}),
    ("sn_dub.flac", {"category": "snare"}),
    ("drum_cymbal_open.flac", {"category": "hihat"}),
    ("drum_cymbal_hard.flac", {"category": "cymbal"}),
    ("drum_bass_hard.flac", {"category": "kick"}),
    ("drum_tom_hi_soft.flac", {"category": "tom"}),
    ("bass_hit_c.flac", {"category": "bass", "type": "oneshot"}),
    ("perc_bell.flac", {"category": "perc"}),
    ("elec_hi_snare.flac", {"category": "snare"}),
    ("loop_amen.flac", {"type": "loop"}),
    ("loop_drone_g_97.flac", {"type": "loop", "bpm": 97.0, "category": "pad"}),
    ("ambi_choir.flac", {"category": "vocal"}),
    ("guit_harmonics.flac", {"category": "guitar"}),
    ("vinyl_hiss.flac", {"category": "fx"}),
    ("misc_burp.flac", {}),
    ("tabla_tas1.flac", {"category": "perc"}),
    ("hat_snap.flac", {"category": "hihat"}),
    # names that must stay empty
    ("Take 3.wav", {}),
    ("I.wav", {}),
    ("A.wav", {}),
    ("", {}),
]


@pytest.mark.parametrize(("path", "expected"), NAMES, ids=[n[0] or "empty" for n in NAMES])
def test_filename_hints(path: str, expected: dict) -> None:
    assert filename_hints(path) == expected


def test_windows_separators() -> None:
    assert filename_hints(r"C:\Samples\Snares\Tight 01.wav") == {"category": "snare"}


WORDS = ["Kick", "kick", "BD", "Snare", "Hat", "OH", "Loop", "loops", "Am", "F#m", "Bbmaj", "C3",
         "A#1", "C-1", "808", "120", "128bpm", "bpm90", "8A", "One", "Shot", "Drum", "Bass",
         "&", "Pad", "FX", "x", "02", "ÄÖ", "#", "♯", "m", "min", "..", "/", "\\"]


@pytest.mark.slow
@settings(max_examples=500, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.text(max_size=120),
                 st.lists(st.sampled_from(WORDS), max_size=12).flatmap(
                     lambda words: st.sampled_from(["_", " ", "-", "/", ""]).map(
                         lambda sep: sep.join(words) + ".wav")),
                 st.binary(max_size=60).map(lambda b: b.decode("utf-8", "surrogateescape"))))
def test_filename_hints_never_raise(name: str) -> None:
    result = filename_hints(name)
    assert_valid(result)
    assert not set(result) & ({"tags", "beats", "loops"} | TEXT)
