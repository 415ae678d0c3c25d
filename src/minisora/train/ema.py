"""Exponential moving average of the weights (DiT, SD3), with a warm-up of the decay so that a
short run's EMA does not lag far behind the model: decay_s = min(decay, (1 + s) / (10 + s))."""

from __future__ import annotations

import torch


def ema_decay(step: int, decay: float) -> float:
    return min(decay, (1 + step) / (10 + step))


class EMA:
    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.shadow = {k: v.detach().float().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        d = ema_decay(step, self.decay)
        for k, v in model.state_dict().items():
            self.shadow[k].lerp_(v.detach().float(), 1 - d)

    def shard_like(self, model: torch.nn.Module) -> None:
        """After FSDP2 sharded the model: shard the shadow weights the same way."""
        from torch.distributed.tensor import distribute_tensor

        for k, v in model.state_dict().items():
            if hasattr(v, "device_mesh"):
                self.shadow[k] = distribute_tensor(self.shadow[k].to(v.device), v.device_mesh, v.placements)

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self.shadow

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        if set(state) != set(self.shadow):
            raise ValueError("EMA weights do not match the model's parameters")
        self.shadow = {k: v.float().clone() for k, v in state.items()}
