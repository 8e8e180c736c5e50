"""The pipeline: a log (or a path and its loader) and the rider's context -> a LogAnalysis."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from engine.logs.detect import find_candidates
from engine.logs.judge import Judge
from engine.logs.results import LogAnalysis
from engine.logs.signals import downsample, estimate_resistance, peak_values
from engine.logs.thresholds import COLLAPSE_FRACTION
from kb.errors import UserError

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
    judge = Judge(kb, ctx, check_engine)
    events = judge.events(cands)
    peaks = peak_values(t, v, i)
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
    known = [float(row["resistance_ohm"]) for row in rows if row["resistance_ohm"] is not None]
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
