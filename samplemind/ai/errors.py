"""Errors of the AI layer, in the SampleMindError tree (exit codes and HTTP statuses).

Two kinds matter to a batch: ComponentMissing (Ollama down, model not pulled) ends it,
because every further sample would fail the same way; a bad or late answer fails one
sample and the batch goes on.
"""

from __future__ import annotations

from ..errors import ComponentMissing, ExitCode, SampleMindError


class OllamaUnreachable(ComponentMissing):
    """Nothing answers at the Ollama address."""


class ModelMissing(ComponentMissing):
    """Ollama runs, but the model is not pulled."""


class ModelAnswerError(SampleMindError):
    """The model's answer was unusable (malformed, invalid, or an Ollama error) for one item."""

    exit_code = ExitCode.ERROR
    http_status = 502


class ModelTimeout(ModelAnswerError):
    """The model did not answer in time."""

    http_status = 504


class AskFailed(ModelAnswerError):
    """The model could not produce a valid query, even after being shown the parser's error."""
