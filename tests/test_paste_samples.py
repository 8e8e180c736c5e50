"""Real tool outputs (tests/data/paste, see SOURCES.md) parse to the reading the same values give as JSON."""

from __future__ import annotations

import json
from pathlib import Path

from drivers.paste import parse_text, parse_to_reading
from engine.reading import Reading

DATA = Path(__file__).parent / "data" / "paste"
JK_CELLS = [4.047, 4.045, 4.048, 4.146, 4.142, 3.932, 3.923, 4.035, 4.034, 4.047, 4.033, 4.047, 4.048]


def _same_as_json(text: str, equivalent: dict) -> None:
    reading, _parsed = parse_to_reading(text)
    assert reading == Reading.parse(json.loads(json.dumps(equivalent)))


def test_esphome_jk_log_reads_13_cells_settings_and_switches():
    p = parse_text((DATA / "esphome-jk-bms-ble-log.txt").read_text())
    assert p.format == "esphome-log"
    f = p.fields
    assert f["cells"] == JK_CELLS
    assert (f["bms"], f["series"], f["pack_voltage"], f["current"], f["soc"]) == ("jk", 13, 52.529, 0.0, 99.0)
    assert (f["cell_ovp"], f["cell_ovp_recover"], f["cell_uvp"], f["cell_uvp_recover"]) == (4.25, 4.18, 2.82, 2.85)
    assert (f["balance_trigger"], f["balance_start"], f["charge_ocp"], f["discharge_ocp"]) == (0.01, 3.0, 25.0, 60.0)
    assert f["charge_fet"] is True and f["discharge_fet"] is True and f["balancing"] is False
    assert f["mos_temp"] == 26.8 and f["temperatures"] == [24.9, 24.8]
    assert any("cells 14-24 read 0 V and were dropped as unused" in n for n in p.notes)
    assert any("agree with the cells" in n for n in p.notes)  # stated min/max/delta 3.923/4.146/0.223
    assert p.summary["cell_delta"] == 0.223
    r = Reading.parse(f)
    assert r.derived()["cell_delta"] == 0.223 and r.derived()["cell_count"] == 13


def test_esphome_with_ansi_timestamps_another_prefix_and_received_state():
    log = "\n".join(
        f"\x1b[0;36m[12:00:{i:02d}.{i * 7:03d}][D][sensor:094]: 'e-kart cell voltage {i:02d}': Received new state "
        f"{3.3 + i / 1000:.6f}\x1b[0m" for i in range(1, 5))
    log += "\n[12:00:09][D][sensor:094]: 'e-kart current': Sending state -12.50000 A with 2 decimals of accuracy"
    log += "\n[12:00:09][D][binary_sensor:036]: 'e-kart charging': Sending state OFF"
    log += "\n[12:00:10][D][sensor:094]: 'e-kart power tube temperature': Sending state 41.0 °C"
    log += "\n[D][sensor:094]: 'e-kart cell voltage 2': Sending state 3.30900 V with 3 decimals of accuracy"
    p = parse_text(log)
    assert p.format == "esphome-log"
    assert p.fields["cells"] == [3.301, 3.309, 3.303, 3.304]  # the later state of cell 2 wins
    assert p.fields["current"] == -12.5 and p.fields["charge_fet"] is False and p.fields["mos_temp"] == 41.0
    assert "bms" not in p.fields  # nothing names the family
    _same_as_json(log, {"cells": [3.301, 3.309, 3.303, 3.304], "current": -12.5, "charge_fet": False,
                        "mos_temp": 41.0})


def test_esphome_swapped_min_max_is_noted_and_cells_win():
    log = "\n".join([
        "[sensor:094]: 'jbd-bms cell voltage 1': Sending state 3.900 V",
        "[sensor:094]: 'jbd-bms cell voltage 2': Sending state 3.950 V",
        "[sensor:094]: 'jbd-bms min cell voltage': Sending state 3.950 V",
        "[sensor:094]: 'jbd-bms max cell voltage': Sending state 3.900 V",
    ])
    p = parse_text(log)
    assert p.fields["cells"] == [3.9, 3.95] and p.fields["bms"] == "jbd"
    assert any("swapped" in n for n in p.notes)


def test_jbdtool_dump():
    text = (DATA / "jbdtool-jbd-4s.txt").read_text()
    p = parse_text(text)
    assert p.format == "jbdtool"
    _same_as_json(text, {"bms": "jbd", "pack_voltage": 15.61, "current": 0, "soc": 100, "series": 4,
                         "cells": [3.911, 3.902, 3.896, 3.902], "temperatures": [22.3, 22.3, 21.7],
                         "charge_fet": True, "discharge_fet": True, "balancing": False,
                         "model": "JBD-SP04S034-L4S-200A-B-U", "firmware": "12.8"})
    assert p.summary == {"cell_delta": 0.015, "cell_min": 3.896, "cell_max": 3.911, "cell_mean": 3.903}


def test_jbdtool_fets_off_and_balancing_bits():
    p = parse_text("Voltage 15.2\nCurrent -3.5\nStrings 4\nCells 3.8,3.7,3.81,3.8\nBalance 0100\nFET None\n"
                   "CellDiff 0.11\n")
    assert p.fields["charge_fet"] is False and p.fields["discharge_fet"] is False
    assert p.fields["balancing"] is True and p.fields["current"] == -3.5
