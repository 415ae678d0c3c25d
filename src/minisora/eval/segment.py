"""Per-frame segmentation of world frames into coloured blobs, by unmixing against the palette.

The world's objects are drawn in eight saturated palette colours over unsaturated backgrounds,
with anti-aliased edges: an edge pixel is `a * C + (1 - a) * B` for the object's colour C, the
local background B and the coverage a. We estimate B per row (the sky is a vertical gradient and
the ground's stripes differ by a few levels), then for every palette colour solve for a by
projection and keep the colour whose mix explains the pixel best. Summed coverage gives sub-pixel
area and centroid, which is what lets the analyzer place centroids within a fraction of a pixel
after H.264.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from minisora.world.spec import PALETTE, SIZES

COLOR_NAMES = tuple(PALETTE)
_PALETTE = np.array([PALETTE[name] for name in COLOR_NAMES], np.float32)  # (K, 3)

CORE_ALPHA = 0.5  # a pixel this covered (by its best colour) seeds a blob
EDGE_ALPHA = 0.04  # coverage below this, at the one-pixel rim, is codec noise
MAX_RESIDUAL = 40.0  # RGB distance a mixed pixel may sit from its best mix (codec error ~3-8)
MIN_CHROMA = 35.0  # a background pixel is this far from grey at most (dusk's top is ~30)
MIN_AREA = 2.0  # px of coverage: smaller blobs are noise or slivers at an edge

# Area of each shape drawn in its square box of half-extent r, over r^2.
AREA_PER_R2 = {"circle": np.pi, "square": 4.0, "triangle": 2.0}


@dataclass
class Blob:
    """One connected region of one palette colour in one frame; pixel units, y down."""

    color: str
    area: float  # summed coverage, px
    mass_center: tuple[float, float]  # coverage-weighted (x, y)
    extent: tuple[float, float, float, float]  # (x0, y0, x1, y1) sub-pixel extent of the coverage
    clipped: tuple[bool, bool, bool, bool]  # touches the frame's left, top, right, bottom border
    shape: str | None  # None when the blob does not look like one whole object
    half: float | None  # half-extent in px, when shape is known
    rows: np.ndarray  # pixel rows of the blob (for splitting and drawing)
    cols: np.ndarray
    alpha: np.ndarray  # coverage of those pixels

    @property
    def width(self) -> float:
        return self.extent[2] - self.extent[0]

    @property
    def height(self) -> float:
        return self.extent[3] - self.extent[1]

    def center(self, half: float | None = None, shape: str | None = None) -> tuple[float, float]:
        """Centre of the object's square box, given its half-extent and shape if known.

        Whole blobs: the mass centre, shifted up a third of the half-extent for a triangle (its
        mass sits low). Along an axis where the frame's border cuts the blob, the far edge that
        is still visible is the reliable one: the centre is one half-extent inside it.
        """
        half = self.half if half is None else half
        shape = self.shape if shape is None else shape
        x, y = self.mass_center
        if shape == "triangle" and half is not None:
            y -= half / 3
        if half is None:
            return x, y
        left, top, right, bottom = self.clipped
        x0, y0, x1, y1 = self.extent
        if left != right:
            x = x1 - half if left else x0 + half
        if top != bottom:
            y = y1 - half if top else y0 + half
        return x, y


def row_background(frame: np.ndarray) -> np.ndarray:
    """Per-row background colour (..., H, 3) of a frame (H, W, 3) or frames (..., H, W, 3): the
    median of each row's unsaturated pixels (of all its pixels where none is unsaturated), each
    channel on its own.

    All rows at once: saturated pixels sort last (as +inf), and each row's median is read at its
    own count of unsaturated pixels, the mean of the two middle ones for an even count, as
    np.median computes it."""
    lead = frame.shape[:-2]
    frame = frame.reshape(-1, *frame.shape[-2:])  # (rows, W, 3)
    chroma = frame.max(-1) - frame.min(-1)  # (rows, W)
    grey = chroma < MIN_CHROMA
    grey[~grey.any(1)] = True  # no unsaturated pixel in the row: all of them
    values = np.where(grey[..., None], frame.astype(np.float32), np.inf)  # (rows, W, 3)
    values.sort(axis=1)
    count = grey.sum(1)  # (rows,)
    rows = np.arange(frame.shape[0])
    low, high = values[rows, (count - 1) // 2], values[rows, count // 2]  # (rows, 3) each
    middle = np.where((count % 2 == 1)[:, None], low, (low + high) / np.float32(2))
    return middle.astype(np.float32).reshape(*lead, 3)


def unmix(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best palette index (H, W) and its coverage (H, W) for each pixel; coverage ~0 off objects.
    Frames (T, H, W, 3) give (T, H, W) each (unmix_frames)."""
    best_k, best_alpha, _ = unmix_frames(frame)
    return best_k, best_alpha


def unmix_frames(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """unmix of a frame (H, W, 3) or of frames (..., H, W, 3) at once (each numpy call serves
    them all: on 64x64 frames the calls, not the arithmetic, are the cost), with each frame's
    row background (..., H, 3)."""
    img = frames.astype(np.float32)
    background = row_background(img)
    bg = background[..., None, :]  # (..., H, 1, 3)
    # one array per channel: sums over the three run as whole-array adds, in the same order
    d = [img[..., c] - bg[..., c] for c in range(3)]  # (..., H, W) each
    best_alpha = np.zeros(img.shape[:-1], np.float32)
    best_res = np.full(img.shape[:-1], np.inf, np.float32)
    best_k = np.zeros(img.shape[:-1], np.int64)
    for k, color in enumerate(_PALETTE):
        e = [color[c] - bg[..., c] for c in range(3)]  # (..., H, 1) each
        alpha = (d[0] * e[0] + d[1] * e[1] + d[2] * e[2]) / np.maximum(
            e[0] * e[0] + e[1] * e[1] + e[2] * e[2], np.float32(1.0)
        )
        alpha = np.clip(alpha, np.float32(0.0), np.float32(1.0))
        r = [d[c] - alpha * e[c] for c in range(3)]
        res = np.sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2])
        better = res < best_res
        best_res = np.where(better, res, best_res)
        best_alpha = np.where(better, alpha, best_alpha)
        best_k = np.where(better, k, best_k)
    best_alpha = np.where(best_res < MAX_RESIDUAL, best_alpha, 0.0)
    return best_k, best_alpha, background


def coverage_of(frame: np.ndarray, color: str, background: np.ndarray | None = None) -> np.ndarray:
    """Coverage (H, W) of one palette colour at every pixel, against the row background (H, 3)
    (row_background's, computed here when not given)."""
    img = frame.astype(np.float32)
    bg = (row_background(img) if background is None else background)[:, None, :]
    edge = np.asarray(PALETTE[color], np.float32)[None, None, :] - bg
    alpha = ((img - bg) * edge).sum(-1) / np.maximum((edge * edge).sum(-1), 1.0)
    return np.clip(alpha, 0.0, 1.0)


def find_blobs(frame: np.ndarray, unmixed: tuple[np.ndarray, ...] | None = None) -> list[Blob]:
    """Every palette-coloured blob in a frame (H, W, 3) uint8; `unmixed`: the frame's
    unmix_frames (best index, coverage, row background) when already made for many frames."""
    best_k, best_alpha, background = unmixed if unmixed is not None else unmix_frames(frame)
    core = best_alpha >= CORE_ALPHA
    labels = np.zeros(core.shape, np.int64)  # one id per core region, across colours
    regions: list[tuple[str, int]] = []
    for k, name in enumerate(COLOR_NAMES):
        mask = core & (best_k == k)
        if mask.any():
            colour_labels, count = ndimage.label(mask)
            labels[mask] = colour_labels[mask] + len(regions)
            regions += [(name, len(regions) + i + 1) for i in range(count)]
    if not regions:
        return []
    # a rim pixel belongs to the nearest core, so two objects a pixel apart split it fairly
    _, (near_r, near_c) = ndimage.distance_transform_edt(labels == 0, return_indices=True)
    nearest = labels[near_r, near_c]
    owner = np.full(core.shape, -1, np.int64)  # index into `blobs` of each pixel's blob
    blobs: list[Blob] = []
    coverage: dict[str, np.ndarray] = {}
    for name, label in regions:
        if name not in coverage:
            coverage[name] = coverage_of(frame, name, background)
        blob = _blob_from_region(
            name, labels == label, nearest == label, coverage[name], owner, len(blobs)
        )
        if blob is not None:
            blobs.append(blob)
    return [b for i, b in enumerate(blobs) if not _is_seam(b, i, owner)]


def _is_seam(blob: Blob, index: int, owner: np.ndarray) -> bool:
    """Where two objects of different colours touch, their blended edge can look like a third
    palette colour (red + yellow = orange): a thin shapeless strip mostly bordering other blobs."""
    if blob.shape is not None or min(blob.width, blob.height) > 2.5:
        return False
    mask = np.zeros(owner.shape, bool)
    mask[blob.rows, blob.cols] = True
    rim = ndimage.binary_dilation(mask, structure=np.ones((3, 3), bool)) & ~mask
    others = (owner[rim] >= 0) & (owner[rim] != index)
    return bool(others.mean() > 0.3) if others.size else False


def _blob_from_region(name, region, closest, alpha_k, owner, index) -> Blob | None:
    # the anti-aliased rim is one pixel wide: take it with the colour's own coverage
    grown = ndimage.binary_dilation(region, structure=np.ones((3, 3), bool)) & closest
    grown &= (alpha_k >= EDGE_ALPHA) | region
    owner[grown] = index
    rows, cols = np.nonzero(grown)
    alpha = np.where(
        region[rows, cols], np.maximum(alpha_k[rows, cols], CORE_ALPHA), alpha_k[rows, cols]
    )
    area = float(alpha.sum())
    if area < MIN_AREA:
        return None
    height, width = region.shape
    clipped = (cols.min() == 0, rows.min() == 0, cols.max() == width - 1, rows.max() == height - 1)
    return describe(name, rows, cols, alpha, tuple(bool(c) for c in clipped))


def describe(name: str, rows: np.ndarray, cols: np.ndarray, alpha: np.ndarray, clipped) -> Blob:
    """Measure a blob from its pixels and their coverage."""
    area = float(alpha.sum())
    cx = float((alpha * (cols + 0.5)).sum() / area)
    cy = float((alpha * (rows + 0.5)).sum() / area)
    extent = _extent(rows, cols, alpha)
    blob = Blob(name, area, (cx, cy), extent, clipped, None, None, rows, cols, alpha)
    blob.shape = classify_shape(blob, tolerance=0.1 if any(clipped) else 0.2)
    if blob.shape is not None:
        blob.half = float(np.sqrt(area / AREA_PER_R2[blob.shape]))
    return blob


def _extent(
    rows: np.ndarray, cols: np.ndarray, alpha: np.ndarray
) -> tuple[float, float, float, float]:
    """Sub-pixel extent along the widest row and the tallest column (edge pixels count by coverage)."""
    r0, c0 = rows.min(), cols.min()
    grid = np.zeros((rows.max() - r0 + 1, cols.max() - c0 + 1), np.float32)
    grid[rows - r0, cols - c0] = alpha
    x0, x1 = _span(grid[int(np.argmax(grid.sum(1)))])
    y0, y1 = _span(grid[:, int(np.argmax(grid.sum(0)))])
    return (c0 + x0, r0 + y0, c0 + x1, r0 + y1)


def _span(line: np.ndarray) -> tuple[float, float]:
    """Start and end of the covered run in one row or column: partial end pixels count fractionally."""
    covered = np.nonzero(line > EDGE_ALPHA)[0]
    first, last = int(covered[0]), int(covered[-1])
    return first + 1.0 - float(line[first]), last + float(line[last])


def classify_shape(blob: Blob, tolerance: float = 0.2) -> str | None:
    """Circle, square or triangle from fill ratio and vertical asymmetry; None if no shape fits.

    Every shape fills a square box, so a blob much wider than tall (or the reverse) is a part of
    an object (cut by an occluder or the border) or two objects touching. Blobs at the border
    get a tighter aspect tolerance: a sliver cut off there would bias the fill ratio.
    """
    w, h = blob.width, blob.height
    if w < 1.5 or h < 1.5 or abs(np.log(w / h)) > tolerance:
        return None
    fill = blob.area / (w * h)
    drop = (blob.mass_center[1] - (blob.extent[1] + blob.extent[3]) / 2) / h
    if fill < 0.64 and drop > 0.06:
        return "triangle"
    if 0.68 < fill < 0.84 and abs(drop) < 0.06:
        return "circle"
    if fill >= 0.84 and abs(drop) < 0.06:
        return "square"
    return None


def size_class(half_px: float, scale: float) -> str:
    """The size name whose half-extent (world units) is nearest, on a log scale."""
    units = half_px / scale
    return min(SIZES, key=lambda name: abs(np.log(SIZES[name] / units)))
