"""No code path writes an output without save_video(): a scan of the package's source."""

from __future__ import annotations

import re
from pathlib import Path

import minisora

# the media writers, and PyAV opened for writing (a way around them)
WRITERS = re.compile(r"\b(write_mp4|write_gif|write_png_frames)\b|av\.open\(.*mode\s*=\s*[\"']w")
ALLOWED = {"media", "provenance"}  # the writers themselves, and save_video
ALLOWED_FILES = {"world/dataset.py"}  # training data, not an output: never leaves the machine


def test_save_video_is_the_only_writer():
    root = Path(minisora.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if relative.parts[0] in ALLOWED or relative.as_posix() in ALLOWED_FILES:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if WRITERS.search(line):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert not offenders, "write outputs with minisora.provenance.save_video:\n" + "\n".join(offenders)


def test_the_scan_would_catch_a_direct_writer():
    assert WRITERS.search("    return write_mp4(out, frames, fps)")
    assert WRITERS.search('with av.open(str(tmp), mode="w", format="mp4") as container:')
    assert not WRITERS.search("frames = read_video(path).frames")
