"""Synthetic ride logs for the log tests (and tests that the generator writes what the formats say).

A ride is simulated from a current profile: pack voltage = open-circuit voltage (falling with charge used)
minus R * discharge current, plus 0.1 V quantisation like VESC Tool. Scenarios then break it the way a BMS
does: a cut under load, a charge-path cut under regen after a full charge, a latched trip, a 150 A regen peak.
Files are written in the VESC Tool RT CSV (55 or 22 columns) and LogUI formats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DATA = Path(__file__).parent / "data" / "logs"
REAL = DATA / "vesc-tool-ride-2023-01-08_17-32-11.csv"
HEADER55 = REAL.read_text().splitlines()[0].rstrip(";").split(";")
COL = {h: i for i, h in enumerate(HEADER55)}


@dataclass
class Ride:
    t: np.ndarray  # s from start
    v: np.ndarray  # pack voltage
    i_vesc: np.ndarray  # VESC convention: positive = discharge
    duty: np.ndarray
    fault: np.ndarray
    temp_mos: np.ndarray
    cells: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)


def timeline(duration_s: float, seed: int = 0, lo: float = 0.037, hi: float = 0.2) -> np.ndarray:
    """Irregular sample gaps like a phone's RT log (37-200 ms)."""
    rng = np.random.default_rng(seed)
    gaps = rng.uniform(lo, hi, int(duration_s / lo) + 10)
    t = np.concatenate(([0.0], np.cumsum(gaps)))
    return t[t <= duration_s]


def ride(duration_s: float = 60.0, segments: list[tuple[float, float, float]] | None = None, *, series: int = 12,
         r_ohm: float = 0.07, cell_start: float = 3.95, capacity_ah: float = 20.0, seed: int = 0,
         noise_v: float = 0.05, cells: bool = False, weak_cell_r: float = 0.0) -> Ride:
    """A ride: `segments` are (t0, t1, amps) of VESC battery current (positive = discharge, negative = regen)
    over a base of rest; each step ramps over 0.3 s."""
    t = timeline(duration_s, seed)
    rng = np.random.default_rng(seed + 1)
    i = np.zeros_like(t)
    for t0, t1, amps in segments or []:
        up = np.clip((t - t0) / 0.3, 0, 1) * np.clip((t1 - t) / 0.3, 0, 1)
        i += amps * up
    i += rng.normal(0, 0.3, len(t)) * (np.abs(i) > 0.5)
    ah = np.concatenate(([0.0], np.cumsum(i[1:] * np.diff(t)))) / 3600.0
    cell_ocv = cell_start - 0.6 * ah / capacity_ah
    v = series * cell_ocv - r_ohm * i + rng.normal(0, noise_v, len(t))
    duty = np.clip(np.abs(i) / 80.0, 0, 0.95) * np.sign(i)
    temp = 30 + np.cumsum(np.abs(i)) * 0.0005
    cell_arr = None
    if cells:
        per_cell_r = r_ohm / series
        cell_arr = np.repeat((cell_ocv - per_cell_r * i)[:, None], series, axis=1)
        cell_arr[:, -1] -= weak_cell_r * i  # one group with extra resistance sags further under load
        cell_arr = np.round(cell_arr + rng.normal(0, 0.002, cell_arr.shape), 3)
    return Ride(t, np.round(v, 1), np.round(i, 2), np.round(duty, 3), np.zeros(len(t), dtype=int),
                np.round(temp, 1), cell_arr)


def cut(r: Ride, at_s: float, back_s: float | None = None, fault: int = 2, floor_v: float = 3.0) -> Ride:
    """The BMS opens at `at_s`: current stops, the controller's input voltage decays towards a few volts, the
    controller reports `fault` at the cut; the pack comes back at `back_s` (None: it stays off = latched)."""
    down = (r.t >= at_s) & ((r.t < back_s) if back_s is not None else True)
    k = int(np.argmax(down))
    v_cut = r.v[k]
    r.v[down] = np.round(floor_v + (v_cut - floor_v) * np.exp(-(r.t[down] - at_s) / 0.08), 1)
    r.i_vesc[down] = 0.0
    r.fault[k:k + 3] = fault
    if r.cells is not None:
        r.cells[down] = np.round(r.v[down][:, None] / r.cells.shape[1], 3)
    return r


def spike(r: Ride, at_s: float, to_v: float, length_s: float = 0.6, fault: int = 1) -> Ride:
    """The charge path opens under regen: regen current stops, the bus voltage jumps to `to_v`."""
    m = (r.t >= at_s) & (r.t < at_s + length_s)
    r.v[m] = to_v
    r.i_vesc[m] = 0.0
    r.fault[np.flatnonzero(m)[:3]] = fault
    return r


def end_at(r: Ride, at_s: float) -> Ride:
    m = r.t <= at_s
    return Ride(r.t[m], r.v[m], r.i_vesc[m], r.duty[m], r.fault[m], r.temp_mos[m],
                None if r.cells is None else r.cells[m])


# ---------------------------------------------------------------- writers


def write_rt_csv(r: Ride, path: Path, columns: int = 55, start_ms: int = 45_000_000) -> Path:
    n = len(r.t)
    a = np.zeros((n, 55))
    ms = (start_ms + np.round(r.t * 1000)).astype(np.int64) % 86_400_000  # time of day wraps at midnight
    a[:, COL["ms_today"]] = ms
    a[:, COL["input_voltage"]] = r.v
    a[:, COL["temp_mos_max"]] = r.temp_mos
    a[:, COL["temp_motor"]] = -75.0  # no motor sensor, as on the real log
    a[:, COL["current_in"]] = r.i_vesc
    a[:, COL["current_motor"]] = r.i_vesc * 1.5
    a[:, COL["duty_cycle"]] = r.duty
    a[:, COL["fault_code"]] = r.fault
    a[:, COL["num_vescs"]] = 1
    a[:, COL["current_in_setup"]] = r.i_vesc
    a = a[:, :columns]
    rows = [";".join(f"{x:.10g}" for x in row) + ";" for row in a.tolist()]
    path.write_text(";".join(HEADER55[:columns]) + ";\n" + "\n".join(rows) + "\n")
    return path


def write_logui_csv(r: Ride, path: Path, blank_unchanged: bool = True, cut_last_line: bool = False,
                    start_s: float = 50_000.0) -> Path:
    """LogUI: key:name:unit:precision:is_relative:is_timestamp descriptors, no trailing ';', empty cells for
    values not updated since the row above."""
    cols = [("Input Voltage:Input Voltage:V:2:0:0", r.v), ("Current In:Current In:A:2:0:0", r.i_vesc),
            ("Duty Cycle:Duty Cycle::3:0:0", r.duty), ("T Mos:Temp MOSFET:°C:1:0:0", r.temp_mos),
            ("Fault:Fault Code::0:0:0", r.fault.astype(float))]
    if r.cells is not None:
        cols += [(f"BMS_C{j + 1}:Cell {j + 1}:V:3:0:0", r.cells[:, j]) for j in range(r.cells.shape[1])]
    cols.append(("t_day:Time:s:3:0:1", np.round((start_s + r.t) % 86400.0, 3)))  # time of day wraps at midnight
    header = ";".join(d for d, _ in cols)
    lines = []
    prev = None
    for k in range(len(r.t)):
        cells = []
        for j, (_, a) in enumerate(cols):
            x = float(a[k])
            same = prev is not None and prev[j] == x and j != len(cols) - 1
            cells.append("" if blank_unchanged and same else f"{x:.10g}")
        prev = [float(a[k]) for _, a in cols]
        lines.append(";".join(cells))
    if cut_last_line:
        lines[-1] = lines[-1][: len(lines[-1]) // 2]
    path.write_text(header + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------- scenarios used by the analysis tests

LAUNCH = (10.0, 14.0, 45.0)


def healthy(seed: int = 0, r_ohm: float = 0.07) -> Ride:
    return ride(80.0, [(5, 9, 12), LAUNCH, (14, 30, 15), (31, 34, -25), (40, 44, 55), (44, 60, 10),
                       (61, 64, -30), (66, 70, 35)], r_ohm=r_ohm, seed=seed)


def discharge_cut(seed: int = 1) -> Ride:
    """Cut at 60 A; the BMS releases after 3 s and the rider launches again."""
    r = ride(60.0, [LAUNCH, (20, 30, 60), (33.5, 40, 30)], seed=seed)
    return cut(r, at_s=29.0, back_s=32.0)


def latched_trip(seed: int = 2) -> Ride:
    r = ride(60.0, [LAUNCH, (20, 45, 60)], seed=seed)
    return cut(r, at_s=30.0, back_s=None)


def regen_cut_full(seed: int = 3) -> Ride:
    """Right after a full charge (4.18 V per cell) a 35 A brake spikes the bus to 58 V with an over-voltage fault."""
    r = ride(50.0, [LAUNCH, (20, 25, -35), (30, 35, 20)], cell_start=4.18, seed=seed)
    return spike(r, at_s=23.0, to_v=58.0)


def regen_150(seed: int = 4) -> Ride:
    return ride(50.0, [LAUNCH, (20, 22, -150), (30, 35, 20)], seed=seed)


# ---------------------------------------------------------------- the generator itself


def test_rt_csv_has_the_vesc_shape(tmp_path):
    p = write_rt_csv(healthy(), tmp_path / "r.csv")
    lines = p.read_text().splitlines()
    assert lines[0].split(";")[:2] == ["ms_today", "input_voltage"] and lines[0].endswith(";")
    assert all(ln.endswith(";") and ln.count(";") == 55 for ln in lines)
    p22 = write_rt_csv(healthy(), tmp_path / "r22.csv", columns=22)
    assert all(ln.count(";") == 22 for ln in p22.read_text().splitlines())


def test_scenarios_do_what_they_say():
    r = latched_trip()
    assert r.v[r.t > 31].max() < 10 and r.i_vesc[r.t > 31].max() == 0
    r = regen_cut_full()
    assert r.v.max() == 58.0 and 1 in r.fault and r.i_vesc.min() < -30
    r = regen_150()
    assert r.i_vesc.min() < -145
    gaps = np.diff(healthy().t)
    assert gaps.min() >= 0.037 and gaps.max() <= 0.2 and gaps.std() > 0.02  # irregular, as on a phone


def test_logui_writer_leaves_unchanged_cells_empty(tmp_path):
    p = write_logui_csv(healthy(), tmp_path / "l.csv")
    lines = p.read_text(encoding="utf-8").splitlines()
    assert ":" in lines[0].split(";")[0] and not lines[0].endswith(";")
    assert any(";;" in ln for ln in lines[1:])
