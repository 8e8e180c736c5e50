"""Capacity by coulomb counting between rest points, per cell group; energy in and out; cycles.

Between two rests the same charge ΔQ passed every cell group in series; each group's state of charge moved by
Δs_i (from its OCV at the two rests), so its capacity is ΔQ / Δs_i. Several rest pairs are combined by least
squares through the origin (C_i = Σ ΔQ·Δs_i / Σ Δs_i²), which weights the big swings that the OCV places best.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.health.rests import Rest


def charge_ah(t: np.ndarray, i: np.ndarray) -> np.ndarray:
    """Cumulative charge (Ah, + = into the pack) at each sample, by the trapezoid rule."""
    if len(t) < 2:
        return np.zeros(len(t))
    x = np.where(np.isfinite(i), i, 0.0)
    inc = (x[1:] + x[:-1]) * 0.5 * np.diff(t) / 3600.0
    return np.concatenate(([0.0], np.cumsum(inc)))


@dataclass
class Pairs:
    d_q: np.ndarray  # Ah between the two rests
    d_s: np.ndarray  # (pairs, cells) change of each group's SoC
    d_bms: np.ndarray  # the BMS's own SoC change (NaN where not logged)


def rest_pairs(rests: list[Rest], q: np.ndarray, swing_min: float) -> Pairs:
    """Every pair of rests whose median SoC swing is at least swing_min (each rest pairs with each later one)."""
    dq, ds, db = [], [], []
    for a in range(len(rests)):
        for b in range(a + 1, len(rests)):
            ra, rb = rests[a], rests[b]
            d = rb.soc - ra.soc
            if not np.isfinite(d).all() or abs(float(np.median(d))) < swing_min:
                continue
            dq.append(q[rb.end] - q[ra.end])
            ds.append(d)
            db.append(np.nan if ra.bms_soc is None or rb.bms_soc is None else rb.bms_soc - ra.bms_soc)
    cells = len(rests[0].ocv) if rests else 0
    return Pairs(np.array(dq), np.array(ds).reshape(len(dq), cells), np.array(db))


def capacity(pairs: Pairs) -> np.ndarray | None:
    """Per-group capacity (Ah) from rest pairs, or None when no pair swings enough."""
    if len(pairs.d_q) == 0:
        return None
    num = np.sum(pairs.d_q[:, None] * pairs.d_s, axis=0)
    den = np.sum(pairs.d_s ** 2, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = num / den
    return np.where(np.isfinite(c) & (c > 0), c, np.nan)


def stack(pairs: list[Pairs], cells: int) -> Pairs:
    keep = [p for p in pairs if len(p.d_q) and p.d_s.shape[1] == cells]
    if not keep:
        return Pairs(np.zeros(0), np.zeros((0, cells)), np.zeros(0))
    return Pairs(np.concatenate([p.d_q for p in keep]), np.vstack([p.d_s for p in keep]),
                 np.concatenate([p.d_bms for p in keep]))


@dataclass
class Energy:
    ah_in: float
    ah_out: float
    wh_in: float
    wh_out: float


def energy(t: np.ndarray, i: np.ndarray, v: np.ndarray | None) -> Energy:
    if len(t) < 2:
        return Energy(0.0, 0.0, 0.0, 0.0)
    dt = np.diff(t) / 3600.0
    x = np.where(np.isfinite(i), i, 0.0)
    im = (x[1:] + x[:-1]) * 0.5
    ah_in = float(np.sum(np.clip(im, 0, None) * dt))
    ah_out = float(np.sum(np.clip(-im, 0, None) * dt))
    if v is None:
        return Energy(ah_in, ah_out, float("nan"), float("nan"))
    vv = np.where(np.isfinite(v), v, np.nan)
    p = x * vv
    pm = np.nan_to_num((p[1:] + p[:-1]) * 0.5)
    return Energy(ah_in, ah_out, float(np.sum(np.clip(pm, 0, None) * dt)), float(np.sum(np.clip(-pm, 0, None) * dt)))
