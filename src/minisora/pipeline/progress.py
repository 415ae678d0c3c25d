"""A terminal progress bar for generate(): transformer evaluations done out of those planned."""

from __future__ import annotations

from types import TracebackType
from typing import Any


class ProgressBar:
    """Use as `with ProgressBar() as bar: generate(..., progress=bar)`; the bar appears with the
    first step, so a request refused before any work prints no bar."""

    def __init__(self, desc: str = "generate") -> None:
        self.desc = desc
        self.bar: Any = None

    def __call__(self, done: int, total: int, stage: str) -> bool:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="step", desc=self.desc, dynamic_ncols=True)
        self.bar.set_postfix_str(stage, refresh=False)
        self.bar.update(done - self.bar.n)
        return True

    def note(self, message: str) -> None:
        """Print a line above the bar (a note that comes mid-generation, such as a chunk's new
        caption), not into it."""
        if self.bar is None:
            print(message)
        else:
            self.bar.write(message)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self.bar is not None:
            self.bar.close()
