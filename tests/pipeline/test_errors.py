"""Bad requests fail with a message that says what to do, before any work, leaving nothing."""

from __future__ import annotations

import numpy as np
import pytest
from pipeline_helpers import FAST, audio_only_file, moving_square, write_image

from minisora.media import MediaError, write_mp4
from minisora.pipeline import (
    DEFAULT_MODEL,
    GenerateConfig,
    GenerationError,
    generate,
    load_world_model,
)

PROMPT = "a red ball bounces"


@pytest.mark.parametrize("options,message", [
    ({"seconds": 0.5}, "out of range"),
    ({"seconds": 61}, "out of range"),
    ({"size": (50, 50)}, "multiples of 16"),
    ({"fps": 0}, "1 to 60"),
    ({"steps": 0}, "sampling steps"),
    ({"seed": -1}, "non-negative"),
    ({"image": "a.png", "extend": "b.mp4"}, "different modes"),
    ({"loop": True, "edit": "b.mp4"}, "--loop"),
    ({"loop": True, "extend": "b.mp4", "backward": True}, "contradict"),
    ({"backward": True}, "--backward needs --extend"),
    ({"strength": 0.5}, "--edit FILE only"),
    ({"edit": "b.mp4", "seconds": 2}, "drop --seconds"),
    ({"edit": "b.mp4", "strength": 1.5}, "(0, 1]"),
    ({"format": "avi"}, "choose from"),
    ({"guidance_interval": (0.9, 0.2)}, "--guidance-interval"),
    ({"guidance_interval": (0.0, 1.5)}, "0 <= LO < HI <= 1"),
    ({"guidance_interval": (0.2,)}, "give two numbers"),
    ({"shift": 0.0}, "--shift 0"),
])
def test_contradictory_or_out_of_range_settings(options, message):
    with pytest.raises(GenerationError, match=message.replace("(", r"\(").replace("]", r"\]")):
        GenerateConfig(prompt=PROMPT, **options).check()


def test_empty_prompt():
    with pytest.raises(GenerationError, match="prompt is empty"):
        GenerateConfig(prompt="  ").check()


def files(tmp_path):
    """A text file, an audio-only file, a video, a one-frame GIF and a 3-frame clip."""
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    video = write_mp4(tmp_path / "video.mp4", moving_square(9, 32, 32), 16)
    short = write_mp4(tmp_path / "short.mp4", moving_square(3, 32, 32), 16)
    gif = write_image(tmp_path / "still.gif", np.zeros((32, 32, 3), np.uint8), codec="gif")
    return {"text": text, "silent": audio_only_file(tmp_path / "sound.mp4"), "video": video, "gif": gif,
            "short": short, "missing": tmp_path / "missing.mp4"}


@pytest.mark.parametrize("flag,kind,message", [
    ("image", "text", "not a readable video or image"),
    ("image", "video", "is a video (9 frames)"),
    ("image", "gif", "takes a PNG or JPEG"),
    ("image", "missing", "no such file"),
    ("extend", "silent", "no video stream"),
    ("edit", "short", "needs at least 5"),
    ("connect", "silent", "no video stream"),
])
def test_unusable_input_files_are_named_and_nothing_is_written(model_folder, tmp_path, flag, kind, message):
    paths = files(tmp_path)
    before = sorted(tmp_path.iterdir())
    value = (paths["video"], paths[kind]) if flag == "connect" else paths[kind]
    with pytest.raises(MediaError, match=message.replace("(", r"\(").replace(")", r"\)")) as error:
        generate(model_folder, PROMPT, tmp_path / "out.mp4", **{flag: value, **FAST})
    assert str(paths[kind].name) in str(error.value)
    assert sorted(tmp_path.iterdir()) == before


def test_size_the_model_cannot_make(world, tmp_path):
    with pytest.raises(GenerationError, match="aspect ratio"):
        generate(world, PROMPT, tmp_path / "out.mp4", **{**FAST, "size": (80, 48)})
    with pytest.raises(MediaError, match="does not exist"):
        generate(world, PROMPT, tmp_path / "no" / "out.mp4", **FAST)
    assert list(tmp_path.iterdir()) == []


def test_unknown_prompt_words_are_listed(world, tmp_path):
    with pytest.raises(ValueError, match="florp"):
        generate(world, "a wobbly florp", tmp_path / "out.mp4", **FAST)
    assert list(tmp_path.iterdir()) == []


def test_missing_model_says_how_to_train_one(tmp_path):
    with pytest.raises(GenerationError, match="minisora train"):
        load_world_model(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(GenerationError, match="no config.json"):
        load_world_model(tmp_path / "empty")


@pytest.mark.skipif((DEFAULT_MODEL / "config.json").is_file(), reason="a default model is shipped")
def test_no_default_model_is_a_clear_error_not_a_fake_video(tmp_path):
    with pytest.raises(GenerationError, match="no default world model.*minisora train"):
        generate(None, PROMPT, tmp_path / "out.mp4")
    assert list(tmp_path.iterdir()) == []
