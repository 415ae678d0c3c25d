"""The av_sync claim's matching rule (eval/checks.py), on analyses built by hand."""

from __future__ import annotations

import numpy as np
import pytest

from minisora.eval.analyzer import Analysis
from minisora.eval.checks import _av_sync, av_matches
from minisora.eval.motion import VisualContact
from minisora.eval.onsets import Onset


def analysis(contacts, faint, onsets) -> Analysis:
    def contact(t):
        return VisualContact(t, round(t * 16), 0, "floor", (0.0, 1.0))

    return Analysis(64, 64, 16.0, [], [], np.zeros(1), [contact(t) for t in contacts],
                    [Onset(t, s) for t, s in onsets], faint_contacts=[contact(t) for t in faint])


def test_matches_count_each_contact_once_and_let_faint_jumps_explain_sounds():
    made = analysis(contacts=[0.5, 1.0, 1.01], faint=[2.0],
                    onsets=[(0.52, 10.0), (2.01, 10.0), (3.0, 10.0), (3.5, 1.0)])
    visual, hit_v, sounds, hit_s = av_matches(made)
    assert visual == [0.5, 1.0]  # 1.01 is the same contact as 1.0 (within 20 ms)
    assert hit_v == [True, False]
    assert sounds == [0.52, 2.01, 3.0]  # 3.5 is under half the matched loudness: exempt
    assert hit_s == [True, True, False]
    passed, _, frame, _, f1 = _av_sync(made)
    assert f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert not passed and frame == 16  # the first contact without a sound


def test_a_video_with_no_contact_seen_fails_whatever_its_sound():
    assert _av_sync(analysis([], [], []))[4] == 0.0
    visual, hit_v, sounds, hit_s = av_matches(analysis([], [1.0], [(1.0, 5.0), (2.0, 5.0)]))
    assert visual == [] and hit_v == [] and hit_s == [True, False]
    assert _av_sync(analysis([], [1.0], [(1.0, 5.0)]))[4] == 0.0
