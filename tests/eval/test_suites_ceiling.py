"""The ceiling: ground-truth renders of every suite's prompts, through MP4 and the analyzer,
satisfy every claim their prompts compile to."""

from __future__ import annotations

import pytest

from minisora.eval.claims import compile_claims
from minisora.eval.suites import SUITES, cases
from minisora.world.prompt import parse_prompt

FAST_SUITES = [name for name in SUITES if name != "long_horizon"]


def _failures(render_analysis, case, seed):
    spec = parse_prompt(
        case.prompt, width=case.size[0], height=case.size[1], duration=case.seconds, seed=seed
    )
    _, analysis = render_analysis(spec)
    claims = compile_claims(case.prompt, case.seconds)
    assert claims, f"{case.prompt!r} compiled to no claims"
    return [f"{v.text}: {v.detail}" for v in (c.check(analysis) for c in claims) if not v.passed]


@pytest.mark.parametrize("suite", FAST_SUITES)
def test_renders_of_each_suite_pass_every_claim(suite, render_analysis):
    for case in cases(suite)[:2]:
        assert _failures(render_analysis, case, seed=0) == [], case.prompt


@pytest.mark.slow
@pytest.mark.parametrize("suite", list(SUITES))
def test_renders_of_every_case_pass_every_claim_on_three_seeds(suite, render_analysis):
    for case in cases(suite):
        for seed in range(3):
            assert _failures(render_analysis, case, seed) == [], (case.prompt, seed)
