"""The columnar shape every log loader returns: numpy arrays over one time axis.

Conventions (the same as engine.reading): `current` is the battery current, positive = charging or regen,
negative = discharging. Loaders whose source counts the other way (VESC `current_in`) flip the sign and say so
in `notes`. Channels a format does not carry are None (or empty dicts), never arrays of zeros.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# VESC firmware fault codes (datatypes.h, mc_fault_code), as the text the Reading's `fault` field uses.
VESC_FAULTS = {
    0: "none",
    1: "over_voltage",
    2: "under_voltage",
    3: "drv",
    4: "abs_over_current",
    5: "over_temp_fet",
    6: "over_temp_motor",
    7: "gate_driver_over_voltage",
    8: "gate_driver_under_voltage",
    9: "mcu_under_voltage",
    10: "booting_from_watchdog_reset",
}


def fault_name(code: int) -> str:
    return VESC_FAULTS.get(int(code), f"fault_{int(code)}")


@dataclass
class LogData:
    """One log, column by column. All arrays have the length of `t_s`."""

    format: str  # vesc-rt-csv | logui-csv | bmsdoc-session | generic-csv
    source: str  # the file name, for messages
    t_s: np.ndarray  # seconds from the first sample, non-decreasing
    voltage: np.ndarray | None = None  # pack (controller input) voltage, V
    current: np.ndarray | None = None  # battery current, A, positive = charging/regen
    duty: np.ndarray | None = None  # controller duty cycle, fraction
    fault: np.ndarray | None = None  # controller fault code per sample (VESC numbering), int
    controller_temps: dict[str, np.ndarray] = field(default_factory=dict)  # controller FETs, motor: not the pack
    pack_temps: dict[str, np.ndarray] = field(default_factory=dict)  # cell and BMS probes
    bms_mos_temp: np.ndarray | None = None  # the BMS's own MOSFET probe
    cells: np.ndarray | None = None  # shape (samples, cells), V
    columns: int = 0  # columns in the source file
    notes: list[str] = field(default_factory=list)  # what the loader understood or converted

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
