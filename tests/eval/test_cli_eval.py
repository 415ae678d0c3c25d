"""`minisora eval`: the render ceiling writes a full report; one file is scored from any source;
a missing model is a clear error."""

from __future__ import annotations

import json

from minisora.cli import main


def test_render_ceiling_writes_json_markdown_and_figures(tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        main(
            ["eval", "--model", "render", "--suite", "collision", "--seeds", "1", "--out", str(out)]
        )
        == 0
    )
    result = json.loads((out / "result.json").read_text())
    assert result["model"] == "render"
    claims = [c for case in result["cases"] for c in case["claims"]]
    assert len(claims) >= 10 and all(c["passed"] for c in claims)
    assert result["summary"]["by_kind"]["collision"]["pass_rate"] == 1.0
    distribution = result["distribution"]
    assert distribution["frechet_floor_render_vs_render"] >= 0 and distribution["flicker"] < 0.5
    report = (out / "report.md").read_text()
    assert "| collision | 100.0% |" in report and "None: every claim held." in report
    pngs = sorted((out / "figures").glob("*.png"))
    assert len(pngs) == 1 + len(result["cases"])
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)


def test_one_file_is_scored_against_its_prompt(tmp_path, capsys):
    from minisora.media import write_mp4
    from minisora.world import render_clip
    from minisora.world.prompt import parse_prompt

    clip = render_clip(parse_prompt("two blue squares", seed=3))
    video = write_mp4(tmp_path / "any.mp4", clip.frames, clip.fps, clip.audio)
    assert (
        main(["eval", str(video), "--prompt", "two blue squares", "--out", str(tmp_path / "one")])
        == 0
    )
    assert "claims hold" in capsys.readouterr().out
    assert main(["eval", str(video), "--prompt", "three blue squares"]) == 1
    printed = capsys.readouterr().out
    assert "FAIL  count        exactly 3 blue squares  [frame 0" in printed
    saved = json.loads((tmp_path / "one" / "result.json").read_text())
    assert saved["prompt"] == "two blue squares" and all(c["passed"] for c in saved["claims"])
    assert saved["analysis"]["counts"][0] == 2 and len(saved["analysis"]["tracks"]) == 2


def test_missing_model_and_missing_prompt_are_clear_errors(tmp_path, capsys):
    assert (
        main(
            [
                "eval",
                "--model",
                str(tmp_path / "nope"),
                "--suite",
                "counting",
                "--out",
                str(tmp_path),
            ]
        )
        == 2
    )
    assert "no model checkpoint at" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "x.mp4")]) == 2
    assert "--prompt" in capsys.readouterr().err
    assert main(["eval", "--suite", "nonsense", "--out", str(tmp_path)]) == 2
    assert "suite 'nonsense' is unknown" in capsys.readouterr().err


def test_first_seed_runs_the_later_seed_indices(tmp_path):
    """Two processes can split a two-seed run: --first-seed 1 makes exactly seed index 1."""
    from minisora.eval.benchmark import case_seed
    from minisora.eval.suites import cases

    out = tmp_path / "second"
    assert main(["eval", "--model", "render", "--suite", "occlusion", "--first-seed", "1", "--out", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    expected = {case.prompt: case_seed(case, 1) for case in cases("occlusion")}
    assert {c["prompt"]: c["seed"] for c in result["cases"]} == expected
    assert all(c["video"].endswith("_s1.mp4") for c in result["cases"])
    assert main(["eval", "--model", "render", "--suite", "occlusion", "--first-seed", "-1", "--out", str(out)]) == 2


def test_compare_prints_runs_side_by_side_and_refuses_what_is_not_a_run(tmp_path, capsys):
    runs = [tmp_path / "seed0", tmp_path / "seed1"]
    for first_seed, out in enumerate(runs):
        assert main(["eval", "--model", "render", "--suite", "collision", "--seeds", "1",
                     "--first-seed", str(first_seed), "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["eval", "--compare", f"{runs[0]},{runs[1]}", str(runs[0])]) == 0
    table = capsys.readouterr().out.splitlines()
    claims = json.loads((runs[0] / "result.json").read_text())["summary"]["by_kind"]["collision"]["claims"]
    collision = next(line for line in table if line.startswith("| collision |"))
    # every render claim holds: each seed's claims, their sum over both, and the one-seed column
    assert collision == f"| collision | {claims} + {claims} = {2 * claims} / {2 * claims} | {claims} / {claims} |"
    assert table[0] == "| | `render` | `render` |"
    frechet = next(line for line in table if line.startswith("| Fréchet"))
    both, one = frechet.split("|")[2:4]  # each seed's distance with its render-vs-render floor
    assert both.count(" / ") == 1 and both.count("(") == 2 and one.count("(") == 1
    # a folder without a benchmark result, and a one-video score, are clear errors
    assert main(["eval", "--compare", str(tmp_path / "nothing")]) == 2
    assert "no benchmark result here" in capsys.readouterr().err
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "result.json").write_text(json.dumps({"prompt": "two blue squares", "claims": []}))
    assert main(["eval", "--compare", str(tmp_path / "one")]) == 2
    assert "not a benchmark run" in capsys.readouterr().err
    assert main(["eval", "--compare", ","]) == 2
    assert "at least one eval folder" in capsys.readouterr().err
