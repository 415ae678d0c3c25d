"""A run's record: JSONL log lines (one per logged step), a loss plot (SVG, no plotting
library needed) and a progress bar with ETA. Only rank 0 writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class RunLog:
    def __init__(self, out: str | Path, start_step: int, total_steps: int, enabled: bool, progress: bool) -> None:
        self.path = Path(out) / "log.jsonl"
        self.enabled = enabled
        self.bar = None
        if not enabled:
            return
        self._truncate_after(start_step)  # steps past the checkpoint are redone, bit for bit
        if progress:
            from tqdm import tqdm

            self.bar = tqdm(total=total_steps, initial=start_step, unit="step", desc="train", dynamic_ncols=True)

    def _truncate_after(self, step: int) -> None:
        if not self.path.exists():
            return
        keep = [line for line in self.path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
        self.path.write_text("".join(line + "\n" for line in keep))

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")

    def advance(self, loss: float) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.4f}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def read_log(path: str | Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line]


def write_loss_plot(log_path: str | Path, svg_path: str | Path, width: int = 640, height: int = 320) -> Path:
    """Loss against step as a plain SVG polyline (log-scaled loss), with the smoothed curve."""
    records = [r for r in read_log(log_path) if "loss" in r]
    svg_path = Path(svg_path)
    if len(records) < 2:
        return svg_path
    import math

    steps = [r["step"] for r in records]
    losses = [math.log10(max(r["loss"], 1e-8)) for r in records]
    smooth, acc = [], losses[0]
    for v in losses:
        acc = 0.9 * acc + 0.1 * v
        smooth.append(acc)
    lo, hi = min(losses), max(losses)
    pad = 40

    def point(s: float, v: float) -> str:
        x = pad + (s - steps[0]) / max(steps[-1] - steps[0], 1) * (width - 2 * pad)
        y = height - pad - (v - lo) / max(hi - lo, 1e-9) * (height - 2 * pad)
        return f"{x:.1f},{y:.1f}"

    raw = " ".join(point(s, v) for s, v in zip(steps, losses))
    ema = " ".join(point(s, v) for s, v in zip(steps, smooth))
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
           f'<rect width="100%" height="100%" fill="white"/>'
           f'<polyline points="{raw}" fill="none" stroke="#bbb" stroke-width="1"/>'
           f'<polyline points="{ema}" fill="none" stroke="#c33" stroke-width="2"/>'
           f'<text x="{pad}" y="20" font-size="12">loss (log10 {lo:.2f} .. {hi:.2f}) over steps '
           f'{steps[0]} .. {steps[-1]}</text></svg>\n')
    svg_path.write_text(svg)
    return svg_path
