"""The columnar shape every log loader returns: numpy arrays over one time axis.

Conventions (the same as engine.reading): `current` is the battery current, positive = charging or regen,
negative = discharging. Loaders whose source counts the other way (VESC `current_in`) flip the sign and say so
in `notes`. Channels a format does not carry are None (or empty dicts), never arrays of zeros.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class LogData:
    """One log, column by column. All arrays have the length of `t_s`."""

    format: str  # vesc-rt-csv | logui-csv | bmsdoc-session | generic-csv
    source: str  # the file name, for messages
    t_s: np.ndarray  # seconds from the first sample, non-decreasing
    voltage: np.ndarray | None = None  # pack (controller input) voltage, V
    current: np.ndarray | None = None  # battery current, A, positive = charging/regen
    duty: np.ndarray | None = None  # controller duty cycle, fraction
    fault: np.ndarray | None = None  # controller fault code per sample (VESC mc_fault_code numbering), int
    controller_temps: dict[str, np.ndarray] = field(default_factory=dict)  # controller FETs, motor: not the pack
    pack_temps: dict[str, np.ndarray] = field(default_factory=dict)  # cell and BMS probes
    bms_mos_temp: np.ndarray | None = None  # the BMS's own MOSFET probe
    cells: np.ndarray | None = None  # shape (samples, cells), V
    columns: int = 0  # columns in the source file
    notes: list[str] = field(default_factory=list)  # what the loader understood or converted
    context: dict = field(default_factory=dict)  # reading fields the file itself records (a session's series, ...)

    def __post_init__(self) -> None:
        n = len(self.t_s)
        for name in ("voltage", "current", "duty", "fault", "bms_mos_temp"):
            a = getattr(self, name)
            if a is not None and len(a) != n:
                raise ValueError(f"{name} has {len(a)} samples, t_s has {n}")
        if self.cells is not None and self.cells.shape[0] != n:
            raise ValueError("cells and t_s differ in length")

    @property
    def samples(self) -> int:
        return len(self.t_s)

    @property
    def duration_s(self) -> float:
        return float(self.t_s[-1] - self.t_s[0]) if len(self.t_s) else 0.0

    def channels(self) -> list[str]:
        out = [n for n in ("voltage", "current", "duty", "fault", "bms_mos_temp") if getattr(self, n) is not None]
        out += [f"controller_temp:{k}" for k in self.controller_temps]
        out += [f"pack_temp:{k}" for k in self.pack_temps]
        if self.cells is not None:
            out.append(f"cells[{self.cells.shape[1]}]")
        return out
