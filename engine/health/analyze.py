"""Recordings of one pack -> a HealthReport: per-cell figures and verdicts, pack figures, trends, findings.

Recordings are taken one at a time (an iterable is fine), so a month of 1 Hz data never sits in memory at once:
each leaves behind its step ratios, rest points, rest pairs and a few figures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from engine.evaluate import render_template
from engine.health import capacity as cap
from engine.health import steps as st
from engine.health.data import Recording
from engine.health.rests import Rest, find_rests, infer_chemistry
from engine.report import Finding
from kb.schema import SEVERITY_ORDER

PLOT_POINTS = 3000
VERDICTS = ("ok", "high-resistance", "low-capacity", "imbalanced")


@dataclass
class CellHealth:
    cell: int  # 1-based
    resistance_mohm: float | None
    resistance_confidence: float
    steps: int
    capacity_ah: float | None
    offset_v: float | None  # mean OCV offset from the pack median at rest
    offset_soc: float | None  # the same in state of charge (where the curve allows)
    verdict: str
    kinds: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"cell": self.cell, "resistance_mohm": _r(self.resistance_mohm, 2), "capacity_ah": _r(self.capacity_ah, 3),
                "verdict": self.verdict, "kinds": list(self.kinds), "steps": self.steps,
                "resistance_confidence": round(self.resistance_confidence, 2), "offset_v": _r(self.offset_v, 4),
                "offset_soc": _r(self.offset_soc, 4)}


@dataclass
class RecordingSummary:
    name: str
    started: float | None
    samples: int
    duration_s: float
    series: int
    resistance_mohm: float | None  # the pack's
    steps: int
    rests: int
    rest_delta_v: float | None  # at the fullest rest
    rest_top_v: float | None  # the median cell's OCV at that rest
    first_rest_delta_v: float | None
    last_rest_delta_v: float | None
    ah_in: float
    ah_out: float
    wh_in: float | None
    wh_out: float | None
    cell_resistance_mohm: list[float | None] = field(default_factory=list)  # this recording's own estimate per cell
    balancing_share: float | None = None  # fraction of samples the BMS reported balancing (None: not reported)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, float):
                d[k] = None if not np.isfinite(v) else round(v, 4)
        d["cell_resistance_mohm"] = [_r(x, 2) for x in self.cell_resistance_mohm]
        return d


@dataclass
class HealthReport:
    pack: str | None
    series: int
    chemistry: str | None
    cells: list[CellHealth]
    figures: dict[str, Any]
    recordings: list[RecordingSummary]
    findings: list[Finding]
    notes: list[str] = field(default_factory=list)
    plot: dict[str, Any] = field(default_factory=dict)  # downsampled series for the report's figures

    def sorted_findings(self) -> list[Finding]:
        return sorted(self.findings, key=lambda f: (SEVERITY_ORDER[f.severity], f.rule, str(f.evidence.get("cell", ""))))

    def worst(self) -> str | None:
        fs = self.sorted_findings()
        return fs[0].severity if fs else None

    def to_json(self) -> dict[str, Any]:
        return {"series": self.series, "chemistry": self.chemistry,
                "cells": [c.to_json() for c in self.cells], "pack": {"name": self.pack, **self.figures},
                "recordings": [r.to_json() for r in self.recordings],
                "findings": [f.to_json() for f in self.sorted_findings()], "notes": list(self.notes)}


def _r(x: float | None, nd: int) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), nd)


def _names(names: list[str]) -> str:
    if not names:
        return "no recording"
    if len(names) == 1:
        return names[0]
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"{len(names)} recordings: {shown}"


def health_kb(kb=None):
    if kb is None:
        from kb.load import load_kb

        kb = load_kb()
    h = kb.health
    if h is None:
        from kb.errors import UserError

        raise UserError("the knowledge base has no content/health.yaml: pack health cannot be judged")
    return h


@dataclass
class _Acc:
    """What each recording leaves behind."""

    ratios: list[np.ndarray] = field(default_factory=list)  # cells + pack column
    ratio_names: list[str] = field(default_factory=list)
    rests: list[tuple[str, Rest]] = field(default_factory=list)
    pairs: list[cap.Pairs] = field(default_factory=list)
    summaries: list[RecordingSummary] = field(default_factory=list)
    plot: dict[str, Any] = field(default_factory=dict)


def analyze(recordings: Iterable[Recording], kb=None, *, chemistry: str | None = None,
            pack: str | None = None) -> HealthReport:
    h = health_kb(kb)
    th = h.value
    acc = _Acc()
    notes: list[str] = []
    series_seen: Counter[int] = Counter()
    chem = chemistry
    for rec in recordings:
        if rec.samples < 2:
            notes.append(f"{rec.name}: fewer than two samples: skipped")
            continue
        if series_seen and rec.series and rec.series not in series_seen:
            want = series_seen.most_common(1)[0][0]
            notes.append(f"{rec.name}: {rec.series} cells where the others have {want}: skipped")
            continue
        if rec.series:
            series_seen[rec.series] += 1
        if chem is None and rec.series:
            chem = rec.context.get("chemistry") if rec.context.get("chemistry") in h.ocv else None
            chem = chem or infer_chemistry(rec.cells, th("liion_above_v"))
            if chem is None:
                notes.append(f"{rec.name}: the chemistry is not clear from the voltages: capacity from the OCV is left out")
        _one(rec, h, chem, acc)
        notes.extend(f"{rec.name}: {n}" for n in rec.notes)
    series = series_seen.most_common(1)[0][0] if series_seen else 0
    if not acc.summaries:
        from kb.errors import UserError

        raise UserError("no recording with data to analyse")
    return _combine(acc, h, series, chem, pack, notes)


def _one(rec: Recording, h, chem: str | None, acc: _Acc) -> None:
    th = h.value
    t, i, cells = rec.t_s, rec.current, rec.cells
    pv = rec.pack_voltage()
    cols = cells if pv is None else np.column_stack((cells, pv))
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
    gap = max(th("step_gap_s"), 1.5 * dt)  # a slow logger's two neighbouring samples are still one step
    kw = {"step_min_a": th("step_min_a"), "steady_a": th("step_steady_a")}
    steps = st.find_steps(t, i, gap_s=gap, fallback=False, **kw)
    if len(steps) < 2 * st.MIN_STEPS:  # a controller that ramps its current: bridge longer ramps
        longer = st.find_steps(t, i, gap_s=max(th("step_gap_long_s"), 3 * dt), fallback=False, **kw)
        if len(longer) > len(steps):
            steps = longer
    if len(steps) < st.MIN_STEPS:
        steps = st.find_steps(t, i, gap_s=gap, fallback=True, **kw)
    est = st.estimate(cols, steps) if cols.shape[1] else None
    if est is not None and est.steps >= 5 and float(np.nanmedian(est.ohm)) < 0:
        # voltage rises when the current goes more negative: this log counts discharge as positive
        rec.current = i = -i
        rec.notes.append("the current is discharge-positive here (cell voltages rise as it falls): its sign was flipped")
        steps = st.Steps(steps.pre, steps.post, -steps.d_i)
        est = st.estimate(cols, steps)
    if est is not None and est.steps:
        acc.ratios.append(est.ratios)
        acc.ratio_names.append(rec.name)
    curve = None
    if chem is not None:
        c = h.ocv[chem]
        curve = (np.asarray(c.soc), np.asarray(c.volts))
    rests = find_rests(t, i, cells, rec.soc, rest_current_a=th("rest_current_a"), rest_min_s=th("rest_min_s"),
                       curve=curve, slope_min_v=th("ocv_slope_min_v"))
    if len(rests) < 2 and rec.series:
        short = find_rests(t, i, cells, rec.soc, rest_current_a=th("rest_current_a"), rest_min_s=th("rest_min_s") / 5,
                           curve=curve, slope_min_v=th("ocv_slope_min_v"))
        if len(short) >= 2:
            rec.notes.append(f"rests shorter than {th('rest_min_s'):.0f} s were used: the OCV may not have settled")
            rests = short
    q = cap.charge_ah(t, i)
    acc.rests.extend((rec.name, r) for r in rests)
    acc.pairs.append(cap.rest_pairs(rests, q, th("capacity_swing_soc")))
    e = cap.energy(t, i, pv)
    top = max(rests, key=lambda r: float(np.median(r.ocv))) if rests else None
    pack_r = float(est.ohm[-1]) * 1000 if est is not None and pv is not None and est.steps else None
    acc.summaries.append(RecordingSummary(
        name=rec.name, started=rec.started, samples=rec.samples, duration_s=float(t[-1] - t[0]), series=rec.series,
        resistance_mohm=pack_r, steps=est.steps if est is not None else 0, rests=len(rests),
        rest_delta_v=top.delta_v if top else None, rest_top_v=float(np.median(top.ocv)) if top else None,
        first_rest_delta_v=rests[0].delta_v if rests else None,
        last_rest_delta_v=rests[-1].delta_v if rests else None, ah_in=e.ah_in, ah_out=e.ah_out,
        wh_in=e.wh_in, wh_out=e.wh_out, notes=list(rec.notes),
        cell_resistance_mohm=[float(x) * 1000 if np.isfinite(x) else None for x in est.ohm[:rec.series]]
        if est is not None and est.steps else [],
        balancing_share=float(np.mean(rec.balancing)) if rec.balancing is not None and len(rec.balancing) else None))
    if rec.series or acc.plot.get("cells") is None:
        k = max(1, rec.samples // PLOT_POINTS)
        acc.plot = {"name": rec.name, "t_s": t[::k], "cells": cells[::k] if rec.series else None, "current": i[::k],
                    "pack_v": None if pv is None else pv[::k]}


def _combine(acc: _Acc, h, series: int, chem: str | None, pack: str | None, notes: list[str]) -> HealthReport:
    th = h.value
    ncols = series + 1  # cells + the pack column
    pooled = [r for r in acc.ratios if r.shape[1] in (series, ncols)]
    pack_est = None
    if pooled and all(r.shape[1] == ncols for r in pooled):
        est = st.summarise(np.vstack(pooled))
        pack_est = est
        r_cells, conf, n_steps = est.ohm[:series], est.confidence[:series], est.steps
    elif pooled:
        est = st.summarise(np.vstack([r[:, :series] for r in pooled]))
        r_cells, conf, n_steps = est.ohm, est.confidence, est.steps
    else:
        r_cells, conf, n_steps = np.full(series, np.nan), np.zeros(series), 0
    pairs = cap.stack(acc.pairs, series)
    c_cells = cap.capacity(pairs) if series else None
    rests = [r for _, r in acc.rests if len(r.ocv) == series]
    off_v = off_s = None
    consistent_s = consistent_v = np.zeros(series, bool)
    if rests:
        ocv = np.array([r.ocv for r in rests])
        dv = ocv - np.median(ocv, axis=1, keepdims=True)
        off_v = dv.mean(axis=0)
        consistent_v = (np.sign(dv) == np.sign(off_v)).all(axis=0) & (np.abs(dv) >= th("imbalance_v")).all(axis=0)
        soc = np.array([r.soc for r in rests])
        okrows = np.isfinite(soc).all(axis=1)
        if okrows.any():
            ds = soc[okrows] - np.median(soc[okrows], axis=1, keepdims=True)
            off_s = ds.mean(axis=0)
            spread = ds.max(axis=0) - ds.min(axis=0)
            consistent_s = (np.abs(off_s) >= th("imbalance_soc")) & (spread <= np.abs(off_s))
    med_r = float(np.nanmedian(r_cells)) if np.isfinite(r_cells).any() else float("nan")
    med_c = float(np.nanmedian(c_cells)) if c_cells is not None and np.isfinite(c_cells).any() else float("nan")
    names_r = _names(acc.ratio_names)
    names_rest = _names(sorted({n for n, r in acc.rests}, key=[s.name for s in acc.summaries].index))
    findings: list[Finding] = []
    cells: list[CellHealth] = []
    for j in range(series):
        kinds = []
        rj = float(r_cells[j])
        if np.isfinite(rj) and np.isfinite(med_r) and med_r > 0 and n_steps >= 3 \
                and rj / med_r >= th("resistance_ratio"):
            kinds.append("high-resistance")
            findings.append(_finding(h, "health.cell-high-resistance", {
                "cell": j + 1, "resistance_mohm": rj * 1000, "median_mohm": med_r * 1000, "ratio": rj / med_r,
                "steps": n_steps, "confidence": float(conf[j]), "recordings": names_r},
                [f"resistance ratio {rj / med_r:.2f} >= {th('resistance_ratio')} (ours)"]))
        cj = float(c_cells[j]) if c_cells is not None else float("nan")
        if np.isfinite(cj) and np.isfinite(med_c) and cj / med_c <= th("capacity_ratio"):
            kinds.append("low-capacity")
            findings.append(_finding(h, "health.cell-low-capacity", {
                "cell": j + 1, "capacity_ah": cj, "median_ah": med_c, "ratio": cj / med_c, "recordings": names_rest},
                [f"capacity ratio {cj / med_c:.2f} <= {th('capacity_ratio')} (ours)"]))
        imb = "low-capacity" not in kinds and (bool(consistent_s[j]) if off_s is not None else bool(consistent_v[j]))
        if imb:
            assert off_v is not None  # an offset at every rest needs rests, and they set off_v
            kinds.append("imbalanced")
            why = (f"SoC offset {off_s[j]:+.3f} at every rest, |offset| >= {th('imbalance_soc')} (ours)" if off_s is not None
                   else f"OCV offset {off_v[j]:+.3f} V at every rest, >= {th('imbalance_v')} V [^9]")
            findings.append(_finding(h, "health.cell-imbalanced", {
                "cell": j + 1, "offset_soc": float(off_s[j]) if off_s is not None else float("nan"),
                "offset_v": float(off_v[j]), "rests": len(rests), "recordings": names_rest}, [why]))
        cells.append(CellHealth(j + 1, rj * 1000 if np.isfinite(rj) else None, float(conf[j]), n_steps,
                                cj if np.isfinite(cj) else None,
                                float(off_v[j]) if off_v is not None else None,
                                float(off_s[j]) if off_s is not None else None,
                                kinds[0] if kinds else "ok", kinds))
    summaries = sorted(acc.summaries, key=lambda s: (s.started is None, s.started or 0.0)) \
        if all(s.started is not None for s in acc.summaries) else acc.summaries
    any_imbalanced = any("imbalanced" in c.kinds for c in cells)
    soc_judged = off_s is not None
    findings += _pack_findings(h, summaries, pairs, rests, strong_delta=any_imbalanced or not soc_judged)
    if chem == "lfp":  # remedies that quote Li-ion voltages have a LiFePO4 variant
        findings = [replace(f, remedy=list(h.finding(f.rule).remedy_lfp)) if h.finding(f.rule).remedy_lfp else f
                    for f in findings]
    figures = _figures(summaries, pack_est, series, c_cells, med_c, r_cells, rests)
    if c_cells is None and series:
        notes.append("capacity: no two rests far enough apart in state of charge"
                     + ("" if chem else ", and the chemistry is unknown") + " to count it")
    plot = dict(acc.plot)
    plot["delta"] = [{"recording": n, "t_s": r.t_s, "delta_v": r.delta_v} for n, r in acc.rests]
    return HealthReport(pack, series, chem, cells, figures, summaries, findings, notes, plot)


def _figures(summaries, pack_est, series, c_cells, med_c, r_cells, rests) -> dict[str, Any]:
    ah_out = sum(s.ah_out for s in summaries)
    usable = float(np.nanmin(c_cells)) if c_cells is not None and np.isfinite(c_cells).any() else None
    fig: dict[str, Any] = {
        "series": series,
        "recordings": len(summaries),
        "samples": sum(s.samples for s in summaries),
        "duration_h": round(sum(s.duration_s for s in summaries) / 3600, 3),
        "resistance_mohm": _r(pack_est.ohm[-1] * 1000, 2) if pack_est is not None else None,
        "resistance_steps": pack_est.steps if pack_est is not None else 0,
        "resistance_confidence": _r(pack_est.confidence[-1], 2) if pack_est is not None else None,
        "cells_resistance_sum_mohm": _r(float(np.nansum(r_cells)) * 1000, 2) if np.isfinite(r_cells).any() else None,
        "capacity_ah": _r(usable, 3) if usable is not None else None,
        "capacity_median_ah": _r(med_c, 3),
        "capacity_spread_pct": _r((np.nanmax(c_cells) - np.nanmin(c_cells)) / med_c * 100, 1)
        if usable is not None and np.isfinite(med_c) else None,
        "ah_in": round(sum(s.ah_in for s in summaries), 3),
        "ah_out": round(ah_out, 3),
        "wh_in": _r(sum(s.wh_in for s in summaries if s.wh_in is not None), 1),
        "wh_out": _r(sum(s.wh_out for s in summaries if s.wh_out is not None), 1),
        "equivalent_full_cycles": _r(ah_out / med_c, 2) if np.isfinite(med_c) and med_c > 0 else None,
        "rest_delta_v": _r(summaries[-1].rest_delta_v, 4) if summaries[-1].rest_delta_v is not None else None,
        "rests": len(rests),
    }
    if len(summaries) >= 1:
        fig["trend"] = [{"recording": s.name, "resistance_mohm": _r(s.resistance_mohm, 2),
                         "rest_delta_v": _r(s.rest_delta_v, 4)} for s in summaries]
    return fig


def _pack_findings(h, summaries: list[RecordingSummary], pairs: cap.Pairs, rests: list[Rest],
                   strong_delta: bool = True) -> list[Finding]:
    """strong_delta: a rest delta above the band is a warning only when a cell is out of balance at every state of
    charge, or the voltages cannot tell (else it is the spread of a healthy pack at one point, an info)."""
    th = h.value
    out: list[Finding] = []
    last = summaries[-1]
    if last.rest_delta_v is not None and np.isfinite(last.rest_delta_v):
        d = last.rest_delta_v
        where = f"the fullest rest, {last.rest_top_v:.3f} V per cell"
        if d > th("delta_warn_v") and strong_delta:
            out.append(_finding(h, "health.rest-delta", {"delta_v": d, "where": where, "recordings": last.name},
                                [f"rest delta {d:.3f} V > {th('delta_warn_v')} V [^9]"]))
        elif d > th("delta_info_v"):
            out.append(_finding(h, "health.rest-delta-info", {"delta_v": d, "where": where, "recordings": last.name},
                                [f"rest delta {d:.3f} V > {th('delta_info_v')} V [^9]"
                                 + ("" if d <= th("delta_warn_v") else "; no cell is offset at every rest (ours)")]))
    idle = [s for s in summaries if s.balancing_share == 0.0 and s.rest_delta_v is not None
            and s.rest_delta_v > th("delta_warn_v")]
    if idle:
        s = idle[-1]
        out.append(_finding(h, "health.balancer-idle", {"delta_v": s.rest_delta_v, "recordings": _names([x.name for x in idle])},
                            [f"rest delta {s.rest_delta_v:.3f} V > {th('delta_warn_v')} V [^9] and no balancing reported"]))
    rs = [s for s in summaries if s.resistance_mohm is not None and np.isfinite(s.resistance_mohm)]
    rv = [s.resistance_mohm for s in rs if s.resistance_mohm is not None]  # the same values, typed
    if len(rs) >= 2 and rv[0] > 0:
        rise = rv[-1] / rv[0] - 1
        if rise >= th("trend_resistance_rise"):
            out.append(_finding(h, "health.resistance-trend", {
                "first_mohm": rv[0], "last_mohm": rv[-1], "rise": rise,
                "recordings": _names([s.name for s in rs])}, [f"rise {rise:+.2f} >= {th('trend_resistance_rise')} (ours)"]))
    ds = [s for s in summaries if s.rest_delta_v is not None and np.isfinite(s.rest_delta_v)]
    dv = [s.rest_delta_v for s in ds if s.rest_delta_v is not None]  # the same values, typed
    if len(ds) >= 2 and dv[-1] - dv[0] >= th("trend_delta_rise_v"):
        out.append(_finding(h, "health.delta-trend", {
            "first_v": dv[0], "last_v": dv[-1], "recordings": _names([s.name for s in ds])},
            [f"rest delta rose {dv[-1] - dv[0]:.3f} V >= {th('trend_delta_rise_v')} V (ours)"]))
    for a, b in zip(summaries, summaries[1:]):
        if a.started is None or b.started is None or a.last_rest_delta_v is None or b.first_rest_delta_v is None:
            continue
        gap_h = (b.started - (a.started + a.duration_s)) / 3600
        rise = b.first_rest_delta_v - a.last_rest_delta_v
        if gap_h >= th("storage_gap_h") and rise >= th("storage_delta_rise_v"):
            out.append(_finding(h, "health.after-storage", {
                "before_v": a.last_rest_delta_v, "after_v": b.first_rest_delta_v, "hours": gap_h,
                "recordings": f"{a.name} -> {b.name}"},
                [f"{gap_h:.0f} h >= {th('storage_gap_h')} h (ours); delta +{rise:.3f} V >= {th('storage_delta_rise_v')} V (ours)"]))
    if len(pairs.d_q):
        counted = np.median(pairs.d_s, axis=1)
        ok = np.isfinite(pairs.d_bms) & (np.abs(counted) > 0)
        if ok.any():
            k = int(np.argmax(np.where(ok, np.abs(counted), -1)))
            err = abs(pairs.d_bms[k] - counted[k]) / abs(counted[k])
            if err >= th("soc_error"):
                out.append(_finding(h, "health.soc-drift", {
                    "bms_swing": float(pairs.d_bms[k]), "counted_swing": float(counted[k]),
                    "recordings": _names([s.name for s in summaries])},
                    [f"SoC error {err:.2f} of the swing >= {th('soc_error')} (ours)"]))
    return out


def _finding(h, fid: str, evidence: dict[str, Any], explanation: list[str]) -> Finding:
    f = h.finding(fid)
    ev = {k: (round(v, 5) if isinstance(v, float) else v) for k, v in evidence.items()}
    return Finding(rule=f.id, severity=f.severity, title=f.title, message=render_template(f.message, evidence),
                   remedy=list(f.remedy), citations=list(f.citations), evidence=ev, section="balancing",
                   explanation=explanation)
