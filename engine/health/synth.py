"""A synthetic pack for tests and benchmarks: an equivalent-circuit model per cell group.

Each cell group is an OCV source (a curve per chemistry, deliberately not the one content/health.yaml gives the
estimators) in series with R0 and one RC pair (R1 = rc_ratio * R0, time constant tau_s), with its own capacity
and starting state of charge. All groups carry the same current. The BMS view adds noise like a real board's:
1 mV on each cell (then rounded to the mV) and 0.1 A on the current (rounded to 10 mA).

    pack = make_pack(20, "li-ion", high_r=7, low_capacity=13, seed=1)
    rec = simulate(pack, cycle(pack, seed=1))      # rest, ride with load steps, rest, charge, rest
    write_csv(rec, "pack.csv")                    # time_s,current_a,cell1_v,...,pack_v,temp_c,soc
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.health.data import Recording

# Model curves (SoC -> V) for the generator only; more knots and a few mV away from the estimators' table.
CURVES = {
    "li-ion": ([0.0, 0.03, 0.07, 0.12, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0],
               [3.02, 3.22, 3.38, 3.48, 3.56, 3.625, 3.675, 3.725, 3.795, 3.875, 3.965, 4.065, 4.125, 4.195]),
    "lfp": ([0.0, 0.03, 0.07, 0.12, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0],
            [2.82, 2.98, 3.12, 3.19, 3.224, 3.257, 3.277, 3.292, 3.302, 3.317, 3.332, 3.347, 3.372, 3.442]),
}
DEFAULTS = {"li-ion": {"capacity_ah": 12.0, "r0_ohm": 0.012}, "lfp": {"capacity_ah": 20.0, "r0_ohm": 0.003}}


@dataclass
class Pack:
    chemistry: str
    capacity_ah: np.ndarray  # per cell group
    r0_ohm: np.ndarray
    soc: np.ndarray  # state of charge now, per cell group (changed by simulate)
    rc_ratio: float = 0.5
    tau_s: float = 20.0
    nominal_ah: float = 0.0
    y: float = 0.0  # the RC state (A), carried from one recording to the next
    bms_soc: float = 1.0
    labels: dict[str, list[int]] = field(default_factory=dict)  # the truth, 1-based: high_r, low_capacity, imbalanced

    @property
    def series(self) -> int:
        return len(self.capacity_ah)


def make_pack(series: int, chemistry: str = "li-ion", *, high_r: int | None = None, low_capacity: int | None = None,
              imbalanced: int | None = None, r_factor: float = 2.0, capacity_factor: float = 0.85,
              imbalance_soc: float = 0.10, seed: int = 0, capacity_ah: float | None = None,
              r0_ohm: float | None = None) -> Pack:
    """A top-balanced pack with small spreads (R ±4 %, capacity ±2 %, SoC ±0.4 %) and the faults asked for."""
    rng = np.random.default_rng(seed)
    d = DEFAULTS[chemistry]
    cap = (capacity_ah or d["capacity_ah"]) * (1 + rng.uniform(-0.02, 0.02, series))
    r0 = (r0_ohm or d["r0_ohm"]) * (1 + rng.uniform(-0.04, 0.04, series))
    soc = 0.99 + rng.uniform(-0.004, 0.004, series)
    labels: dict[str, list[int]] = {"high_r": [], "low_capacity": [], "imbalanced": []}
    if high_r:
        r0[high_r - 1] *= r_factor
        labels["high_r"].append(high_r)
    if low_capacity:
        cap[low_capacity - 1] *= capacity_factor
        labels["low_capacity"].append(low_capacity)
    if imbalanced:
        soc[imbalanced - 1] -= imbalance_soc
        labels["imbalanced"].append(imbalanced)
    return Pack(chemistry, cap, r0, soc, nominal_ah=float(np.median(cap)), bms_soc=float(np.max(soc)), labels=labels)


def _ride(pack: Pack, soc_floor: float, rng: np.random.Generator, dt: float, max_s: float | None = None,
          ramp: int = 0) -> np.ndarray:
    """Plateaus of discharge (0.2-2 C), stops and short regen, until the emptiest cell reaches soc_floor; with
    `ramp`, the controller takes that many samples to move from one level to the next."""
    c = pack.nominal_ah
    allow_ah = float(np.min((pack.soc - soc_floor) * pack.capacity_ah))
    out: list[np.ndarray] = []
    used = 0.0
    elapsed = 0.0
    while used < allow_ah and (max_s is None or elapsed < max_s):
        r = rng.random()
        if r < 0.12:
            level = 0.0
        elif r < 0.22:
            level = c * rng.uniform(0.15, 0.4)  # regen
        else:
            level = -c * rng.uniform(0.2, 2.0)
        n = int(rng.uniform(4, 30) / dt)
        seg = np.full(n, level)
        if ramp and out:
            seg = np.concatenate((np.linspace(out[-1][-1], level, ramp + 1)[1:], seg))
        used -= float(seg.sum()) * dt / 3600
        elapsed += n * dt
        out.append(seg)
    i = np.concatenate(out) if out else np.zeros(0)
    q = -np.cumsum(i) * dt / 3600
    over = np.nonzero(q >= allow_ah)[0]
    return i[: over[0] + 1] if len(over) else i


def _charge(pack: Pack, soc_after_ride: np.ndarray, dt: float) -> np.ndarray:
    """CC at 0.5 C until the fullest cell reaches 0.95, then 0.05 C until it reaches 0.995."""
    c = pack.nominal_ah
    q1 = float(np.min((0.95 - soc_after_ride) * pack.capacity_ah))
    q2 = float(np.min((0.995 - soc_after_ride) * pack.capacity_ah)) - max(q1, 0.0)
    parts = []
    if q1 > 0:
        parts.append(np.full(int(q1 * 3600 / (0.5 * c) / dt), 0.5 * c))
    if q2 > 0:
        parts.append(np.full(int(q2 * 3600 / (0.05 * c) / dt), 0.05 * c))
    return np.concatenate(parts) if parts else np.zeros(0)


def cycle(pack: Pack, *, seed: int = 0, dt: float = 1.0, soc_floor: float = 0.1, rest_s: float = 1200.0,
          charge: bool = True, ramp: int = 0) -> np.ndarray:
    """One recording's current (A per sample): rest, a ride down to soc_floor, rest, charge, rest."""
    rng = np.random.default_rng(seed)
    rest = np.zeros(int(rest_s / dt))
    ride = _ride(pack, soc_floor, rng, dt, ramp=ramp)
    parts = [rest, ride, rest]
    if charge:
        soc_after = pack.soc + np.sum(ride) * dt / 3600 / pack.capacity_ah
        parts += [_charge(pack, soc_after, dt), rest]
    return np.concatenate(parts)


def simulate(pack: Pack, current: np.ndarray, *, dt: float = 1.0, seed: int = 0, noise: bool = True,
             name: str = "synthetic.csv", started: float | None = None, with_soc: bool = True) -> Recording:
    """Run the current through the pack (its state moves on) and return what a BMS would have logged."""
    rng = np.random.default_rng(seed + 7919)
    n = len(current)
    i = np.asarray(current, dtype=np.float64)
    q = np.cumsum(i) * dt / 3600  # Ah after each sample
    soc = pack.soc[None, :] + q[:, None] / pack.capacity_ah[None, :]
    soc_x, soc_v = CURVES[pack.chemistry]
    ocv = np.interp(soc, soc_x, soc_v)
    ocv += np.where(soc < 0, soc * 2.0, 0.0) + np.where(soc > 1, (soc - 1) * 2.0, 0.0)  # beyond the ends: steep
    a = float(np.exp(-dt / pack.tau_s))
    y = np.empty(n)
    state = pack.y
    for k in range(n):  # one first-order filter for the pack; each group scales it by its own R1
        state = a * state + (1 - a) * i[k]
        y[k] = state
    v = ocv + i[:, None] * pack.r0_ohm[None, :] + y[:, None] * (pack.rc_ratio * pack.r0_ohm)[None, :]
    meas_i = i.copy()
    if noise:
        v = np.round(v + rng.normal(0, 0.001, v.shape), 3)
        meas_i = np.round(i + rng.normal(0, 0.1, n), 2)
    pack.soc = soc[-1] if n else pack.soc
    pack.y = state
    bms = None
    if with_soc:
        bms = np.clip(pack.bms_soc + q / pack.nominal_ah, 0.0, 1.0)
        if n:
            pack.bms_soc = float(bms[-1]) if float(np.max(pack.soc)) < 0.99 else 1.0
    temp = 25.0 + 8.0 * np.convolve(np.abs(i) / max(pack.nominal_ah, 1e-9), np.ones(600) / 600, mode="same")
    return Recording(name=name, t_s=np.arange(n) * dt, current=meas_i, cells=v, pack_v=None,
                     temp_c=np.round(temp, 1), soc=bms, started=started)


def write_csv(rec: Recording, path: str | Path, *, pack_v: bool = True) -> Path:
    """The per-cell CSV shape: time_s,current_a,cell1_v,...,cellN_v[,pack_v,temp_c,soc] (soc in %); time_s is Unix
    seconds when the recording's start is known."""
    p = Path(path)
    t = rec.t_s + (rec.started or 0.0)  # Unix seconds when the start is known
    cols = [t, rec.current] + [rec.cells[:, j] for j in range(rec.series)]
    names = ["time_s", "current_a"] + [f"cell{j + 1}_v" for j in range(rec.series)]
    fmt = ["%.1f", "%.2f"] + ["%.3f"] * rec.series
    if pack_v:
        cols.append(rec.cells.sum(axis=1))
        names.append("pack_v")
        fmt.append("%.2f")
    if rec.temp_c is not None:
        cols.append(rec.temp_c)
        names.append("temp_c")
        fmt.append("%.1f")
    if rec.soc is not None:
        cols.append(rec.soc * 100)
        names.append("soc")
        fmt.append("%.1f")
    with p.open("w", encoding="utf-8") as f:
        f.write(",".join(names) + "\n")
        np.savetxt(f, np.column_stack(cols), fmt=fmt, delimiter=",")
    return p
