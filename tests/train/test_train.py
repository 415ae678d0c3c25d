"""Trainer contracts: buckets and masks, atomic checkpoints, exact resume, the loss falls."""

from __future__ import annotations

import json

import pytest
import torch

from minisora.precision import native_bf16
from minisora.train.buckets import BucketSampler
from minisora.train.checkpoint import export_weights, list_checkpoints, load_dit
from minisora.train.config import TrainConfig
from minisora.train.loop import Trainer, learning_rate
from minisora.train.masks import condition_mask, sample_condition_masks
from minisora.train.runlog import read_log
from minisora.train.shards import load_latents


def tiny_config(latents, out, **kw) -> TrainConfig:
    base = dict(latents=str(latents), out=str(out), preset="tiny", steps=6, lr=1e-3, warmup=2,
                tokens_per_batch=48, video_frames=(3, 5), checkpoint_every=3, log_every=1, progress=False)
    return TrainConfig(**{**base, **kw})


def test_latent_folder_roundtrip(tiny_latents):
    clips, text, manifest = load_latents(tiny_latents)
    assert len(clips) == 6 and manifest["complete"] and len(manifest["shards"]) == 2
    assert clips[0].latent.shape == (4, 5, 4, 4) and clips[1].latent.shape == (4, 5, 4, 6)
    assert "" in text and clips[0].captions == ["caption 0", "prompt 0"]


def test_buckets_and_batches_are_pure_functions_of_the_step(tiny_latents, tmp_path):
    clips, text, _ = load_latents(tiny_latents)
    sampler = BucketSampler(clips, text, tiny_config(tiny_latents, tmp_path), (1, 2, 2))
    frames = sorted({b.frames for b in sampler.video_buckets + sampler.image_buckets})
    assert frames == [1, 3, 5]
    for b in sampler.video_buckets + sampler.image_buckets:  # batch = token budget // tokens per clip
        assert b.batch == max(1, 48 // b.tokens((1, 2, 2)))
    a, again, other = sampler.batch(7), sampler.batch(7), sampler.batch(7, rank=1)
    assert torch.equal(a.latents, again.latents) and torch.equal(a.t, again.t)
    assert not torch.equal(a.noise, other.noise) or a.bucket != other.bucket
    seen = set()
    for step in range(40):
        batch = sampler.batch(step)
        b = batch.bucket
        seen.add(b.frames)
        assert batch.latents.shape == (b.batch, 4, b.frames, b.height, b.width)
        assert batch.t.shape == batch.cond_mask.shape == (b.batch, b.frames)
        assert (~batch.cond_mask).any(dim=1).all()  # something is always left to generate
        assert batch.text.shape[:2] == batch.text_mask.shape
    assert seen == {1, 3, 5}  # one-frame images and both video lengths


def test_condition_modes():
    g = torch.Generator().manual_seed(0)
    assert condition_mask("first", 5, g).tolist() == [True, False, False, False, False]
    assert condition_mask("first_last", 5, g).tolist() == [True, False, False, False, True]
    assert not condition_mask("none", 5, g).any() and not condition_mask("first", 1, g).any()
    first_k = condition_mask("first_k", 6, g)
    k = int(first_k.sum())
    assert 1 <= k <= 5 and first_k[:k].all()
    last = condition_mask("last", 6, g)
    assert last[6 - int(last.sum()):].all() and not last[0]
    masks = sample_condition_masks(400, 5, {"none": 0.5, "first": 0.5}, g)
    share = float(masks[:, 0].float().mean())
    assert 0.4 < share < 0.6 and not masks[:, 1:].any()
    with pytest.raises(ValueError, match="unknown"):
        condition_mask("middle", 5, g)


def test_cli_sets_the_noise_share_and_the_mask_mix():
    from minisora.cli import build_parser
    from minisora.train.config import train_config_from_args

    args = build_parser().parse_args(["train", "--latents", "x", "--per-frame-noise", "0.25",
                                      "--condition-modes", "none=0.7,first_last=0.3"])
    cfg = train_config_from_args(vars(args)).validate()
    assert cfg.per_frame_noise == 0.25 and cfg.condition_modes == {"none": 0.7, "first_last": 0.3}
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--latents", "x", "--condition-modes", "none:0.7"])
    patched = build_parser().parse_args(["train", "--latents", "x", "--patch", "1x1x1"])
    assert train_config_from_args(vars(patched)).validate().patch == (1, 1, 1)
    for bad in ("2x2", "1x0x1", "axbxc"):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["train", "--latents", "x", "--patch", bad])
    with pytest.raises(ValueError, match="unknown"):
        train_config_from_args(vars(build_parser().parse_args(
            ["train", "--latents", "x", "--condition-modes", "middle=1"]))).validate()
    with pytest.raises(ValueError, match="per_frame_noise"):
        TrainConfig(latents="x", per_frame_noise=1.5).validate()
    for shares in ({"none": float("nan"), "first": 1.0}, {"none": float("inf")}, {"none": -1.0, "first": 2.0},
                   {"none": 0.0}):
        with pytest.raises(ValueError, match="finite number >= 0"):
            TrainConfig(latents="x", condition_modes=shares).validate()


def test_train_cli_checks_its_settings_before_encoding(tmp_path, capsys):
    """A bad setting is reported before the (long) latent encode; a missing folder is one line."""
    from minisora.cli import main

    missing = str(tmp_path / "nowhere")
    assert main(["train", "--latents", missing, "--condition-modes", "middle=1"]) == 2
    assert "condition modes ['middle'] unknown" in capsys.readouterr().err
    assert main(["train", "--latents", missing]) == 2
    assert "no latent shards here" in capsys.readouterr().err
    assert not (tmp_path / "nowhere").exists()


def test_learning_rate_warmup():
    cfg = TrainConfig(latents="x", lr=1.0, warmup=4)
    assert [learning_rate(s, cfg) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


def test_learning_rate_cooldown():
    cfg = TrainConfig(latents="x", lr=1.0, warmup=2, steps=10, cooldown=4)
    rates = [learning_rate(s, cfg) for s in range(10)]
    assert rates == [0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.75, 0.5, 0.25]
    with pytest.raises(ValueError, match="cooldown"):
        TrainConfig(latents="x", steps=10, cooldown=11).validate()


def test_resume_reproduces_the_loss_trajectory(tiny_latents, tmp_path):
    """Stop after 3 steps (a checkpoint), start a fresh trainer: steps 4-6 match bit for bit."""
    straight = Trainer(tiny_config(tiny_latents, tmp_path / "a")).run()
    first = Trainer(tiny_config(tiny_latents, tmp_path / "b"))
    first.run(until=4)  # runs past the step-3 checkpoint: those steps are lost like after kill -9
    resumed = Trainer(tiny_config(tiny_latents, tmp_path / "b"))
    assert resumed.step == 3
    rest = resumed.run()
    assert [r["loss"] for r in rest] == [r["loss"] for r in straight[3:]]
    log = read_log(tmp_path / "b" / "log.jsonl")
    assert [r["step"] for r in log] == [1, 2, 3, 4, 5, 6]  # the redone step 4 is not logged twice
    assert [r["loss"] for r in log] == [r["loss"] for r in straight]
    for name in ("model.safetensors", "ema.safetensors"):
        a = (tmp_path / "a" / "step_0000006" / name).read_bytes()
        assert a == (tmp_path / "b" / "step_0000006" / name).read_bytes()


def test_checkpoint_folder_is_complete_and_loads_strictly(tiny_latents, tmp_path):
    trainer = Trainer(tiny_config(tiny_latents, tmp_path / "run", steps=3))
    trainer.run()
    (ckpt,) = list_checkpoints(tmp_path / "run")
    assert sorted(p.name for p in ckpt.iterdir()) == [
        "config.json", "ema.safetensors", "model.safetensors", "optimizer.pt", "state.json"]
    state = json.loads((ckpt / "state.json").read_text())
    assert state["step"] == 3 and state["train"]["preset"] == "tiny"
    assert (tmp_path / "run" / "loss.svg").read_text().startswith("<svg")
    shipped = export_weights(ckpt, tmp_path / "shipped")
    kept = json.loads((shipped / "state.json").read_text())  # what loading checks and names it by
    assert kept["train"]["preset"] == "tiny" and kept["vae_config"] == state["vae_config"]
    model = load_dit(shipped)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    ema = trainer.ema.state_dict()
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, ema[k].to(torch.bfloat16).float())


def test_a_new_run_continues_from_exported_weights(tiny_latents, tmp_path):
    first = Trainer(tiny_config(tiny_latents, tmp_path / "a", steps=3))
    first.run()
    shipped = export_weights(list_checkpoints(tmp_path / "a")[-1], tmp_path / "shipped")
    second = Trainer(tiny_config(tiny_latents, tmp_path / "b", init_from=str(shipped)))
    assert second.step == 0
    for k, v in load_dit(shipped).state_dict().items():
        assert torch.equal(second.model.state_dict()[k], v) and torch.equal(second.ema.state_dict()[k], v)
    other = tiny_config(tiny_latents, tmp_path / "c", init_from=str(shipped), preset="world-s")
    with pytest.raises(ValueError, match="different model"):
        Trainer(other)


def test_a_new_run_grows_a_shallower_model_without_changing_its_function(tiny_latents, tmp_path):
    first = Trainer(tiny_config(tiny_latents, tmp_path / "a", steps=3))
    first.run()
    shipped = export_weights(list_checkpoints(tmp_path / "a")[-1], tmp_path / "shipped")
    small = load_dit(shipped)
    grown = Trainer(tiny_config(tiny_latents, tmp_path / "b", init_from=str(shipped), depth=3, steps=4))
    assert grown.model_config.depth == 3 and grown.model_config.width == small.config.width
    batch = grown.sampler.batch(0)
    with torch.no_grad():
        torch.testing.assert_close(grown.model(batch.latents, batch.t, batch.text, batch.text_mask),
                                   small(batch.latents, batch.t, batch.text, batch.text_mask))
    assert grown.run()[-1]["step"] == 4  # and it trains, checkpoints and resumes at the new depth
    assert Trainer(tiny_config(tiny_latents, tmp_path / "b", depth=3, steps=4)).step == 4
    with pytest.raises(ValueError, match="only --depth may be larger"):
        Trainer(tiny_config(tiny_latents, tmp_path / "c", init_from=str(shipped), depth=1))
    with pytest.raises(ValueError, match="--depth"):
        tiny_config(tiny_latents, tmp_path / "d", depth=-1).validate()


def test_a_new_run_cuts_the_patch_of_its_weights_finer(tiny_latents, tmp_path):
    first = Trainer(tiny_config(tiny_latents, tmp_path / "a", steps=3))
    first.run()
    shipped = export_weights(list_checkpoints(tmp_path / "a")[-1], tmp_path / "shipped")
    fine = Trainer(tiny_config(tiny_latents, tmp_path / "b", init_from=str(shipped), patch=(1, 1, 1), steps=4))
    assert fine.model_config.patch == (1, 1, 1) and fine.model_config.rope_scale == (1.0, 0.5, 0.5)
    assert fine.sampler.batch(0).bucket.batch < first.sampler.batch(0).bucket.batch  # 4x the tokens a clip
    assert fine.run()[-1]["step"] == 4
    again = export_weights(list_checkpoints(tmp_path / "b")[-1], tmp_path / "fine")
    assert load_dit(again).config.rope_scale == (1.0, 0.5, 0.5)
    # continued from the fine weights the patch and spacing carry over without --patch
    assert Trainer(tiny_config(tiny_latents, tmp_path / "c", init_from=str(again))).model_config == fine.model_config
    with pytest.raises(ValueError, match="--patch finer"):
        Trainer(tiny_config(tiny_latents, tmp_path / "d", init_from=str(again), patch=(1, 2, 2)))
    with pytest.raises(ValueError, match="--patch"):
        tiny_config(tiny_latents, tmp_path / "e", patch=(1, 0, 2)).validate()


def test_a_count_embedding_reads_the_detailed_captions_and_joins_a_trained_model(tmp_path, latents_factory):
    captions = ["Two red balls bounce.", "A blue square slides. Another blue square rests.", "Red balls fall.",
                "Three green triangles fall.", "caption 4", "A small red ball rolls."]
    latents = latents_factory(tmp_path / "latents", captions=captions)
    config = tiny_config(latents, tmp_path / "a", steps=3, count_classes=4)
    sampler = BucketSampler(*load_latents(latents)[:2], config, (1, 2, 2))
    expected = {c: n for c, n in zip(captions, [2, 2, 0, 3, 0, 1])}  # unknown words, plurals: 0
    seen = set()
    for step in range(30):
        batch = sampler.batch(step)
        assert batch.count.shape == (batch.bucket.batch,) and batch.count.dtype == torch.long
        seen.update(batch.count.tolist())
    assert [sampler._count(i) for i in range(6)] == [expected[c] for c in captions]
    assert seen == {0, 1, 2, 3}  # short prompts and dropped captions give 0, detailed ones their count
    plain = Trainer(tiny_config(latents, tmp_path / "plain", steps=3))
    plain.run()
    shipped = export_weights(list_checkpoints(tmp_path / "plain")[-1], tmp_path / "shipped")
    counted = Trainer(tiny_config(latents, tmp_path / "b", steps=4, count_classes=4, init_from=str(shipped)))
    batch = counted.sampler.batch(0)
    with torch.no_grad():  # the count joins at zero: the same function as before
        torch.testing.assert_close(counted.model(batch.latents, batch.t, batch.text, batch.text_mask, count=batch.count),
                                   load_dit(shipped)(batch.latents, batch.t, batch.text, batch.text_mask))
    assert [g["lr_scale"] for g in counted.optimizer.param_groups] == [1.0, 10.0]
    counted.run()
    assert counted.model.count_embed.weight.abs().sum() > 0  # and training moves it, at ten times the rate
    assert counted.optimizer.param_groups[1]["lr"] == 10 * counted.optimizer.param_groups[0]["lr"] > 0
    assert load_dit(list_checkpoints(tmp_path / "b")[-1]).config.count_classes == 4


def test_loss_falls_on_a_tiny_set(tmp_path, latents_factory):
    latents = latents_factory(tmp_path / "flat", flat=True)
    records = Trainer(tiny_config(latents, tmp_path / "run", steps=30, checkpoint_every=1000, lr=3e-3,
                                  video_frames=(5,), image_share=0.0, per_frame_noise=0.0,
                                  condition_modes={"none": 1.0}, caption_dropout=0.0)).run()
    losses = [r["loss"] for r in records]
    assert sum(losses[-5:]) / 5 < 0.8 * sum(losses[:5]) / 5  # measured: 2.29 -> 1.27


def test_bad_config_says_what_to_do(tmp_path):
    with pytest.raises(ValueError, match="--latents"):
        TrainConfig().validate()
    with pytest.raises(FileNotFoundError, match="minisora train --world"):
        Trainer(TrainConfig(latents=str(tmp_path / "none"), out=str(tmp_path / "run")))


def test_bf16_autocast_training_runs_where_the_cpu_has_bf16(tiny_latents, tmp_path):
    """Where bf16 matmuls are native, --bf16 trains (weights stay fp32); where they are not (an
    AVX2-only CPU: a step ~20x slower than in fp32), it is refused with what to do."""
    config = tiny_config(tiny_latents, tmp_path / "run", steps=3, bf16=True)
    if not native_bf16(torch.device("cpu")):
        with pytest.raises(ValueError, match="leave --bf16 out"):
            Trainer(config)
        assert not (tmp_path / "run").exists()  # refused before anything is written
        return
    records = Trainer(config).run()
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in records)
    assert all(p.dtype == torch.float32 for p in Trainer(tiny_config(tiny_latents, tmp_path / "run")).model.parameters())


def test_several_latent_folders_train_together(latents_factory, tmp_path):
    """--latents a,b: the clips of both folders (in order) and both text caches; folders made
    with another latent width are refused with what differs."""
    a = latents_factory(tmp_path / "a", n=6, seed=0)
    b = latents_factory(tmp_path / "b", n=3, seed=1)
    clips, text, manifest = load_latents(f"{a},{b}")
    only_a, _, _ = load_latents(a)
    assert len(clips) == 9 and manifest["clips"] == 9 and manifest["folders"] == [str(a), str(b)]
    assert torch.equal(clips[0].latent, only_a[0].latent)
    assert torch.equal(clips[6].latent, load_latents(b)[0][0].latent)
    assert "caption 2" in text and "" in text
    Trainer(tiny_config(f"{a},{b}", tmp_path / "run", steps=2)).run()  # a step draws from both
    wide = latents_factory(tmp_path / "wide", n=2, channels=8)
    with pytest.raises(ValueError, match="latent_channels"):
        load_latents(f"{a},{wide}")


def test_cli_refuses_bf16_before_encoding_where_the_cpu_lacks_it(tmp_path, capsys):
    """`minisora train --bf16` on an AVX2-only CPU stops at once: no latents encoded, no run."""
    if native_bf16(torch.device("cpu")):
        pytest.skip("this CPU has native bf16: --bf16 is allowed here")
    from minisora.cli import main

    latents, out = tmp_path / "latents", tmp_path / "run"
    assert main(["train", "--world", str(tmp_path / "world"), "--latents", str(latents), "--out", str(out),
                 "--steps", "5", "--bf16"]) == 2
    assert "leave --bf16 out" in capsys.readouterr().err
    assert not latents.exists() and not out.exists()


def test_object_weight_needs_object_maps(tiny_latents, tmp_path):
    """Shards encoded before the object maps existed cannot be weighted: a clear error, no run."""
    cfg = TrainConfig(latents=str(tiny_latents), out=str(tmp_path / "run"), preset="tiny", steps=1,
                      video_frames=(3,), tokens_per_batch=64, object_weight=2.0, progress=False)
    with pytest.raises(ValueError, match="object maps.*encode the world folder again"):
        Trainer(cfg).run()
    assert not (tmp_path / "run").exists() or not list((tmp_path / "run").glob("step_*"))
    with pytest.raises(ValueError, match="--object-weight"):
        TrainConfig(latents="x", object_weight=-1.0).validate()
    with pytest.raises(ValueError, match="--object-weight-below"):
        TrainConfig(latents="x", object_weight=1.0, object_weight_below=0.0).validate()


def test_object_map_covers_the_cells_and_frames_of_each_box():
    """Latent frame 0 is video frame 0, latent frame j the frames 4j-3..4j; a cell's cover is the
    most any of its frames gives; hidden objects (visible 0) cover nothing."""
    from minisora.train.shards import object_map

    def frame(*boxes, visible=1.0):
        return {"objects": [{"box": list(b), "visible": visible} for b in boxes]}

    empty = frame()
    frames = [frame((0, 0, 8, 8)), empty, empty, empty, empty, frame((8, 0, 12, 8)),
              frame((0, 8, 8, 16), visible=0.0), empty, empty, frame((0, 0, 16, 16))]
    cover = object_map({"width": 16, "height": 16, "frames": frames}, (3, 2, 2), spatial=8, temporal=4)
    assert cover.dtype == torch.uint8 and cover.shape == (3, 2, 2)
    assert cover[0].tolist() == [[255, 0], [0, 0]]  # frame 0 alone: its box fills cell (0, 0)
    assert cover[1].tolist() == [[0, 0], [0, 0]]  # frames 1-4: nothing
    assert cover[2].tolist() == [[0, 128], [0, 0]]  # frames 5-8: half of cell (0, 1), the hidden one nothing
    # frame 9 starts a fourth latent frame, which this grid has not: left out
    with pytest.raises(ValueError, match="annotations are for 16x16"):
        object_map({"width": 16, "height": 16, "frames": frames}, (3, 4, 4), spatial=8, temporal=4)
