"""The layout search (pipeline/layout.py): the count reader, its file, the search, and generate()."""

from __future__ import annotations

import shutil

import pytest
import torch
from pipeline_helpers import FAST

from minisora.flow.samplers import sample
from minisora.pipeline.layout import (
    COUNT_READER,
    CountReader,
    check_step,
    layout_score,
    load_count_reader,
    save_count_reader,
    search_evaluations,
    search_start,
)
from minisora.train.counter import fit_count_reader


def objects_in_cells(n: int, height: int = 8, width: int = 8, channels: int = 4, seed: int = 0
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """n latent frames over a noisy floor, each with 0-4 objects: single cells, apart, that stand out."""
    gen = torch.Generator().manual_seed(seed)
    x = 0.3 * torch.randn(n, channels, height, width, generator=gen)
    y = torch.randint(0, 5, (n,), generator=gen)
    for i, k in enumerate(y.tolist()):
        cells = torch.randperm(height * width // 4, generator=gen)[:k]  # one per 2x2 block: never touching
        for c in cells.tolist():
            row, col = 2 * (c // (width // 2)), 2 * (c % (width // 2))
            x[i, :, row, col] += torch.tensor([3.0, -2.0, 1.5, 0.0][:channels])
    return x, y.float()


def test_count_reader_learns_to_count_and_reads_any_size():
    x, y = objects_in_cells(3000)
    reader, fit = fit_count_reader([(x, y)], steps=300, batch=128, width=32)
    assert fit["right"] > 0.9 and fit["miss"] < 0.3 and fit["held_out"] == 300
    wide, counts = objects_in_cells(200, width=16, seed=1)  # twice as wide: objects anywhere in it
    with torch.no_grad():
        assert (reader(wide).round() == counts).float().mean() > 0.8
        video = x[:6].reshape(2, 3, 4, 8, 8).transpose(1, 2)  # (B, C, T', H', W')
        assert torch.allclose(reader.frames(video), reader(x[:6]).reshape(2, 3))
    # frames of two sizes fit together (a batch is of one size), a tenth of each held out
    both, fit = fit_count_reader([(x[:1000], y[:1000]), (wide, counts)], steps=300, batch=128, width=32)
    assert fit["held_out"] == 100 + 20 and fit["right"] > 0.7  # guessing the commonest count: ~0.2


def test_count_reader_file_is_read_back_and_checked_against_the_latent_space(tmp_path):
    torch.manual_seed(0)
    reader = CountReader(4, 16)
    assert load_count_reader(tmp_path, {"latent_channels": 4}) is None  # none written: no search
    save_count_reader(reader, tmp_path, {"latent_channels": 4, "latent_shift": [0.1]}, {"right": 0.5})
    assert [p.name for p in tmp_path.iterdir()] == [COUNT_READER]  # written atomically, nothing else left
    back = load_count_reader(tmp_path, {"latent_shift": [0.1], "latent_channels": 4})
    z = torch.randn(3, 4, 8, 8)
    with torch.no_grad():
        assert torch.allclose(back(z), reader.to(torch.bfloat16).float()(z), atol=1e-4)  # bf16 on disk
    with pytest.raises(ValueError, match="another autoencoder's latents.*train-counter"):
        load_count_reader(tmp_path, {"latent_channels": 4, "latent_shift": [0.2]})


def test_layout_score_weighs_the_first_frame_and_every_frame():
    counts = torch.tensor([[2.0, 2.0, 2.0, 2.0], [3.0, 2.0, 2.0, 2.0], [2.0, 4.0, 4.0, 4.0]])
    assert torch.allclose(layout_score(counts, 2), torch.tensor([0.0, 1.25, 1.5]))
    assert check_step(25) == 6 and check_step(2) == 1 and check_step(1000) == 240


def test_search_keeps_the_nearest_start_and_finishes_it_as_if_drawn_alone(world):
    from minisora.flow.samplers import guided_denoiser
    from minisora.flow.timesteps import sampling_times

    tokens, mask = world.text.encode(["two red balls bounce"])
    null, null_mask = world.text.encode([""])
    torch.manual_seed(1)
    reader = CountReader(world.dit.config.latent_channels, 8).eval()
    starts = torch.randn(3, world.dit.config.latent_channels, 3, 8, 8)
    times = sampling_times(8, 1.0)

    def denoiser(batch: int):
        return guided_denoiser(world.dit, tokens.expand(batch, -1, -1), mask.expand(batch, -1), null, null_mask, 2.0)

    with torch.no_grad():
        pick, x, scores = search_start(denoiser(3), starts, times, reader, 2)
        check = check_step(8)
        assert check == 2 and scores.shape == (3,) and pick == int(torch.argmin(scores))
        assert x.shape == (1, *starts.shape[1:])
        finished = sample(denoiser(1), x, times[check:])
        alone = sample(denoiser(1), starts[pick:pick + 1], times)  # the kept start, never batched
        assert torch.allclose(finished, alone, atol=1e-4)
    plain = len(times) - 1
    assert search_evaluations(plain, times, "euler", 3) == 3 * (check + 1) + (plain - check)
    assert search_evaluations(plain, times, "euler", 1) == plain


@pytest.fixture
def counted_model(model_folder, world, tmp_path):
    """The tiny model folder with a (random) count reader beside its weights."""
    folder = shutil.copytree(model_folder, tmp_path / "counted")
    torch.manual_seed(2)
    step = sorted(folder.glob("step_*"))[-1]
    save_count_reader(CountReader(world.dit.config.latent_channels, 8), step, world.vae.config.latent_space())
    return folder


def test_generate_searches_text_to_video_and_its_progress_adds_up(counted_model, model_folder, tmp_path):
    from minisora.pipeline import generate, load_world_model

    counted = load_world_model(counted_model)
    assert counted.counter is not None
    calls = []
    prompt = "two red balls bounce"
    searched = generate(counted, prompt, tmp_path / "a.mp4", sound=None, candidates=4, seconds=4,
                        progress=lambda done, total, stage: calls.append((done, total)), **FAST)
    done, total = calls[-1]
    # 5 chunks of 5 latents, 2 steps each: the first searched (check after 1 step; 4 x (1 + 1) for
    # the search, 1 to finish), the four that extend it (given frames before) not
    assert len(searched.chunks) == 5 and done == total == 4 * 2 + 1 + 4 * 2 and len(calls) == total
    assert searched.chunks[0].candidate in range(4)
    plain = generate(counted, prompt, tmp_path / "b.mp4", sound=None, candidates=1, **FAST)
    assert plain.chunks[0].candidate == 0
    # candidate 0 is the plain generation's noise (the same to rounding: it was sampled in a batch)
    same = torch.allclose(searched.chunks[0].latents, plain.chunks[0].latents, atol=1e-4)
    assert same == (searched.chunks[0].candidate == 0)
    # a model without a count reader, or a caption without a count: one start, and a note saying why
    bare = generate(load_world_model(model_folder), prompt, tmp_path / "c.mp4", sound=None, candidates=4, **FAST)
    assert any("no count reader" in n and "train-counter" in n for n in bare.notes)
    assert (bare.frames == plain.frames).all()
    vague = generate(counted, "red balls bounce", tmp_path / "d.mp4", sound=None, candidates=4, refine=False,
                     **FAST)
    assert any("does not say how many objects" in n for n in vague.notes)
    assert vague.chunks[0].candidate == 0


def test_candidates_out_of_range_is_refused_before_any_work(tmp_path):
    from minisora.pipeline import GenerateConfig, GenerationError

    with pytest.raises(GenerationError, match="--candidates 0: draw 1 to 16"):
        GenerateConfig(prompt="a red ball", candidates=0).check()
