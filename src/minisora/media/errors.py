"""One error type for every media problem, always naming the file and saying what to do."""

from __future__ import annotations

from pathlib import Path


class MediaError(ValueError):
    """A file could not be read or written as media; the message names the file."""

    def __init__(self, path: str | Path, problem: str, hint: str = "") -> None:
        self.path = Path(path)
        message = f"{self.path}: {problem}"
        if hint:
            message += f" ({hint})"
        super().__init__(message)
