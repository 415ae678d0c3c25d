"""Rectified flow as small pure functions: the time convention, timestep sampling, the loss,
the samplers and guidance. Convention (DESIGN.md): t = 1 is noise, t = 0 is data,
x_t = (1 - t) x0 + t eps, v = eps - x0, Euler step x_{t-dt} = x_t - dt v.
"""

from minisora.flow.loss import flow_loss, interpolate, velocity_target
from minisora.flow.samplers import cfg_velocity, euler_step, sample
from minisora.flow.timesteps import sample_timesteps, sampling_times, shift_for_tokens, shift_time

__all__ = [
    "cfg_velocity",
    "euler_step",
    "flow_loss",
    "interpolate",
    "sample",
    "sample_timesteps",
    "sampling_times",
    "shift_for_tokens",
    "shift_time",
    "velocity_target",
]
