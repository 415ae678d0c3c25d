import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from minisora.world.dataset import DatasetConfig, make_dataset, read_manifest, sample_clip_spec
from minisora.world.torch_dataset import WorldClipDataset


def clip_records(root):
    return {p.name: json.loads(p.read_text()) for p in sorted(root.glob("shard_*/*.json"))}


def test_writes_shards_in_parallel_with_a_manifest(tmp_path):
    root = make_dataset(tmp_path / "data", n=5, shard_size=2, workers=2, seconds=1, progress=False)
    manifest = read_manifest(root)
    assert manifest["complete"] and manifest["shards"] == ["shard_00000", "shard_00001", "shard_00002"]
    records = clip_records(root)
    assert sorted(records) == [f"{i:06d}.json" for i in range(5)]
    assert all(r["caption"] and r["prompts"] and r["annotations"]["frames"] for r in records.values())

    data = WorldClipDataset(root)
    item = data[3]
    assert len(data) == 5
    assert tuple(item["video"].shape[:2]) == (3, 17) and item["video"].min() >= -1 and item["video"].max() <= 1
    assert item["audio"].numel() == round(17 / 16 * 16000)
    assert item["spec"] == records["000003.json"]["spec"]


def test_resume_fills_holes_without_duplicates(tmp_path):
    root = make_dataset(tmp_path / "data", n=6, shard_size=2, workers=1, seconds=1, progress=False)
    before = clip_records(root)
    shutil.rmtree(root / "shard_00001")
    (root / ".tmp_shard_00001_999").mkdir()  # what a killed worker leaves behind
    make_dataset(root, n=6, shard_size=2, workers=1, seconds=1, progress=False)
    assert clip_records(root) == before
    assert not list(root.glob(".tmp_*"))


def test_kill_9_mid_run_then_resume_gives_the_same_data(tmp_path):
    reference = make_dataset(tmp_path / "ref", n=8, shard_size=1, workers=1, seconds=1, progress=False)
    target = tmp_path / "killed"
    cmd = [sys.executable, "-m", "minisora.cli", "world", "make", "--n", "8", "--shard-size", "1",
           "--workers", "1", "--seconds", "1", "--out", str(target)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and len(list(target.glob("shard_*"))) < 2:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not read_manifest(target)["complete"]
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    assert clip_records(target) == clip_records(reference)
    assert read_manifest(target)["complete"]


def test_a_different_request_in_the_same_folder_is_refused(tmp_path):
    root = make_dataset(tmp_path / "data", n=2, shard_size=2, workers=1, seconds=1, progress=False)
    with pytest.raises(ValueError, match="different data set"):
        make_dataset(root, n=3, shard_size=2, workers=1, seconds=1, progress=False)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        make_dataset(tmp_path / "other", n=2, progress=False)


def test_max_objects_bounds_the_scenes_and_a_data_set_made_before_it_resumes(tmp_path):
    wide = DatasetConfig(n=60, size=(112, 64), max_objects=6)
    counts = [len(sample_clip_spec(wide, i).objects) for i in range(60)]
    assert max(counts) > 4 and max(counts) <= 6
    assert max(len(sample_clip_spec(DatasetConfig(n=60, size=(112, 64)), i).objects) for i in range(60)) <= 4
    with pytest.raises(ValueError, match="1 to 8 objects"):
        make_dataset(tmp_path / "bad", n=2, max_objects=9, progress=False)
    assert not (tmp_path / "bad").exists()  # refused before anything is written

    root = make_dataset(tmp_path / "data", n=2, shard_size=1, workers=1, seconds=1, progress=False)
    manifest = json.loads((root / "manifest.json").read_text())
    del manifest["config"]["max_objects"]  # as written before the option existed
    (root / "manifest.json").write_text(json.dumps(manifest))
    shutil.rmtree(root / "shard_00001")
    make_dataset(root, n=2, shard_size=1, workers=1, seconds=1, progress=False)
    assert read_manifest(root)["complete"]
    with pytest.raises(ValueError, match="different data set"):
        make_dataset(root, n=2, shard_size=1, workers=1, seconds=1, progress=False, max_objects=6)
