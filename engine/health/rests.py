"""Rest points (the pack relaxed with no current), the cells' OCV there, and state of charge from the OCV.

The OCV of a rest is the mean of its last minute (the most relaxed part). State of charge comes from the
chemistry's curve in content/health.yaml; where the curve is flatter than `ocv_slope_min_v` per 10 % (the middle
of the LFP plateau, for a noisy reading) the voltage cannot place a cell and the SoC is NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.health.steps import _runs

OCV_WINDOW_S = 60.0


@dataclass
class Rest:
    start: int
    end: int  # sample index of the last rest sample: where the OCV is read and the charge counted to
    t_s: float  # time of `end`
    duration_s: float
    ocv: np.ndarray  # per cell group, V
    soc: np.ndarray  # per cell group from the curve, NaN where the curve cannot tell
    bms_soc: float | None  # the BMS's own state of charge there (0..1), when logged

    @property
    def delta_v(self) -> float:
        return float(np.max(self.ocv) - np.min(self.ocv)) if len(self.ocv) else float("nan")


def find_rests(t: np.ndarray, i: np.ndarray, cells: np.ndarray, soc: np.ndarray | None, *, rest_current_a: float,
               rest_min_s: float, curve: tuple[np.ndarray, np.ndarray] | None, slope_min_v: float) -> list[Rest]:
    quiet = np.isfinite(i) & (np.abs(i) < rest_current_a)
    a, b = _runs(quiet)
    out: list[Rest] = []
    for s, e in zip(a, b):
        dur = float(t[e] - t[s])
        if dur < rest_min_s or cells.shape[1] == 0:
            continue
        w0 = int(np.searchsorted(t, t[e] - OCV_WINDOW_S, side="left"))
        w0 = max(w0, s)
        ocv = np.nanmean(cells[w0:e + 1], axis=0)
        out.append(Rest(int(s), int(e), float(t[e]), dur, ocv, soc_of(ocv, curve, slope_min_v),
                        None if soc is None or not np.isfinite(soc[e]) else float(soc[e])))
    return out


def soc_of(ocv: np.ndarray, curve: tuple[np.ndarray, np.ndarray] | None, slope_min_v: float) -> np.ndarray:
    if curve is None:
        return np.full(len(ocv), np.nan)
    sx, vx = curve
    s = np.interp(ocv, vx, sx)
    slope = np.interp(s, (sx[1:] + sx[:-1]) / 2, np.diff(vx) / np.diff(sx)) * 0.1  # V per 10 % SoC
    return np.where(slope >= slope_min_v, s, np.nan)


def infer_chemistry(cells: np.ndarray, liion_above_v: float) -> str | None:
    """li-ion when any cell was seen above liion_above_v; lfp when all stayed in LiFePO4's range; else None."""
    if cells.size == 0:
        return None
    cells = cells[:: max(1, len(cells) // 20000)]  # a sample of rows is enough to tell
    top = float(np.nanpercentile(cells, 99.9))
    if top > liion_above_v:
        return "li-ion"
    med = float(np.nanmedian(cells))
    if 2.5 <= float(np.nanmin(cells)) and 3.0 <= med <= 3.45 and top <= 3.7:
        return "lfp"
    return None
