"""The prompts and answer schemas sent to the model.

Each prompt has a version. It is part of every cache key and stored with each
description, so changing a prompt (bump its version) re-describes on the next run
instead of mixing answers to different questions.
"""

from __future__ import annotations

from typing import Any

from .descriptors import level_words

DESCRIBE_PROMPT_VERSION = "describe-1"
ASK_PROMPT_VERSION = "ask-1"

# -- describe ---------------------------------------------------------------------------

DESCRIBE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "description": {"type": "string",
                        "description": "one line, at most 20 words: what it sounds like"},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 8,
                 "description": "3 to 6 short lower-case tags"},
        "mood": {"type": "string", "description": "one or two words"},
        "uses": {"type": "array", "items": {"type": "string"}, "maxItems": 4,
                 "description": "1 to 3 places it fits in a track or genres"},
    },
    "required": ["description", "tags", "mood", "uses"],
}

DESCRIBE_SYSTEM = (
    "You describe audio samples for music producers. You are given measurements of one "
    "sample; describe how it sounds from them (the file name may hint at the sound). "
    "Answer with JSON only: description (one line, at most 20 words), tags (3 to 6 "
    "lower-case words such as 'dark', 'punchy', 'lofi'), mood (one or two words), uses (1 "
    "to 3 short suggestions: where it fits in a track, or genres). Do not repeat the "
    "numbers; do not invent instruments the measurements contradict."
)

# Record field -> label, unit format. Only fields with a value are sent.
_FACTS: tuple[tuple[str, str, str], ...] = (
    ("type", "type", "{}"),
    ("category", "category", "{}"),
    ("bpm", "tempo", "{:.1f} BPM"),
    ("key", "key", "{}"),
    ("note", "note", "{}"),
    ("pitch_hz", "pitch", "{:.1f} Hz"),
    ("duration", "duration", "{:.2f} s"),
    ("loudness_lufs", "loudness", "{:.1f} LUFS"),
    ("peak_db", "peak", "{:.1f} dBFS"),
    ("spectral_centroid", "spectral centroid", "{:.0f} Hz"),
    ("spectral_flatness", "spectral flatness", "{:.4f}"),
    ("brightness", "energy above 1.5 kHz", "{:.0%}"),
    ("low_energy_ratio", "energy below 150 Hz", "{:.0%}"),
    ("attack_time", "attack", "{:.3f} s"),
    ("decay_time", "decay", "{:.3f} s"),
    ("crest_db", "crest factor", "{:.1f} dB"),
    ("tonalness", "tonalness", "{:.2f}"),
    ("onset_rate", "onsets per second", "{:.1f}"),
)


def describe_messages(record: dict[str, Any], tags: list[str]) -> list[dict[str, str]]:
    """Chat messages asking for one sample's description, from its record and tags."""
    words = level_words(record)
    # The group the words were judged in (descriptors.group_for): its category, or loops.
    kind = record.get("category") or ("loop" if record.get("type") == "loop" else "sound")
    lines = [f"name: {record.get('name') or '?'}"]
    for field, label, fmt in _FACTS:
        value = record.get(field)
        if value is None or value == "":
            continue
        if field == "type":
            value = "one-shot" if value == "oneshot" else value
        text = fmt.format(value)
        if field in words:
            text += f" ({words[field]} for a {kind})"
        lines.append(f"{label}: {text}")
    if tags:
        lines.append("tags: " + ", ".join(tags))
    return [{"role": "system", "content": DESCRIBE_SYSTEM},
            {"role": "user", "content": "\n".join(lines)}]


# -- ask --------------------------------------------------------------------------------

ASK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"query": {"type": "string"}},
    "required": ["query"],
}

ASK_SYSTEM = """\
You turn a music producer's request into one query for the samplemind sample library.
Answer with JSON only: {"query": "..."}.

Query language: terms separated by spaces, all must match.
  field:value   field:a,b (any of)   field:lo..hi  field:..hi  field:lo..  (inclusive ranges)
  -term (not)   word (free text in names, tags, descriptions)   sort:field or sort:field- (descending)
  limit:N
Fields:
  cat: kick snare hihat cymbal tom clap perc bass synth pad keys guitar vocal fx tonal
  type: loop oneshot
  bpm: number (only loops have a tempo; never put bpm on one-shot drums)
  key: Am, F#m, Cmaj, 'F# major'; key:Am~ = keys that mix with A minor
  note: C2, F#1, C2..C3
  dur: seconds, units ms s (dur:..500ms)
  lufs: loudness, -30 quiet .. -8 loud
  centroid: spectral centroid in Hz (low = dark, high = bright); typical kick 60-120, snare
    600-1500, hihat 6600-8600, bass 120-290, other sounds 400-1900
  flatness: 0..1 (high = noisy, 0 = pure tone)
  attack: attack time, units ms s (punchy = attack:..10ms)
  tag: a tag
Examples:
  "dark punchy kick" -> cat:kick centroid:..64 attack:..10ms
  "bass loops in A minor around 120" -> cat:bass type:loop key:Am bpm:117..123
  "bright long hats, loudest first" -> cat:hihat centroid:8600.. dur:0.8s.. sort:lufs-
Use only these fields. Do not explain."""


def ask_prompt(words: str, failed: list[tuple[str, str]]) -> str:
    """The request, with earlier invalid answers and the parser's errors (for the retry)."""
    prompt = f"Request: {words.strip()}"
    for query, error in failed:
        prompt += (f"\n\nYour previous query {query!r} was rejected by the parser:\n{error}\n"
                   "Answer again with a corrected query.")
    return prompt
