"""Whether bf16 pays on this machine: training code asks before it turns on bf16 autocast."""

from __future__ import annotations

import torch


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 matrix multiplies run natively on `device`. On a CPU without AVX-512 BF16 or
    AMX, torch falls back to a reference kernel: measured here on an AVX2 EPYC, 0.75 GFLOP/s in
    bf16 against 92 in fp32, so bf16 autocast makes training some 20x slower instead of faster."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


BF16_ADVICE = ("this CPU has no native bf16 matrix multiply (it needs AVX-512 BF16 or AMX), so bf16 "
               "autocast would run many times slower than fp32")


def require_native_bf16(device: torch.device) -> None:
    """Refuse bf16 autocast (--bf16) where it would make training slower, saying what to do."""
    if not native_bf16(device):
        raise ValueError(f"--bf16: {BF16_ADVICE}; leave --bf16 out to train in fp32")
