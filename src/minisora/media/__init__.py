"""Reading, writing and probing media files (MP4 with H.264 + AAC, GIF, PNG frames) with PyAV."""

from minisora.media.errors import MediaError
from minisora.media.probe import MediaInfo, probe
from minisora.media.read import VideoData, read_video
from minisora.media.write import write_gif, write_mp4, write_png_frames

__all__ = [
    "MediaError",
    "MediaInfo",
    "VideoData",
    "probe",
    "read_video",
    "write_gif",
    "write_mp4",
    "write_png_frames",
]
