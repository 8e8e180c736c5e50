"""One recording of one pack, column by column: the input of every health estimator.

Current is the battery current, positive = charging (the project's convention). `cells` has one column per cell
group (series position), cell 1 first; it may have zero columns (a log with pack voltage only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Recording:
    name: str  # file name or "sessions.sqlite#3", for messages and evidence
    t_s: np.ndarray  # seconds, non-decreasing
    current: np.ndarray  # A, + = charging
    cells: np.ndarray  # (samples, cells) V; shape (samples, 0) without cell voltages
    pack_v: np.ndarray | None = None  # measured pack voltage (else the sum of the cells)
    temp_c: np.ndarray | None = None
    soc: np.ndarray | None = None  # the BMS's state of charge, 0..1
    balancing: np.ndarray | None = None  # the BMS says its balancer runs (bool per sample), when it reports it
    started: float | None = None  # Unix time of the first sample, when known (storage gaps need it)
    notes: list[str] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.t_s)
        if len(self.current) != n or self.cells.shape[0] != n:
            raise ValueError("current, cells and t_s differ in length")

    @property
    def series(self) -> int:
        return int(self.cells.shape[1])

    @property
    def samples(self) -> int:
        return len(self.t_s)

    def pack_voltage(self) -> np.ndarray | None:
        if self.pack_v is not None:
            return self.pack_v
        if self.series:
            return self.cells.sum(axis=1)
        return None


def from_log(data: Any, name: str | None = None) -> Recording:
    """A drivers.logs LogData (any loader: VESC, LogUI, session, --map CSV) as a Recording."""
    n = len(data.t_s)
    cells = data.cells if data.cells is not None else np.empty((n, 0))
    temp = None
    if getattr(data, "pack_temps", None):
        temp = np.nanmax(np.column_stack(list(data.pack_temps.values())), axis=1)
    cur = data.current if data.current is not None else np.full(n, np.nan)
    return Recording(name=name or data.source, t_s=np.asarray(data.t_s, dtype=np.float64), current=cur,
                     cells=np.asarray(cells, dtype=np.float64), pack_v=data.voltage, temp_c=temp,
                     notes=list(data.notes), context=dict(getattr(data, "context", {}) or {}))
