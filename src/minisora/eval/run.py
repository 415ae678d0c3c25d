"""The two entry points of `minisora eval`: a whole benchmark run, or one video from anywhere."""

from __future__ import annotations

import json
from pathlib import Path

from minisora.eval.benchmark import EvalConfig, run_eval, score_video
from minisora.eval.quality import distribution_metrics
from minisora.eval.report import write_report


def evaluate_suites(model: str, suite: str, seeds: int, out: Path, first_seed: int = 0,
                    sampling: dict | None = None) -> Path:
    """Generate and score every case, then write result.json, report.md and figures to `out`.
    `sampling`: generate() options (steps, cfg, shift, guidance_interval) for a model's videos."""
    config = EvalConfig(model=model, suite=suite, seeds=seeds, out=Path(out), first_seed=first_seed,
                        sampling=dict(sampling or {}))
    results = run_eval(config)
    extra = {
        "distribution": distribution_metrics([r.video for r in results], [r.case for r in results]),
        "sampling": config.sampling,
    }
    return write_report(results, config.out, model, extra)


def evaluate_file(video: Path, prompt: str, out: Path | None) -> int:
    """Print each claim's verdict for one video; 0 if all hold, 1 otherwise (scripts can test it)."""
    verdicts, analysis = score_video(video, prompt)
    for v in verdicts:
        where = "" if v.passed else f"  [frame {v.frame}, object {v.track}] {v.detail}"
        print(f"{'PASS' if v.passed else 'FAIL'}  {v.kind:12s} {v.text}{where}")
    print(f"{sum(v.passed for v in verdicts)}/{len(verdicts)} claims hold")
    if out is not None:
        Path(out).mkdir(parents=True, exist_ok=True)
        payload = {
            "video": str(video),
            "prompt": prompt,
            "claims": [vars(v) for v in verdicts],
            "analysis": analysis.to_dict(),  # what the analyzer saw, frame by frame
        }
        (Path(out) / "result.json").write_text(json.dumps(payload, indent=1, default=float))
    return 0 if all(v.passed for v in verdicts) else 1
