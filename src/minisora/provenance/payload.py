"""The watermark's message: a known sync word, then a 64-bit payload (model id, generation id, CRC).

Detection is a sign test on the sync bits: the detector knows them, and on a video that
carries no mark each bit's statistic agrees with its keyed sync bit by a fair coin (the
carriers are zero-mean and keyed), whatever its size. So both the number that agree
(Binomial(n, 1/2)) and Wilcoxon's signed-rank sum (the ranks of |statistic| of the bits that
agree) have exact null laws, and their tails are exact p-values. The detector uses the
signed-rank sum: it weighs the confident bits more, and is worth about 1.5x as many bits as
the plain count (asymptotic relative efficiency 3/pi against 2/pi for Gaussian noise). The
payload bits cannot serve in that test, since the detector does not know the generation id
in advance; their CRC says whether the decoded payload is intact.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

MODEL_ID_BITS = 16
GENERATION_ID_BITS = 32
CHECK_BITS = 16
PAYLOAD_BITS = MODEL_ID_BITS + GENERATION_ID_BITS + CHECK_BITS  # 64


@dataclass(frozen=True)
class Payload:
    """What the watermark says: which model made the video, and which generation it was."""

    model_id: int  # 16 bits: model_id_for(model name)
    generation_id: int  # 32 bits, random per output; the manifest records it too

    def __post_init__(self) -> None:
        if not 0 <= self.model_id < 2**MODEL_ID_BITS:
            raise ValueError(f"model_id {self.model_id} must fit in {MODEL_ID_BITS} bits")
        if not 0 <= self.generation_id < 2**GENERATION_ID_BITS:
            raise ValueError(f"generation_id {self.generation_id} must fit in {GENERATION_ID_BITS} bits")

    def to_bits(self) -> np.ndarray:
        """64 bits (uint8 0/1): model id, generation id, then a CRC-16 over both."""
        data = _int_bits(self.model_id, MODEL_ID_BITS) + _int_bits(self.generation_id, GENERATION_ID_BITS)
        return np.array(data + _int_bits(crc16(data), CHECK_BITS), dtype=np.uint8)

    @classmethod
    def from_bits(cls, bits: np.ndarray) -> Payload | None:
        """The payload the bits spell, or None when the check bits do not match."""
        bits = [int(b) for b in np.asarray(bits).reshape(-1)]
        if len(bits) != PAYLOAD_BITS:
            raise ValueError(f"a payload has {PAYLOAD_BITS} bits, got {len(bits)}")
        data, check = bits[: PAYLOAD_BITS - CHECK_BITS], bits[PAYLOAD_BITS - CHECK_BITS :]
        if crc16(data) != _bits_int(check):
            return None
        return cls(_bits_int(data[:MODEL_ID_BITS]), _bits_int(data[MODEL_ID_BITS:]))

    def to_dict(self) -> dict[str, int]:
        return {"model_id": self.model_id, "generation_id": self.generation_id}


def model_id_for(name: str) -> int:
    """A stable 16-bit id for a model name (the manifest carries the full name)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:2], "big")


def sync_bits(key: str, n: int) -> np.ndarray:
    """The keyed sync word the detector tests for (uint8 0/1)."""
    return keyed_rng(key, "sync").integers(0, 2, n).astype(np.uint8)


def keyed_rng(key: str, purpose: str) -> np.random.Generator:
    """A generator seeded from the watermark key, one stream per purpose."""
    seed = int.from_bytes(hashlib.sha256(f"{key}/{purpose}".encode()).digest()[:8], "big")
    return np.random.default_rng(seed)


def crc16(bits: list[int]) -> int:
    """CRC-16/CCITT (polynomial 0x1021, initial 0xFFFF) over a bit list, most significant first."""
    crc = 0xFFFF
    for bit in bits:
        top = (crc >> 15) & 1
        crc = (crc << 1) & 0xFFFF
        if top ^ bit:
            crc ^= 0x1021
    return crc


def binomial_p_value(matches: int, n: int) -> float:
    """P(X >= matches) for X ~ Binomial(n, 1/2): how often chance alone agrees this well."""
    from math import comb

    if matches <= 0:
        return 1.0
    return sum(comb(n, k) for k in range(matches, n + 1)) / 2**n  # exact: Python ints


def signed_rank_p_value(rank_sum: int, n: int) -> float:
    """P(W >= rank_sum) for Wilcoxon's signed-rank sum W of n bits under the null: each rank
    1..n counts with probability 1/2, independently."""
    tail = _signed_rank_tail(n)
    return float(tail[min(max(rank_sum, 0), len(tail) - 1)]) if rank_sum < len(tail) else 0.0


@lru_cache(maxsize=4)
def _signed_rank_tail(n: int) -> np.ndarray:
    """tail[w] = P(W >= w), W in 0..n(n+1)/2, by dynamic programming over the ranks (float64
    keeps relative precision in the far tail: every term is a positive probability)."""
    law = np.zeros(n * (n + 1) // 2 + 1)
    law[0] = 1.0
    for rank in range(1, n + 1):
        law[rank:] = 0.5 * law[rank:] + 0.5 * law[:-rank].copy()
        law[:rank] *= 0.5
    tail = np.cumsum(law[::-1])[::-1]
    tail.setflags(write=False)
    return tail


def _int_bits(value: int, width: int) -> list[int]:
    return [(value >> (width - 1 - i)) & 1 for i in range(width)]


def _bits_int(bits: list[int]) -> int:
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return value
