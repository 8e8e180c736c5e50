"""What a log analysis returns: events, the resistance estimate, the plot series and the whole analysis."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.logs.thresholds import RES_WINDOW_S, TRIP_KINDS
from kb.schema import SEVERITY_ORDER

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
