"""Benchmark reports: result JSON, a Markdown page, and PNG figures drawn with NumPy.

Figures: a bar chart of the pass rate per claim kind (the Markdown table beside it carries the
labels and numbers) and, per case, a strip of frames with every detection's box drawn in its
track's colour; frames where a claim failed get a red border.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections import defaultdict
from pathlib import Path

import numpy as np

from minisora.eval.benchmark import CaseResult
from minisora.eval.claims import KINDS
from minisora.media import read_video
from minisora.media.atomic import atomic_path

STRIP_FRAMES = 6
ZOOM = 3


def summarize(results: list[CaseResult]) -> dict[str, dict[str, float]]:
    """Pass rate and counts per claim kind and per suite."""
    by_kind: dict[str, list[bool]] = defaultdict(list)
    by_suite: dict[str, list[bool]] = defaultdict(list)
    for result in results:
        for verdict in result.verdicts:
            by_kind[verdict.kind].append(verdict.passed)
            by_suite[result.case.suite].append(verdict.passed)

    def rates(groups):
        return {k: {"pass_rate": float(np.mean(v)), "claims": len(v)} for k, v in groups.items()}

    return {"by_kind": rates(by_kind), "by_suite": rates(by_suite)}


def write_report(
    results: list[CaseResult], out: Path, model: str, extra: dict | None = None
) -> Path:
    """Write out/result.json, out/report.md and out/figures/*.png; return the report's path."""
    out = Path(out)
    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    summary = summarize(results)
    payload = {
        "model": model,
        "summary": summary,
        "cases": [r.to_dict() for r in results],
        **(extra or {}),
    }
    with atomic_path(out / "result.json", suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps(payload, indent=1, default=float))
    kinds = [k for k in KINDS if k in summary["by_kind"]]
    write_png(
        figures / "scores.png", bar_chart([summary["by_kind"][k]["pass_rate"] for k in kinds])
    )
    lines = [
        f"# minisora world benchmark: model `{model}`",
        "",
        "![pass rate per claim kind](figures/scores.png)",
        "",
    ]
    lines += ["| claim kind | pass rate | claims |", "|---|---|---|"]
    lines += [
        f"| {k} | {100 * summary['by_kind'][k]['pass_rate']:.1f}% | {summary['by_kind'][k]['claims']} |"
        for k in kinds
    ]
    lines += ["", "| suite | pass rate | claims |", "|---|---|---|"]
    lines += [
        f"| {s} | {100 * v['pass_rate']:.1f}% | {v['claims']} |"
        for s, v in summary["by_suite"].items()
    ]
    for key, value in (extra or {}).items():
        lines += ["", f"**{key}**: `{json.dumps(value, default=float)}`"]
    lines += ["", "## Failures", ""]
    failures = [(r, v) for r in results for v in r.verdicts if not v.passed]
    if not failures:
        lines.append("None: every claim held.")
    for result, verdict in failures:
        where = f"frame {verdict.frame}" if verdict.frame is not None else "whole clip"
        obj = f", object {verdict.track}" if verdict.track is not None else ""
        lines.append(
            f"- `{result.case.prompt}` (seed {result.seed}): **{verdict.text}** failed at {where}{obj}: {verdict.detail}"
        )
    lines += ["", "## Frame strips (boxes: detections; red border: a failed claim's frame)", ""]
    for index, result in enumerate(results):
        name = f"strip_{index:03d}.png"
        write_png(figures / name, frame_strip(result))
        lines.append(f"`{result.case.prompt}` seed {result.seed}: ![strip](figures/{name})")
        lines.append("")
    report = out / "report.md"
    with atomic_path(report, suffix=".md") as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")
    return report


def bar_chart(values: list[float], bar: int = 18, gap: int = 6, height: int = 120) -> np.ndarray:
    """Vertical bars (0..1) on a dark canvas with grid lines at 25% steps: (H, W, 3) uint8."""
    width = gap + len(values) * (bar + gap)
    image = np.full((height + 2 * gap, max(width, 1), 3), 30, np.uint8)
    for q in (0.25, 0.5, 0.75, 1.0):
        image[gap + round(height * (1 - q)), :] = 70
    for i, value in enumerate(values):
        top = gap + round(height * (1 - float(np.clip(value, 0, 1))))
        x0 = gap + i * (bar + gap)
        color = (
            (60, 190, 90) if value >= 0.99 else (230, 160, 40) if value >= 0.8 else (220, 60, 60)
        )
        image[top : gap + height, x0 : x0 + bar] = color
    return image


def frame_strip(result: CaseResult) -> np.ndarray:
    """STRIP_FRAMES frames side by side, zoomed, with detections boxed and failures framed red."""
    frames = read_video(result.video, with_audio=False).frames
    failed = {v.frame for v in result.verdicts if not v.passed and v.frame is not None}
    picks = sorted(
        set(np.linspace(0, len(frames) - 1, STRIP_FRAMES).round().astype(int).tolist()) | failed
    )
    tiles = []
    for index in picks[: STRIP_FRAMES + 2]:
        tile = np.repeat(np.repeat(frames[index], ZOOM, 0), ZOOM, 1).copy()
        if result.analysis is not None:
            for obj in result.analysis.frames[index]:
                _draw_box(tile, [v * ZOOM for v in obj.box], _track_color(obj.track))
        if index in failed:
            tile[:2], tile[-2:], tile[:, :2], tile[:, -2:] = (
                (255, 0, 0),
                (255, 0, 0),
                (255, 0, 0),
                (255, 0, 0),
            )
        tiles.append(tile)
        tiles.append(np.full((tile.shape[0], 2, 3), 255, np.uint8))
    return np.concatenate(tiles[:-1], axis=1)


def _track_color(track: int) -> tuple[int, int, int]:
    return [(255, 255, 255), (0, 0, 0), (255, 255, 0), (0, 255, 255), (255, 0, 255)][track % 5]


def _draw_box(image: np.ndarray, box, color) -> None:
    h, w = image.shape[:2]
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    x0, x1 = max(x0, 0), min(x1, w - 1)
    y0, y1 = max(y0, 0), min(y1, h - 1)
    if x0 >= x1 or y0 >= y1:
        return
    image[y0, x0:x1] = image[y1, x0:x1] = color
    image[y0:y1, x0] = image[y0:y1, x1] = color


def write_png(path: Path, image: np.ndarray) -> Path:
    """An RGB uint8 image as PNG (zlib, no dependencies beyond the standard library)."""
    image = np.ascontiguousarray(image, np.uint8)
    h, w = image.shape[:2]
    raw = b"".join(b"\x00" + image[row].tobytes() for row in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + tag
            + data
            + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )
    with atomic_path(path, suffix=".png") as tmp:
        Path(tmp).write_bytes(data)
    return Path(path)


def compare_table(columns: list[list[Path]]) -> str:
    """A Markdown table of benchmark runs side by side: claims passed per kind, the Fréchet
    distance (with its render floor) and flicker. Each column is one or more eval folders (one
    per seed, e.g. two processes with --first-seed 0 and 1): its cells give each folder's figure
    and, with several, their sum ("17 + 26 = 43 / 206")."""
    if not columns or not all(columns):
        raise ValueError("--compare needs at least one eval folder in every column (RUN or RUN,RUN)")
    runs = [[_read_result(folder) for folder in column] for column in columns]
    kinds = [k for k in KINDS if any(k in r["summary"]["by_kind"] for column in runs for r in column)]

    def passed(result: dict, kind: str | None) -> tuple[int, int]:
        rows = result["summary"]["by_kind"].values() if kind is None else [result["summary"]["by_kind"].get(kind)]
        rows = [r for r in rows if r is not None]
        return sum(round(r["pass_rate"] * r["claims"]) for r in rows), sum(r["claims"] for r in rows)

    def claims_cell(column: list[dict], kind: str | None) -> str:
        counts = [passed(r, kind) for r in column]
        total, claims = sum(p for p, _ in counts), sum(c for _, c in counts)
        if claims == 0:
            return "-"
        parts = " + ".join(str(p) for p, _ in counts)
        return f"{parts} = {total} / {claims}" if len(counts) > 1 else f"{total} / {claims}"

    def figure(d: dict, key: str, floor: str | None) -> str:
        if key not in d:
            return "-"
        return f"{d[key]:.3g}" + (f" ({d[floor]:.3g})" if floor in d else "")

    def figure_cell(column: list[dict], key: str, floor: str | None = None) -> str:
        return " / ".join(figure(r.get("distribution", {}), key, floor) for r in column)

    names = [" + ".join(dict.fromkeys(r.get("model", "?") for r in column)) for column in runs]
    lines = ["| | " + " | ".join(f"`{n}`" for n in names) + " |", "|---|" + "---|" * len(runs)]
    lines += [f"| {k} | " + " | ".join(claims_cell(c, k) for c in runs) + " |" for k in kinds]
    lines.append("| **all** | " + " | ".join(f"**{claims_cell(c, None)}**" for c in runs) + " |")
    lines.append("| Fréchet distance (floor) | "
                 + " | ".join(figure_cell(c, "frechet_distance", "frechet_floor_render_vs_render") for c in runs) + " |")
    lines.append("| flicker | " + " | ".join(figure_cell(c, "flicker") for c in runs) + " |")
    return "\n".join(lines)


def _read_result(folder: Path) -> dict:
    path = Path(folder)
    path = path / "result.json" if path.is_dir() else path
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no benchmark result here; give the --out folder of a "
                                "`minisora eval --model ...` run (it holds result.json)")
    result = json.loads(path.read_text())
    if "summary" not in result:
        raise ValueError(f"{path} is the result of scoring one video, not a benchmark run; --compare "
                         "takes the folders of `minisora eval --model ...` runs")
    return result
