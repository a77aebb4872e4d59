"""Local AI through Ollama: describe and tag samples, and turn plain words into queries.

Everything here sits under the Library (``Library.describe``, ``Library.ask``); the CLI
and the server call those. Without Ollama, ``translate`` still turns common phrases
into queries by rule.
"""

from __future__ import annotations

DEFAULT_MODEL = "llama3.2:3b"  # small, instruct-tuned, widely pulled; --model or SAMPLEMIND_AI_MODEL
MODEL_ENV = "SAMPLEMIND_AI_MODEL"


def default_model() -> str:
    """The model to use when none is given: $SAMPLEMIND_AI_MODEL, else DEFAULT_MODEL."""
    import os

    return os.environ.get(MODEL_ENV, "").strip() or DEFAULT_MODEL
