"""`minisora verify`: the manifest round trip, tamper detection, a re-encoded copy, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from minisora.cli import VERIFY_EXIT_CODES
from minisora.media import read_video, write_mp4
from minisora.provenance import read_manifest, save_video
from minisora.provenance.attacks import reencode, remux
from minisora.provenance.certs import load_identity
from minisora.provenance.verify import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_TAMPERED,
    EXIT_UNMARKED,
    exit_code,
    verify_file,
)


@pytest.fixture
def signed(tmp_path, world_frames, info) -> Path:
    return save_video(tmp_path / "signed.mp4", world_frames(21), 16, np.zeros(65_000, np.float32), info=info).path


def flip_video_byte(path: Path, out: Path) -> Path:
    data = bytearray(path.read_bytes())
    data[data.index(b"mdat") + 400] ^= 0x5A  # inside the coded frames
    out.write_bytes(data)
    return out


def test_signed_output_verifies(signed):
    report = verify_file(signed)
    assert report.status == "marked" and report.exit_code == EXIT_OK
    assert report.manifest.state == "valid" and report.manifest.trusted
    assert report.watermark.found and report.watermark.p_value < 1e-20
    if report.watermark.payload is not None:  # random generation ids: a few lose a bit to CRF 18
        assert report.watermark.payload.generation_id == report.manifest.generation["generation_id"]
    assert "signed manifest valid" in report.verdict and "watermark found" in report.verdict


def test_a_changed_byte_is_tampered(signed, tmp_path):
    report = verify_file(flip_video_byte(signed, tmp_path / "tampered.mp4"))
    assert report.manifest.state == "invalid" and report.status == "tampered"
    assert report.exit_code == EXIT_TAMPERED and report.verdict.startswith("TAMPERED")


def test_a_change_that_breaks_decoding_is_still_tampered(signed, tmp_path):
    """Bytes changed so that the frames no longer decode: the watermark cannot be read, but the
    signed manifest still says the file was changed after signing."""
    import av

    from minisora.media import MediaError

    with av.open(str(signed)) as container:  # where the first video sample lies (audio may come first)
        start = next(p.pos for p in container.demux(video=0) if p.pos is not None)
    data = bytearray(signed.read_bytes())
    data[start: start + 4] = b"\xff\xff\xff\x7f"  # the first NAL unit says it is 2 GB long
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(data)
    with pytest.raises(MediaError):
        read_video(broken)
    report = verify_file(broken)
    assert report.status == "tampered" and report.exit_code == EXIT_TAMPERED
    assert report.watermark is None and "no longer decodes" in report.verdict


def test_reencoded_and_remuxed_copies_keep_the_watermark_but_lose_the_manifest(signed, tmp_path):
    copy = write_mp4(tmp_path / "copy.mp4", reencode(read_video(signed).frames, 23), 16)
    muxed = remux(signed, tmp_path / "muxed.mp4")
    for path in (copy, muxed):
        report = verify_file(path)
        assert report.manifest.state == "absent" and report.watermark.found
        assert report.status == "marked" and "no manifest" in report.verdict and "re-encoded" in report.verdict


def test_unmarked_and_unreadable_files(tmp_path, world_frames):
    clean = verify_file(write_mp4(tmp_path / "clean.mp4", world_frames(22), 16))
    assert clean.status == "unmarked" and clean.exit_code == EXIT_UNMARKED
    (tmp_path / "junk.mp4").write_bytes(b"not a video")
    junk = verify_file(tmp_path / "junk.mp4")
    assert junk.status == "error" and junk.exit_code == EXIT_ERROR
    assert exit_code([clean, junk]) == EXIT_ERROR


def test_a_signature_from_another_machine_is_valid_but_untrusted(signed, tmp_path):
    other = load_identity(tmp_path / "other-keys")
    report = read_manifest(signed, other)
    assert report.state == "valid" and not report.trusted
    assert report.problems == ["signingCredential.untrusted"]


def test_cli_verify_json_and_exit_codes(signed, tmp_path):
    tampered = flip_video_byte(signed, tmp_path / "t.mp4")
    run = subprocess.run([sys.executable, "-m", "minisora.cli", "verify", "--json", str(signed), str(tampered)],
                         capture_output=True, text=True, env=dict(os.environ), timeout=120)
    assert run.returncode == EXIT_TAMPERED, run.stderr
    files = json.loads(run.stdout)["files"]
    assert [f["status"] for f in files] == ["marked", "tampered"]
    plain = subprocess.run([sys.executable, "-m", "minisora.cli", "verify", str(signed)],
                           capture_output=True, text=True, env=dict(os.environ), timeout=120)
    assert plain.returncode == EXIT_OK and plain.stdout.count("\n") == 1


def test_help_documents_the_exit_codes():
    for code, meaning in ((EXIT_OK, "0 every file"), (EXIT_UNMARKED, "1 some file carries neither"),
                          (EXIT_ERROR, "2 some file could not be read"), (EXIT_TAMPERED, "3 some file's signed")):
        assert meaning in VERIFY_EXIT_CODES and meaning.split()[0] == str(code)
