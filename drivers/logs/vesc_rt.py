"""VESC Tool real-time ride log ("RT CSV"): `;`-separated with a trailing `;`, 55 columns (22 in old files).

Columns are found by name, so both column sets (and any future additions) load the same way. `ms_today` is the
phone's UTC time of day and wraps at midnight; samples come at irregular gaps, so time is always taken from it.
VESC counts `current_in` positive when discharging: we flip it to our convention (positive = charging/regen).
"""

from __future__ import annotations

import numpy as np

from drivers.logs.data import LogData
from drivers.logs.text import LogFile, Progress, carry_forward, monotonic, parse_blocks, parse_numbers, unwrap_day_clock
from kb.errors import UserError

REQUIRED = ("ms_today", "input_voltage", "current_in")
USED = REQUIRED + ("num_vescs", "current_in_setup", "temp_mos_max", "temp_mos", "temp_motor", "duty_cycle", "fault_code")
NO_SENSOR_BELOW_C = -40.0  # temp_motor reads a nonsense negative value when no motor sensor is fitted


def matches(header: list[str]) -> bool:
    return bool(header) and header[0] == "ms_today"


def load(name: str, lines: list[str], header: list[str], delim: str, progress: Progress | None = None) -> LogData:
    """From lines already in memory (tests, small files)."""
    _check_header(name, header)
    notes: list[str] = []
    data = lines[1:]
    if not data:
        raise UserError(f"{name}: a VESC Tool log header with no samples")
    ncols = len(header)
    # A log cut off mid-write ends in a partial line: drop it rather than refuse the ride.
    if data[-1].count(delim) < lines[0].count(delim) and len(data) > 1:
        data = data[:-1]
        notes.append(f"line {len(data) + 2} is cut short (the log just ends): dropped")
    used = [i for i, h in enumerate(header) if h in USED]
    table = parse_numbers(name, data, 2, ncols, delim, progress, usecols=used, labels=header)
    return _build(name, table, {header[i]: j for j, i in enumerate(used)}, ncols, notes)


def load_stream(log: LogFile, header: list[str], delim: str, progress: Progress | None = None) -> LogData:
    """Streamed from the file: only the columns used are kept (a 1,000,000-row log in well under 300 MB)."""
    _check_header(log.name, header)
    notes: list[str] = []
    used = [i for i, h in enumerate(header) if h in USED]
    table = parse_blocks(log, len(header), delim, used, header, progress, notes=notes)
    return _build(log.name, table, {header[i]: j for j, i in enumerate(used)}, len(header), notes)


def _check_header(name: str, header: list[str]) -> None:
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise UserError(f"{name}: VESC Tool log without the column(s) {', '.join(missing)}")


def _build(name: str, table: np.ndarray, col: dict[str, int], ncols: int, notes: list[str]) -> LogData:
    def get(c: str) -> np.ndarray | None:
        return table[:, col[c]].copy() if c in col else None  # copies, so the table can be freed

    if np.isnan(table).any():
        notes.append("empty or 'nan' cells carried forward from the row above")
        table = carry_forward(table)
        if np.isnan(table[0, [col[c] for c in REQUIRED]]).any():
            raise UserError(f"{name}: line 2: the first sample has no time, voltage or current")

    t, wraps = unwrap_day_clock(get("ms_today") / 1000.0, 86400.0)
    if wraps:
        notes.append(f"ms_today wrapped at midnight {wraps} time(s); time kept running")
    t = monotonic(name, t, notes)

    current_in = get("current_in")
    n_vescs = get("num_vescs")
    setup = get("current_in_setup")
    if n_vescs is not None and setup is not None and np.nanmax(n_vescs) > 1:
        current = -setup
        notes.append(f"{int(np.nanmax(n_vescs))} VESCs on CAN: pack current from current_in_setup (all controllers)")
    else:
        current = -current_in
    notes.append("current_in counts discharge as positive: sign flipped (here positive = charging/regen)")

    controller_temps = {}
    mos = get("temp_mos_max") if "temp_mos_max" in col else get("temp_mos")
    if mos is not None:
        controller_temps["controller_mos"] = mos
    motor = get("temp_motor")
    if motor is not None:
        if np.nanmax(motor) <= NO_SENSOR_BELOW_C:
            notes.append("temp_motor reads below -40 °C throughout: no motor sensor, ignored")
        else:
            controller_temps["motor"] = motor
    fault = get("fault_code")
    return LogData(
        format="vesc-rt-csv",
        source=name,
        t_s=t,
        voltage=get("input_voltage"),
        current=current,
        duty=get("duty_cycle"),
        fault=fault.astype(np.int64) if fault is not None else None,
        controller_temps=controller_temps,
        columns=ncols,
        notes=notes,
    )
