"""`minisora add-sound`: a soundtrack for a silent video of the world, written through save_video."""

from __future__ import annotations

from pathlib import Path

from minisora.sound.synthesis import SoundSettings


def add_sound(video: str | Path, out: str | Path, *, prompt: str = "", seed: int = 0,
              model: str | Path | None = None, settings: SoundSettings | None = None) -> Path:
    """Read `video`, make its soundtrack (any existing sound is replaced), save it watermarked and
    signed to `out` (MP4). `prompt` may name the objects' materials, which the video cannot show."""
    from minisora import __version__
    from minisora.media.atomic import check_writable
    from minisora.media.read import read_video
    from minisora.pipeline.sound import voicing
    from minisora.provenance import ProvenanceInfo, save_video
    from minisora.sound.synthesis import load_world_sound

    out = Path(out)
    if out.suffix.lower() != ".mp4":
        raise ValueError(f"{out}: add-sound writes MP4 (GIF and PNG carry no sound); use a .mp4 name")
    check_writable(out)
    clip = read_video(video, with_audio=False)
    sound = load_world_sound(model, settings=settings)
    steps = sound.settings.steps
    info = ProvenanceInfo(model_name="minisora-sound", model_version=__version__, prompt=prompt, seed=seed,
                          steps=steps, parameters={"mode": "add-sound", "source": Path(video).name,
                                                   "cfg": sound.settings.cfg})
    # voiced from the frames as `out` shows them: watermarked and encoded again
    return save_video(out, clip.frames, clip.fps, voicing(sound, clip.fps, prompt, seed), info=info,
                      fmt="mp4").path
