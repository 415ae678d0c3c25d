"""The sound everywhere a video is made: generate() and `minisora add-sound`, through save_video."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).parents[1] / "pipeline"))
from pipeline_helpers import FAST, make_model_folder  # noqa: E402


@pytest.fixture(scope="module")
def sound_folder(tmp_path_factory) -> Path:
    """A tiny random sound model exported like the shipped one, for the installed autoencoder."""
    from minisora.sound.cache import vae_fingerprint
    from minisora.sound.config import SOUND_PRESETS, SoundConfig
    from minisora.sound.model import SoundDiT

    folder = tmp_path_factory.mktemp("sound")
    torch.manual_seed(0)
    config = SoundConfig(**{**SOUND_PRESETS["tiny"].to_dict(), "vae_fingerprint": vae_fingerprint()})
    model = SoundDiT(config)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.1)
    config.save(folder / "config.json")
    save_file({k: v.to(torch.bfloat16).contiguous() for k, v in model.state_dict().items()},
              str(folder / "model.safetensors"))
    return folder


def test_add_sound_gives_a_silent_video_a_track_as_long_as_it(sound_folder, tmp_path, bounce_clip):
    from minisora.cli import main
    from minisora.media import write_mp4
    from minisora.media.read import read_video
    from minisora.provenance.verify import verify_file

    silent = write_mp4(tmp_path / "silent.mp4", bounce_clip.frames, 16)
    out = tmp_path / "with sound.mp4"
    assert main(["add-sound", str(silent), "--out", str(out), "--model", str(sound_folder), "--steps", "2"]) == 0
    back = read_video(out)
    assert back.frames.shape == bounce_clip.frames.shape
    assert back.audio is not None and abs(back.audio.size / back.sample_rate - 65 / 16) < 1 / 16
    assert np.abs(back.audio).max() > 0
    report = verify_file(out)
    assert report.status == "marked" and "signed manifest valid" in report.verdict


def test_add_sound_refuses_a_format_without_sound(sound_folder, tmp_path, bounce_clip):
    from minisora.cli import main
    from minisora.media import write_mp4

    silent = write_mp4(tmp_path / "silent.mp4", bounce_clip.frames[:9], 16)
    assert main(["add-sound", str(silent), "--out", str(tmp_path / "x.gif"), "--model", str(sound_folder)]) == 2
    assert not (tmp_path / "x.gif").exists()


def test_generate_adds_sound_unless_told_not_to(sound_folder, tmp_path):
    from minisora.media import probe
    from minisora.pipeline import generate, load_world_model
    from minisora.sound.synthesis import load_world_sound

    world = load_world_model(make_model_folder(tmp_path / "tiny"))
    sound = load_world_sound(sound_folder, text=world.text)
    g = generate(world, "a red ball bounces", tmp_path / "s.mp4", seconds=2, sound=sound, **FAST)
    info = probe(g.path)
    assert info.has_audio and abs(info.duration - g.seconds) < 0.1
    assert not probe(generate(world, "a red ball bounces", tmp_path / "q.mp4", seconds=1, sound=None,
                              **FAST).path).has_audio
    with pytest.raises(ValueError, match="SoundModel"):
        generate(world, "a red ball bounces", tmp_path / "x.mp4", seconds=1, sound="loud", **FAST)
