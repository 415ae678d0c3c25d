"""The invisible watermark: keyed spread spectrum in mid spatial frequencies of the luma, the
same in every frame, found by correlation and a signed-rank test on its sync bits.

Why this shape (measured on world clips, see bench/watermark_robustness.py):
- Carriers are sinusoids at whole cycles per frame side, so they are defined on normalised
  coordinates and a resize (0.5x, 2x) leaves them where they were; a centre crop is found by
  trying a few crop scales (the p-value is corrected for the number of tries).
- The band (6 to 16 cycles per side): measured per band of carriers after the detection
  filter and H.265 at CRF 30 (10 clips), the mark's level over the host's is 0.3 at 2-4 cycles,
  1.0 at 6-8 and 2.8-4.1 at 10-20, so below 6 cycles the static scene (ground, walls, sky)
  drowns the mark; above 16 a 0.5x resize and CRF 30 erase it. A 9-18 band was stronger on the
  attacks (worst combined-attack p-value 10^-8 -> 10^-12 on 32 clips) but the world's own
  layout then biased the sync test on unmarked clips (fitted false-positive rate 8.6e-6 on
  1,000 clips, against 4e-8 here).
- The mark is static in time, so dropping frames or keeping any 1 s segment keeps all of it,
  and H.264 codes it once and copies it forward (skip blocks) instead of spending bits on it.
- Luma: 4:2:0 chroma and GIF palettes keep luma best. The mark is added to R, G and B along
  the luma weights w (as m w / |w|^2), which changes luma by m at the least RGB error: 1 / (3 |w|^2)
  = 0.75 of the squared error of adding m to all three alike, so 1.16x the luma amplitude at the
  same PSNR (measured on 48 clips: combined-attack detection 0.92 -> 1.00, its median p-value
  10^-18 -> 10^-28; H.265 CRF 30 worst 10^-11 -> 10^-16.5; on 200 clips the combined attack is
  found in 0.990). Chroma moves a little with it; the detector reads luma alone.
- Detection high-passes each frame and clips it to a few times its median deviation: world
  frames are flat between sharp edges, so after the high-pass the host is sparse edges, and
  clipping bounds them (a locally optimum detector for heavy-tailed noise). It then whitens:
  each carrier's correlation is divided by the clip's RMS correlation over its neighbours in
  frequency, so carriers where the scene or the codec is loud weigh less.
- The test is Wilcoxon's signed-rank test on the sync bits (payload.py): it counts the
  confident bits more than a plain count of matches, and its null law is still exact.
- Its energy goes where the detector can see it: less on the scene's edges (which the detector
  clips), more on flat ground, at the same PSNR.
- Embedding can be informed (in the spirit of Malvar & Florencio's improved spread spectrum):
  where the clip itself pulls a bit's correlation below a margin, that bit is strengthened,
  measured through the detector's own filter. It is off by default (see informed_steps).
- The payload is convolutionally coded (ecc.py) and decoded by soft Viterbi from the whitened
  correlations, then checked by its CRC.

Spread spectrum: Cox et al. 1997; ISS: Malvar & Florencio 2003; signed-rank test: Wilcoxon 1945.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from minisora.provenance import ecc
from minisora.provenance.payload import (
    PAYLOAD_BITS,
    Payload,
    keyed_rng,
    signed_rank_p_value,
    sync_bits,
)

LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass(frozen=True)
class WatermarkConfig:
    key: str = "minisora-watermark-v1"
    # bits the detector knows; the p-value is a signed-rank test on them. Many weak bits beat
    # few strong ones for a sign test (measured: 256 over 128 lifted the combined attack)
    n_sync: int = 256
    band: tuple[float, float] = (6.0, 16.0)  # carrier frequencies, cycles per frame side
    psnr_db: float = 42.15  # strength: the mark is scaled to this PSNR (>= 42.1) against the input
    # informed embedding: rounds of lifting the bits that fall short. Off: it lifts them for the
    # frame as embedded, and under a crop or a re-encode the energy it took from the rest was
    # worth more (measured on 48 clips: combined-attack detection 0.85 -> 0.94, the worst H.265
    # p-value 10^-6.5 -> 10^-11.6; its price is the exact payload of a clip that is not attacked,
    # 0.98 -> 0.94)
    informed_steps: int = 0
    margin: float = 0.5  # ... to this share of a plain mark's correlation
    boost: float = 1.0  # ... by this share of the shortfall
    # centre crops the detector tries, 1.25% apart: a 0.5% scale error already costs bits
    crop_scales: tuple[float, ...] = tuple(round(1.0 - 0.0125 * k, 4) for k in range(25))
    threshold: float = 1e-6  # a corrected p-value below this means "marked"
    highpass_sigma: float = 2.0 / 64  # detection high-pass: Gaussian sigma per short side
    # detection divides each carrier's correlation by the clip's own RMS correlation over the
    # carriers within this many cycles of it: where the scene or the codec is loud the carriers
    # weigh less (spectral whitening; measured on 32 clips: worst combined-attack p-value 10^-6 -> 10^-8.7)
    whiten_radius: float = 2.0
    clip_mads: float = 1.5  # detection clips the high-passed frame at this many MADs
    # the payload's 64 bits go out convolutionally coded (ecc.py) as this many coded bits, one
    # carrier each; the sync bits share the carriers that are left (~1.8 each)
    payload_coded_bits: int = 192
    # the mark is weakened by this share where the detector's clip saturates on the scene's
    # edges (it is lost there anyway) and, at the same PSNR, strengthened on flat ground
    # (measured: +3 points of sync accuracy at CRF 30, detection of the combined attack 0.67 -> 0.83)
    edge_relief: float = 0.8

    @property
    def n_bits(self) -> int:
        return self.n_sync + self.payload_coded_bits


DEFAULT_CONFIG = WatermarkConfig()


@dataclass
class Detection:
    found: bool  # p_value < threshold
    p_value: float  # signed-rank tail of the sync agreement, times the number of crops tried
    payload: Payload | None  # None when the payload's check bits fail
    sync_matches: int  # sync bits decoded right under the best crop hypothesis
    n_sync: int
    crop_scale: float  # the crop hypothesis that matched best
    bits: np.ndarray = field(repr=False)  # all decoded bits (sync, then payload), uint8
    scale_ranks: np.ndarray = field(repr=False)  # signed-rank sum under each crop hypothesis

    def to_dict(self) -> dict:
        return {
            "found": self.found,
            "p_value": self.p_value,
            "payload": self.payload.to_dict() if self.payload else None,
            "sync_matches": self.sync_matches,
            "n_sync": self.n_sync,
            "crop_scale": self.crop_scale,
        }


# -- carriers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Carriers:
    """Real carriers cos(2 pi (u x + v y) - phase), each owned by one bit with a keyed sign."""

    u: np.ndarray  # (M,) cycles per frame width
    v: np.ndarray  # (M,) cycles per frame height
    phase: np.ndarray  # (M,) 0 or pi/2
    sign: np.ndarray  # (M,) +-1
    bit: np.ndarray  # (M,) index of the owning bit
    n_bits: int


@lru_cache(maxsize=8)
def make_carriers(config: WatermarkConfig) -> Carriers:
    """Every whole-cycle frequency in the band (half plane), shared out among the bits by key."""
    lo, hi = config.band
    top = int(np.ceil(hi))
    pairs = [
        (u, v)
        for v in range(0, top + 1)
        for u in range(-top, top + 1)
        if u != 0 and v > 0 and lo <= np.hypot(u, v) <= hi  # none constant along a row or column
    ]
    uv = np.array([p for p in pairs for _ in range(2)], dtype=np.float64)
    phase = np.tile([0.0, np.pi / 2], len(pairs))
    if len(uv) < config.n_bits:
        raise ValueError(f"band {config.band} has {len(uv)} carriers, too few for {config.n_sync} sync bits "
                         f"and {config.payload_coded_bits} coded payload bits; widen it")
    rng = keyed_rng(config.key, "carriers")
    order = rng.permutation(len(uv))
    sign = rng.choice([-1.0, 1.0], len(uv))
    # each coded payload bit gets one carrier, the sync bits share the rest round robin
    n_payload = config.payload_coded_bits
    bit = np.empty(len(uv), np.int64)
    bit[:n_payload] = config.n_sync + np.arange(n_payload)
    bit[n_payload:] = np.arange(len(uv) - n_payload) % config.n_sync
    return Carriers(uv[order, 0], uv[order, 1], phase[order], sign, bit, config.n_bits)


def _axis(n: int, freqs: np.ndarray, scale: float) -> np.ndarray:
    """exp(2 pi i f x) at the n pixel centres of an axis, for a centre crop of `scale`."""
    x = ((np.arange(n) + 0.5) / n - 0.5) * scale + 0.5
    return np.exp(2j * np.pi * x[:, None] * freqs[None, :])  # (n, F)


def carrier_correlations(image: np.ndarray, carriers: Carriers, scale: float = 1.0) -> np.ndarray:
    """<image, carrier_j> for every carrier; image (H, W) float, its centre crop of `scale`."""
    height, width = image.shape
    us, u_index = np.unique(carriers.u, return_inverse=True)
    vs, v_index = np.unique(carriers.v, return_inverse=True)
    spectrum = _axis(height, vs, scale).T @ image @ _axis(width, us, scale)  # (V, U)
    return np.real(np.exp(-1j * carriers.phase) * spectrum[v_index, u_index])


def carrier_image(amplitudes: np.ndarray, carriers: Carriers, height: int, width: int) -> np.ndarray:
    """sum_j amplitudes[j] * carrier_j on a (height, width) frame."""
    us, u_index = np.unique(carriers.u, return_inverse=True)
    vs, v_index = np.unique(carriers.v, return_inverse=True)
    coeff = np.zeros((len(vs), len(us)), np.complex128)
    np.add.at(coeff, (v_index, u_index), amplitudes * np.exp(-1j * carriers.phase))
    return np.real(_axis(height, vs, 1.0) @ coeff @ _axis(width, us, 1.0).T)


def bit_statistics(correlations: np.ndarray, carriers: Carriers) -> np.ndarray:
    """Each bit's correlation: its carriers' correlations with their keyed signs, summed."""
    return np.bincount(carriers.bit, weights=carriers.sign * correlations, minlength=carriers.n_bits)


def whiten(correlations: np.ndarray, carriers: Carriers, config: WatermarkConfig) -> np.ndarray:
    """Each carrier's correlation over the RMS correlation of its neighbours in frequency. It
    looks at the clip alone, so on an unmarked clip the sync agreement stays a fair coin per bit
    and the test stays exact."""
    near = _neighbours(config)  # (M, M) 0/1, over the carriers of make_carriers(config)
    power = (near @ correlations**2) / near.sum(axis=1)
    return correlations / np.sqrt(np.maximum(power, 1e-30))


@lru_cache(maxsize=8)
def _neighbours(config: WatermarkConfig) -> np.ndarray:
    carriers = make_carriers(config)
    distance2 = (carriers.u[:, None] - carriers.u) ** 2 + (carriers.v[:, None] - carriers.v) ** 2
    return (distance2 <= config.whiten_radius**2).astype(np.float64)


# -- detection filter -----------------------------------------------------------------------


def luma(frames: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) uint8 -> (T, H, W) float32 luma (BT.601 weights)."""
    return frames.astype(np.float32) @ LUMA


def detection_filter(y: np.ndarray, config: WatermarkConfig) -> np.ndarray:
    """High-pass each frame, then clip it at a few median deviations: the sparse edges of a
    flat scene are bounded, while the mark (small everywhere) passes."""
    from scipy.ndimage import gaussian_filter

    sigma = config.highpass_sigma * min(y.shape[1:])
    high = y - gaussian_filter(y, (0, sigma, sigma), mode="reflect")
    mad = np.median(np.abs(high), axis=(1, 2), keepdims=True) * 1.4826
    limit = config.clip_mads * np.maximum(mad, 0.25)
    return np.clip(high, -limit, limit)


CHUNK_FRAMES = 64  # frames per pass of embed() and detect(): their memory does not grow with length


def _chunks(count: int) -> range:
    return range(0, count, CHUNK_FRAMES)


def filtered_sum(frames: np.ndarray, config: WatermarkConfig) -> np.ndarray:
    """(H, W) float64: the detection filter of every frame, summed, CHUNK_FRAMES at a time."""
    total = np.zeros(frames.shape[1:3], np.float64)
    for start in _chunks(frames.shape[0]):
        total += detection_filter(luma(frames[start : start + CHUNK_FRAMES]), config).sum(axis=0, dtype=np.float64)
    return total


def remove_lines(image: np.ndarray) -> np.ndarray:
    """Subtract every row's and column's mean. World frames are full of lines (the ground's
    edge, walls, the sky's gradient, occluders) that leak into every carrier once a crop
    hypothesis makes the carriers non-periodic over the frame, and they are the same in every
    clip: left in, they bias the bits alike and the sync count stops being binomial
    (measured: variance 120 against 64 at crop scale 0.825). No carrier is constant along a
    row or a column, so the mark loses almost nothing."""
    image = image - image.mean(axis=1, keepdims=True)
    return image - image.mean(axis=0, keepdims=True)


def highpass_gain(carriers: Carriers, height: int, width: int, config: WatermarkConfig) -> np.ndarray:
    """How much of each carrier the detection high-pass keeps (a Gaussian's complement)."""
    sigma = config.highpass_sigma * min(height, width)
    f2 = (carriers.u / width) ** 2 + (carriers.v / height) ** 2  # cycles per pixel, squared
    return 1.0 - np.exp(-2 * np.pi**2 * sigma**2 * f2)


# -- embed ----------------------------------------------------------------------------------


def message_bits(payload: Payload, config: WatermarkConfig) -> np.ndarray:
    """The embedded message: the sync word, then the coded payload."""
    coded = ecc.encode(payload.to_bits(), config.payload_coded_bits)
    return np.concatenate([sync_bits(config.key, config.n_sync), coded])


def embed(frames: np.ndarray, payload: Payload, config: WatermarkConfig = DEFAULT_CONFIG) -> np.ndarray:
    """Return the frames (T, H, W, 3) uint8 with the payload embedded at config.psnr_db.

    The mark is one (H, W) image added to every frame, and every pass over the frames goes
    CHUNK_FRAMES at a time: memory beyond the output stays flat however long the video."""
    _check_frames(frames)
    _, height, width, _ = frames.shape
    carriers = make_carriers(config)
    signs = 2.0 * message_bits(payload, config) - 1.0  # (n_bits,)
    unit = carrier_image(signs[carriers.bit] * carriers.sign, carriers, height, width)
    if config.edge_relief > 0:
        unit = unit * _flat_mask(frames, config)
    # the luma amplitude at which the mark alone would be at the target PSNR (before rounding)
    rms_direction = float(np.sqrt(np.mean(LUMA_DIRECTION**2)))
    base = 255.0 / 10 ** (config.psnr_db / 20) / max(float(unit.std()) * rms_direction, 1e-9)
    mark = base * unit
    marked = _add_luma(frames, mark, config.psnr_db)
    for _ in range(config.informed_steps):
        mark = mark + _informed_boost(marked, signs, carriers, base, config)
        marked = _add_luma(frames, mark, config.psnr_db)
    return marked


def _flat_mask(frames: np.ndarray, config: WatermarkConfig) -> np.ndarray:
    """(H, W): 1 where the detector sees the clip flat, down to 1 - edge_relief on its edges."""
    from scipy.ndimage import gaussian_filter

    sigma = config.highpass_sigma * min(frames.shape[1:3])
    busy = np.zeros(frames.shape[1:3], np.float64)
    for start in _chunks(frames.shape[0]):
        y = luma(frames[start : start + CHUNK_FRAMES])
        high = np.abs(y - gaussian_filter(y, (0, sigma, sigma), mode="reflect"))
        limit = config.clip_mads * np.maximum(np.median(high, axis=(1, 2), keepdims=True) * 1.4826, 0.25)
        busy += (high > 2 * limit).sum(axis=0)
    busy = gaussian_filter(busy / frames.shape[0], sigma)  # share of frames where the clip saturates
    return 1.0 - config.edge_relief * np.clip(busy * 2, 0, 1)


def _informed_boost(marked, signs, carriers: Carriers, base: float, config: WatermarkConfig) -> np.ndarray:
    """The extra mark (H, W) that lifts every bit whose correlation with the marked clip, through
    the detection filter and summed over frames as the detector does, falls short of `margin`
    of a plain mark's. It is static like the mark: a frame-by-frame correction would be the
    first thing a codec throws away (measured: it cost 10 points of bit accuracy at CRF 30)."""
    _, height, width, _ = marked.shape
    mean_frame = remove_lines(filtered_sum(marked, config) / marked.shape[0])
    gain = highpass_gain(carriers, height, width, config)
    # a unit amplitude on every carrier of bit i adds about this much to bit i's statistic
    per_bit = np.bincount(carriers.bit, weights=gain * height * width / 2, minlength=carriers.n_bits)
    stat = signs * bit_statistics(carrier_correlations(mean_frame, carriers), carriers)
    extra = config.boost * np.maximum(0.0, config.margin * base * per_bit - stat) / per_bit  # (n_bits,)
    return carrier_image((signs * extra)[carriers.bit] * carriers.sign, carriers, height, width)


# the RGB change that moves luma by 1 at the least squared error: w / |w|^2 (see the top)
LUMA_DIRECTION = LUMA / float(LUMA @ LUMA)


def _add_luma(frames: np.ndarray, mark: np.ndarray, psnr_db: float) -> np.ndarray:
    """Add the mark (H, W) to every frame's luma along LUMA_DIRECTION, scaled so the PSNR is
    psnr_db. Rounding and clipping move the PSNR a little: the scale is settled from both
    sides, never weaker than the PSNR allows and never below it."""
    scale, kept = 1.0, None
    for _ in range(8):
        psnr = _psnr_of(frames, scale * mark)
        if psnr >= psnr_db - 0.05:
            kept = scale
            if psnr <= psnr_db + 0.05:
                break
        elif kept is not None:
            break
        scale *= 10 ** ((psnr - psnr_db) / 20)
    if kept is None:  # clipping kept the PSNR low: fall back to a plainly weaker mark
        return _add_luma(frames, mark * 0.5, psnr_db)
    out = np.empty_like(frames)
    for start in _chunks(frames.shape[0]):
        out[start : start + CHUNK_FRAMES] = _marked_chunk(frames[start : start + CHUNK_FRAMES], kept * mark)
    return out


def _marked_chunk(frames: np.ndarray, mark: np.ndarray) -> np.ndarray:
    delta = (mark[..., None] * LUMA_DIRECTION).astype(np.float32)  # (H, W, 3)
    return np.clip(np.rint(frames.astype(np.float32) + delta), 0, 255).astype(np.uint8)


def _psnr_of(frames: np.ndarray, mark: np.ndarray) -> float:
    """PSNR of the frames with the mark added (rounded, clipped) against the frames."""
    squared = 0.0
    for start in _chunks(frames.shape[0]):
        chunk = frames[start : start + CHUNK_FRAMES]
        squared += float(np.sum((_marked_chunk(chunk, mark).astype(np.float32) - chunk) ** 2, dtype=np.float64))
    mse = squared / frames.size
    return 10 * np.log10(255.0**2 / max(mse, 1e-12))


# -- detect ---------------------------------------------------------------------------------


def detect(frames: np.ndarray, config: WatermarkConfig = DEFAULT_CONFIG) -> Detection:
    """Look for the mark in frames (T, H, W, 3) uint8 of any size and length."""
    _check_frames(frames)
    summed = remove_lines(filtered_sum(frames, config))  # the mark is static: sum the frames
    carriers = make_carriers(config)
    sync = 2.0 * sync_bits(config.key, config.n_sync) - 1.0
    best, scale_ranks = None, []
    for scale in config.crop_scales:
        stats = bit_statistics(whiten(carrier_correlations(summed, carriers, scale), carriers, config), carriers)
        rank_sum, matches = sync_agreement(sync * stats[: config.n_sync])
        scale_ranks.append(rank_sum)
        if best is None or rank_sum > best[0]:
            best = (rank_sum, matches, scale, stats)
    rank_sum, matches, scale, stats = best
    p_value = min(1.0, signed_rank_p_value(rank_sum, config.n_sync) * len(config.crop_scales))
    found = p_value < config.threshold
    return Detection(
        found=found,
        p_value=p_value,
        payload=decode_payload(stats[config.n_sync :]) if found else None,
        sync_matches=matches,
        n_sync=config.n_sync,
        crop_scale=scale,
        bits=(stats > 0).astype(np.uint8),
        scale_ranks=np.array(scale_ranks),
    )


def sync_agreement(agree: np.ndarray) -> tuple[int, int]:
    """(Wilcoxon's signed-rank sum, count) of the sync bits whose statistic agrees with the sync
    word: agree[i] = sync sign * statistic. A tie with zero (a flat frame) is no evidence."""
    magnitude = np.abs(agree)
    decided = magnitude > 1e-9 * (magnitude.max() + 1e-30)
    ranks = np.empty(len(agree), np.int64)
    ranks[np.argsort(magnitude, kind="stable")] = np.arange(1, len(agree) + 1)
    positive = (agree > 0) & decided
    return int(ranks[positive].sum()), int(positive.sum())


def decode_payload(stats: np.ndarray) -> Payload | None:
    """The payload from its coded bits' soft statistics (Viterbi), or None when its CRC-16 fails
    (a wrong payload slips through with odds about 2^-16; it is only tried once the mark has
    been found)."""
    return Payload.from_bits(ecc.decode(stats, PAYLOAD_BITS))


def _check_frames(frames: np.ndarray) -> None:
    if not isinstance(frames, np.ndarray) or frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        got = f"{getattr(frames, 'dtype', type(frames).__name__)} {getattr(frames, 'shape', '')}"
        raise ValueError(f"watermark frames must be uint8 (T, H, W, 3), got {got}")
    if frames.shape[0] == 0 or min(frames.shape[1:3]) < 8:
        raise ValueError(f"watermark frames {frames.shape[:3]} are too small: need >= 1 frame of >= 8x8")
