"""drivers.sample: aiobmsble's BMSSample -> reading fields (shared by pasted frames and live BLE)."""

from __future__ import annotations

from aiobmsble import TempSensor as TS

from drivers.sample import sample_to_fields
from engine.reading import Reading


def test_names_units_and_probe_types():
    f = sample_to_fields({"voltage": 52.5291, "current": -0.0, "cell_voltages": [4.1, 4.2], "cell_count": 13,
                          "battery_level": 80, "balance_current": 0.4, "chrg_mosfet": 1, "dischrg_mosfet": False,
                          "temp_values": [TS(24.0), TS(40.0, TS.T.MOSFET), TS(45.0, TS.T.MOSFET),
                                          TS(33.0, TS.T.BALANCER), TS(25.0, TS.T.CELL)]}, "jk")
    assert f == {"bms": "jk", "pack_voltage": 52.529, "current": 0.0, "cells": [4.1, 4.2], "series": 13, "soc": 80.0,
                 "temperatures": [24.0, 25.0], "mos_temp": 45.0, "charge_fet": True, "discharge_fet": False,
                 "balance_current": 0.4}
    Reading.parse(f)


def test_balancer_bitmask_and_missing_keys():
    assert sample_to_fields({"balancer": 0b0100}, "jbd") == {"bms": "jbd", "balancing": True}
    assert sample_to_fields({"balancer": 0}, "daly")["balancing"] is False
    assert sample_to_fields({}, "nope") == {}  # nothing guessed


def test_mean_temperature_only_when_no_probe_list():
    assert sample_to_fields({"temperature": 21.456}, "ant")["temperatures"] == [21.5]
    assert "temperatures" not in sample_to_fields({"temperature": 21.0, "temp_values": []}, "ant")
