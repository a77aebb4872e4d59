"""The with-block shape samplemind's resources share (Library, the caches, the account
store, the Ollama client, the analysis executors)."""

from __future__ import annotations

from typing import Self


class Closing:
    """A resource a with block closes: `with Library(home) as library:` calls close() on the
    way out, whatever happened inside. A subclass says what close() releases."""

    def close(self) -> None:
        """Release what the resource holds."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
