"""What `minisora render` does: prompt -> scene spec -> clip -> file."""

from __future__ import annotations

from pathlib import Path

from minisora.media.atomic import check_writable
from minisora.world.clip import render_clip

FORMATS = ("mp4", "gif", "png")


def output_format(out: Path, fmt: str | None) -> str:
    """The format named by --format, else by the file suffix; a mismatch is an error."""
    suffix = out.suffix.lower().lstrip(".")
    if fmt is None:
        if suffix not in FORMATS:
            raise ValueError(f"{out}: cannot tell the format from the suffix; use .mp4, .gif or .png, or --format")
        return suffix
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} is unknown; choose from {', '.join(FORMATS)}")
    return fmt


def render_prompt(
    prompt: str,
    out: str | Path,
    size: tuple[int, int] = (64, 64),
    fps: int = 16,
    seconds: float = 4.0,
    seed: int = 0,
    fmt: str | None = None,
) -> Path:
    """Render the world clip a prompt describes and write it (mp4 with sound, gif, or png frames)."""
    from minisora import __version__
    from minisora.provenance import ProvenanceInfo, save_video
    from minisora.world.prompt import parse_prompt

    out = Path(out)
    fmt = output_format(out, fmt)
    if fmt != "png":
        check_writable(out)  # fail before the work, not after
    spec = parse_prompt(prompt, width=size[0], height=size[1], fps=fps, duration=seconds, seed=seed)
    clip = render_clip(spec)
    # no trained model made a world render: its source type is algorithmicMedia
    info = ProvenanceInfo(model_name="minisora-world", model_version=__version__, prompt=prompt,
                          seed=seed, steps=None, source_type="algorithmicMedia")
    audio = clip.audio if fmt == "mp4" else None
    return save_video(out, clip.frames, clip.fps, audio, info=info, fmt=fmt).path
