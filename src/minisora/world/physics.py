"""Simulation: gravity, floor and walls with restitution, object-object collisions, friction.

Event-driven inside fixed sub-steps: floor and wall impacts are solved analytically (the exact
time of a parabola meeting a line), object pairs by bisection on their signed distance along
the sub-step, then both are rewound to that instant, bounced, and advanced for the rest of the
sub-step. Sub-steps are short enough that nothing moves more than a quarter of the smallest
object's half-size, so nothing tunnels. Circles collide as circles; squares and triangles as
upright boxes (objects do not rotate). Deterministic: no randomness after the spec.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from minisora.world.spec import GRAVITY, MATERIALS, SceneSpec

V_EVENT = 0.08  # units/s: slower impacts are resting contact, not events (no sound)
V_REST = 0.12  # units/s: a bounce slower than this comes to rest
MAX_SUBSTEPS = 256


@dataclass(frozen=True)
class Contact:
    time: float  # seconds, exact to ~1e-7
    a: int  # object index
    b: int | str  # object index, "floor", "wall_left" or "wall_right"
    speed: float  # normal impact speed, units/s
    x: float  # contact point, world units
    y: float


@dataclass
class Trajectory:
    """Per-frame state of every object plus every contact: the simulation's ground truth."""

    times: np.ndarray  # (T,)
    positions: np.ndarray  # (T, N, 2) centres, world units
    velocities: np.ndarray  # (T, N, 2)
    colors: list[list[str]]  # (T, N) colour name per frame (rules can change it)
    camera_x: np.ndarray  # (T,) left edge of the view, world units
    contacts: list[Contact] = field(default_factory=list)
    color_changes: list[tuple[float, int, str]] = field(default_factory=list)


class _Bodies:
    def __init__(self, spec: SceneSpec) -> None:
        objs = spec.objects
        self.pos = np.array([[o.x, o.y] for o in objs], dtype=np.float64).reshape(-1, 2)
        self.vel = np.array([[o.vx, o.vy] for o in objs], dtype=np.float64).reshape(-1, 2)
        self.half = np.array([o.half for o in objs], dtype=np.float64)
        self.is_circle = np.array([o.shape == "circle" for o in objs], dtype=bool)
        mats = [MATERIALS[o.material] for o in objs]
        self.restitution = np.array([m.restitution for m in mats])
        area = np.where(self.is_circle, math.pi, 4.0) * self.half**2
        self.mass = area * np.array([m.density for m in mats])
        rolling = np.where(self.is_circle, 0.1, 1.0)
        self.friction = np.array([m.friction for m in mats]) * rolling
        self.resting = np.zeros(len(objs), dtype=bool)
        self.colors = [o.color for o in objs]


def signed_distance(pa, ha, ca: bool, pb, hb, cb: bool) -> tuple[float, np.ndarray]:
    """Gap between two shapes (negative when overlapping) and the unit normal from a to b."""
    pa, pb = np.asarray(pa, dtype=np.float64), np.asarray(pb, dtype=np.float64)
    d = pb - pa
    if ca and cb:
        dist = math.hypot(d[0], d[1])
        n = d / dist if dist > 1e-12 else np.array([0.0, 1.0])
        return dist - ha - hb, n
    if not ca and not cb:
        gx, gy = abs(d[0]) - ha - hb, abs(d[1]) - ha - hb
        if gx > 0 and gy > 0:
            dist = math.hypot(gx, gy)
            return dist, np.array([math.copysign(gx, d[0]), math.copysign(gy, d[1])]) / dist
        if gx > gy:
            return gx, np.array([math.copysign(1.0, d[0]), 0.0])
        return gy, np.array([0.0, math.copysign(1.0, d[1])])
    # circle against box: measure from the box to the circle, then orient a -> b
    flip = ca
    box_p, box_h, circ_p, r = (pb, hb, pa, ha) if ca else (pa, ha, pb, hb)
    rel = circ_p - box_p
    closest = np.clip(rel, -box_h, box_h)
    off = rel - closest
    dist = math.hypot(off[0], off[1])
    if dist > 1e-12:
        gap, n = dist - r, off / dist
    else:  # centre inside the box: push out along the shallow axis
        depth = box_h - np.abs(rel)
        axis = int(np.argmin(depth))
        n = np.zeros(2)
        n[axis] = math.copysign(1.0, rel[axis])
        gap = -depth[axis] - r
    return gap, (-n if flip else n)


def simulate(spec: SceneSpec) -> Trajectory:
    """Run the scene and return per-frame states and every contact."""
    spec.validate()
    bodies = _Bodies(spec)
    n_frames, dt_frame = spec.num_frames, 1.0 / spec.fps
    count = len(spec.objects)
    positions = np.zeros((n_frames, count, 2))
    velocities = np.zeros((n_frames, count, 2))
    colors: list[list[str]] = []
    sim = _Simulator(spec, bodies)
    for frame in range(n_frames):
        positions[frame], velocities[frame] = bodies.pos, bodies.vel
        colors.append(list(bodies.colors))
        if frame < n_frames - 1:
            sim.advance(frame * dt_frame, dt_frame)
    times = np.arange(n_frames) * dt_frame
    camera_x = spec.camera_start + spec.camera_pan * times
    return Trajectory(times, positions, velocities, colors, camera_x, sim.contacts, sim.color_changes)


class _Simulator:
    def __init__(self, spec: SceneSpec, bodies: _Bodies) -> None:
        self.spec, self.b = spec, bodies
        self.contacts: list[Contact] = []
        self.color_changes: list[tuple[float, int, str]] = []
        self.touching: set[tuple[int, int]] = set()
        self.rules = {r.target: r.color for r in spec.rules}

    def advance(self, t0: float, dt_frame: float) -> None:
        b = self.b
        if len(b.half) == 0:
            return
        speed = float(np.abs(b.vel).max()) + GRAVITY * dt_frame
        n_sub = min(MAX_SUBSTEPS, max(4, math.ceil(speed * dt_frame / (0.25 * b.half.min()))))
        dt = dt_frame / n_sub
        for step in range(n_sub):
            t = t0 + step * dt
            start = b.pos.copy()
            for i in range(len(b.half)):
                self._move_with_bounds(i, t, dt)
            self._resolve_pairs(start, t, dt)

    # -- floor and walls: exact times from the parabola --------------------------------------
    def _move_with_bounds(self, i: int, t: float, dt: float) -> None:
        remaining, now = dt, t
        for _ in range(4):
            if remaining <= 0:
                break
            hit = self._first_bound_hit(i, remaining)
            if hit is None:
                self._ballistic(i, remaining)
                break
            tau, which = hit
            self._ballistic(i, tau)
            now, remaining = now + tau, remaining - tau
            self._bounce_bound(i, which, now)

    def _ballistic(self, i: int, tau: float) -> None:
        """Exact motion for tau seconds: a parabola in the air, Coulomb friction on the floor."""
        b = self.b
        if not b.resting[i]:
            b.pos[i, 0] += b.vel[i, 0] * tau
            b.pos[i, 1] += b.vel[i, 1] * tau - 0.5 * GRAVITY * tau * tau
            b.vel[i, 1] -= GRAVITY * tau
            return
        vx, decel = b.vel[i, 0], b.friction[i] * GRAVITY
        if abs(vx) <= decel * tau:  # comes to rest within this step
            b.pos[i, 0] += vx * abs(vx) / (2 * decel)
            b.vel[i, 0] = 0.0
        else:
            b.pos[i, 0] += vx * tau - math.copysign(0.5 * decel * tau * tau, vx)
            b.vel[i, 0] -= math.copysign(decel * tau, vx)

    def _first_bound_hit(self, i: int, horizon: float) -> tuple[float, str] | None:
        b, spec = self.b, self.spec
        (x, y), (vx, vy), h = b.pos[i], b.vel[i], b.half[i]
        best: tuple[float, str] | None = None
        floor = spec.floor
        if floor is not None and not b.resting[i]:
            gap = y - h - floor
            if gap >= -1e-9:
                gap = max(gap, 0.0)
                tau = (vy + math.sqrt(vy * vy + 2 * GRAVITY * gap)) / GRAVITY
                if gap <= 1e-12 and vy <= 0:
                    tau = 0.0  # already on the floor and not rising: settle now
                if tau <= horizon:
                    best = (tau, "floor")
        if spec.walls:
            for which, wall, sign in (("wall_left", 0.0, -1.0), ("wall_right", spec.world_width, 1.0)):
                if vx * sign <= 0:
                    continue
                gap = sign * (wall - x) - h
                if gap < -h:  # started outside the walls: let it come in
                    continue
                tau = float(max(gap, 0.0)) / abs(float(vx))  # Python floats: a vx near 0 gives inf, no warning
                if tau <= horizon and (best is None or tau < best[0]):
                    best = (tau, which)
        return best

    def _bounce_bound(self, i: int, which: str, now: float) -> None:
        b = self.b
        axis = 1 if which == "floor" else 0
        speed = abs(b.vel[i, axis])
        b.vel[i, axis] = -b.vel[i, axis] * b.restitution[i]
        if which == "floor":
            b.pos[i, 1] = self.spec.floor + b.half[i]
            if b.vel[i, 1] < V_REST:
                b.vel[i, 1], b.resting[i] = 0.0, True
        if speed > V_EVENT:
            x = b.pos[i, 0] + (0 if axis else math.copysign(b.half[i], -b.vel[i, 0]))
            y = b.pos[i, 1] - (b.half[i] if axis else 0)
            self.contacts.append(Contact(float(now), i, which, float(speed), float(x), float(y)))

    # -- object pairs: bisection for the instant of touch -------------------------------------
    def _resolve_pairs(self, start: np.ndarray, t: float, dt: float) -> None:
        b = self.b
        n = len(b.half)
        now_touching: set[tuple[int, int]] = set()
        for i in range(n):
            for j in range(i + 1, n):
                reach = (b.half[i] + b.half[j]) * 1.5
                if abs(b.pos[i, 0] - b.pos[j, 0]) > reach or abs(b.pos[i, 1] - b.pos[j, 1]) > reach:
                    continue
                gap, normal = self._gap(i, j, b.pos[i], b.pos[j])
                if gap < 1e-6:
                    now_touching.add((i, j))
                if gap >= 0:
                    continue
                rel = float(np.dot(b.vel[j] - b.vel[i], normal))
                if rel < 0:
                    self._collide(i, j, start, t, dt, rel)
                self._separate(i, j)
                self._keep_inside(i)
                self._keep_inside(j)
        self.touching = now_touching

    def _keep_inside(self, i: int) -> None:
        """A push from a neighbour must not move a body through the floor or a wall."""
        b, spec = self.b, self.spec
        if spec.floor is not None and b.pos[i, 1] - b.half[i] < spec.floor:
            b.pos[i, 1] = spec.floor + b.half[i]
            b.vel[i, 1] = max(b.vel[i, 1], 0.0)
        if spec.walls and -b.half[i] < b.pos[i, 0] < spec.world_width + b.half[i]:
            b.pos[i, 0] = min(max(b.pos[i, 0], b.half[i]), spec.world_width - b.half[i])

    def _gap(self, i: int, j: int, pi, pj):
        b = self.b
        return signed_distance(pi, b.half[i], b.is_circle[i], pj, b.half[j], b.is_circle[j])

    def _collide(self, i: int, j: int, start: np.ndarray, t: float, dt: float, rel: float) -> None:
        b = self.b
        lo, hi = 0.0, 1.0
        if self._gap(i, j, start[i], start[j])[0] < 0:
            lo = hi = 0.0  # already touching at the sub-step's start (resting contact)
        for _ in range(30):
            if hi - lo < 1e-9:
                break
            mid = 0.5 * (lo + hi)
            p_i = start[i] + (b.pos[i] - start[i]) * mid
            p_j = start[j] + (b.pos[j] - start[j]) * mid
            if self._gap(i, j, p_i, p_j)[0] < 0:
                hi = mid
            else:
                lo = mid
        s = hi
        b.pos[i] = start[i] + (b.pos[i] - start[i]) * s
        b.pos[j] = start[j] + (b.pos[j] - start[j]) * s
        _, normal = self._gap(i, j, b.pos[i], b.pos[j])
        rel = float(np.dot(b.vel[j] - b.vel[i], normal))
        if -rel > V_EVENT and (i, j) not in self.touching:
            point = b.pos[i] + normal * b.half[i]
            self.contacts.append(Contact(t + s * dt, i, j, -rel, float(point[0]), float(point[1])))
            self._apply_rules(t + s * dt, i, j)
        if rel < 0:
            self._impulse(i, j, normal, rel)
        for k in (i, j):
            b.pos[k] += b.vel[k] * (1 - s) * dt

    def _impulse(self, i: int, j: int, normal: np.ndarray, rel: float) -> None:
        b = self.b
        e = 0.5 * (b.restitution[i] + b.restitution[j]) if -rel > V_REST else 0.0
        inv_i, inv_j = 1.0 / b.mass[i], 1.0 / b.mass[j]
        impulse = -(1 + e) * rel / (inv_i + inv_j)
        b.vel[i] -= impulse * inv_i * normal
        b.vel[j] += impulse * inv_j * normal
        for k in (i, j):  # the floor absorbs a push into it; a push up lifts off
            if b.resting[k] and b.vel[k, 1] < 0:
                b.vel[k, 1] = 0.0
            elif b.resting[k] and b.vel[k, 1] > V_REST:
                b.resting[k] = False

    def _separate(self, i: int, j: int) -> None:
        """Remove what overlap the rewind left (stacks), moving only the upper/lighter body."""
        b = self.b
        gap, normal = self._gap(i, j, b.pos[i], b.pos[j])
        if gap >= 0:
            return
        movable = [k for k in (i, j) if not b.resting[k]] or [i, j]
        share = -gap / len(movable)
        for k in movable:
            sign = -1.0 if k == i else 1.0
            b.pos[k] += sign * share * normal
            if k == j and normal[1] > 0.5 or k == i and normal[1] < -0.5:
                b.vel[k, 1] = max(b.vel[k, 1], 0.0)  # resting on top: no energy from the push

    def _apply_rules(self, now: float, i: int, j: int) -> None:
        for k in (i, j):
            color = self.rules.get(k)
            if color is not None and self.b.colors[k] != color:
                self.b.colors[k] = color
                self.color_changes.append((now, k, color))


def total_energy(spec: SceneSpec, traj: Trajectory) -> np.ndarray:
    """Kinetic plus potential energy per frame (for tests: it never grows when e < 1)."""
    bodies = _Bodies(spec)
    kinetic = 0.5 * (bodies.mass[None, :] * (traj.velocities**2).sum(-1)).sum(-1)
    potential = (bodies.mass[None, :] * GRAVITY * traj.positions[..., 1]).sum(-1)
    return kinetic + potential
