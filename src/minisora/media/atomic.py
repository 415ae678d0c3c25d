"""Atomic file output: write to a temporary name beside the target, then rename.

A crash or an exception never leaves a half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from minisora.media.errors import MediaError


def _read_umask() -> int:
    """Read once at import: os.umask can only be read by setting it, which races with threads."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def check_writable(path: str | Path) -> Path:
    """Return `path` as a Path if its folder exists and is writable, else raise MediaError."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise MediaError(path, "the output folder does not exist", f"create {folder} first")
    if not os.access(folder, os.W_OK):
        raise MediaError(path, "the output folder is not writable", "choose another --out")
    if path.is_dir():
        raise MediaError(path, "the output path is a folder", "give a file name")
    return path


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is renamed onto `path`."""
    path = check_writable(path)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=suffix or path.suffix or ".tmp", dir=path.parent or "."
    )
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.chmod(0o666 & ~_UMASK)  # mkstemp makes 0600; an output file gets the usual mode
    try:
        yield tmp_path
        tmp_path.chmod(0o666 & ~_UMASK)  # again: a writer that replaced the file (safetensors) made it 0600
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextlib.contextmanager
def atomic_folder(final: str | Path) -> Iterator[Path]:
    """Yield a scratch folder beside `final`; on success it replaces `final` whole.

    Checkpoints and shipped weights use it: a folder under its final name is always complete.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
    tmp.chmod(0o777 & ~_UMASK)  # mkdtemp makes 0700; a checkpoint folder gets the usual mode
    try:
        yield tmp
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
