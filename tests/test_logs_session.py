"""Recorded bmsdoc sessions (drivers/record.py SQLite) as ride logs."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from test_logs_synth import ride

from drivers.logs import detect, load_log
from drivers.record import Recorder
from engine.logs import analyze
from engine.reading import Reading
from kb.errors import UserError


def record(path, rides, context=None):
    """One session per ride, readings as a BMS reports them (current + = charging, cells, probes)."""
    with Recorder(path) as rec:
        for r in rides:
            rec.start("test:ride", family="jk", kb_version="test", context=context or {})
            for k in range(len(r.t)):
                reading = Reading.parse({"pack_voltage": float(r.v[k]), "current": float(-r.i_vesc[k]),
                                         "cells": [float(c) for c in r.cells[k]],
                                         "temperatures": [25.0 + k * 0.01, 26.0], "mos_temp": 30.0})
                rec.add_reading(k, 1000.0 + float(r.t[k]), reading)
            rec.flush()
    return path


def test_a_recorded_session_is_a_log(kb, tmp_path):
    weak = ride(40.0, [(5, 20, 45), (25, 28, -20)], seed=9, cells=True, weak_cell_r=0.008)
    calm = ride(20.0, [(5, 10, 10)], seed=10, cells=True)
    p = record(tmp_path / "rec.sqlite", [weak, calm], context={"series": 12, "regen_limit": 40})
    assert detect(p) == "bmsdoc-session"
    newest = load_log(p)
    assert newest.samples == len(calm.t) and "session 2 of 2" in newest.notes[0]
    d = load_log(p, session=1)
    assert d.format == "bmsdoc-session" and d.samples == len(weak.t)
    assert np.allclose(d.current, -weak.i_vesc) and np.allclose(d.voltage, weak.v)  # already our convention
    assert d.t_s[0] == 0 and d.duration_s == pytest.approx(weak.t[-1])
    assert d.cells.shape == (len(weak.t), 12) and set(d.pack_temps) == {"temp1", "temp2"}
    assert d.context == {"series": 12, "regen_limit": 40, "bms": "jk"}
    a = analyze(d, {}, kb=kb)
    assert a.context["series"] == 12 and a.context["bms"] == "jk"  # the recording's own context is used
    (spread,) = [e for e in a.events if e.kind == "cell_imbalance_load"]
    assert spread.values["cell_min_index"] == 12 and spread.rule is not None
    assert a.resistance_ohm == pytest.approx(0.07, rel=0.15)
    assert any(e.kind == "pack_temp_peak" for e in a.events)
    with pytest.raises(UserError, match="no session 7"):
        load_log(p, session=7)


def test_a_foreign_sqlite_file_is_refused_and_left_untouched(tmp_path):
    p = tmp_path / "other.sqlite"
    con = sqlite3.connect(p)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    before = p.read_bytes()
    with pytest.raises(UserError, match="not a bmsdoc recording"):
        load_log(p)
    assert p.read_bytes() == before


def test_an_empty_recording(tmp_path):
    p = tmp_path / "empty.sqlite"
    with Recorder(p) as rec:
        rec.start("test:none")
    with pytest.raises(UserError, match="no readings"):
        load_log(p)


def test_a_broken_reading_row(tmp_path):
    p = record(tmp_path / "rec.sqlite", [ride(5.0, [], seed=1, cells=True)])
    con = sqlite3.connect(p)
    con.execute("UPDATE readings SET json = '{broken' WHERE seq = 3")
    con.commit()
    con.close()
    with pytest.raises(UserError, match="reading 3 is not valid JSON"):
        load_log(p)
