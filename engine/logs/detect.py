"""Candidate events found in the samples: voltage collapses, regen and load episodes, the tail of the log, faults,
cell and temperature excursions. Each becomes a Reading for the rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.logs.signals import held, runs
from engine.logs.thresholds import (
    COLLAPSE_GAP_S,
    EPISODE_GAP_S,
    FAULT_NAMES,
    LATCH_OBSERVE_S,
    LOAD_MIN_A,
    LOG_END_S,
    MAX_CHECKS,
    POST_S,
    PRE_S,
    REGEN_MIN_A,
    REST_A,
    SPIKE_FRACTION,
    SPIKE_MIN_V,
)

# ---------------------------------------------------------------- candidate events


@dataclass
class Candidate:
    kind: str
    t_s: float
    fields: dict[str, Any]  # Reading fields for the rules (besides the context)
    values: dict[str, Any]  # what the rider sees (fields plus extras: durations, instantaneous peaks)
    always: bool = False  # keep as a plain fact even when no rule fires (largest peaks, cuts)
    size: float = 0.0  # for ranking when there are too many candidates


def _r(x: float, nd: int = 2) -> float:
    return round(float(x), nd)


def find_candidates(data: Any, t: np.ndarray, v: np.ndarray, i: np.ndarray, r_ohm: float,
                    ok: np.ndarray) -> list[Candidate]:
    duty = _opt(data, "duty")
    fault = _opt(data, "fault")
    out: list[Candidate] = []
    cuts = _collapses(t, v, i, duty, ok)
    out += cuts
    out += _episodes(t, v, i, duty, r_ohm, ok)
    if ok[-1]:
        out += _log_end(t, v, i, duty)
    if fault is not None:
        _attach_faults(out, t, v, i, duty, fault)
    out += _cells(data, t, v, i)
    out += _temperatures(data, t, i)
    return out


def _opt(data: Any, name: str) -> np.ndarray | None:
    a = getattr(data, name, None)
    return None if a is None else np.asarray(a)


def _window(t: np.ndarray, k: int, before: float, after: float) -> tuple[int, int]:
    j0 = int(np.searchsorted(t, t[k] - before, side="left"))
    j1 = int(np.searchsorted(t, t[k] + after, side="right"))
    return j0, max(j1, k + 1)


def _dominant(x: np.ndarray) -> float:
    return float(x[int(np.argmax(np.abs(x)))]) if len(x) else 0.0


def _collapses(t, v, i, duty, ok) -> list[Candidate]:
    out = []
    collapsed = ~ok
    for s, e in runs(collapsed, t, COLLAPSE_GAP_S):
        j0, _ = _window(t, s, PRE_S, 0.0)
        pre = slice(j0, s) if s > j0 else slice(max(0, s - 1), max(1, s))
        v_before = float(v[pre].max())
        i_dom = _dominant(i[j0:s + 1])
        _, j1 = _window(t, s, 0.0, POST_S)
        v_after = float(v[s:j1].min())
        fields: dict[str, Any] = {"current": _r(i_dom, 1), "pack_voltage": _r(v_before, 1),
                                  "voltage_drop": _r(max(0.0, v_before - v_after), 1)}
        if duty is not None:
            fields["duty"] = _r(np.clip(_dominant(duty[j0:s + 1]), -1, 1), 3)
        recovered = e < len(t)
        down_s = float((t[e] if recovered else t[-1]) - t[s])
        if not recovered and down_s < LOG_END_S:
            fields["log_ended"] = True
        kind = ("discharge_cut" if i_dom <= -LOAD_MIN_A else "regen_cut" if i_dom >= REGEN_MIN_A
                else "voltage_collapse")
        values = dict(fields, voltage_after=_r(v_after, 1), down_s=_r(down_s, 2))
        out.append(Candidate(kind, float(t[s]), fields, values, always=True, size=abs(i_dom)))
        if recovered or down_s >= LATCH_OBSERVE_S:
            latch = {"latched": not recovered, "current": fields["current"], "pack_voltage": fields["pack_voltage"]}
            lv = dict(latch, down_s=_r(down_s, 2))
            t_latch = float(t[e] if recovered else t[-1])
            if recovered:
                lv["voltage_back"] = _r(v[e], 1)
                after = np.flatnonzero(np.abs(i[e:]) > REGEN_MIN_A)
                if len(after):
                    k = e + int(after[0])
                    lv["next_load_a"] = _r(i[k], 1)
                    lv["next_load_after_s"] = _r(t[k] - t[e], 2)
            out.append(Candidate("trip_latched" if not recovered else "trip_released", t_latch, latch, lv,
                                 always=True, size=abs(i_dom)))
    return out


def _episodes(t, v, i, duty, r_ohm, ok) -> list[Candidate]:
    """One candidate per regen episode and per load episode, at the peak held for two samples."""
    out = []
    n = len(t)
    for sign, kind, min_a in ((1.0, "regen_peak", REGEN_MIN_A), (-1.0, "discharge_peak", LOAD_MIN_A)):
        x = sign * i
        h = held(x)
        eps = runs((x > min_a) & ok, t, EPISODE_GAP_S)
        if not len(eps):
            continue
        bounds = eps.ravel()  # reduceat over [s0, e0, s1, e1, ...]: every other slice is an episode
        peaks = np.maximum.reduceat(h, bounds[:-1] if bounds[-1] == n else bounds)[::2]
        order = np.argsort(-peaks, kind="stable")[:MAX_CHECKS]
        biggest = int(order[0])
        for m in order:
            s, e = int(eps[m, 0]), int(eps[m, 1])
            k = s + int(np.argmax(h[s:e]))
            j0, _ = _window(t, s, 1.0, 0.0)
            rest = v[j0:s] if s > j0 else v[s:s + 1]
            v_rest = float(np.median(rest))
            i_rest = float(np.median(i[j0:s])) if s > j0 else 0.0
            # the pack's voltage without current: braking or a launch just before would shift a plain "before"
            v_ocv = v_rest - r_ohm * i_rest
            fields: dict[str, Any] = {"current": _r(sign * h[k], 1), "pack_voltage": _r(v[k], 1)}
            values: dict[str, Any] = {"peak_a": _r(x[s:e].max(), 1), "held_a": _r(h[k], 1),
                                      "duration_s": _r(t[e - 1] - t[s], 2), "pack_voltage": fields["pack_voltage"]}
            if sign > 0:
                # rise beyond the IR model: regen with nowhere to go pushes the voltage up far past R*I
                _, j1 = _window(t, e - 1, 0.0, POST_S)
                model = v_rest + r_ohm * (i[s:j1] - i_rest)
                ks = s + int(np.argmax(v[s:j1] - model))
                excess = float(v[ks] - model[ks - s])
                fields["pack_voltage"] = _r(v_rest, 1)  # the pack before braking (how full it was)
                values["pack_voltage"] = fields["pack_voltage"]
                # an open charge path stops the regen current at the spike; a high voltage while the current
                # still flows is more likely a resistance the estimate missed
                current_stopped = i[ks] <= 0.5 * h[k]
                if excess >= max(SPIKE_MIN_V, SPIKE_FRACTION * v_rest) and current_stopped:
                    fields["voltage_rise"] = _r(excess, 1)
                    values["voltage_rise"] = fields["voltage_rise"]
                    values["voltage_max"] = _r(v[s:j1].max(), 1)
                    out.append(Candidate("regen_cut", float(t[ks]), fields, values, always=True, size=float(h[k])))
                    continue
            else:
                fields["voltage_drop"] = _r(max(0.0, v_ocv - v[k]), 1)  # sag from the pack's no-current voltage
                values["sag_v"] = fields["voltage_drop"]
                values["rest_voltage"] = _r(v_ocv, 1)
                if duty is not None:
                    fields["duty"] = _r(np.clip(duty[k], -1, 1), 3)
                    values["duty"] = fields["duty"]
            out.append(Candidate(kind, float(t[k]), fields, values, always=(m == biggest), size=float(h[k])))
    return out


def _log_end(t, v, i, duty) -> list[Candidate]:
    """The log stops right after load or regen: LogUI stops below 18 V, a phone loses a dead controller."""
    k = len(t) - 1
    j0, _ = _window(t, k, LOG_END_S, 0.0)
    regen, load = float(held(i[j0:]).max()), float(held(-i[j0:]).max())
    i_dom = regen if regen > load else -load
    if not (i_dom <= -LOAD_MIN_A or i_dom >= REGEN_MIN_A):
        return []
    jp, _ = _window(t, k, PRE_S, 0.0)
    v_before = float(v[jp:].max())
    fields: dict[str, Any] = {"current": _r(i_dom, 1), "pack_voltage": _r(v_before, 1), "log_ended": True,
                              "voltage_drop": _r(max(0.0, v_before - v[k]), 1)}
    if duty is not None:
        fields["duty"] = _r(np.clip(_dominant(duty[j0:]), -1, 1), 3)
    values = dict(fields, last_voltage=_r(v[k], 1))
    return [Candidate("log_end_under_load", float(t[k]), fields, values, always=True, size=abs(i_dom))]


def _attach_faults(out: list[Candidate], t, v, i, duty, fault) -> None:
    """Controller fault onsets join the cut or spike they belong to, else they are events of their own."""
    f = np.asarray(fault).astype(np.int64)
    onset = np.flatnonzero((f != 0) & (np.concatenate(([0], f[:-1])) != f))
    for k in onset[:200]:
        name = FAULT_NAMES.get(int(f[k]), f"fault_{int(f[k])}")
        host = next((c for c in out if c.kind in ("discharge_cut", "regen_cut", "voltage_collapse",
                                                   "log_end_under_load")
                     and c.t_s - POST_S <= t[k] <= c.t_s + PRE_S), None)
        if host is not None:
            host.fields.setdefault("fault", name)
            host.values.setdefault("fault", name)
            continue
        j0, j1 = _window(t, int(k), PRE_S, 0.2)
        fields: dict[str, Any] = {"fault": name, "current": _r(_dominant(i[j0:j1]), 1),
                                  "pack_voltage": _r(v[j0:k + 1].max(), 1)}
        if duty is not None:
            fields["duty"] = _r(np.clip(_dominant(duty[j0:j1]), -1, 1), 3)
        out.append(Candidate("controller_fault", float(t[k]), fields, dict(fields, code=int(f[k])), always=True))


def _cells(data: Any, t, v, i) -> list[Candidate]:
    cells = _opt(data, "cells")
    if cells is None or cells.ndim != 2 or cells.shape[1] < 2:
        return []
    with np.errstate(invalid="ignore"):
        delta = np.nanmax(cells, axis=1) - np.nanmin(cells, axis=1)
    out = []
    for kind, state, mask in (("cell_imbalance_load", "riding", -i > LOAD_MIN_A),
                              ("cell_imbalance_rest", "idle", np.abs(i) < REST_A)):
        m = mask & np.isfinite(delta) & (np.nanmin(cells, axis=1) > 0.5)
        if not m.any():
            continue
        k = int(np.flatnonzero(m)[np.argmax(delta[m])])
        cv = [round(float(c), 4) for c in cells[k] if np.isfinite(c)]
        fields = {"cells": cv, "current": _r(i[k], 1), "pack_voltage": _r(v[k], 1), "state": state}
        values = {"cell_delta": _r(delta[k], 4), "cell_min": min(cv), "cell_max": max(cv),
                  "cell_min_index": cv.index(min(cv)) + 1, "current": fields["current"],
                  "pack_voltage": fields["pack_voltage"]}
        out.append(Candidate(kind, float(t[k]), fields, values, always=True, size=float(delta[k])))
    return out


def _temperatures(data: Any, t, i) -> list[Candidate]:
    out = []
    pack = getattr(data, "pack_temps", {}) or {}
    bms_mos = _opt(data, "bms_mos_temp")
    chans = [np.asarray(a, dtype=np.float64) for a in pack.values()]
    if chans or bms_mos is not None:
        stack = np.column_stack(chans + ([bms_mos] if bms_mos is not None else []))
        with np.errstate(invalid="ignore"):
            hottest = np.nanmax(stack, axis=1)
        if np.isfinite(hottest).any():
            k = int(np.nanargmax(hottest))
            fields: dict[str, Any] = {}
            if chans:
                fields["temperatures"] = [_r(c[k], 1) for c in chans if np.isfinite(c[k])]
            if bms_mos is not None and np.isfinite(bms_mos[k]):
                fields["mos_temp"] = _r(bms_mos[k], 1)
            values = dict(fields, temp_max=_r(hottest[k], 1), current=_r(i[k], 1))
            out.append(Candidate("pack_temp_peak", float(t[k]), fields, values, always=True))
    for name, a in (getattr(data, "controller_temps", {}) or {}).items():
        a = np.asarray(a, dtype=np.float64)
        if not np.isfinite(a).any():
            continue
        k = int(np.nanargmax(a))
        # controller and motor temperatures are not the pack's: reported, not fed to pack rules
        out.append(Candidate("controller_temp_peak", float(t[k]), {}, {"sensor": name, "temp_c": _r(a[k], 1),
                                                                     "current": _r(i[k], 1)}, always=True))
    return out
