"""The payload's convolutional code and the detector's signed-rank test, against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from minisora.provenance import ecc
from minisora.provenance.payload import signed_rank_p_value
from minisora.provenance.watermark import sync_agreement


def test_code_round_trips_and_is_punctured_to_the_carriers():
    bits = np.random.default_rng(0).integers(0, 2, 64).astype(np.uint8)
    coded = ecc.encode(bits, 192)
    assert coded.shape == (192,) and ecc.coded_length(64) == 210
    assert np.array_equal(ecc.decode(2.0 * coded - 1.0, 64), bits)


def test_code_corrects_what_repetition_cannot():
    """At -1 dB per carrier (19% of the coded bits arrive flipped), Viterbi recovers whole
    64-bit messages that a 3x repetition code on the same carriers loses."""
    rng = np.random.default_rng(1)
    amplitude, trials, viterbi, repetition = 10 ** (-1 / 20), 40, 0, 0
    for _ in range(trials):
        bits = rng.integers(0, 2, 64).astype(np.uint8)
        soft = (2.0 * ecc.encode(bits, 192) - 1.0) * amplitude + rng.normal(size=192)
        viterbi += np.array_equal(ecc.decode(soft, 64), bits)
        votes = np.repeat(2.0 * bits - 1.0, 3) * amplitude + rng.normal(size=192)
        repetition += np.array_equal(votes.reshape(64, 3).sum(axis=1) > 0, bits.astype(bool))
    assert viterbi >= 0.5 * trials and repetition <= 0.1 * trials


def test_code_fixes_a_burst_of_hard_errors():
    bits = np.random.default_rng(2).integers(0, 2, 64).astype(np.uint8)
    soft = 2.0 * ecc.encode(bits, 192) - 1.0
    soft[[10, 50, 51, 120, 180]] *= -1
    assert np.array_equal(ecc.decode(soft, 64), bits)


def test_too_many_coded_bits_is_a_clear_error():
    with pytest.raises(ValueError, match="cannot send"):
        ecc.encode(np.zeros(64, np.uint8), 211)


def test_signed_rank_p_value_is_the_exact_tail():
    n = 9
    sums = [sum(r + 1 for r in range(n) if signs[r]) for signs in itertools.product([0, 1], repeat=n)]
    for w in range(0, n * (n + 1) // 2 + 2):
        assert signed_rank_p_value(w, n) == pytest.approx(np.mean(np.array(sums) >= w), abs=1e-12)


def test_sync_agreement_ranks_by_size_and_ignores_ties_with_zero():
    rank_sum, count = sync_agreement(np.array([0.5, -2.0, 3.0, 0.1]))
    assert (rank_sum, count) == (2 + 4 + 1, 3)
    assert sync_agreement(np.zeros(5)) == (0, 0)
