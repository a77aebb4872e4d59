"""Kits as playable sampler instruments: the keyboard mapping (mapping.py, with layers.py for
velocity layers and round robins) and one writer per format (sfz.py, decentsampler.py).

``write(fmt, items, name)`` is what export.py calls once the samples are in place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import UsageError
from . import decentsampler, sfz
from .mapping import Instrument, build

DEFAULT_NAME = "instrument"
FORMATS = {"sfz": sfz.EXTENSION, "decentsampler": decentsampler.EXTENSION}


@dataclass(frozen=True)
class InstrumentSpec:
    """What instrument an export writes: its format, file stem and whether extra sounds of one
    drum become round robins."""

    format: str
    name: str
    round_robin: bool = False

    @property
    def file_name(self) -> str:
        return self.name + FORMATS[self.format]


def check_format(fmt: str) -> str:
    """The format's canonical name; UsageError for another."""
    wanted = str(fmt).strip().lower().replace(" ", "").replace("-", "")
    wanted = {"ds": "decentsampler", "dspreset": "decentsampler"}.get(wanted, wanted)
    if wanted not in FORMATS:
        raise UsageError(f"unknown instrument format {fmt!r}; use one of: {', '.join(FORMATS)}")
    return wanted


def spec_for(fmt: str, name: str | None, round_robin: bool = False) -> InstrumentSpec:
    """A checked spec; name (the kit folder's, say) made a safe file stem."""
    from ..export import safe_stem

    return InstrumentSpec(check_format(fmt), safe_stem(name or "") or DEFAULT_NAME, round_robin)


def write(spec: InstrumentSpec, items: Sequence[tuple[dict[str, Any], str]],
          query: str | None = None) -> tuple[str, Instrument]:
    """The instrument file's text for (record, target) pairs, and its mapping (with warnings)."""
    instrument = build(items, spec.name, round_robin=spec.round_robin)
    if spec.format == "sfz":
        return sfz.render(instrument, query=query), instrument
    text, warnings = decentsampler.render(instrument, query=query)
    instrument.warnings += warnings
    return text, instrument


__all__ = ["FORMATS", "Instrument", "InstrumentSpec", "build", "check_format", "spec_for", "write"]
