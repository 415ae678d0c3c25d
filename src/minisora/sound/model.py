"""The sound model: a small diffusion transformer over log-mel patches, v = f(x_t, t, video, text).

    mel (B, n_mels, F) --patch (mel_patch frames)--> audio tokens (B, N, D), token i at time tau_i
    video latent (B, C, T', H', W') --2x2 patches + temporal conv--> video tokens, each at its
                                                                      latent frame's time
    video frames (B, 3, T, H, W) --luma on a G x G grid--> frame-rate features, added to each
                                                         audio token from the frames around it
                                 (and, with frame_conv, the grids through FrameEncoder's convolutions)
                                 (and, with tracked_contacts, the contacts the world tracker sees,
                                  binned by their offset from each token: sound.tracked)
    [adaLN-Zero self-attn (1D RoPE) -> cross-attn to video (RoPE) -> cross-attn to text -> MLP] x depth

Audio and video rotary positions are counted in the same seconds (Ovi, JavisDiT; MMAudio's
aligned RoPE), so a query at time tau scores a video token by the offset between their times:
audio at tau attends to the video around tau, whatever the clip's length or frame rate. The
flow objective and samplers are minisora.flow's, as for the world model (rectified flow,
classifier-free guidance over dropped video and text).

The network predicts the clean mel and returns the velocity v = (x_t - x0_hat) / t (Li & He
2025, "Back to Basics: Let Denoising Generative Models Denoise"): an audio token carries
4 x 128 = 512 numbers through a 128-wide transformer, and predicting v or the noise would ask it to
pass 512 dimensions of noise through 128; the clean mel is mostly silence and easy to predict.
Measured: v-prediction plateaued at a loss of 0.81 (750 steps) and sampled mels far off the data.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from minisora.dit.blocks import (
    CrossAttention,
    Mlp,
    SelfAttention,
    TimestepEmbedder,
    modulate,
    rms_norm,
)
from minisora.dit.rope import apply_rope, axis_frequencies, rope_cos_sin
from minisora.sound.config import SoundConfig
from minisora.sound.tracked import BINS, FEATURES, binned
from minisora.world.spec import MATERIALS


def rope_for_times(times: torch.Tensor, head_dim: int, config: SoundConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(N,) times in seconds -> (N, head_dim) cos and sin: one rotary axis, the shared timeline."""
    freqs = axis_frequencies(head_dim, config.rope_theta).to(times.device)
    angles = (times.double() / config.rope_unit_s)[:, None] * freqs[None]
    return rope_cos_sin(angles.float())


def audio_token_times(tokens: int, config: SoundConfig) -> torch.Tensor:
    """(N,) centre time (s) of each audio token: mel frame k sits at k * hop / sr."""
    first = torch.arange(tokens, dtype=torch.float64) * config.mel_patch
    return (first + (config.mel_patch - 1) / 2) * config.mel.seconds_per_frame()


def latent_frame_times(frames: int, fps: float, config: SoundConfig) -> torch.Tensor:
    """(T',) centre time (s) of each latent frame: frame 0 alone, then time_factor frames each."""
    j = torch.arange(frames, dtype=torch.float64)
    centre = torch.where(j == 0, torch.zeros_like(j), config.time_factor * j - (config.time_factor - 1) / 2)
    return centre / fps


T_MIN = 0.05  # v = (x_t - x0_hat) / max(t, T_MIN): bounded near the data end


class VideoCondition(NamedTuple):
    tokens: torch.Tensor  # (B, M, D) video tokens, M = T' * h * w
    times: torch.Tensor  # (M,) seconds, each token at its latent frame's centre
    pooled: torch.Tensor  # (B, T', D) one vector per latent frame
    starts: torch.Tensor  # (T',) seconds: when each latent frame's video frames begin
    ends: torch.Tensor  # (T',) and end
    frames: torch.Tensor  # (B, T, G * G) every video frame's luma grid (frame_grid)
    seen: torch.Tensor | None  # (B, T, D) every frame's FrameEncoder features (config.frame_conv)
    fps: float  # video frames per second
    frames_start: float = 0.0  # seconds: when video frame 0 is shown
    # (B, K, 1 + tracked.FEATURES) the tracked contacts (config.tracked_contacts): time (s) and features
    contacts: torch.Tensor | None = None

    def shifted(self, seconds: float) -> VideoCondition:
        contacts = self.contacts
        if contacts is not None:
            contacts = contacts.clone()
            contacts[..., 0] += seconds
        return self._replace(times=self.times + seconds, starts=self.starts + seconds, ends=self.ends + seconds,
                             frames_start=self.frames_start + seconds, contacts=contacts)

    def doubled(self) -> VideoCondition:
        """The batch twice over (guidance's conditional and unconditional halves)."""
        return self.joined(self)

    def joined(self, *others: VideoCondition) -> VideoCondition:
        """This batch with the others' rows after it (one clip's timeline: times are this one's)."""
        def cat(name: str) -> torch.Tensor | None:
            parts = [getattr(v, name) for v in (self, *others)]
            return None if parts[0] is None else torch.cat(parts)

        return self._replace(tokens=cat("tokens"), pooled=cat("pooled"), frames=cat("frames"), seen=cat("seen"),
                             contacts=cat("contacts"))


LUMA = (0.299, 0.587, 0.114)  # Rec. 601 weights of red, green, blue


def frame_grid(video: torch.Tensor, grid: int, colors: int = 1) -> torch.Tensor:
    """(B, 3, T, H, W) video in [-1, 1] -> each frame in [0, 1] averaged over grid x grid cells
    (any size and aspect ratio): its luma (B, T, grid, grid), or with colors=3 its red, green and
    blue (B, T, 3, grid, grid). An object's position within a cell still moves the cell's mean,
    so sub-cell motion survives."""
    b, _, t, h, w = video.shape
    rgb = F.adaptive_avg_pool2d((video.float().transpose(1, 2).reshape(b * t, 3, h, w) + 1.0) / 2.0, grid)
    rgb = rgb.reshape(b, t, 3, grid, grid)
    return rgb if colors == 3 else luma_of(rgb)  # pooling and luma are linear: either order


def luma_of(grids: torch.Tensor) -> torch.Tensor:
    """(B, T, 3, G, G) colour grids -> (B, T, G, G) luma."""
    return LUMA[0] * grids[:, :, 0] + LUMA[1] * grids[:, :, 1] + LUMA[2] * grids[:, :, 2]


def latent_frame_spans(frames: int, fps: float, config: SoundConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(T',) start and end (s) of each latent frame's video frames: [0, 1) then [4j - 3, 4j + 1) / fps."""
    j = torch.arange(frames, dtype=torch.float64)
    starts = torch.where(j == 0, torch.zeros_like(j), config.time_factor * (j - 1) + 1) / fps
    ends = torch.where(j == 0, torch.ones_like(j), config.time_factor * j + 1) / fps
    return starts, ends


def spatial_embedding(h: int, w: int, width: int) -> torch.Tensor:
    """(h*w, width) fixed 2D sinusoids of a patch's row and column (any aspect ratio)."""
    quarter = width // 4
    freqs = torch.exp(-math.log(100.0) * torch.arange(quarter) / quarter)
    rows, cols = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    parts = [f(p.reshape(-1, 1) * freqs) for p in (rows, cols) for f in (torch.sin, torch.cos)]
    return F.pad(torch.cat(parts, dim=1), (0, width - 4 * quarter))


def place_code(where: torch.Tensor) -> torch.Tensor:
    """(N,) places in [0, 1] (where a token falls between two frames) -> (N, 8) sinusoids."""
    angles = torch.stack([torch.pi * k * where for k in (1, 2, 3, 4)], dim=1)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


def frames_around(position: torch.Tensor, count: int) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Token moments in video frames (N,) -> indices of frames f-1 .. f+2 (f the last frame shown
    at or before the moment; edge frames repeat beyond a clip of `count`) and the place (N,)
    between frames f and f+1."""
    f = torch.floor(position)
    index = [(f.long() + k).clamp(0, count - 1) for k in (-1, 0, 1, 2)]
    return index, (position - f).clamp(0, 1).float()


class FrameEncoder(nn.Module):
    """Every video frame's luma grid (B, T, G, G), or colour grid (B, T, 3, G, G) with colors=3,
    -> (B, T, D): a contact, seen.

    A contact is a change of motion at one place: an object moving down, then up. Three
    spatiotemporal convolutions (3 x 3 x 3, stride 2 in space) over the grid and its change from
    the frame before find it wherever it happens, over 7 frames (0.44 s at 16 fps) around each
    frame; the mean and max over space say whether and how strongly something changed there.
    Frames beyond the clip repeat its edge frames (still video makes no sound)."""

    def __init__(self, channels: int, width: int, colors: int = 1) -> None:
        super().__init__()
        c = channels
        self.convs = nn.ModuleList([nn.Conv3d(2 * colors, c, 3, stride=(1, 2, 2), padding=(0, 1, 1)),
                                    nn.Conv3d(c, 2 * c, 3, stride=(1, 2, 2), padding=(0, 1, 1)),
                                    nn.Conv3d(2 * c, 2 * c, 3, stride=(1, 2, 2), padding=(0, 1, 1))])
        self.out = nn.Linear(4 * c, width)

    def feature_map(self, grids: torch.Tensor) -> torch.Tensor:
        """(B, T, ...) grids -> (B, 2c, T, G/8, G/8): the last convolution's features."""
        x = grids[:, None] if grids.ndim == 4 else grids.transpose(1, 2)  # (B, K, T, G, G)
        change = 4.0 * (x - torch.cat([x[:, :, :1], x[:, :, :-1]], dim=2))  # none at frame 0
        x = torch.cat([x, change], dim=1)
        for conv in self.convs:
            x = F.gelu(conv(torch.cat([x[:, :, :1], x, x[:, :, -1:]], dim=2)))  # edge frames repeat
        return x

    def forward(self, grids: torch.Tensor) -> torch.Tensor:
        x = self.feature_map(grids)
        pooled = torch.cat([x.mean((-2, -1)), x.amax((-2, -1))], dim=1)  # (B, 4c, T)
        return self.out(pooled.transpose(1, 2))


class VideoCrossAttention(nn.Module):
    """Audio tokens attend to video tokens; both rotated by their time in seconds."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(width, width)
        self.kv = nn.Linear(width, 2 * width)
        self.q_norm = nn.RMSNorm(width // heads, eps=1e-6)
        self.k_norm = nn.RMSNorm(width // heads, eps=1e-6)
        self.out = nn.Linear(width, width)

    def keys(self, video: torch.Tensor, rope_k: tuple[torch.Tensor, torch.Tensor]
             ) -> tuple[torch.Tensor, torch.Tensor]:
        """(k, v), each (B, h, M, d), of the video tokens (B, M, D): the same at every step."""
        b, m, _ = video.shape
        k, v = self.kv(video).view(b, m, 2, self.heads, -1).permute(2, 0, 3, 1, 4)
        return apply_rope(rms_norm(k, self.k_norm), *rope_k), v

    def forward(self, x: torch.Tensor, video: torch.Tensor | None, rope_q: tuple[torch.Tensor, torch.Tensor],
                rope_k: tuple[torch.Tensor, torch.Tensor] | None,
                kv: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        """x (B, N, D); video (B, M, D) with rope_k, or kv = keys(video, rope_k) made before."""
        b, n, _ = x.shape
        q = rms_norm(self.q(x).view(b, n, self.heads, -1).transpose(1, 2), self.q_norm)  # (B, h, N, d)
        k, v = kv if kv is not None else self.keys(video, rope_k)
        q = apply_rope(q, *rope_q)
        out = F.scaled_dot_product_attention(q, k, v)  # (B, h, N, d)
        return self.out(out.transpose(1, 2).reshape(b, n, -1))


class SoundBlock(nn.Module):
    """adaLN-Zero block: self-attention, cross-attention to video, then to text, then MLP."""

    def __init__(self, config: SoundConfig) -> None:
        super().__init__()
        width, heads = config.width, config.heads
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.attn = SelfAttention(width, heads)
        self.norm_v = nn.LayerNorm(width, eps=1e-6)
        self.video = VideoCrossAttention(width, heads)
        self.norm_t = nn.LayerNorm(width, eps=1e-6)
        self.text = CrossAttention(width, heads, width)
        self.norm3 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(width, int(width * config.mlp_ratio))
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 6 * width))

    def forward(self, x: torch.Tensor, c: torch.Tensor, rope_a, video_kv, text_kv,
                text_mask: torch.Tensor) -> torch.Tensor:
        """video_kv, text_kv: this block's keys and values of the video and text (Conditioning)."""
        shift1, scale1, gate1, shift2, scale2, gate2 = self.modulation(c)[:, None].chunk(6, dim=-1)  # (B, 1, D)
        x = x + gate1 * self.attn(modulate(self.norm1(x), shift1, scale1), *rope_a)
        x = x + self.video(self.norm_v(x), None, rope_a, None, kv=video_kv)
        x = x + self.text(self.norm_t(x), None, text_mask, kv=text_kv)
        return x + gate2 * self.mlp(modulate(self.norm3(x), shift2, scale2))


class Conditioning(NamedTuple):
    """What SoundDiT.condition() makes once for a window's sampling steps."""

    frames: int  # mel frames it was made for
    added: torch.Tensor  # (B, N, D) the frame-aligned video features added to the audio tokens
    aligned: torch.Tensor  # (B, N, D) the same before "no video" zeroes them (the contact head reads it)
    rope_a: tuple[torch.Tensor, torch.Tensor]  # the audio tokens' rotary tables
    keys: list  # per block: ((k, v) of the video tokens, (k, v) of the text tokens)
    text_mask: torch.Tensor  # (B, 1 + L) with the always-present null text key


class SoundDiT(nn.Module):
    def __init__(self, config: SoundConfig) -> None:
        super().__init__()
        self.config = config.validate()
        width = config.width
        self.audio_in = nn.Linear(config.token_dim, width)
        self.video_in = nn.Linear(config.video_token_dim, width)
        # motion lives between latent frames: a temporal convolution per spatial patch
        self.video_time = nn.Conv1d(width, width, kernel_size=3, padding=1)
        self.video_pool = nn.Linear(2 * width, width)  # mean and max over a latent frame's patches
        self.video_align = nn.Linear(3 * width + 8, width)  # frames before, at, after + place in frame
        # the frame-rate path: frames f-1 .. f+2 around a token's moment (their luma and its
        # changes) and where between frames f and f+1 the token falls
        grid2 = config.frame_grid**2
        self.frame_mlp = nn.Sequential(nn.Linear(4 * grid2 + 8, 2 * width), nn.GELU(), nn.Linear(2 * width, width))
        if config.frame_conv:  # and the same frames through convolutions, added to it
            self.frame_encoder = FrameEncoder(config.frame_conv, width, config.frame_colors)
            self.seen_mlp = nn.Sequential(nn.Linear(4 * width + 8, 2 * width), nn.GELU(), nn.Linear(2 * width, width))
        if config.tracked_contacts:  # the contacts the world tracker sees, binned around each token
            self.contact_mlp = nn.Sequential(nn.Linear(BINS * FEATURES, 2 * width), nn.GELU(),
                                             nn.Linear(2 * width, width))
        self.video_null = nn.Parameter(torch.zeros(width))  # the "no video" flag for guidance
        self.text_in = nn.Linear(config.text_dim, width)
        self.text_null = nn.Parameter(torch.zeros(1, 1, width))  # always-present key: text may be empty
        self.t_embed = TimestepEmbedder(width, config.freq_dim)
        self.blocks = nn.ModuleList(SoundBlock(config) for _ in range(config.depth))
        self.final_norm = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.final_modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 2 * width))
        self.final = nn.Linear(width, config.token_dim)
        if config.aux_heads:  # training's auxiliary targets (train.training_loss); unused in sampling
            self.contact_head = nn.Linear(width, 1)  # a contact begins in this token, from the video
            self.material_head = nn.Linear(width, len(MATERIALS))  # what rings there, from the last block
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        for layer in (self.t_embed.mlp[0], self.t_embed.mlp[2]):
            nn.init.normal_(layer.weight, std=0.02)
        zero = [self.final, self.final_modulation[-1]]
        if self.config.frame_conv:  # starts silent: a model it is added to starts unchanged
            zero.append(self.seen_mlp[-1])
        if self.config.tracked_contacts:  # the same
            zero.append(self.contact_mlp[-1])
        for block in self.blocks:
            zero += [block.modulation[-1], block.video.out, block.text.out]
        for layer in zero:
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def encode_video(self, latents: torch.Tensor, fps: float, first_latent: int = 0, *,
                     frames: torch.Tensor, frames_start: float = 0.0,
                     contacts: torch.Tensor | None = None) -> VideoCondition:
        """(B, C, T', H', W') normalised latents and the clip's frame grids (B, T, *input_shape)
        from frame_grid -> video tokens, their times, the latent frames' spans and the frame-rate
        features. first_latent: the clip's latent frame that latents[:, :, 0] is (a window of a
        clip); `frames` are the clip's from the one shown at `frames_start` seconds (the whole
        clip's, or a training crop's with frames to spare either side). `contacts` (B, K,
        1 + tracked.FEATURES), with config.tracked_contacts: the tracked contacts
        (tracked.contact_features, tracked.pad_contacts), timed on the clip's clock (its frame 0
        at 0 s)."""
        cfg, p, g = self.config, self.config.latent_patch, self.config.input_grid
        b, c, n_latent, height, width = latents.shape
        if c != cfg.latent_channels or height % p or width % p:
            raise ValueError(f"video latent {tuple(latents.shape)}: expected (B, {cfg.latent_channels}, T', H', W') "
                             f"with H', W' multiples of {p}")
        shape = cfg.input_shape
        if frames.ndim != 2 + len(shape) or frames.shape[0] != b or tuple(frames.shape[2:]) != shape:
            raise ValueError(f"frame grids {tuple(frames.shape)}: expected ({b}, T, {', '.join(map(str, shape))}) "
                             f"from frame_grid(video, {g}, colors={cfg.frame_colors})")
        if cfg.tracked_contacts and (contacts is None or contacts.ndim != 3 or contacts.shape[0] != b
                                     or contacts.shape[2] != 1 + FEATURES):
            shown = None if contacts is None else tuple(contacts.shape)
            raise ValueError(f"tracked contacts {shown}: this model reads the contacts the world tracker sees, "
                             f"({b}, K, {1 + FEATURES}) from tracked.pad_contacts of tracked.contact_features")
        frames = frames.to(latents.dtype)
        seen = self.frame_encoder(frames) if cfg.frame_conv else None
        if cfg.frame_colors == 3:  # the MLP path reads luma
            frames = luma_of(frames)
        if g != cfg.frame_grid:  # the MLP's coarser grid, pooled from the conv path's
            frames = F.avg_pool2d(frames, g // cfg.frame_grid)
        grids = frames.reshape(b, frames.shape[1], cfg.frame_grid**2)
        h, w = height // p, width // p
        x = latents.reshape(b, c, n_latent, h, p, w, p).permute(0, 3, 5, 2, 1, 4, 6)  # (B, h, w, T', C, p, p)
        x = self.video_in(x.reshape(b, h * w, n_latent, c * p * p))  # (B, hw, T', D)
        x = x + spatial_embedding(h, w, cfg.width).to(x)[None, :, None]
        mixed = self.video_time(x.reshape(b * h * w, n_latent, -1).transpose(1, 2)).transpose(1, 2)
        x = x + F.gelu(mixed.reshape(b, h * w, n_latent, -1))
        tokens = x.transpose(1, 2).reshape(b, n_latent * h * w, -1)  # (B, T'*h*w, D) in (t, h, w) order
        pooled = self.video_pool(torch.cat([x.mean(1), x.amax(1)], dim=-1))  # (B, T', D)
        times = latent_frame_times(first_latent + n_latent, fps, cfg)[first_latent:]
        starts, ends = latent_frame_spans(first_latent + n_latent, fps, cfg)
        return VideoCondition(tokens, times.repeat_interleave(h * w), pooled, starts[first_latent:],
                              ends[first_latent:], grids, seen, float(fps), float(frames_start),
                              contacts.to(latents.dtype) if cfg.tracked_contacts else None)

    def aligned_frames(self, video: VideoCondition, times: torch.Tensor) -> torch.Tensor:
        """(B, N, D): for audio tokens at `times` (N,), the luma grids of video frames f-1 .. f+2
        where frame f is the last shown at or before the token's moment, as frame f and the three
        changes between them, with the token's place between frames f and f+1. Beyond the clip the
        edge frame repeats (no change: still video makes no sound). A contact falls between two
        frames: the change of velocity across f-1 .. f+2 and the place between them time it
        finer than one frame (16 fps frames are 62.5 ms apart, the sync window is +-40 ms)."""
        feats = video.frames  # (B, T, G*G)
        count = feats.shape[1]
        index, where = frames_around((times.double() - video.frames_start) * video.fps, count)
        g = [feats[:, i] for i in index]  # 4 x (B, N, G*G)
        change = [4.0 * (g[k + 1] - g[k]) for k in range(3)]  # luma changes are small: scaled up
        b = feats.shape[0]
        phase = place_code(where).to(feats).expand(b, -1, -1)
        out = self.frame_mlp(torch.cat([g[1], *change, phase], dim=-1))
        if video.seen is not None:  # the convolutions' features of the same four frames
            out = out + self.seen_mlp(torch.cat([video.seen[:, i] for i in index] + [phase], dim=-1))
        return out

    def aligned_video(self, video: VideoCondition, times: torch.Tensor) -> torch.Tensor:
        """(B, N, D): for audio tokens at `times` (N,), the pooled features of the latent frame
        heard then and of its neighbours, with where in that frame the token falls (MMAudio's
        frame-aligned conditioning: the cheap, direct path from a moment of video to its sound)."""
        frames = video.pooled.shape[1]
        index = (torch.searchsorted(video.starts.to(times), times, right=True) - 1).clamp(0, frames - 1)
        start, end = video.starts.to(times)[index], video.ends.to(times)[index]
        where = ((times - start) / (end - start)).clamp(0, 1)  # (N,)
        phase = place_code(where)
        padded = F.pad(video.pooled, (0, 0, 1, 1))  # (B, T' + 2, D): zero beyond the ends
        around = torch.cat([padded[:, index], padded[:, index + 1], padded[:, index + 2]], dim=-1)
        b = around.shape[0]
        return self.video_align(torch.cat([around, phase.to(around).expand(b, -1, -1)], dim=-1))

    def condition(self, frames: int, video: VideoCondition, video_keep: torch.Tensor, text: torch.Tensor,
                  text_mask: torch.Tensor, audio_offset: float = 0.0, dtype: torch.dtype = torch.float32
                  ) -> Conditioning:
        """Everything of a forward pass that does not depend on the noisy mel or t, for a mel of
        `frames` frames (of `dtype`): made once per window, it serves every sampling step."""
        cfg = self.config
        if frames % cfg.mel_patch:
            raise ValueError(f"mel of {frames} frames: expected a multiple of {cfg.mel_patch}")
        b, n = video_keep.shape[0], frames // cfg.mel_patch
        device = video.tokens.device
        times = audio_token_times(n, cfg).to(device) + audio_offset
        keep = video_keep.to(dtype)[:, None, None]
        aligned = self.aligned_video(video, times) + self.aligned_frames(video, times)
        if cfg.tracked_contacts:
            aligned = aligned + self.contact_mlp(binned(video.contacts, times).to(aligned.dtype))
        added = keep * aligned
        head_dim = cfg.width // cfg.heads
        rope_a = rope_for_times(times, head_dim, cfg)
        rope_v = rope_for_times(video.times.to(device), head_dim, cfg)
        video_tokens = video.tokens * keep + self.video_null * (1 - keep)
        text_tokens = torch.cat([self.text_null.expand(b, -1, -1), self.text_in(text)], dim=1)
        text_mask = torch.cat([torch.ones(b, 1, dtype=torch.bool, device=device), text_mask.bool()], dim=1)
        keys = [(block.video.keys(video_tokens, rope_v), block.text.keys(text_tokens)) for block in self.blocks]
        return Conditioning(frames, added, aligned, rope_a, keys, text_mask)

    def forward(self, x: torch.Tensor, t: torch.Tensor, video: VideoCondition | None = None,
                video_keep: torch.Tensor | None = None, text: torch.Tensor | None = None,
                text_mask: torch.Tensor | None = None, audio_offset: float = 0.0, *,
                conditioning: Conditioning | None = None, return_hidden: bool = False
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """x (B, n_mels, F) noisy mel, F a multiple of mel_patch; t (B,); video from encode_video;
        video_keep (B,) bool (False: guidance's "no video"); text (B, L, text_dim) with mask (B, L);
        audio_offset: the time (s) of mel frame 0. Or, in place of video .. audio_offset, their
        `conditioning` (made once by condition() for many steps). Returns the velocity
        (B, n_mels, F), from the predicted clean mel; with return_hidden, also the last block's
        tokens (B, N, D) (what material_head reads)."""
        cfg = self.config
        b, mels, frames = x.shape
        if mels != cfg.mel.n_mels or frames % cfg.mel_patch:
            raise ValueError(f"mel {tuple(x.shape)}: expected (B, {cfg.mel.n_mels}, F) with F a multiple of "
                             f"{cfg.mel_patch}")
        if conditioning is None:
            conditioning = self.condition(frames, video, video_keep, text, text_mask, audio_offset, x.dtype)
        elif conditioning.frames != frames:
            raise ValueError(f"conditioning made for {conditioning.frames} mel frames, the mel has {frames}")
        n = frames // cfg.mel_patch
        tokens = self.audio_in(x.reshape(b, mels, n, cfg.mel_patch).permute(0, 2, 1, 3).reshape(b, n, -1))
        tokens = tokens + conditioning.added
        c = self.t_embed(t)  # (B, D)
        for block, (video_kv, text_kv) in zip(self.blocks, conditioning.keys):
            tokens = block(tokens, c, conditioning.rope_a, video_kv, text_kv, conditioning.text_mask)
        shift, scale = self.final_modulation(c)[:, None].chunk(2, dim=-1)
        out = self.final(modulate(self.final_norm(tokens), shift, scale))  # (B, N, n_mels * patch)
        clean = out.reshape(b, n, mels, cfg.mel_patch).permute(0, 2, 1, 3).reshape(b, mels, frames)
        v = (x - clean) / t.clamp_min(T_MIN)[:, None, None].to(x.dtype)
        return (v, tokens) if return_hidden else v


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
