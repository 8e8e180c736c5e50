"""Ride-log loaders: formats, conventions, clocks, carried-forward cells, and clear errors for bad files."""

from __future__ import annotations

import numpy as np
import pytest
from test_logs_synth import REAL, end_at, healthy, ride, write_logui_csv, write_rt_csv

from drivers.logs import detect, load_log, parse_map
from kb.errors import UserError


def test_real_vesc_log_loads_with_our_sign_convention():
    d = load_log(REAL)
    assert d.format == "vesc-rt-csv" and d.columns == 55 and d.samples == 1400
    assert d.duration_s == pytest.approx(108.904, abs=1e-6)
    # VESC current_in: +38.31 A discharge, -7.39 A regen. Ours: negative = discharge.
    assert d.current.min() == pytest.approx(-38.31) and d.current.max() == pytest.approx(7.39)
    assert d.voltage.min() == pytest.approx(45.9) and d.voltage.max() == pytest.approx(49.7)
    assert (d.fault == 0).all()
    assert "controller_mos" in d.controller_temps and "motor" not in d.controller_temps  # -75 °C: no sensor
    assert any("sign flipped" in n for n in d.notes)
    assert np.all(np.diff(d.t_s) > 0)


def test_old_22_column_file_gives_the_same_columns(tmp_path):
    lines = REAL.read_text().splitlines()
    short = tmp_path / "old.csv"
    short.write_text("\n".join(";".join(ln.split(";")[:22]) + ";" for ln in lines) + "\n")
    old, new = load_log(short), load_log(REAL)
    assert old.columns == 22 and old.format == "vesc-rt-csv"
    for name in ("t_s", "voltage", "current", "duty", "fault"):
        assert np.array_equal(getattr(old, name), getattr(new, name)), name


def test_irregular_gaps_are_taken_from_the_timestamps(tmp_path):
    r = healthy()
    d = load_log(write_rt_csv(r, tmp_path / "r.csv"))
    assert np.allclose(d.t_s, np.round(r.t * 1000) / 1000 - 0, atol=1.5e-3)
    assert np.allclose(d.current, -r.i_vesc)


def test_ms_today_wraps_at_midnight(tmp_path):
    r = ride(30.0, [(5, 10, 20)], seed=3)
    d = load_log(write_rt_csv(r, tmp_path / "midnight.csv", start_ms=86_400_000 - 10_000))
    raw = np.loadtxt(tmp_path / "midnight.csv", delimiter=";", skiprows=1, usecols=[0])
    assert raw.max() > 86_390_000 and raw.min() < 25_000  # the file really crosses midnight
    assert np.all(np.diff(d.t_s) > 0)
    assert d.duration_s == pytest.approx(r.t[-1], abs=2e-3)
    assert any("midnight" in n for n in d.notes)


def test_a_clock_step_backwards_is_clamped(tmp_path):
    p = write_rt_csv(healthy(), tmp_path / "r.csv")
    lines = p.read_text().splitlines()
    cells = lines[100].split(";")
    cells[0] = str(int(cells[0]) - 500)  # the phone's clock was corrected by half a second
    lines[100] = ";".join(cells)
    p.write_text("\n".join(lines) + "\n")
    d = load_log(p)
    assert np.all(np.diff(d.t_s) >= 0) and any("stepped back" in n for n in d.notes)


def test_a_log_cut_mid_line_keeps_the_complete_rows(tmp_path):
    p = write_rt_csv(healthy(), tmp_path / "cut.csv")
    lines = p.read_text().splitlines()
    lines[-1] = lines[-1][: len(lines[-1]) // 2]  # the last row is cut short
    p.write_text("\n".join(lines))
    d = load_log(p)
    assert d.samples == len(lines) - 2
    assert any("cut short" in n for n in d.notes)


def test_logui_carries_empty_cells_forward(tmp_path):
    r = ride(40.0, [(5, 15, 30), (20, 24, -20)], seed=5, cells=True)
    p = write_logui_csv(r, tmp_path / "logui.csv")
    assert ";;" in p.read_text(encoding="utf-8")
    d = load_log(p)
    assert detect(p) == d.format == "logui-csv"
    assert np.array_equal(d.voltage, r.v) and np.array_equal(d.current, -r.i_vesc)
    assert np.array_equal(d.duty, r.duty)
    assert d.cells.shape == (len(r.t), 12) and np.array_equal(d.cells, r.cells)
    assert d.t_s[0] == 0 and d.duration_s == pytest.approx(r.t[-1], abs=2e-3)
    assert "controller_mos" in d.controller_temps


def test_logui_time_of_day_wraps_at_midnight(tmp_path):
    r = ride(30.0, [(5, 10, 20)], seed=4)
    d = load_log(write_logui_csv(r, tmp_path / "midnight.csv", start_s=86400.0 - 12.0))
    assert np.all(np.diff(d.t_s) > 0) and d.duration_s == pytest.approx(r.t[-1], abs=2e-3)
    assert any("midnight" in n for n in d.notes)


def test_logui_log_that_just_ends(tmp_path):
    r = end_at(ride(30.0, [(5, 40, 50)], seed=6), 20.0)
    p = write_logui_csv(r, tmp_path / "ends.csv", cut_last_line=True)
    d = load_log(p)
    assert d.samples == len(r.t) - 1
    assert d.current[-1] < -40  # still under load when the log stops
    assert any("cut short" in n for n in d.notes)


def test_generic_csv_with_a_column_map(tmp_path):
    r = healthy()
    p = tmp_path / "bms.csv"
    rows = "\n".join(f"{t:.3f},{v:.1f},{i:.2f}" for t, v, i in zip(r.t, r.v, r.i_vesc))
    p.write_text("Seconds,Pack V,Amps\n" + rows + "\n")
    with pytest.raises(UserError, match="--map"):
        load_log(p)
    d = load_log(p, mapping="time=Seconds,voltage=pack v,current=3,current_sign=discharge_positive")
    assert d.format == "generic-csv"
    assert np.allclose(d.current, -r.i_vesc) and np.allclose(d.voltage, r.v)
    plain = load_log(p, mapping="time=1,voltage=2,current=3")
    assert np.allclose(plain.current, r.i_vesc)
    assert any("discharge_positive" in n for n in plain.notes)  # mostly positive current: a hint


def test_generic_csv_with_iso_times(tmp_path):
    p = tmp_path / "iso.csv"
    p.write_text("when;volts;amps\n2024-05-01T10:00:00.000;50.1;-3\n2024-05-01T10:00:00.250;49.8;-12\n"
                 "2024-05-01T10:00:01.000;49.5;-20\n")
    d = load_log(p, mapping="time=when,voltage=volts,current=amps")
    assert d.t_s.tolist() == [0.0, 0.25, 1.0]


@pytest.mark.parametrize("text,expected", [
    ("time=a,voltage=b", "current missing"),
    ("time=a,voltage=b,current=c,current_sign=up", "current_sign is"),
    ("time=a,voltage=b,current=c,speed=d", "unknown key 'speed'"),
    ("time=a,voltage,current=c", "'voltage' is not KEY=VALUE"),
])
def test_bad_column_maps(text, expected):
    with pytest.raises(UserError, match=expected):
        parse_map(text)


HEADER = REAL.read_text().splitlines()[0]
ROW = REAL.read_text().splitlines()[1]


@pytest.mark.parametrize("content,expected", [
    (b"", "the file is empty"),
    (b"   \n\n", "the file is empty"),
    (b"\x00\x01\x02binary\x00" * 50, "binary data"),
    (b"foo,bar\n1,2\n", "line 1: not a log format bmsdoc knows"),
    ((HEADER + "\n").encode(), "no samples"),
    ((HEADER + "\n" + ROW + "\n" + ROW + "\n" + ROW.replace("49.1", "abc", 1) + "\n").encode(),
     r"line 4, column 2 \(input_voltage\): 'abc' is not a number"),
    ((HEADER + "\n" + ROW + "\n" + "1;2;3;4;5;\n" + ROW + "\n").encode(), "line 3: 5 values"),
    ((HEADER.replace("current_in;", "current_x;", 1) + "\n" + ROW + "\n").encode(), "without the column"),
    (b"Input Voltage:Input Voltage:V:2:0:0;oops\n1;2\n", "column 2: 'oops' is not a key:name:unit"),
    (b"Input Voltage:Input Voltage:V:2:0:0;t_day:Time:s:3:0:1\n50;1\n", "without battery current"),
])
def test_malformed_files_give_one_line_errors(tmp_path, content, expected):
    p = tmp_path / "bad.csv"
    p.write_bytes(content)
    with pytest.raises(UserError, match=expected) as e:
        load_log(p)
    assert "\n" not in str(e.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        load_log(tmp_path / "nope.csv")
    with pytest.raises(UserError, match="is a directory"):
        load_log(tmp_path)
