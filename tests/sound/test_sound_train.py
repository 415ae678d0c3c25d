"""train-sound: the cache, checkpoints, exact resume, export and the autoencoder fingerprint."""

from __future__ import annotations

import json
import shutil
import warnings

import pytest
import torch
from safetensors.torch import load_file

from minisora.sound.config import SoundConfig
from minisora.sound.train import SoundTrainConfig, crop_window, export_weights, train_sound
from minisora.sound.weights import VAEMismatchWarning, load_sound_model


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    from minisora.sound.cache import build_cache
    from minisora.sound.config import SOUND_PRESETS

    root = tmp_path_factory.mktemp("cache")
    tiny = SOUND_PRESETS["tiny"]
    build_cache(root, 3, seed=0, mel=tiny.mel, log=lambda m: None, grid=tiny.frame_grid)
    return root


def config(run, cache, steps):
    return SoundTrainConfig(run_dir=str(run), cache=str(cache), clips=3, preset="tiny", steps=steps, batch=2,
                            checkpoint_every=2, log_every=1, warmup=2)


def test_a_resumed_run_equals_an_uninterrupted_one(cache, tmp_path):
    whole = train_sound(config(tmp_path / "run", cache, 4), log=lambda m: None)
    kept = {name: load_file(str(whole / name)) for name in ("model.safetensors", "ema.safetensors")}
    shutil.rmtree(whole)  # as if killed after the step-2 checkpoint
    resumed = train_sound(config(tmp_path / "run", cache, 4), log=lambda m: None)
    assert resumed.name == whole.name == "step_0000004"
    for name, a in kept.items():
        b = load_file(str(resumed / name))
        assert all(torch.equal(a[k], b[k]) for k in a)
    log = json.loads((resumed / "state.json").read_text())["log"]
    assert [e["step"] for e in log] == [1, 2, 3, 4] and all(e["loss"] > 0 for e in log)


def test_export_ships_bf16_ema_that_loads_and_knows_its_autoencoder(cache, tmp_path):
    from minisora.sound.cache import vae_fingerprint

    last = train_sound(config(tmp_path / "run", cache, 2), log=lambda m: None)
    out = export_weights(last, tmp_path / "weights")
    assert {p.name for p in out.iterdir()} == {"config.json", "model.safetensors"}
    assert all(v.dtype == torch.bfloat16 for v in load_file(str(out / "model.safetensors")).values())
    assert SoundConfig.load(out / "config.json").vae_fingerprint == vae_fingerprint()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_sound_model(out)  # the installed autoencoder: no warning
    cfg = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**cfg, "vae_fingerprint": "0" * 64}))
    with pytest.warns(VAEMismatchWarning, match="retrain"):
        load_sound_model(out)


def test_a_crop_hears_exactly_its_latent_frames():
    cfg = SoundConfig()
    assert crop_window(17, 0, 9, 16.0, cfg) == (0, 204)  # frames 0-32: 0 .. 2.06 s
    start, frames = crop_window(17, 8, 9, 16.0, cfg)  # frames 29-64: 1.8125 .. 4.0625 s
    assert start == 182 and frames == 224 and frames % cfg.mel_patch == 0


def test_another_mel_in_the_same_cache_is_refused(cache):
    from minisora.sound.cache import build_cache

    with pytest.raises(ValueError, match="another mel"):
        build_cache(cache, 3, mel=SoundConfig().mel)


def test_frame_convolutions_are_added_to_weights_without_them(cache, tmp_path):
    """--frame-conv with --init-from weights that lack them: the run starts from those weights
    (every shared tensor equal at step 0) with the convolutions added; weights of another
    architecture are refused with what differs."""
    from dataclasses import replace

    from minisora.sound.train import start_or_resume

    last = train_sound(config(tmp_path / "run", cache, 2), log=lambda m: None)
    out = export_weights(last, tmp_path / "weights")
    shipped = load_file(str(out / "model.safetensors"))
    added = replace(config(tmp_path / "conv", cache, 2), init_from=str(out), model={"frame_conv": 4, "conv_grid": 8})
    model, _, _, step, _ = start_or_resume(added, SoundConfig.load(out / "config.json").vae_fingerprint)
    state = model.state_dict()
    assert step == 0 and model.config.frame_conv == 4
    assert all(torch.equal(state[k], v.float()) for k, v in shipped.items())
    assert any(k.startswith("frame_encoder.") for k in state)
    trained = train_sound(added, log=lambda m: None)  # builds the 8 x 8 grids it reads
    assert "seen_mlp.2.weight" in load_file(str(trained / "model.safetensors"))
    other = replace(config(tmp_path / "wide", cache, 2), init_from=str(out), model={"width": 64, "heads": 4})
    with pytest.raises(ValueError, match="another architecture"):
        train_sound(other, log=lambda m: None)


def test_a_colour_model_trains_on_colour_grids_from_the_cache(cache, tmp_path):
    """--frame-colors 3: the cache adds the clips' colour grids beside the luma ones, and a run
    trains, checkpoints and exports a model that reads them."""
    from dataclasses import replace

    run = replace(config(tmp_path / "rgb", cache, 2), model={"frame_conv": 4, "conv_grid": 8, "frame_colors": 3})
    last = train_sound(run, log=lambda m: None)
    frames = torch.load(cache / "frames-g8-rgb" / "frames_0000.pt")
    assert frames[0].shape[1:] == (3, 8, 8) and (cache / "frames-g4").is_dir()
    model = load_sound_model(export_weights(last, tmp_path / "rgb-weights"))
    assert model.config.frame_colors == 3 and model.frame_encoder.convs[0].in_channels == 6


def test_contacts_are_cached_with_their_loudness_and_the_materials_that_ring(cache, bounce_clip):
    """The cache's contacts are the simulation's: a collision of two objects rings both
    materials, a hit on the floor one; the loudest possible hit is 1."""
    from minisora.sound.cache import clip_contacts
    from minisora.world.dataset import DatasetConfig, sample_clip_spec
    from minisora.world.physics import simulate
    from minisora.world.spec import MATERIALS

    rows = clip_contacts(bounce_clip.spec, bounce_clip.trajectory)
    contacts = bounce_clip.trajectory.contacts
    assert rows.shape == (len(contacts), 2 + len(MATERIALS)) and len(contacts) >= 2
    names = list(MATERIALS)
    for row, c in zip(rows, contacts):
        assert row[0] == c.time and 0 < row[1] <= 1
        ring = {bounce_clip.spec.objects[k].material for k in [c.a] + ([c.b] if isinstance(c.b, int) else [])}
        assert {names[i] for i in torch.nonzero(row[2:]).flatten().tolist()} == ring
    assert any(isinstance(c.b, int) for c in contacts)  # the clip has a collision of the two
    stored = torch.load(cache / "contacts_0000.pt")
    spec = sample_clip_spec(DatasetConfig(n=3, seed=0), 2)
    assert torch.equal(stored[2], clip_contacts(spec, simulate(spec)))


def test_contact_targets_mark_the_token_each_contact_begins_in():
    from minisora.sound.train import contact_targets

    cfg = SoundConfig()  # 10 ms mel frames, 4 a token
    contacts = torch.tensor([[0.503, 0.4, 1, 0, 0, 0],  # frame 50 -> token 12 of the whole clip
                             [0.512, 0.9, 0, 0, 1, 0],  # frame 51: the same token, louder
                             [1.000, 0.2, 0, 1, 0, 0],  # frame 100 -> token 25
                             [3.000, 1.0, 0, 0, 0, 1]], dtype=torch.float64)  # beyond a 2 s window
    contact, materials = contact_targets(contacts, 0, 200, cfg)
    assert contact.shape == (50,) and materials.shape == (50, 4)
    assert contact[12] == pytest.approx(0.9) and contact[25] == pytest.approx(0.2)
    assert torch.count_nonzero(contact) == 2
    assert materials[12].tolist() == [1, 0, 1, 0] and materials[25].tolist() == [0, 1, 0, 0]
    contact, _ = contact_targets(contacts, 40, 64, cfg)  # frames 40 .. 103: 50 is its 10th, 100 its 60th
    assert torch.nonzero(contact).flatten().tolist() == [2, 15]
    contact, _ = contact_targets(contacts, 52, 40, cfg)  # frames 52 .. 91: none
    assert not contact.any()


def test_auxiliary_losses_train_the_heads_and_leave_sampling_alone(cache, tmp_path):
    """--contact-loss / --material-loss: the model gets its heads, the log its parts, the heads
    learn; the heads take no part in the velocity (a model without them gives the same)."""
    from dataclasses import replace

    from minisora.sound.cache import vae_fingerprint
    from minisora.sound.model import SoundDiT
    from minisora.sound.train import start_or_resume

    run = replace(config(tmp_path / "aux", cache, 2), contact_loss=0.5, material_loss=0.5, model={"aux_heads": True})
    first, *_ = start_or_resume(run, vae_fingerprint())
    last = train_sound(run, log=lambda m: None)
    log = json.loads((last / "state.json").read_text())["log"]
    assert all({"flow", "contact", "material"} <= set(e) for e in log)
    trained = load_file(str(last / "model.safetensors"))
    for head in ("contact_head.weight", "material_head.weight"):
        assert not torch.equal(trained[head], first.state_dict()[head])
    with_heads = SoundDiT(SoundConfig.load(last / "config.json"))
    with_heads.load_state_dict(trained)
    plain = SoundDiT(replace(with_heads.config, aux_heads=False))
    plain.load_state_dict({k: v for k, v in trained.items() if not k.startswith(("contact_head", "material_head"))})
    g = torch.Generator().manual_seed(0)
    cfg = plain.config
    latents = torch.randn(1, cfg.latent_channels, 3, 4, 4, generator=g)
    grids = torch.rand(1, 9, *cfg.input_shape, generator=g)
    x = torch.randn(1, cfg.mel.n_mels, 32, generator=g)
    text, mask = torch.randn(1, 3, cfg.text_dim, generator=g), torch.ones(1, 3, dtype=torch.bool)
    keep, t = torch.ones(1, dtype=torch.bool), torch.tensor([0.7])
    outs = [m.eval()(x, t, m.encode_video(latents, 16.0, frames=grids), keep, text, mask) for m in (with_heads, plain)]
    assert torch.equal(outs[0], outs[1])
    with pytest.raises(ValueError, match="aux_heads"):
        train_sound(replace(config(tmp_path / "no-heads", cache, 1), contact_loss=0.5), log=lambda m: None)


def test_a_contact_path_model_trains_on_the_tracked_contacts_of_the_cache(cache, tmp_path):
    """--tracked-contacts: the cache analyses its clips once (the tracker's contacts of each, the
    same as analysing the clip's frames now), batches carry them on the clip's clock, and the run
    trains a path that was added, silent, to weights without it."""
    from dataclasses import replace

    from minisora.sound.tracked import FAR, contact_features, track_contacts
    from minisora.sound.train import collate
    from minisora.world.clip import render_clip
    from minisora.world.dataset import DatasetConfig, sample_clip_spec

    plain = export_weights(train_sound(config(tmp_path / "run", cache, 2), log=lambda m: None), tmp_path / "plain")
    run = replace(config(tmp_path / "tracked", cache, 2), init_from=str(plain), model={"tracked_contacts": True})
    last = train_sound(run, log=lambda m: None)
    stored = torch.load(cache / "tracked" / "tracked_0000.pt")
    clip = render_clip(sample_clip_spec(DatasetConfig(n=3, seed=0), 1), with_audio=False)
    assert len(stored) == 3 and torch.equal(stored[1], track_contacts(clip.frames, clip.fps))
    assert sum(len(s) for s in stored) > 0
    weights = load_file(str(last / "model.safetensors"))
    assert weights["contact_mlp.2.weight"].abs().sum() > 0  # trained from zero
    model = load_sound_model(export_weights(last, tmp_path / "tracked-weights"))
    assert model.config.tracked_contacts
    from minisora.sound.cache import load_cache

    items = load_cache(cache, *sorted(cache.glob("latents-*"))[:1], cache / "frames-g4", 3, tracked=True)
    same = [i for i, it in enumerate(items) if it["latents"].shape == items[0]["latents"].shape]  # one aspect
    batch = collate([items[i] for i in same], model.config, crop=2, generator=torch.Generator().manual_seed(0))
    most = max(len(stored[i]) for i in same)
    assert batch["tracked"].shape == (len(same), most, batch["tracked"].shape[-1])
    captions = torch.load(cache / "clips_0000.pt")["caption"]
    for row, i in enumerate(same):  # whole clips' contacts, unshifted by the crop; padding far away
        assert torch.equal(batch["tracked"][row, : len(stored[i])], contact_features(stored[i], captions[i]))
        assert torch.all(batch["tracked"][row, len(stored[i]):, 0] == FAR)
    # --contact-dropout 1: every clip told none of its strong contacts, the faint jumps and the rest kept
    bare = collate([items[i] for i in same], model.config, crop=2, generator=torch.Generator().manual_seed(0),
                   contact_dropout=1.0)["tracked"]
    strong = batch["tracked"][..., 1] > 0.5
    assert bool(strong.any()) and torch.all(bare[..., 0][strong] == FAR)
    assert torch.equal(bare[~strong], batch["tracked"][~strong]) and torch.equal(bare[..., 1:], batch["tracked"][..., 1:])


def test_a_share_outside_0_to_1_is_refused_by_name():
    with pytest.raises(ValueError, match="--contact-dropout"):
        SoundTrainConfig(contact_dropout=1.5)
    with pytest.raises(ValueError, match="--partner-dropout"):
        SoundTrainConfig.from_dict({"partner_dropout": -0.1})


def test_generated_videos_join_the_renders_with_the_contact_path(cache, tmp_path, bounce_clip):
    """--generated: an index of MP4s is voiced and cached beside it on first use and its clips
    train with the renders; a model without the contact path is told what it needs."""
    from dataclasses import replace

    from minisora.media.write import write_mp4

    write_mp4(tmp_path / "clip.mp4", bounce_clip.frames, bounce_clip.fps)
    index = tmp_path / "made" / "index.jsonl"
    index.parent.mkdir()
    index.write_text(json.dumps({"video": str(tmp_path / "clip.mp4"), "caption": "a red ball"}) + "\n")
    logs = []
    run = replace(config(tmp_path / "run", cache, 2), generated=str(index), model={"tracked_contacts": True})
    last = train_sound(run, log=logs.append)
    assert "generated clips: 1 beside 3 renders" in logs
    assert (index.parent / "sound-cache" / "tracked" / "tracked_0000.pt").exists()
    assert json.loads((last / "state.json").read_text())["train"]["generated"] == str(index)
    with pytest.raises(ValueError, match="--tracked-contacts"):
        train_sound(replace(config(tmp_path / "plain", cache, 1), generated=str(index)), log=lambda m: None)
