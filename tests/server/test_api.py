"""The API against a real server process: jobs run, progress streams, bad requests get 4xx."""

from __future__ import annotations

import json

import numpy as np
import pytest
from live_server import PROMPT, submit, wait_for

from minisora.media import probe, read_video, write_mp4, write_png_frames


@pytest.fixture(scope="module")
def client(server):
    with server.client() as http:
        yield http


@pytest.fixture(scope="module")
def small_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("inputs") / "clip.mp4"
    frames = np.full((9, 64, 64, 3), 90, np.uint8)
    return write_mp4(path, frames, 8)


@pytest.fixture(scope="module")
def small_image(tmp_path_factory):
    folder = tmp_path_factory.mktemp("image")
    return write_png_frames(folder, np.full((1, 64, 64, 3), 200, np.uint8))[0]


def test_healthz_and_page(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    page = client.get("/")
    assert page.status_code == 200 and "<progress" in page.text
    assert client.get("/static/app.js").status_code == 200
    schema = client.get("/openapi.json").json()
    assert {"/v1/jobs", "/v1/jobs/{job_id}", "/v1/jobs/{job_id}/events", "/v1/jobs/{job_id}/video",
            "/v1/verify", "/healthz"} <= set(schema["paths"])


def test_text_to_video_job_runs_to_a_video_with_sound(client, tmp_path):
    response = submit(client, seconds=2, width=96, height=64, seed=7)
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == f"/v1/jobs/{job['id']}"
    assert job["status"] in ("queued", "running") and job["params"]["seed"] == 7
    job = wait_for(client, job["id"])
    assert job["status"] == "done", job
    assert job["progress"] == 1 and job["attempts"] == 1 and job["error"] is None
    assert job["refined_prompt"]
    assert job["timings"]["run_seconds"] >= 0 and job["timings"]["queued_seconds"] >= 0
    video = client.get(f"/v1/jobs/{job['id']}/video")
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    path = tmp_path / "out.mp4"
    path.write_bytes(video.content)
    info = probe(path)
    assert (info.width, info.height, info.fps) == (96, 64, 16)
    assert info.has_audio and info.video_codec == "h264" and abs(info.duration - 2) < 0.1
    download = client.get(f"/v1/jobs/{job['id']}/video", params={"download": "true"})
    assert download.headers["content-disposition"].startswith("attachment;")
    assert "seed7" in download.headers["content-disposition"]


def test_events_stream_progress_then_the_end(client):
    job = submit(client, seconds=4, width=112, height=64).json()
    events = []
    with client.stream("GET", f"/v1/jobs/{job['id']}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        kind = None
        for line in stream.iter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                events.append((kind, json.loads(line[6:])))
    assert events[-1][0] == "end" and events[-1][1]["status"] == "done"
    assert all(kind == "progress" for kind, _ in events[:-1])
    progress = [data["progress"] for _, data in events]
    assert progress == sorted(progress) and progress[-1] == 1


def test_same_seed_same_scene(client, tmp_path):
    videos, captions = [], []
    for name in ("a.mp4", "b.mp4"):
        job = wait_for(client, submit(client, seconds=2, seed=3).json()["id"])
        (tmp_path / name).write_bytes(client.get(f"/v1/jobs/{job['id']}/video").content)
        videos.append(read_video(tmp_path / name))
        captions.append(job["refined_prompt"])
    assert captions[0] == captions[1]
    # The scene is the same; each output carries its own watermark (its own generation id), a
    # faint pattern, so the pixels differ by a little everywhere and never by a moved object.
    difference = np.abs(videos[0].frames.astype(int) - videos[1].frames.astype(int))
    assert difference.mean() < 3 and np.percentile(difference, 99.9) < 40
    assert np.allclose(videos[0].audio, videos[1].audio, atol=1e-3)


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"mode": "dance"}, 400, "choose one of text-to-video, image-to-video, extend, loop, connect, edit"),
        ({"prompt": "ball " * 200}, 400, "at most 500 are allowed"),
        ({"prompt": ""}, 400, "needs a prompt"),
        ({"width": 512}, 400, "width 512 is out of range: use 16 to 256"),
        ({"width": 100}, 400, "must be a multiple of 16"),
        ({"width": 256, "height": 16}, 400, "supported: 1:1"),
        ({"seconds": 0}, 400, "seconds 0 is out of range: use 0.25 to 16"),
        ({"seconds": "nan"}, 400, "seconds must be a number"),
        ({"fps": 120}, 400, "fps 120 is out of range: use 1 to 30"),
        ({"seed": -1}, 400, "seed -1 is out of range"),
        ({"colour": "red"}, 400, "unknown field 'colour'"),
        ({"direction": "up"}, 400, "direction applies only to mode 'extend'"),
        ({"strength": 0.5}, 400, "strength applies only to mode 'edit'"),
        ({"steps": 0}, 400, "steps 0 is out of range: use 1 to 100"),
        ({"cfg": 50}, 400, "cfg 50 is out of range: use 0 to 20"),
        ({"negative": "ball " * 101}, 400, "the negative prompt has 504 characters"),
        ({"prompt": "a purple elephant sings"}, 400, "'elephant'"),
        ({"mode": "extend"}, 400, "upload 'video' (video) is missing"),
    ],
)
def test_bad_fields_get_4xx_saying_what_is_allowed(client, fields, status, message):
    fields = {"prompt": PROMPT, **fields}
    response = submit(client, **fields)
    assert response.status_code == status, response.text
    assert message in response.json()["detail"]


def test_bad_uploads_are_refused_and_leave_nothing_behind(client, server, small_video, tmp_path):
    video = small_video.read_bytes()
    uploads_before = set((server.data / "uploads").iterdir())
    cases = [
        ({"video": ("../../escape.mp4", video, "video/mp4")}, 400, "must be a plain name"),
        ({"video": ("..\\escape.mp4", video, "video/mp4")}, 400, "must be a plain name"),
        ({"video": ("clip.exe", video, "video/mp4")}, 415, "use one of .mp4"),
        ({"video": ("clip.mp4", b"<html>not a video</html>", "video/mp4")}, 415, "not a readable video"),
        ({"video": ("clip.mp4", video, "video/mp4"), "image": ("a.png", b"x", "image/png")}, 400,
         "remove upload 'image'"),
        ({"thing": ("clip.mp4", video, "video/mp4")}, 400, "upload field 'thing' is unknown"),
        ({"video": ("clip.mp4", b"\0" * (20 * 2**20 + 1), "video/mp4")}, 413, "larger than the limit of 20 MiB"),
    ]
    for files, status, message in cases:
        response = submit(client, mode="extend", files=files)
        assert response.status_code == status, (files.keys(), response.text)
        assert message in response.json()["detail"]
    assert not (server.data.parent / "escape.mp4").exists() and not (server.data / "escape.mp4").exists()
    assert set((server.data / "uploads").iterdir()) == uploads_before  # refused uploads are removed


def test_other_modes_take_their_uploads_and_fail_clearly_without_a_world_model(
        client, server, small_video, small_image):
    video = ("clip.mp4", small_video.read_bytes(), "video/mp4")
    cases = [
        ("image-to-video", {"image": ("still.png", small_image.read_bytes(), "image/png")}),
        ("extend", {"video": video}),
        ("loop", {"video": video}),
        ("connect", {"video": video, "end_video": video}),
        ("edit", {"video": video}),
    ]
    for mode, files in cases:
        response = submit(client, mode=mode, files=files, prompt="a blue box")
        assert response.status_code == 202, response.text
        job = wait_for(client, response.json()["id"])
        assert job["status"] == "failed" and job["inputs"] == sorted(files)
        assert "needs the generation pipeline" in job["error"] and "minisora serve --model DIR" in job["error"]
        stored = sorted(p.name for p in (server.data / "uploads" / job["id"]).iterdir())
        assert stored == sorted(f"{slot}{'.png' if slot == 'image' else '.mp4'}" for slot in files)
        assert client.get(f"/v1/jobs/{job['id']}/video").status_code == 409


def test_unknown_ids_are_404(client):
    for path in ("/v1/jobs/job_" + "0" * 32, "/v1/jobs/nope", "/v1/jobs/../etc/passwd"):
        assert client.get(path).status_code == 404
    response = client.get("/v1/jobs/job_" + "0" * 32 + "/video")
    assert response.status_code == 404 and "GET /v1/jobs" in response.json()["detail"]
    assert client.delete("/v1/jobs/nope").status_code == 404
    assert client.get("/v1/jobs/nope/events").status_code == 404


def test_cancel_a_queued_job(client):
    slow = submit(client, width=128, height=128, seconds=4, seed=0).json()  # holds the one worker
    queued = submit(client, seconds=2, seed=0).json()
    cancelled = client.delete(f"/v1/jobs/{queued['id']}")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    again = client.delete(f"/v1/jobs/{queued['id']}")
    assert again.status_code == 409 and "already ended" in again.json()["detail"]
    assert wait_for(client, slow["id"])["status"] == "done"
    assert client.get(f"/v1/jobs/{queued['id']}").json()["status"] == "cancelled"
    assert client.get(f"/v1/jobs/{queued['id']}/video").status_code == 409


def test_cancel_a_running_job_discards_its_output(client, server):
    job = submit(client, width=256, height=144, seconds=4, fps=30, seed=0).json()
    wait_for(client, job["id"], statuses=("running",))
    cancelled = client.delete(f"/v1/jobs/{job['id']}")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    after = wait_for(client, submit(client, seconds=2, seed=1).json()["id"])  # the worker moved on
    assert after["status"] == "done"
    assert client.get(f"/v1/jobs/{job['id']}").json()["status"] == "cancelled"
    assert not (server.data / "outputs" / job["id"]).exists()


def test_pages_list_every_job_once_newest_first(client):
    for seed in range(4):
        assert submit(client, seconds=2, seed=seed).status_code == 202
    ids = []
    after = None
    while True:
        params = {"limit": 3} if after is None else {"limit": 3, "before": after}
        page = client.get("/v1/jobs", params=params).json()
        ids += [job["id"] for job in page["jobs"]]
        after = page["next"]
        if after is None:
            break
    everything = client.get("/v1/jobs", params={"limit": 100}).json()["jobs"]
    assert ids == [job["id"] for job in everything] and len(set(ids)) == len(ids) > 3
    assert client.get("/v1/jobs", params={"limit": 0}).status_code == 422
    assert client.get("/v1/jobs", params={"before": 2**80}).status_code == 422  # found by fuzzing: was a 500


def test_verify_tells_a_signed_output_from_a_plain_video(client, small_video):
    job = wait_for(client, submit(client, seconds=2, seed=5).json()["id"])
    output = client.get(f"/v1/jobs/{job['id']}/video").content
    verdict = client.post("/v1/verify", files={"file": ("mine.mp4", output, "video/mp4")}).json()
    assert verdict["status"] == "marked" and "signed manifest valid" in verdict["verdict"]
    assert verdict["manifest"]["generation"]["seed"] == 5 and verdict["watermark"]["found"]
    plain = client.post("/v1/verify", files={"file": ("plain.mp4", small_video.read_bytes(), "video/mp4")}).json()
    assert plain["status"] == "unmarked" and not plain["watermark"]["found"]
    junk = client.post("/v1/verify", files={"file": ("junk.mp4", b"not a video", "video/mp4")})
    assert junk.status_code == 415 and "not a readable video" in junk.json()["detail"]
    tiny = b"GIF87a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
    small = client.post("/v1/verify", files={"file": ("dot.gif", tiny, "image/gif")})  # found by fuzzing
    assert small.status_code == 400 and "cannot be checked" in small.json()["detail"]
    empty = client.post("/v1/verify", files={"other": ("a.mp4", b"", "video/mp4")})
    assert empty.status_code == 400 and "'file'" in empty.json()["detail"]
