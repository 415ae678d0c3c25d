import numpy as np
import pytest

from minisora.media import MediaError, probe, read_video, write_gif, write_mp4, write_png_frames
from minisora.world import render_clip


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / max(mse, 1e-12)))


def test_mp4_round_trip_keeps_frames_fps_audio(tmp_path, busy_spec):
    clip = render_clip(busy_spec)
    path = write_mp4(tmp_path / "clip.mp4", clip.frames, clip.fps, clip.audio)
    video = read_video(path)
    assert video.frames.shape == clip.frames.shape
    assert video.fps == pytest.approx(16.0)
    assert psnr(video.frames, clip.frames) >= 35.0
    assert video.audio is not None and video.sample_rate == 16_000
    assert video.audio.size == clip.audio.size  # exactly the video's duration
    # AAC is lossy, but the waveform must line up in time (no priming offset)
    lag = np.argmax(np.correlate(video.audio[:8000], clip.audio[:8000], "full")) - 7999
    assert abs(lag) <= 2


def test_mp4_voicing_hears_the_frames_the_file_shows(tmp_path, busy_spec):
    """A soundtrack function gets the frames as encoded and decoded, not the ones handed in, and
    its sound is muxed beside those very frames (the video packets are copied, not re-encoded)."""
    clip = render_clip(busy_spec)
    heard = []

    def voice(shown):
        heard.append(shown)
        return clip.audio, 16_000

    path = write_mp4(tmp_path / "clip.mp4", clip.frames, clip.fps, voice, metadata={"comment": "voiced"})
    video = read_video(path)
    (shown,) = heard
    assert not np.array_equal(shown, clip.frames)  # H.264 is lossy: these are the decoded frames
    np.testing.assert_array_equal(video.frames, shown)
    assert video.audio is not None and video.audio.size == clip.audio.size
    lag = np.argmax(np.correlate(video.audio[:8000], clip.audio[:8000], "full")) - 7999
    assert abs(lag) <= 2
    assert probe(path).fps == pytest.approx(16.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]  # the silent scratch is gone

    def broken(shown):
        raise RuntimeError("the sound model failed")

    with pytest.raises(RuntimeError, match="sound model failed"):
        write_mp4(tmp_path / "other.mp4", clip.frames, clip.fps, broken)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]  # nothing half-written


def test_probe_reports_size_fps_frames_audio(tmp_path, busy_spec):
    clip = render_clip(busy_spec)
    path = write_mp4(tmp_path / "clip.mp4", clip.frames, clip.fps, clip.audio)
    info = probe(path)
    assert (info.width, info.height, info.frames, info.has_audio) == (64, 64, 65, True)
    assert info.fps == pytest.approx(16.0) and info.duration == pytest.approx(65 / 16)
    silent = write_mp4(tmp_path / "silent.mp4", clip.frames, clip.fps)
    assert probe(silent).has_audio is False
    assert read_video(silent).audio is None


def test_gif_and_png_frames(tmp_path, busy_spec):
    clip = render_clip(busy_spec)
    gif = write_gif(tmp_path / "clip.gif", clip.frames, clip.fps)
    back = read_video(gif)
    assert back.frames.shape == clip.frames.shape
    assert psnr(back.frames, clip.frames) > 20  # a 256-colour palette
    paths = write_png_frames(tmp_path / "frames", clip.frames[:3])
    assert [p.name for p in paths] == ["frame_00000.png", "frame_00001.png", "frame_00002.png"]
    assert np.array_equal(read_video(paths[1]).frames[0], clip.frames[1])  # PNG is lossless


@pytest.mark.parametrize("content", [b"", b"not a video at all", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 50])
def test_garbage_files_give_a_clear_error_naming_the_file(tmp_path, content):
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(MediaError, match="bad.mp4"):
        read_video(path)
    with pytest.raises(MediaError, match="bad.mp4"):
        probe(path)


def test_truncated_mp4_gives_a_clear_error(tmp_path, busy_spec):
    clip = render_clip(busy_spec)
    path = write_mp4(tmp_path / "clip.mp4", clip.frames, clip.fps, clip.audio)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
    with pytest.raises(MediaError, match="cut.mp4"):
        read_video(cut)


def test_missing_file_and_audio_only_file(tmp_path):
    import av

    with pytest.raises(MediaError, match="no such file"):
        read_video(tmp_path / "nope.mp4")
    path = tmp_path / "sound.m4a"
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with pytest.raises(MediaError, match="no video stream"):
        read_video(path)


def test_bad_frames_and_unwritable_output_leave_nothing(tmp_path):
    with pytest.raises(MediaError, match="uint8"):
        write_mp4(tmp_path / "a.mp4", np.zeros((4, 16, 16, 3), np.float32), 16)
    with pytest.raises(MediaError, match="even"):
        write_mp4(tmp_path / "a.mp4", np.zeros((4, 15, 16, 3), np.uint8), 16)
    with pytest.raises(MediaError, match="does not exist"):
        write_mp4(tmp_path / "missing" / "a.mp4", np.zeros((4, 16, 16, 3), np.uint8), 16)
    with pytest.raises(MediaError, match=r"\[-1, 1\]"):
        write_mp4(tmp_path / "a.mp4", np.zeros((4, 16, 16, 3), np.uint8), 16, audio=np.full(100, 3.0))
    assert list(tmp_path.iterdir()) == []  # no half-written file, no temp left behind


def test_mp4_writes_the_same_bytes_for_the_same_frames_whatever_ran_before(tmp_path, busy_spec):
    """A benchmark rerun must read the frames the first run read: libx264's B-frame decisions
    depended on what the process had done before (the same frames, other files), so MP4s are
    written without B-frames. Work between the writes (numpy's LAPACK here) used to change them."""
    frames = render_clip(busy_spec).frames
    # noise on the render, as a generated video has: the plain render alone rarely showed it
    noisy = np.clip(frames.astype(np.int16) + np.random.default_rng(0).integers(-12, 13, frames.shape), 0, 255)
    noisy = noisy.astype(np.uint8)
    written = set()
    for _ in range(6):
        np.linalg.svd(np.random.default_rng().random((80, 80)))
        written.add(write_mp4(tmp_path / "again.mp4", noisy, 16).read_bytes())
    assert len(written) == 1
