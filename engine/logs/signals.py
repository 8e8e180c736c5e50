"""Vectorised signal processing over the samples: runs of a condition, held values, the pack's internal
resistance, downsampling for plots, peaks."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from engine.logs.results import PlotSeries, Resistance
from engine.logs.thresholds import RES_MIN_SAMPLES, RES_MIN_STD_A, RES_WINDOW_S

# ---------------------------------------------------------------- vectorised building blocks


def runs(mask: np.ndarray, t: np.ndarray, merge_gap_s: float) -> np.ndarray:
    """Start/end (exclusive) index pairs of the True runs of `mask`; runs closer than merge_gap_s are one."""
    d = np.diff(mask.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    if len(starts) > 1:
        gap = t[starts[1:]] - t[ends[:-1] - 1]
        keep = gap > merge_gap_s
        starts = np.concatenate((starts[:1], starts[1:][keep]))
        ends = np.concatenate((ends[:-1][keep], ends[-1:]))
    return np.stack((starts, ends), axis=1) if len(starts) else np.empty((0, 2), dtype=np.int64)


def held(x: np.ndarray) -> np.ndarray:
    """The value held over two consecutive samples (a one-sample spike does not count as a peak)."""
    if len(x) < 2:
        return x.copy()
    h = np.minimum(x[:-1], x[1:])
    return np.concatenate((h, x[-1:]))


def estimate_resistance(t: np.ndarray, v: np.ndarray, i: np.ndarray, ok: np.ndarray | None = None) -> Resistance:
    """Pack resistance from load steps: V = V0(t) + R*I with V0 slow, so within each 30 s window the deviations
    from the window's means obey dV = R*dI. Huber-weighted least squares through the origin over the windows
    that hold load steps; cut-off samples (ok=False) are left out."""
    sel = np.ones(len(t), dtype=bool) if ok is None else ok
    tt, vv, ii = t[sel], v[sel], i[sel]
    if len(tt) < RES_MIN_SAMPLES:
        return Resistance(None, note="too few samples for a resistance estimate")
    g = np.floor((tt - tt[0]) / RES_WINDOW_S).astype(np.int64)
    cnt = np.bincount(g).astype(np.float64)
    cnt[cnt == 0] = 1.0
    di = ii - (np.bincount(g, ii) / cnt)[g]
    dv = vv - (np.bincount(g, vv) / cnt)[g]
    sd = np.sqrt(np.bincount(g, di * di) / cnt)
    use = sd[g] > RES_MIN_STD_A
    n = int(use.sum())
    if n < RES_MIN_SAMPLES:
        return Resistance(None, note="no load steps in the log: no resistance estimate")
    x, y = di[use], dv[use]
    r = float(np.dot(x, y) / np.dot(x, x))
    for _ in range(30):  # iteratively reweighted least squares, Huber weights (k = 1.345 sigma)
        e = y - r * x
        s = 1.4826 * float(np.median(np.abs(e))) + 1e-9
        w = np.minimum(1.0, 1.345 * s / np.maximum(np.abs(e), 1e-12))
        r_new = float(np.dot(w * x, y) / np.dot(w * x, x))
        if abs(r_new - r) < 1e-7:
            r = r_new
            break
        r = r_new
    windows = int(len(np.unique(g[use])))
    if r <= 0:
        return Resistance(None, windows, n, note="voltage does not fall under load here: no resistance estimate")
    return Resistance(r, windows, n)


def downsample(t: np.ndarray, v: np.ndarray, i: np.ndarray, max_points: int = 2000) -> PlotSeries:
    """Keep each bucket's min and max of voltage and current, so peaks and collapses stay visible."""
    n = len(t)
    if n <= max_points:
        return PlotSeries(t.copy(), v.copy(), i.copy())
    b = int(math.ceil(n / (max_points / 5)))  # up to 5 points a bucket: its first, min and max of V and I
    nb = int(math.ceil(n / b))
    pad = nb * b - n
    idx = np.arange(nb * b).clip(max=n - 1).reshape(nb, b)
    base = np.arange(nb) * b
    picks = [base + np.argmin(np.pad(a, (0, pad), mode="edge").reshape(nb, b), axis=1) for a in (v, i)]
    picks += [base + np.argmax(np.pad(a, (0, pad), mode="edge").reshape(nb, b), axis=1) for a in (v, i)]
    keep = np.unique(np.concatenate(picks + [idx[:, 0], [n - 1]]).clip(max=n - 1))
    return PlotSeries(t[keep], v[keep], i[keep])


def peak_values(t: np.ndarray, v: np.ndarray, i: np.ndarray) -> dict[str, Any]:
    kd, kr = int(np.argmin(i)), int(np.argmax(i))
    return {
        "discharge_a": round(max(0.0, -float(i[kd])), 2), "discharge_t_s": round(float(t[kd]), 3),
        "regen_a": round(max(0.0, float(i[kr])), 2), "regen_t_s": round(float(t[kr]), 3),
        "voltage_min": round(float(v.min()), 2), "voltage_max": round(float(v.max()), 2),
    }
