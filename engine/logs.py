"""Ride-log analysis: samples -> episodes -> candidate events -> the rules engine -> events with citations.

A log has tens of thousands of samples; the rules engine is made for a few readings. So the reduction is done
with numpy (episodes of regen and of load, voltage collapses, faults, the tail of the log, peaks), and only the
handful of candidate events become Readings (the event's values plus the rider's context: --bms, --series,
--rated, --charge-limit ...) for `engine.check.check`. Whether an event is a problem, how bad, what to do and
which handbook notes back it is decided by rules in content/ (log-only phenomena: content/rules/logs.yaml).

The input is any object with the columns of drivers.logs.LogData (t_s, voltage, current in our convention:
positive = charging/regen, ...). Engine code does not import drivers: give a path together with a `loader`
(the command line passes drivers.logs.load_log).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kb.errors import UserError
from kb.schema import SEVERITY_ORDER

# Detection thresholds: they only decide what becomes a candidate. Whether a candidate matters is up to the rules.
REGEN_MIN_A = 2.0  # charging current that makes a regen episode
LOAD_MIN_A = 5.0  # discharge current that makes a load episode
EPISODE_GAP_S = 1.0  # episodes closer than this are one (a brake pulse, regen paused by a fault)
COLLAPSE_FRACTION = 0.5  # pack voltage below half its usual level has collapsed (a cut)
COLLAPSE_GAP_S = 1.0
PRE_S = 2.0  # look-back for the current that preceded an event
POST_S = 1.0  # look-ahead for the lowest/highest voltage after it
LATCH_OBSERVE_S = 2.0  # a cut must be seen this long to say whether it held
LOG_END_S = 1.0  # "the log ends right after": within this
SPIKE_FRACTION = 0.06  # a rise beyond the IR model of 6 % of pack voltage (at least SPIKE_MIN_V) is a spike
SPIKE_MIN_V = 2.0
REST_A = 1.0  # |current| below this is rest
RES_WINDOW_S = 30.0  # resistance: per-window deviations, so the slow state-of-charge drift cancels
RES_MIN_STD_A = 3.0  # windows without load steps carry no information
RES_MIN_SAMPLES = 30
MAX_CHECKS = 600  # per kind, at most this many episode readings go through the engine (the largest ones)
FAULT_NAMES = {0: "none", 1: "over_voltage", 2: "under_voltage", 3: "drv", 4: "abs_over_current", 5: "over_temp_fet",
               6: "over_temp_motor", 7: "gate_driver_over_voltage", 8: "gate_driver_under_voltage",
               9: "mcu_under_voltage", 10: "booting_from_watchdog_reset"}  # VESC mc_fault_code
TRIP_KINDS = ("discharge_cut", "regen_cut", "log_end_under_load", "controller_fault", "trip_latched", "trip_released")
NEEDS = {"cell_mean": "series"}  # a derived value a log rule missed -> the context flag that supplies it


# ---------------------------------------------------------------- results


@dataclass
class Event:
    t_s: float
    kind: str
    values: dict[str, Any]
    rule: str | None  # the rule that speaks for this event (most severe), None for plain facts
    severity: str  # critical | warning | info
    citations: list[str]
    title: str = ""
    message: str = ""
    remedy: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)  # every rule that fired on it

    def to_json(self) -> dict[str, Any]:
        return {"t_s": round(self.t_s, 3), "kind": self.kind, "values": self.values, "rule": self.rule,
                "severity": self.severity, "citations": list(self.citations), "title": self.title,
                "message": self.message, "remedy": list(self.remedy), "rules": list(self.rules)}


@dataclass
class Resistance:
    ohm: float | None
    windows: int = 0  # windows with load steps that were used
    samples: int = 0
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"ohm": None if self.ohm is None else round(self.ohm, 4), "windows": self.windows,
                "samples": self.samples, "method": f"Huber regression of dV on dI within {RES_WINDOW_S:.0f} s windows",
                "note": self.note}


@dataclass
class PlotSeries:
    """Downsampled series that keep every window's extremes (peaks survive), plus event markers."""

    t_s: np.ndarray
    voltage: np.ndarray
    current: np.ndarray

    def to_json(self) -> dict[str, Any]:
        return {"t_s": np.round(self.t_s, 3).tolist(), "voltage": np.round(self.voltage, 2).tolist(),
                "current": np.round(self.current, 2).tolist()}


@dataclass
class LogAnalysis:
    kb_version: str
    format: str
    source: str
    samples: int
    duration_s: float
    events: list[Event]
    findings: list[dict[str, Any]]  # Finding.to_json() + t_s of the first event and how many events it covered
    resistance: Resistance
    peaks: dict[str, Any]
    context: dict[str, Any]
    notes: list[str]
    missing_context: list[str]  # context fields that would let more log rules decide
    engine: str
    plot: PlotSeries

    @property
    def resistance_ohm(self) -> float | None:
        return self.resistance.ohm

    def worst(self) -> str | None:
        """The most severe severity among events a rule spoke for (None: nothing to act on)."""
        sev = [e.severity for e in self.events if e.rule]
        return min(sev, key=SEVERITY_ORDER.__getitem__) if sev else None

    def problems(self) -> list[Event]:
        return [e for e in self.events if e.rule and e.severity != "info"]

    def trips(self) -> list[Event]:
        """Cuts, faults and their latching that a rule recognised (a healthy ride has none)."""
        return [e for e in self.events if e.kind in TRIP_KINDS and e.rule]

    def to_json(self, include_plot: bool = False) -> dict[str, Any]:
        d = {
            "kb_version": self.kb_version,
            "format": self.format,
            "source": self.source,
            "samples": self.samples,
            "duration_s": round(self.duration_s, 3),
            "trips": len(self.trips()),
            "events": [e.to_json() for e in self.events],
            "findings": self.findings,
            "resistance_ohm": None if self.resistance.ohm is None else round(self.resistance.ohm, 4),
            "resistance": self.resistance.to_json(),
            "peaks": self.peaks,
            "context": self.context,
            "missing_context": self.missing_context,
            "notes": self.notes,
            "engine": self.engine,
        }
        if include_plot:
            d["plot"] = self.plot.to_json()
        return d


# ---------------------------------------------------------------- entry point


def analyze(source: Any, context: Mapping[str, Any] | None = None, *, kb: Any = None,
            loader: Callable[[Any], Any] | None = None, check_engine: str | None = None) -> LogAnalysis:
    """Analyse a loaded log (LogData-like) or a path (with `loader`). `context` holds Reading fields."""
    if isinstance(source, (str, Path)):
        if loader is None:
            raise TypeError("analyze(path) needs loader= (e.g. drivers.logs.load_log); or pass a loaded log")
        source = loader(source)
    data = source
    notes = list(getattr(data, "notes", []))
    ctx = _context({**_recorded_context(getattr(data, "context", None), notes), **dict(context or {})})
    t, v, i = _signals(data)
    if kb is None:
        from kb.load import load_kb

        kb = load_kb()
    ok = v >= COLLAPSE_FRACTION * float(np.percentile(v, 90))
    res = estimate_resistance(t, v, i, ok)
    cands = find_candidates(data, t, v, i, res.ohm or 0.0, ok)
    judge = _Judge(kb, ctx, check_engine)
    events = judge.events(cands)
    peaks = _peaks(t, v, i)
    if res.note:
        notes.append(res.note)
    return LogAnalysis(
        kb_version=kb.kb_version,
        format=getattr(data, "format", "unknown"),
        source=getattr(data, "source", ""),
        samples=len(t),
        duration_s=float(t[-1] - t[0]),
        events=events,
        findings=judge.findings(events),
        resistance=res,
        peaks=peaks,
        context=ctx,
        notes=notes,
        missing_context=judge.missing_context(),
        engine=judge.engine,
        plot=downsample(t, v, i),
    )


def resistance_trend(logs: list[Any], series: int | None = None) -> dict[str, Any]:
    """Pack resistance of each log in the order given, and the change from the first estimate to the last."""
    rows = []
    for data in logs:
        t, v, i = _signals(data)
        ok = v >= COLLAPSE_FRACTION * float(np.percentile(v, 90))
        r = estimate_resistance(t, v, i, ok)
        rows.append({"source": getattr(data, "source", ""), "resistance_ohm": None if r.ohm is None else round(r.ohm, 4),
                     "per_group_mohm": None if r.ohm is None or not series else round(1000 * r.ohm / series, 2),
                     "windows": r.windows, "note": r.note})
    known = [row["resistance_ohm"] for row in rows if row["resistance_ohm"] is not None]
    change = round(100.0 * (known[-1] - known[0]) / known[0], 1) if len(known) >= 2 else None
    return {"logs": rows, "change_pct": change}


def _recorded_context(recorded: Mapping[str, Any] | None, notes: list[str]) -> dict[str, Any]:
    """Context a recording carries (series, limits): each field kept only if it is a valid reading field."""
    from engine.reading import Reading

    out = {}
    for k, v in (recorded or {}).items():
        try:
            out.update(Reading.parse({k: v}).given())
        except UserError:
            notes.append(f"recorded context '{k}' is not usable: ignored")
    if out:
        notes.append("context from the recording: " + ", ".join(f"{k}={v}" for k, v in out.items()))
    return out


def _context(context: Mapping[str, Any] | None) -> dict[str, Any]:
    from engine.reading import Reading

    if not context:
        return {}
    try:
        return Reading.parse(dict(context)).given()
    except UserError as e:
        raise UserError(f"context: {str(e).removeprefix('invalid reading: ')}") from None


def _signals(data: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    src = getattr(data, "source", "log")
    t = np.asarray(data.t_s, dtype=np.float64)
    if data.voltage is None or data.current is None:
        raise UserError(f"{src}: the log has no pack voltage or no battery current; both are needed")
    v = np.asarray(data.voltage, dtype=np.float64)
    i = np.asarray(data.current, dtype=np.float64)
    if len(t) < 2:
        raise UserError(f"{src}: {len(t)} sample(s): too short to analyse")
    for name, a in (("time", t), ("voltage", v), ("current", i)):
        if not np.isfinite(a).all():
            k = int(np.argmax(~np.isfinite(a)))
            raise UserError(f"{src}: sample {k + 1} has no {name}")
    if np.abs(v).max() > 300 or np.abs(i).max() > 2000:
        raise UserError(f"{src}: voltages above 300 V or currents above 2000 A: not a scooter pack log")
    return t, v, i


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


def _peaks(t: np.ndarray, v: np.ndarray, i: np.ndarray) -> dict[str, Any]:
    kd, kr = int(np.argmin(i)), int(np.argmax(i))
    return {
        "discharge_a": round(max(0.0, -float(i[kd])), 2), "discharge_t_s": round(float(t[kd]), 3),
        "regen_a": round(max(0.0, float(i[kr])), 2), "regen_t_s": round(float(t[kr]), 3),
        "voltage_min": round(float(v.min()), 2), "voltage_max": round(float(v.max()), 2),
    }


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


# ---------------------------------------------------------------- judging candidates with the rules


class _Judge:
    def __init__(self, kb: Any, ctx: dict[str, Any], engine: str | None):
        from engine.check import check

        self.kb = kb
        self.ctx = ctx
        self._check = check
        self._engine_arg = engine
        self.engine = ""
        self._missing: dict[str, int] = {}
        self._finding: dict[str, list] = {}  # rule -> [first t_s, Finding of the largest event, its size, events]
        base = self.check({"state": "riding"})
        self.baseline = {f.rule for f in base.findings}
        self.base_findings = base.sorted_findings()

    def check(self, fields: dict[str, Any]):
        from engine.reading import Reading

        reading = Reading.parse({**self.ctx, **fields})
        kw = {"kb": self.kb}
        if self._engine_arg:
            kw["engine"] = self._engine_arg
        report = self._check(reading, **kw)
        self.engine = report.engine
        return report

    def events(self, cands: list[Candidate]) -> list[Event]:
        out = []
        for c in cands:
            report = self.check({"state": "riding", **c.fields})
            for nc in report.not_checked:
                if nc.rule.startswith("log-"):
                    for f in nc.missing:
                        f = NEEDS.get(f, f)
                        self._missing[f] = self._missing.get(f, 0) + 1
            fired = [f for f in report.sorted_findings() if f.rule not in self.baseline]
            fired.sort(key=lambda f: (SEVERITY_ORDER[f.severity], not f.rule.startswith("log-"), f.rule))
            if not fired and not c.always:
                continue
            ev = Event(c.t_s, c.kind, c.values, None, "info", [])
            if fired:
                top = fired[0]
                ev.rule, ev.severity, ev.title, ev.message, ev.remedy = (top.rule, top.severity, top.title,
                                                                         top.message, list(top.remedy))
                cites: list[str] = []
                for f in fired:
                    cites += [x for x in f.citations if x not in cites]
                    seen = self._finding.get(f.rule)
                    if seen is None:
                        self._finding[f.rule] = [c.t_s, f, c.size, 1]
                    else:  # one finding per rule: its first time, the message of its largest event
                        seen[0] = min(seen[0], c.t_s)
                        if c.size > seen[2]:
                            seen[1], seen[2] = f, c.size
                        seen[3] += 1
                ev.citations = cites
                ev.rules = [f.rule for f in fired]
            out.append(ev)
        out.sort(key=lambda e: (e.t_s, SEVERITY_ORDER[e.severity]))
        return out

    def findings(self, events: list[Event]) -> list[dict[str, Any]]:
        out = []
        for f in self.base_findings:
            d = f.to_json()
            d.update(t_s=None, events=0)
            out.append(d)
        for t0, f, _, count in self._finding.values():
            d = f.to_json()
            d.update(t_s=round(t0, 3), events=count)
            out.append(d)
        out.sort(key=lambda d: (SEVERITY_ORDER[d["severity"]], d["t_s"] if d["t_s"] is not None else -1.0))
        return out

    def missing_context(self) -> list[str]:
        from kb.fields import FIELDS

        given = set(self.ctx)
        keep = [f for f in self._missing if f in FIELDS and FIELDS[f].group in ("identity", "settings", "context")
                and f not in given]
        return sorted(keep, key=lambda f: (-self._missing[f], f))
