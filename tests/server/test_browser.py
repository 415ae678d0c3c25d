"""The web page in a real browser (Debian's Chromium, headless, driven by Playwright) against a
real server started by the test: submit, watch the progress bar move, play, download, gallery."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from live_server import PROMPT, running_server, submit, wait_for

from minisora.media import probe, write_png_frames

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if not CHROMIUM and os.environ.get("CI") != "true":
    pytest.skip("Debian's chromium is not installed (apt-get install chromium); CI installs it and runs "
                "these tests", allow_module_level=True)
if os.environ.get("CI") != "true":
    pytest.importorskip("playwright.sync_api", reason="install the dev extra: pip install -e '.[dev]'")
from playwright.sync_api import expect, sync_playwright  # noqa: E402 - after the skip above

expect.set_options(timeout=60_000)  # jobs take seconds on a busy two-core machine
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM, "CI must install chromium (see .ci/run)"
    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(server.url + "/")
    expect(page.locator("#mode option")).to_have_count(6)
    yield page
    context.close()


RECORD_PROGRESS = """() => {
  window.progressSeen = [];
  const bar = document.getElementById('progress');
  new MutationObserver(() => window.progressSeen.push(bar.value))
    .observe(bar, {attributes: true, attributeFilter: ['value']});
}"""

PLAY = """async (selector) => {
  const video = document.querySelector(selector);
  await video.play();
  const start = video.currentTime;
  await new Promise((resolve) => setTimeout(resolve, 1200));
  return {readyState: video.readyState, start, now: video.currentTime, width: video.videoWidth,
          audioBytes: video.webkitAudioDecodedByteCount, error: video.error && video.error.message};
}"""


def test_submit_watch_progress_play_download_and_see_it_in_the_gallery(page, server, tmp_path):
    page.fill("#prompt", PROMPT)
    for field, value in {"width": "256", "height": "144", "seconds": "4", "fps": "30", "seed": "11"}.items():
        page.fill(f"#{field}", value)
    page.evaluate(RECORD_PROGRESS)
    page.click("#submit")
    expect(page.locator("#job-status")).to_have_text("done")

    seen = page.evaluate("window.progressSeen")
    assert seen == sorted(seen) and seen[-1] == 1
    assert len({value for value in seen if 0 < value < 1}) >= 2, f"the bar did not move through the run: {seen}"
    expect(page.locator("#refined")).to_contain_text("Rendered as:")

    page.wait_for_function("document.getElementById('player').src.startsWith('blob:')")
    played = page.evaluate(PLAY, "#player")
    assert played["error"] is None and played["readyState"] >= 2 and played["width"] == 256
    assert played["now"] - played["start"] > 0.5, f"the video did not play: {played}"
    assert played["audioBytes"] > 0, "no sound was decoded"

    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename.endswith("-seed11.mp4")
    saved = tmp_path / "download.mp4"
    download.value.save_as(saved)
    info = probe(saved)
    assert (info.width, info.height, info.has_audio) == (256, 144, True)

    job_id = page.get_attribute("#job", "data-job-id")
    page.click("button[data-tab=gallery]")
    item = page.locator(f"#gallery-list li[data-job-id='{job_id}']")
    expect(item.locator(".prompt")).to_have_text(PROMPT)
    expect(item.locator(".meta")).to_contain_text("seed 11")
    item.locator("button").click()
    item.locator("video").wait_for()
    played = page.evaluate(PLAY, f"#gallery-list li[data-job-id='{job_id}'] video")
    assert played["now"] - played["start"] > 0.5 and played["audioBytes"] > 0


def test_each_mode_asks_for_its_uploads(page, tmp_path):
    expected = {"text-to-video": [], "image-to-video": ["image"], "extend": ["video"], "loop": ["video"],
                "connect": ["video", "end_video"], "edit": ["video"]}
    for mode, uploads in expected.items():
        page.select_option("#mode", mode)
        names = page.eval_on_selector_all("#uploads input[type=file]", "inputs => inputs.map(i => i.name)")
        assert names == uploads, mode
        assert page.is_visible("#direction-field") == (mode == "extend")
    still = write_png_frames(tmp_path, np.full((1, 64, 64, 3), 128, np.uint8))[0]
    page.select_option("#mode", "image-to-video")
    page.fill("#prompt", "a blue box")
    page.set_input_files("#upload-image", str(still))
    page.click("#submit")
    expect(page.locator("#job-status")).to_have_text("failed")
    expect(page.locator("#job-error")).to_contain_text("needs the generation pipeline")


def test_a_bad_request_shows_the_servers_message(page):
    page.fill("#prompt", "a purple elephant sings")
    page.click("#submit")
    expect(page.locator("#notice")).to_contain_text("'elephant'")
    page.fill("#prompt", PROMPT)
    page.fill("#width", "256")  # each field is in range (the page checks that); the pair is not
    page.fill("#height", "16")
    page.click("#submit")
    expect(page.locator("#notice")).to_contain_text("supported: 1:1")


def test_the_page_asks_for_a_key_when_the_server_needs_one(browser, tmp_path):
    data = tmp_path / "data"
    key = subprocess.run([sys.executable, "-m", "minisora.cli", "keys", "create", "page", "--data", str(data)],
                         capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    with running_server(data) as server:
        page = browser.new_page()
        page.goto(server.url + "/")
        expect(page.locator("#key-form")).to_be_visible()
        page.fill("#key", key)
        page.click("#key-form button")
        expect(page.locator("#mode option")).to_have_count(6)
        page.close()


def test_the_verify_tab_checks_a_file(page, server, tmp_path):
    with server.client() as client:
        job = wait_for(client, submit(client, seconds=2, seed=9).json()["id"])
        video = tmp_path / "output.mp4"
        video.write_bytes(client.get(f"/v1/jobs/{job['id']}/video").content)
    page.click("button[data-tab=verify]")
    page.set_input_files("#verify-file", str(video))
    page.click("#verify-form button")
    expect(page.locator("#verdict")).to_contain_text("signed manifest valid")
