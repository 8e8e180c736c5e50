"""Ride-log analysis: a healthy real ride, synthetic trips and peaks judged by the knowledge base's rules.

Events get their rule, severity and citations from the shipped knowledge base (content/), so these tests
check the whole path: vectorised reduction -> candidate readings -> engine.check -> cited events.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_logs_synth import (
    REAL,
    discharge_cut,
    end_at,
    healthy,
    latched_trip,
    regen_150,
    regen_cut_full,
    ride,
    write_logui_csv,
    write_rt_csv,
)

from drivers.logs import load_log
from engine.logs import TRIP_KINDS, analyze, downsample, estimate_resistance, runs
from kb.errors import UserError


def run(kb, tmp_path, r, context=None, name="ride.csv"):
    return analyze(load_log(write_rt_csv(r, tmp_path / name)), context or {}, kb=kb)


def kinds(a, kind):
    return [e for e in a.events if e.kind == kind]


# ---------------------------------------------------------------- the real ride


def test_real_ride_is_healthy(kb):
    a = analyze(load_log(REAL), {"series": 12}, kb=kb)
    assert a.trips() == []
    assert not [e for e in a.events if e.kind in TRIP_KINDS]
    assert a.peaks["discharge_a"] == pytest.approx(38.31) and a.peaks["regen_a"] == pytest.approx(7.39)
    (d,) = kinds(a, "discharge_peak")
    (g,) = kinds(a, "regen_peak")
    assert d.values["peak_a"] == pytest.approx(38.3) and g.values["peak_a"] == pytest.approx(7.4)
    assert 0.06 <= a.resistance_ohm <= 0.08
    assert a.worst() in (None, "info")
    assert a.samples == 1400 and a.duration_s == pytest.approx(108.904)


def test_resistance_estimate_follows_the_pack(tmp_path):
    for r_ohm in (0.05, 0.12):
        d = load_log(write_rt_csv(healthy(seed=11, r_ohm=r_ohm), tmp_path / f"r{r_ohm}.csv"))
        est = estimate_resistance(d.t_s, d.voltage, d.current)
        assert est.ohm == pytest.approx(r_ohm, rel=0.1), r_ohm


def test_sag_after_braking_is_measured_from_the_no_current_voltage(kb, tmp_path):
    # 50 A of regen lifts the voltage 3.5 V; a 12 A launch straight after sags only 0.84 V below the pack's voltage
    a = run(kb, tmp_path, ride(40.0, [(5, 9, 8), (12, 16.2, -50), (16, 22, 12)], seed=12))
    launch = [e for e in kinds(a, "discharge_peak") if 15.5 < e.t_s < 23]
    assert launch and all(e.values["sag_v"] < 1.6 for e in launch)


def test_no_load_steps_means_no_resistance(tmp_path):
    d = load_log(write_rt_csv(ride(60.0, [], seed=2), tmp_path / "rest.csv"))
    est = estimate_resistance(d.t_s, d.voltage, d.current)
    assert est.ohm is None and "no load steps" in est.note


# ---------------------------------------------------------------- synthetic trips


def test_discharge_cut_that_released(kb, tmp_path):
    a = run(kb, tmp_path, discharge_cut(), {"series": 12})
    (cut,) = kinds(a, "discharge_cut")
    assert cut.t_s == pytest.approx(29.0, abs=0.25)
    assert cut.rule == "log-discharge-cut" and cut.severity == "critical"
    assert {"6", "jk-trip"} <= set(cut.citations)
    assert cut.values["current"] < -55 and cut.values["voltage_drop"] > 30
    assert cut.values["fault"] == "under_voltage"  # the VESC fault at the cut joins the event
    assert "log-undervoltage-fault" in cut.rules
    (rel,) = kinds(a, "trip_released")
    assert rel.rule == "log-trip-released" and "6" in rel.citations
    assert rel.values["down_s"] == pytest.approx(3.0, abs=0.3) and rel.values["next_load_after_s"] < 3
    assert not kinds(a, "trip_latched")
    assert a.worst() == "critical"


def test_latched_trip(kb, tmp_path):
    a = run(kb, tmp_path, latched_trip())
    (lat,) = kinds(a, "trip_latched")
    assert lat.rule == "log-trip-latched" and lat.severity == "critical"
    assert set(lat.citations) >= {"6", "jk-trip"}
    assert lat.values["latched"] is True and lat.values["down_s"] > 25
    assert kinds(a, "discharge_cut") and not kinds(a, "trip_released")
    # the dead stretch after the cut does not distort the resistance estimate
    assert a.resistance_ohm == pytest.approx(0.07, rel=0.1)


def test_regen_cut_after_a_full_charge(kb, tmp_path):
    a = run(kb, tmp_path, regen_cut_full(), {"series": 12})
    (cut,) = kinds(a, "regen_cut")
    assert cut.t_s == pytest.approx(23.0, abs=0.3)
    assert {"log-regen-cut", "log-regen-cut-full-charge"} <= set(cut.rules)
    assert {"6", "4", "9"} <= set(cut.citations) and cut.severity == "critical"
    assert cut.values["voltage_rise"] > 5 and cut.values["fault"] == "over_voltage"
    assert cut.values["pack_voltage"] >= 4.1 * 12  # the pack before braking: full
    # without the series count the full-pack rule cannot decide, and the analysis says what to add
    b = run(kb, tmp_path, regen_cut_full(), {}, name="noseries.csv")
    (cut2,) = kinds(b, "regen_cut")
    assert "log-regen-cut" in cut2.rules and "log-regen-cut-full-charge" not in cut2.rules
    assert "series" in b.missing_context


def test_150_a_regen_peak(kb, tmp_path):
    a = run(kb, tmp_path, regen_150())
    big = [e for e in kinds(a, "regen_peak") if e.values["peak_a"] > 140]
    assert len(big) == 1
    ev = big[0]
    assert ev.rule in kb.rules and ev.severity in ("warning", "critical") and "6" in ev.citations
    assert ev.t_s == pytest.approx(21.0, abs=1.1)
    assert not a.trips()
    # a BMS charge limit of 100 A adds the charge-limit finding; a 30 A brake on the healthy ride has none
    b = run(kb, tmp_path, regen_150(), {"charge_ocp": 100}, name="ocp.csv")
    (ev2,) = [e for e in kinds(b, "regen_peak") if e.values["peak_a"] > 140]
    assert len(ev2.rules) > len(ev.rules) and "4" in ev2.citations
    c = run(kb, tmp_path, healthy(), name="healthy.csv")
    assert all(e.rule is None for e in kinds(c, "regen_peak")) and not c.trips()


def test_logui_log_that_ends_under_load(kb, tmp_path):
    r = end_at(ride(40.0, [(5, 50, 50)], seed=8), 25.0)
    a = analyze(load_log(write_logui_csv(r, tmp_path / "ends.csv", cut_last_line=True)), {}, kb=kb)
    (end,) = kinds(a, "log_end_under_load")
    assert end.rule == "log-ended-under-load" and "6" in end.citations
    assert end.values["log_ended"] is True and end.values["current"] < -40
    assert end.t_s == pytest.approx(a.duration_s)


def test_cells_spread_under_load(kb, tmp_path):
    r = ride(40.0, [(5, 20, 45)], seed=9, cells=True, weak_cell_r=0.008)
    a = analyze(load_log(write_logui_csv(r, tmp_path / "cells.csv")), {"series": 12}, kb=kb)
    (load,) = kinds(a, "cell_imbalance_load")
    assert load.values["cell_delta"] > 0.3 and load.values["cell_min_index"] == 12
    assert load.rule is not None and load.citations
    (rest,) = kinds(a, "cell_imbalance_rest")
    assert rest.values["cell_delta"] < 0.05


def test_json_shape(kb):
    a = analyze(load_log(REAL), {"bms": "jk", "series": 12}, kb=kb)
    d = json.loads(json.dumps(a.to_json()))
    assert {"kb_version", "format", "samples", "duration_s", "events", "findings", "resistance_ohm"} <= set(d)
    assert d["format"] == "vesc-rt-csv" and d["samples"] == 1400 and d["kb_version"] == kb.kb_version
    for e in d["events"]:
        assert {"t_s", "kind", "values", "rule", "severity", "citations"} <= set(e)
    assert "plot" not in d and len(a.to_json(include_plot=True)["plot"]["t_s"]) == 1400


def test_bad_context_and_short_logs(kb, tmp_path):
    with pytest.raises(UserError, match="context: series"):
        analyze(load_log(REAL), {"series": 0}, kb=kb)
    p = tmp_path / "one.csv"
    lines = REAL.read_text().splitlines()
    p.write_text(lines[0] + "\n" + lines[1] + "\n")
    with pytest.raises(UserError, match="too short"):
        analyze(load_log(p), {}, kb=kb)
    with pytest.raises(TypeError, match="loader"):
        analyze(str(REAL), {}, kb=kb)


# ---------------------------------------------------------------- building blocks


def test_runs_merge_close_episodes():
    t = np.arange(20) * 0.1
    mask = np.zeros(20, dtype=bool)
    mask[[2, 3, 5, 6, 15]] = True
    assert runs(mask, t, 0.25).tolist() == [[2, 7], [15, 16]]
    assert runs(mask, t, 0.05).tolist() == [[2, 4], [5, 7], [15, 16]]
    assert runs(np.zeros(5, dtype=bool), t[:5], 1.0).shape == (0, 2)


def test_downsample_keeps_the_extremes():
    rng = np.random.default_rng(0)
    n = 50_000
    t = np.arange(n) * 0.05
    v = 50 + rng.normal(0, 0.2, n)
    i = rng.normal(0, 5, n)
    v[31_337], i[12_345] = 5.0, 160.0
    p = downsample(t, v, i, 2000)
    assert len(p.t_s) <= 2100 and p.voltage.min() == 5.0 and p.current.max() == 160.0
    assert np.all(np.diff(p.t_s) > 0)
