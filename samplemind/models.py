"""Typed records the Library hands out: samples, scan reports. Each has to_json()."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA_VERSION = 1


def versioned(body: dict[str, Any] | None = None, /, **fields: Any) -> dict[str, Any]:
    """The one place the JSON contract's version is stamped (ARCHITECTURE.md, Contracts):
    `schema_version` first, then body's fields, then fields'. Every versioned object either
    door hands out is made here; the record carries it as its first column (catalog.py)."""
    return {"schema_version": SCHEMA_VERSION, **(body or {}), **fields}

# Core fields of the sample record, in the order JSON, CSV and tables show them.
CORE_FIELDS: tuple[str, ...] = (
    "schema_version", "id", "path", "name", "format", "codec", "sample_rate", "channels",
    "bit_depth", "duration", "size", "hash", "audio_hash",
    "type", "type_confidence", "type_source",
    "category", "category_confidence", "category_source",
    "bpm", "bpm_confidence", "bpm_source", "bpm_alternatives",
    "key", "key_confidence", "key_source", "camelot",
    "chord", "chord_confidence", "chord_source",
    "note", "note_confidence", "note_source", "pitch_hz",
    "loudness_lufs", "peak_db", "tags", "warnings",
)

# Spectral and envelope descriptors, flat in the record after the core fields.
DESCRIPTOR_FIELDS: tuple[str, ...] = (
    "spectral_centroid", "spectral_flatness", "spectral_rolloff", "spectral_bandwidth",
    "spectral_contrast", "brightness", "low_energy_ratio", "zero_crossing_rate",
    "attack_time", "decay_time", "temporal_centroid", "crest_db", "end_level_db",
    "onset_rate", "onset_count", "tonalness",
)

# Embedded text metadata, shown when present.
TEXT_FIELDS: tuple[str, ...] = (
    "title", "artist", "comment", "description", "originator", "date",
)

TRAILING_FIELDS: tuple[str, ...] = ("extractor_version", "analysed_at", "scanned_at")

RECORD_FIELDS: tuple[str, ...] = CORE_FIELDS + DESCRIPTOR_FIELDS + TEXT_FIELDS + TRAILING_FIELDS

# Estimated fields: each carries <field>_confidence and <field>_source.
ESTIMATED_FIELDS: tuple[str, ...] = ("type", "category", "bpm", "key", "chord", "note")

# The fields a person may correct (`samplemind set`, PATCH /api/v1/samples/{id}, the UI's form,
# which reads this list from GET /api/v1/schema): every estimate. The one list.
CORRECTABLE_FIELDS: tuple[str, ...] = ESTIMATED_FIELDS

# Sources an estimate can come from.
SOURCES: tuple[str, ...] = ("dsp", "metadata", "filename", "user")


@dataclass
class Sample:
    """One catalogued sample: the flat, versioned record of ARCHITECTURE.md (Contracts)."""

    record: dict[str, Any]

    @property
    def id(self) -> int:
        """Catalog id."""
        return int(self.record["id"])

    @property
    def path(self) -> str:
        """Absolute path of the file."""
        return str(self.record["path"])

    def to_json(self) -> dict[str, Any]:
        """The record as JSON-ready data, every field present (missing ones are null)."""
        if len(self.record) == len(RECORD_FIELDS):  # as the catalog builds it: a plain copy
            return dict(self.record)
        return {name: self.record.get(name) for name in RECORD_FIELDS}


@dataclass
class FileFailure:
    """A file that could not be analysed, and why."""

    path: str
    error: str

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass
class ScanReport:
    """What one scan did: counts per outcome and the files that failed."""

    roots: list[str] = field(default_factory=list)
    seen: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    moved: int = 0
    removed: int = 0
    failed: int = 0
    analysed: int = 0  # files actually run through the extractor (cache misses)
    cache_hits: int = 0
    taught: int = 0  # one-shots whose category their named neighbours gave (README: Categories)
    agreed: int = 0  # sound-only categories their nearest sounds changed (consensus.py)
    hashed: int = 0
    skipped: int = 0  # files passed over: hidden, not audio, unreadable directory entries
    seconds: float = 0.0
    audio_seconds: float = 0.0
    interrupted: bool = False
    failures: list[FileFailure] = field(default_factory=list)
    warnings: list[FileFailure] = field(default_factory=list)  # skipped: unreadable, bad names

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return self.failed == 0

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form, with schema_version."""
        data = asdict(self)
        data["failures"] = [failure.to_json() for failure in self.failures]
        data["warnings"] = [warning.to_json() for warning in self.warnings]
        return versioned(data)


@dataclass
class Hit:
    """A sample found by similarity: how close it is overall and in each aspect."""

    sample: Sample
    score: float  # 0..1, 1 = the same sound
    distance: float  # weighted root mean square of the aspect distances
    aspects: dict[str, float]  # aspect -> distance (0 = the same)

    def to_json(self) -> dict[str, Any]:
        """The sample record plus score, distance and aspect_distances."""
        return {**self.sample.to_json(), "score": self.score, "distance": self.distance,
                "aspect_distances": self.aspects}


@dataclass
class DupeGroup:
    """Samples that are the same sound: one to keep, the others redundant."""

    kind: str  # "exact" (identical decoded audio) or "near" (close vectors, similar length)
    keeper: Sample
    others: list[Sample]
    reason: str  # why the keeper was chosen
    distance: float = 0.0  # largest distance from the keeper (near groups)

    @property
    def samples(self) -> list[Sample]:
        """Keeper first, then the others."""
        return [self.keeper, *self.others]

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form with full records."""
        return versioned(kind=self.kind, reason=self.reason,
                         distance=self.distance, keeper=self.keeper.to_json(),
                         others=[sample.to_json() for sample in self.others])


@dataclass
class LayerSet:
    """Sounds that `dupes` finds alike but that are one instrument's velocity layers or round
    robins (same folder, same name but for hard/soft/v2/rr3, or numbered in loudness steps):
    parts of a kit, never files to move aside."""

    folder: str
    instrument: str  # the shared name, without the layer words
    layers: list[Sample]  # softest first (LUFS, then peak)
    distance: float = 0.0  # largest distance from the softest layer
    kind: str = "layers"

    @property
    def reason(self) -> str:
        return (f"{len(self.layers)} layers of one sound (same folder and name, "
                "in loudness steps): kept as they are")

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form: the layers softest first, no keeper and nothing redundant."""
        return versioned(kind=self.kind, reason=self.reason,
                         distance=self.distance, folder=self.folder, instrument=self.instrument,
                         layers=[sample.to_json() for sample in self.layers])


@dataclass
class DupeAction:
    """What a dupes action did (moved, deleted or restored) and where its manifest is."""

    action: str  # "move", "delete" or "undo"
    files: list[dict[str, Any]] = field(default_factory=list)  # {id, from, to?}
    manifest: str | None = None
    failures: list[FileFailure] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        return versioned(action=self.action, files=self.files,
                         manifest=self.manifest,
                         failures=[failure.to_json() for failure in self.failures])
