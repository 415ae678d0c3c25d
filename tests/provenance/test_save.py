"""save_video() is the one exit: it watermarks, writes and signs, atomically, and nothing else
in the package writes an output file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from minisora.media import probe, read_video
from minisora.provenance import ProvenanceInfo, detect, read_manifest, save_video


def test_mp4_is_watermarked_signed_and_keeps_its_sound(tmp_path, world_frames, info):
    frames = world_frames(3)
    audio = np.zeros(65 * 1000, np.float32)
    saved = save_video(tmp_path / "out.mp4", frames, 16, audio, info=info)
    assert saved.path == tmp_path / "out.mp4" and saved.psnr_db >= 42.0
    media = probe(saved.path)
    assert (media.width, media.height, media.frames, media.has_audio) == (64, 64, 65, True)
    found = detect(read_video(saved.path, with_audio=False).frames)
    # the generation id is random: about 1 in 16 payloads loses a bit too many to CRF 18
    assert found.found and found.payload in (saved.payload, None)
    manifest = read_manifest(saved.path)
    assert manifest.state == "valid" and manifest.trusted
    assert manifest.source_type == "trainedAlgorithmicMedia"
    assert manifest.generation["model"] == {"name": "minisora-world-s", "version": "0.1.0"}
    assert manifest.generation["prompt"] == info.prompt
    assert (manifest.generation["seed"], manifest.generation["steps"]) == (7, 24)
    assert manifest.generation["generation_id"] == saved.payload.generation_id
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]  # no temporary left behind


def test_a_given_generation_id_makes_the_same_frames_a_fresh_one_others(tmp_path, world_frames, info):
    frames = world_frames(3, seconds=1.0)
    one = save_video(tmp_path / "a.mp4", frames, 16, info=info, generation_id=12345)
    two = save_video(tmp_path / "b.mp4", frames, 16, info=info, generation_id=12345)
    fresh = save_video(tmp_path / "c.mp4", frames, 16, info=info)
    assert one.payload == two.payload and one.payload.generation_id == 12345
    assert read_manifest(one.path).generation["generation_id"] == 12345
    a, b, c = (read_video(s.path, with_audio=False).frames for s in (one, two, fresh))
    assert np.array_equal(a, b)
    assert fresh.payload.generation_id != 12345 and not np.array_equal(a, c)
    with pytest.raises(ValueError, match="32 bits"):
        save_video(tmp_path / "d.mp4", frames, 16, info=info, generation_id=2**32)
    assert not (tmp_path / "d.mp4").exists()


def test_gif_and_png_are_signed_too(tmp_path, world_frames, info):
    frames = world_frames(4, seconds=1.0)
    gif = save_video(tmp_path / "out.gif", frames, 16, info=info)
    assert read_manifest(gif.path).state == "valid"
    assert detect(read_video(gif.path).frames).found
    folder = save_video(tmp_path / "frames.png", frames, 16, info=info).path
    assert folder == tmp_path / "frames" and len(list(folder.glob("frame_*.png"))) == 17
    assert all(read_manifest(p).state == "valid" for p in folder.glob("*.png"))
    single = save_video(tmp_path / "still.png", frames[:1], 16, info=info)
    assert single.path.is_file() and read_manifest(single.path).state == "valid"


def test_a_failure_leaves_nothing(tmp_path, world_frames, info):
    bad = world_frames(5, seconds=1.0)[:, :63]  # odd height: H.264 refuses it after watermarking
    with pytest.raises(ValueError, match="even"):
        save_video(tmp_path / "out.mp4", bad, 16, info=info)
    with pytest.raises(ValueError, match="suffix"):
        save_video(tmp_path / "out.avi", bad, 16, info=info)
    with pytest.raises(ValueError, match="source_type"):
        ProvenanceInfo("m", "1", "p", 0, source_type="photo")
    assert list(tmp_path.iterdir()) == []


def test_keys_are_made_once_in_minisora_home(tmp_path, monkeypatch, world_frames, info):
    monkeypatch.setenv("MINISORA_HOME", str(tmp_path / "home"))
    save_video(tmp_path / "a.gif", world_frames(6, seconds=0.25), 16, info=info)
    keys = sorted(p.name for p in (tmp_path / "home" / "provenance").iterdir())
    assert keys == ["ca.key", "ca.pem", "signer.key", "signer.pem"]
    before = (tmp_path / "home" / "provenance" / "signer.pem").read_bytes()
    save_video(tmp_path / "b.gif", world_frames(6, seconds=0.25), 16, info=info)
    assert (tmp_path / "home" / "provenance" / "signer.pem").read_bytes() == before


def _chain_is_whole(folder: str) -> bool:
    from cryptography import x509

    from minisora.provenance.certs import load_identity

    identity = load_identity(Path(folder))
    leaf = x509.load_pem_x509_certificates(identity.chain_pem)[0]
    leaf.verify_directly_issued_by(x509.load_pem_x509_certificate(identity.ca_pem))
    return True


def test_processes_making_keys_at_once_share_one_whole_identity(tmp_path):
    import multiprocessing

    folder = str(tmp_path / "home" / "provenance")
    with multiprocessing.get_context("fork").Pool(4) as pool:
        assert all(pool.map(_chain_is_whole, [folder] * 8))
    assert sorted(p.name for p in (tmp_path / "home").iterdir()) == ["provenance"]  # no scratch left
