"""Internal resistance from load steps: ΔV of each cell group over ΔI where the current changes between two
steady stretches, the median over all steps (robust to noise and to the odd step taken mid-transient).

A step pairs the last sample of one steady stretch with the first sample of the next (at most `gap_s` apart), so
the OCV and the slow polarisation barely move between the two. Where a log has too few clean steps (a ride with
current that never settles), single-sample jumps of at least `step_min_a` are used as well.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_STEPS = 5  # below this many clean steps, single-sample jumps are added


@dataclass
class Steps:
    pre: np.ndarray  # sample index before each step
    post: np.ndarray  # sample index after it
    d_i: np.ndarray  # ΔI of each step (A), post - pre, from the steady stretches' means near the edges

    def __len__(self) -> int:
        return len(self.pre)


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (inclusive) indices of the runs of True."""
    m = np.concatenate(([False], mask, [False])).astype(np.int8)
    d = np.diff(m)
    return np.nonzero(d == 1)[0], np.nonzero(d == -1)[0] - 1


def find_steps(t: np.ndarray, i: np.ndarray, *, step_min_a: float, steady_a: float, gap_s: float,
               fallback: bool = True) -> Steps:
    n = len(i)
    if n < 4:
        return Steps(np.zeros(0, int), np.zeros(0, int), np.zeros(0))
    ok = np.isfinite(i)
    steady_pair = (np.abs(np.diff(i)) < steady_a) & ok[1:] & ok[:-1]  # pair (k, k+1)
    a, b = _runs(steady_pair)
    start, end = a, b + 1  # plateau samples start..end (at least two)
    csum = np.concatenate(([0.0], np.cumsum(np.where(ok, i, 0.0))))
    pre_lo = np.maximum(start, end - 2)
    mean_end = (csum[end + 1] - csum[pre_lo]) / (end + 1 - pre_lo)
    post_hi = np.minimum(end, start + 2)
    mean_start = (csum[post_hi + 1] - csum[start]) / (post_hi + 1 - start)
    if len(start) >= 2:
        pre, post = end[:-1], start[1:]
        d_i = mean_start[1:] - mean_end[:-1]
        keep = (t[post] - t[pre] <= gap_s + 1e-9) & (np.abs(d_i) >= step_min_a)
        pre, post, d_i = pre[keep], post[keep], d_i[keep]
    else:
        pre = post = np.zeros(0, int)
        d_i = np.zeros(0)
    if fallback and len(pre) < MIN_STEPS:
        jump = np.nonzero((np.abs(np.diff(i)) >= step_min_a) & ok[1:] & ok[:-1]
                          & (np.diff(t) <= gap_s + 1e-9))[0]
        have = set(pre.tolist())
        jump = np.array([k for k in jump if k not in have], dtype=int)
        if len(jump):
            pre = np.concatenate((pre, jump))
            post = np.concatenate((post, jump + 1))
            d_i = np.concatenate((d_i, i[jump + 1] - i[jump]))
            order = np.argsort(pre)
            pre, post, d_i = pre[order], post[order], d_i[order]
    return Steps(pre.astype(int), post.astype(int), d_i)


@dataclass
class Estimate:
    ohm: np.ndarray  # per column (cell group or the pack), NaN without steps
    steps: int
    confidence: np.ndarray  # 0..1 per column
    ratios: np.ndarray  # (steps, columns) ΔV/ΔI of each step, for pooling across recordings


def estimate(v: np.ndarray, steps: Steps) -> Estimate:
    """Median ΔV/ΔI per column of v (samples x columns)."""
    cols = v.shape[1]
    if len(steps) == 0 or cols == 0:
        return Estimate(np.full(cols, np.nan), 0, np.zeros(cols), np.empty((0, cols)))
    ratios = (v[steps.post] - v[steps.pre]) / steps.d_i[:, None]
    return summarise(ratios)


def summarise(ratios: np.ndarray) -> Estimate:
    """Median and confidence of per-step ratios (several recordings' ratios stacked)."""
    cols = ratios.shape[1]
    good = np.isfinite(ratios).all(axis=1)
    r = ratios[good]
    n = len(r)
    if n == 0:
        return Estimate(np.full(cols, np.nan), 0, np.zeros(cols), ratios)
    med = np.median(r, axis=0)
    mad = np.median(np.abs(r - med), axis=0) * 1.4826
    with np.errstate(divide="ignore", invalid="ignore"):
        rel_se = np.where(med > 0, mad / np.sqrt(n) / med, np.inf)
    conf = np.clip(1 - 4 * rel_se, 0, 1) * min(1.0, n / 10)
    return Estimate(med, n, conf, r)
