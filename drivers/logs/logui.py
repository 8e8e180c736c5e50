"""VESC Express / LogUI "log to SD" CSV: a header of `key:name:unit:precision:is_relative:is_timestamp` descriptors.

An empty cell means "not updated since the last row": the last value is carried forward. LogUI stops logging when
the input voltage falls below 18 V, so the log of a collapsing pack simply ends (possibly mid-line). Controller
current (`current_in`-like) counts discharge as positive: we flip it to our convention.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from drivers.logs.data import LogData
from drivers.logs.text import LogFile, Progress, carry_forward, monotonic, parse_blocks, parse_numbers, unwrap_day_clock
from kb.errors import UserError

VOLTAGE = ("vin", "inputvoltage", "voltage", "vbat", "batteryvoltage", "packvoltage", "voltagein")
BMS_VOLTAGE = ("bmsvtot", "vtot", "bmsvoltage")
CURRENT = ("currentin", "iin", "batterycurrent", "currentbattery", "ibattery", "ibat", "currentinput")
DUTY = ("duty", "dutycycle")
FAULT = ("fault", "faultcode")
CONTROLLER_MOS = ("tempmos", "tempfet", "tempmosfet", "tempmosmax", "mostemp", "fettemp")
MOTOR = ("tempmotor", "motortemp")
_CELL = re.compile(r"^(?:bms)?(?:c|cell|vcell|cellv)(\d+)$")


@dataclass(frozen=True)
class Descriptor:
    key: str
    name: str
    unit: str
    timestamp: bool

    def norm(self) -> tuple[str, str]:
        return _norm(self.key), _norm(self.name)


def _norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]", "", s.lower())


def matches(header: list[str]) -> bool:
    return bool(header) and ":" in header[0]


def descriptors(name: str, header: list[str]) -> list[Descriptor]:
    out = []
    for i, h in enumerate(header):
        parts = h.split(":")
        if len(parts) < 3:
            raise UserError(f"{name}: line 1, column {i + 1}: '{h}' is not a key:name:unit:... descriptor")
        ts = len(parts) >= 6 and parts[5].strip() == "1"
        out.append(Descriptor(parts[0].strip(), parts[1].strip(), parts[2].strip(), ts))
    return out


def _find(descs: list[Descriptor], names: tuple[str, ...]) -> int | None:
    for wanted in names:
        for i, d in enumerate(descs):
            if wanted in d.norm():
                return i
    return None


def load(name: str, lines: list[str], header: list[str], delim: str, progress: Progress | None = None) -> LogData:
    """From lines already in memory (tests, small files)."""
    descs, ti, vi, ci = _columns(name, header)
    notes: list[str] = []
    data = lines[1:]
    if not data:
        raise UserError(f"{name}: a LogUI header with no samples")
    ncols = len(descs)
    trailing = lines[0].rstrip().endswith(delim)
    want_delims = ncols if trailing else ncols - 1
    if data[-1].count(delim) < want_delims and len(data) > 1:
        data = data[:-1]
        notes.append(f"line {len(data) + 2} is cut short (the log just ends): dropped")
    table = parse_numbers(name, data, 2, ncols, delim, progress, trailing_delim=trailing,
                          labels=[d.key for d in descs])
    return _build(name, table, descs, ti, vi, ci, ncols, notes)


def load_stream(log: LogFile, header: list[str], delim: str, progress: Progress | None = None) -> LogData:
    """Streamed from the file (no copy of its text in memory): the table of numbers is all that is kept."""
    descs, ti, vi, ci = _columns(log.name, header)
    notes: list[str] = []
    ncols = len(descs)
    trailing = log.header_line.rstrip().endswith(delim)
    table = parse_blocks(log, ncols, delim, list(range(ncols)), [d.key for d in descs], progress,
                         trailing_delim=trailing, notes=notes)
    return _build(log.name, table, descs, ti, vi, ci, ncols, notes)


def _columns(name: str, header: list[str]):
    descs = descriptors(name, header)
    ti = next((i for i, d in enumerate(descs) if d.timestamp), None)
    if ti is None:
        ti = _find(descs, ("tday", "time", "timestamp", "t"))
    if ti is None:
        raise UserError(f"{name}: LogUI log without a timestamp column (no descriptor has is_timestamp=1)")
    vi = _find(descs, VOLTAGE)
    if vi is None:
        vi = _find(descs, BMS_VOLTAGE)
    ci = _find(descs, CURRENT)
    if vi is None or ci is None:
        have = ", ".join(d.key for d in descs)
        raise UserError(f"{name}: LogUI log without {'input voltage' if vi is None else 'battery current'} "
                        f"(columns: {have})")
    return descs, ti, vi, ci


def _build(name: str, table: np.ndarray, descs, ti: int, vi: int, ci: int, ncols: int, notes: list[str]) -> LogData:
    if np.isnan(table).any():
        notes.append("empty cells (not updated) carried forward from the rows above")
        table = carry_forward(table)
    # rows before the first time, voltage and current values cannot be placed or used
    need = np.isnan(table[:, [ti, vi, ci]]).any(axis=1)
    if need.all():
        raise UserError(f"{name}: no row has time, voltage and current together")
    first = int(np.argmin(need))
    if first:
        notes.append(f"the first {first} row(s) come before time, voltage and current are all known: skipped")
        table = table[first:]

    t = table[:, ti].copy()
    unit = descs[ti].unit.lower()
    if unit == "ms":
        t /= 1000.0
    # t_day is the time of day: it wraps at midnight (a jump back of more than half a day)
    t, wraps = unwrap_day_clock(t, 86400.0)
    if wraps:
        notes.append(f"time of day wrapped at midnight {wraps} time(s); time kept running")
    t = monotonic(name, t, notes)
    notes.append(f"'{descs[ci].name}' counts discharge as positive: sign flipped (here positive = charging/regen)")

    def col(i: int | None) -> np.ndarray | None:
        return table[:, i].copy() if i is not None else None

    controller_temps: dict[str, np.ndarray] = {}
    pack_temps: dict[str, np.ndarray] = {}
    cells: list[tuple[int, int]] = []
    bms_mos = None
    for i, d in enumerate(descs):
        k, n = d.norm()
        m = _CELL.match(k) or (_CELL.match(n) if n.startswith(("cell", "bmsc")) else None)
        if m:
            cells.append((int(m.group(1)), i))
        elif k.startswith("bms") and "temp" in k + n:
            if "mos" in k + n or "fet" in k + n:
                bms_mos = col(i)
            else:
                pack_temps[d.key] = col(i)
        elif k in CONTROLLER_MOS or n in CONTROLLER_MOS:
            controller_temps["controller_mos"] = col(i)
        elif k in MOTOR or n in MOTOR:
            controller_temps["motor"] = col(i)
    cell_arr = None
    if cells:
        cells.sort()
        cell_arr = table[:, [i for _, i in cells]].copy()
        notes.append(f"{len(cells)} cell voltage columns")
    fi = _find(descs, FAULT)
    fault = col(fi)
    return LogData(
        format="logui-csv",
        source=name,
        t_s=t,
        voltage=col(vi),
        current=-table[:, ci],
        duty=col(_find(descs, DUTY)),
        fault=np.nan_to_num(fault).astype(np.int64) if fault is not None else None,
        controller_temps=controller_temps,
        pack_temps=pack_temps,
        bms_mos_temp=bms_mos,
        cells=cell_arr,
        columns=ncols,
        notes=notes,
    )
