"""Contract and oracle tests for the causal VAE on a tiny config: shapes, causality, streaming."""

from __future__ import annotations

import pytest
import torch

from minisora.autoencoder import VAE_PRESETS, VAEConfig, VideoVAE, decode_chunked, encode_chunked


@pytest.fixture(scope="module", params=["tiny", "tiny-patch", "tiny-patch-detail", "tiny-patch-lookahead"])
def vae(request: pytest.FixtureRequest) -> VideoVAE:
    """Both architectures (full-resolution convolutions; patches folded first, with and without the
    decoder's detail path and its look-ahead) keep every contract."""
    torch.manual_seed(0)
    model = VideoVAE(VAEConfig.from_dict(VAE_PRESETS[request.param].to_dict())).eval()
    for name, param in model.named_parameters():  # patch blocks start as the identity: perturb them
        if name.endswith("weight") and not param.any():
            torch.nn.init.normal_(param, std=0.05)
    # non-trivial normalisation, so encode/decode must apply it consistently
    model.set_latent_stats([0.1, -0.2, 0.0, 0.3], [0.5, 2.0, 1.0, 1.5])
    return model


def video(frames: int, height: int = 16, width: int = 16, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 3, frames, height, width, generator=g) * 2 - 1


def test_shapes_any_aspect(vae: VideoVAE) -> None:
    for frames, h, w in [(1, 16, 16), (9, 16, 32), (5, 48, 16), (13, 8, 24)]:
        z = vae.encode(video(frames, h, w))
        assert z.shape == (1, 4, (frames - 1) // 4 + 1, h // 4, w // 4)
        assert vae.latent_shape(frames, h, w) == tuple(z.shape[1:])
        x = vae.decode(z)
        assert x.shape == (1, 3, frames, h, w) and x.dtype == torch.float32
        assert x.abs().max() <= 1.0


def test_first_frame_is_encoded_alone(vae: VideoVAE) -> None:
    clip = video(9)
    assert torch.allclose(vae.encode(clip)[:, :, :1], vae.encode(clip[:, :, :1]), atol=1e-5)


def test_encoder_is_causal(vae: VideoVAE) -> None:
    clip = video(13)
    changed = clip.clone()
    changed[:, :, 5:] = video(8, seed=1)  # frames 5..12 belong to latent frames 2 and 3
    a, b = vae.encode(clip), vae.encode(changed)
    assert torch.equal(a[:, :, :2], b[:, :, :2])
    assert not torch.allclose(a[:, :, 2:], b[:, :, 2:])


def test_decoder_is_causal_or_looks_one_latent_frame_ahead(vae: VideoVAE) -> None:
    z = vae.encode(video(17))
    changed = z.clone()
    changed[:, :, 3] += 1.0  # latent frame 3 decodes to frames 9..12
    a, b = vae.decode(z), vae.decode(changed)
    first = 5 if vae.config.lookahead else 9  # a look-ahead decoder's frames 5..8 see latent frame 3
    assert torch.equal(a[:, :, :first], b[:, :, :first])
    assert not torch.allclose(a[:, :, first:first + 4], b[:, :, first:first + 4])


@pytest.mark.parametrize("chunk_frames", [4, 8, 12])
def test_streaming_encode_equals_whole(vae: VideoVAE, chunk_frames: int) -> None:
    clip = video(25, 16, 24)
    whole = vae.encode(clip)
    assert (encode_chunked(vae, clip, chunk_frames) - whole).abs().max() < 1e-4


@pytest.mark.parametrize("chunk_latents", [1, 2, 4])
def test_streaming_decode_equals_whole(vae: VideoVAE, chunk_latents: int) -> None:
    z = vae.encode(video(25, 16, 24))
    whole = vae.decode(z)
    assert (decode_chunked(vae, z, chunk_latents) - whole).abs().max() < 1e-4


def test_streamed_frames_come_as_soon_as_the_decoder_can_draw_them(vae: VideoVAE) -> None:
    """A causal decoder yields each chunk's frames at once; a look-ahead one holds back the last
    latent frame of a chunk until the next arrives, and draws it at the end of the stream."""
    from minisora.autoencoder import decode_stream

    z = vae.encode(video(21))  # 6 latent frames, streamed as 1, 2, 3
    sizes = [x.shape[2] for x in decode_stream(vae, [z[:, :, :1], z[:, :, 1:3], z[:, :, 3:]])]
    assert sum(sizes) == 21
    assert sizes == ([5, 12, 4] if vae.config.lookahead else [1, 8, 12])


def test_normalisation_is_applied(vae: VideoVAE) -> None:
    clip = video(5)
    mean, _, _ = vae.encode_moments(clip)
    expected = (mean - vae.latent_shift) / vae.latent_scale
    assert torch.allclose(vae.encode(clip), expected)


@pytest.mark.parametrize(
    ("shape", "needle"),
    [((1, 4, 5, 16, 16), "(B, 3, T, H, W)"), ((1, 3, 8, 16, 16), "T = 4k+1"),
     ((1, 3, 5, 18, 16), "multiples of 4"), ((3, 5, 16, 16), "(B, 3, T, H, W)")],
)
def test_bad_video_says_what_is_accepted(vae: VideoVAE, shape: tuple[int, ...], needle: str) -> None:
    with pytest.raises(ValueError, match="accepted") as info:
        vae.encode(torch.zeros(shape))
    assert needle in str(info.value)


def test_bad_latent_says_what_is_accepted(vae: VideoVAE) -> None:
    with pytest.raises(ValueError, match=r"accepted \(B, 4, T', H', W'\)"):
        vae.decode(torch.zeros(1, 3, 2, 4, 4))


def test_bad_stream_chunk_is_rejected(vae: VideoVAE) -> None:
    from minisora.autoencoder import encode_stream

    with pytest.raises(ValueError, match="multiple of 4"):
        list(encode_stream(vae, [video(5), video(3)]))


def test_config_validation_and_presets() -> None:
    with pytest.raises(ValueError, match="choose 4, 8 or 16"):
        VAEConfig(spatial_factor=2).validate()
    with pytest.raises(ValueError, match="choose conv or patch"):
        VAEConfig(arch="unet").validate()
    with pytest.raises(ValueError, match="unknown VAE config keys"):
        VAEConfig.from_dict({"spatial_factr": 8})
    for name, config in VAE_PRESETS.items():
        model = VideoVAE(VAEConfig.from_dict(config.to_dict()))
        assert model.latent_shape(65, 64, 64)[1:] == (17, 64 // config.spatial_factor, 64 // config.spatial_factor), name


def test_backward_reaches_every_parameter() -> None:
    torch.manual_seed(0)
    model = VideoVAE(VAEConfig.from_dict(VAE_PRESETS["tiny"].to_dict()))
    recon, mean, logvar = model(video(5))
    (recon.square().mean() + mean.square().mean() + logvar.square().mean()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_model_does_not_share_its_preset() -> None:
    model = VideoVAE(VAE_PRESETS["tiny"])
    model.set_latent_stats([1.0] * 4, [2.0] * 4)
    assert VAE_PRESETS["tiny"].latent_scale == []


def grown_decoder(base: str, grown: str, new_part: str, z: torch.Tensor) -> tuple[VideoVAE, VideoVAE]:
    """Preset `base`'s random weights loaded into preset `grown`, which adds only tensors named
    with `new_part`; the two decode z alike (the new part starts at zero)."""
    torch.manual_seed(0)
    old = VideoVAE(VAEConfig.from_dict(VAE_PRESETS[base].to_dict())).eval()
    new = VideoVAE(VAEConfig.from_dict(VAE_PRESETS[grown].to_dict())).eval()
    missing, unexpected = new.load_state_dict(old.state_dict(), strict=False)
    assert not unexpected and missing and all(new_part in k for k in missing)
    assert torch.equal(old.decode(z), new.decode(z))
    return old, new


def test_detail_path_starts_as_the_decoder_without_it() -> None:
    """Weights trained without the detail path load into a decoder with it and decode the same
    (its last layer starts at zero); once trained, the path changes the output."""
    z = torch.randn(1, 4, 3, 4, 4, generator=torch.Generator().manual_seed(1))
    plain, detailed = grown_decoder("tiny-patch", "tiny-patch-detail", ".detail_", z)
    torch.nn.init.normal_(detailed.decoder.layers[-1].detail_out.weight, std=0.1)
    assert not torch.allclose(plain.decode(z), detailed.decode(z), atol=1e-3)
    with pytest.raises(ValueError, match="patch decoder"):
        VAEConfig(arch="conv", detail_width=8).validate()


def test_lookahead_starts_as_the_causal_decoder_and_then_reads_the_next_latent_frame() -> None:
    """Weights trained without look-ahead load into a decoder with it and decode the same (it
    starts at zero); trained, a frame's pixels depend on the next latent frame, and on nothing
    further ahead."""
    z = torch.randn(1, 4, 4, 4, 4, generator=torch.Generator().manual_seed(1))
    _, ahead = grown_decoder("tiny-patch-detail", "tiny-patch-lookahead", ".ahead.", z)
    torch.nn.init.normal_(ahead.decoder.layers[0].ahead.weight, std=0.3)
    changed = z.clone()
    changed[:, :, 3] += 1.0  # frames 9..12
    moved = (ahead.decode(changed) - ahead.decode(z)).abs().amax(dim=(0, 1, 3, 4))
    assert moved[:5].max() == 0 and moved[5:9].min() > 1e-4  # frames 5..8 (latent 2) see latent 3
    with pytest.raises(ValueError, match="patch decoder"):
        VAEConfig(arch="conv", lookahead=True).validate()
