"""Rider pastes and tool lines: each shape gives the same reading as the equivalent JSON, conversions are said,
ambiguity is reported, garbage is a one-line UserError."""

from __future__ import annotations

import pytest

from drivers.paste import claims, detect, parse_text, parse_to_reading
from engine.reading import Reading
from kb.errors import UserError

CELLS4 = [3.91, 3.9, 3.89, 3.91]


def same(text: str, equivalent: dict) -> None:
    reading, _ = parse_to_reading(text)
    assert reading == Reading.parse(equivalent), (reading.given(), equivalent)


@pytest.mark.parametrize("text", [
    "1) 3.91\n2) 3.90\n3) 3.89\n4) 3.91",
    "01:  3.91\n02:  3.90\n03:  3.89\n04:  3.91",
    "Cell 1: 3.91\nCell 2: 3.90\nCell 3: 3.89\nCell 4: 3.91",
    "> **1) 3.91**\n> **2) 3.90**\n> 3) 3.89\n>    4) 3.91",
    "- 3.91v\n- 3.90v\n- 3.89 low\n- 3.91v",
    "3.91, 3.90, 3.89, 3.91.",
    "3,91 3,90 3,89 3,91",
    "3910\n3900\n3890\n3910",
    "3910 mV\n3900 mV\n3890 mV\n3910 mV",
    "0 3.91 7.81 11.70 15.61",
    "cells: 3.91, 3.90, 3.89, 3.91",
])
def test_cell_list_shapes_equal_the_json(text):
    same(text, {"cells": CELLS4} if "15.61" not in text else {"cells": CELLS4, "pack_voltage": 15.61})


def test_single_digit_numbering_rolls_over_to_cell_10():
    text = "\n".join(f"{i}.  4.20{i}" for i in range(1, 10)) + "\n0.  4.205\n"
    p = parse_text(text)
    assert len(p.fields["cells"]) == 10 and p.fields["cells"][9] == 4.205
    assert any("rolled over" in n for n in p.notes)


def test_notes_after_values_are_kept_as_notes():
    p = parse_text("1) 3.90\n2) 3.864 high\n3) 3.85")
    assert p.fields["cells"] == [3.9, 3.864, 3.85] and any("'high'" in n for n in p.notes)


def test_cumulative_taps_from_b_minus_with_an_offset_are_converted_and_the_offset_reported():
    p = parse_text("0.25 4.14 8.26 12.37")
    assert p.fields["cells"] == [3.89, 4.12, 4.11]
    assert any("cumulative tap voltages from B-" in n for n in p.notes)
    assert any("first tap reads 0.25 V" in a for a in p.ambiguities)


def test_taps_without_a_zero_tap_are_ambiguous():
    p = parse_text("4.1 8.2 12.3 16.4")
    assert p.fields["cells"] == [4.1, 4.1, 4.1, 4.1]
    assert any("read as 4 taps" in a for a in p.ambiguities)


def test_a_bad_tap_step_is_reported():
    p = parse_text("0 4.1 8.2 8.5 12.6")
    assert p.fields["cells"][2] == 0.3 and any("cell 3" in a for a in p.ambiguities)


def test_series_against_cell_count_is_reported():
    p = parse_text("13S JK\n1) 4.0\n2) 4.01\n3) 4.0")
    assert p.fields["series"] == 13 and p.fields["bms"] == "jk"
    assert any("series is given as 13 but 3" in a for a in p.ambiguities)


def test_two_columns_are_reported():
    p = parse_text("1) 4.16 4.10\n2) 4.15 4.09\n3) 4.16 4.11")
    assert p.fields["cells"] == [4.16, 4.15, 4.16]
    assert any("two values" in a for a in p.ambiguities)


def test_key_value_lines_with_units_and_spellings():
    text = ("JK BMS\nPack voltage: 52,1 V\nCurrent: -12.5 A\nSOC 87%\nMOS temp: 35 °C\nCharge MOS: ON\n"
            "Discharge MOS: off\nOVP: 4250 mV\nUVP = 2.9V\ncell count: 13\nbalance trigger: 10 mV")
    p = parse_text(text)
    assert p.format == "key-value"
    same(text, {"bms": "jk", "pack_voltage": 52.1, "current": -12.5, "soc": 87, "mos_temp": 35, "charge_fet": True,
                "discharge_fet": False, "cell_ovp": 4.25, "cell_uvp": 2.9, "series": 13, "balance_trigger": 0.01})


def test_discharge_current_words_give_the_sign():
    assert parse_text("discharge current: 30 A").fields == {"current": -30.0}
    assert parse_text("charging current 5A").fields == {"current": 5.0}


def test_mixed_paste_and_summary():
    p = parse_text("Daly 4S\n3.91\n3.90\n3.89\n3.91\ndelta 0.02V")
    assert p.fields == {"series": 4, "bms": "daly", "cells": CELLS4}
    assert p.format == "cell-list+key-value" or p.format == "key-value+cell-list"
    assert p.summary == {"cell_delta": 0.02} and any("agree" in n for n in p.notes)


def test_summary_only_is_understood_but_gives_no_fields():
    p = parse_text("delta 0.045V")
    assert p.fields == {} and p.summary == {"cell_delta": 0.045}
    assert any("need the cell voltages" in n for n in p.notes)


def test_vesc_faults_block_names_the_fault_and_keeps_motor_current_out():
    text = ("The following faults were registered since start:\n\n"
            "    Fault            : FAULT_CODE_UNDER_VOLTAGE\n    Motor            : 1\n"
            "    Current          : 85.2\n    Current filtered : 80.1\n    Voltage          : 8.00\n"
            "    Duty             : 0.950\n    RPM              : 31516.2\n    Temperature      : 56.14\n")
    p = parse_text(text)
    assert p.format == "vesc-faults"
    # the block's Current is the motor current at the fault: never the pack current
    same(text, {"fault": "under_voltage", "state": "riding", "pack_voltage": 8.0, "duty": 0.95, "mos_temp": 56.14})
    assert any("85.2 A) is the motor current" in n for n in p.notes)
    assert claims(text, {"Fault": "x"})  # `bmsdoc check` must not take it as YAML with the VESC sign


def test_vesc_quoted_with_two_faults_uses_the_last():
    text = ("> Fault : FAULT_CODE_OVER_VOLTAGE\n> Current : -30.1\n> Voltage : 58.2\n>\n"
            "> Fault : FAULT_CODE_UNDER_VOLTAGE\n> Current : 60\n> Voltage : 38.21\n")
    p = parse_text(text)
    assert p.fields["fault"] == "under_voltage" and "current" not in p.fields
    assert any("over_voltage" in n for n in p.notes)


def test_vesc_no_faults_is_understood():
    p = parse_text("No faults registered since startup")
    assert p.format == "vesc-faults" and p.fields == {} and p.nothing_to_read


def test_batmon_line_reads_mv_and_asks_for_the_current_sign():
    text = "INFO jk_bms: BmsSampl(80.1%,U=55.1V,I=63.25A,P=3485W,Q=83/100Ah,mos=25°C) volt=[3471,3436,3450,3449]"
    p = parse_text(text)
    same(text, {"bms": "jk", "soc": 80.1, "pack_voltage": 55.1, "mos_temp": 25, "cells": [3.471, 3.436, 3.45, 3.449]})
    assert any("invert_current" in a and "63.25" in a for a in p.ambiguities)  # asked, not guessed


@pytest.mark.parametrize("option, current", [("invert_current: true", -63.25), ("invert_current: false", 63.25)])
def test_batmon_current_sign_follows_its_invert_current_option(option, current):
    text = f"{option}\nINFO jk_bms: BmsSampl(80.1%,U=55.1V,I=-63.25A,P=3485W)"
    assert parse_text(text).fields["current"] == current


def test_home_assistant_page_with_localised_decimals():
    text = ("Sensors\nJK-BMS Cell voltage 1\n3,290 V\nJK-BMS Cell voltage 2\n3,291 V\nJK-BMS Cell voltage 3\n"
            "3,288 V\nJK-BMS Total voltage\n9,87 V\nJK-BMS Current\n-1,23 A\nJK-BMS State of charge\n87 %\n"
            "JK-BMS Power\n12,1 W\nControls\nJK-BMS Charging\nOn\nJK-BMS Discharging\nunavailable\n")
    p = parse_text(text)
    assert p.format == "home-assistant"
    same(text, {"cells": [3.29, 3.291, 3.288], "pack_voltage": 9.87, "current": -1.23, "soc": 87,
                "charge_fet": True})


def test_json_and_yaml():
    same('{"bms": "LLT", "cells": [3910, 3900, 3890, 3910], "charge_fet": "off", "current": "-2 A"}',
         {"bms": "jbd", "cells": CELLS4, "charge_fet": False, "current": -2})
    same("bms: jk\ncells:\n  - 3.91\n  - 3.90\n  - 3.89\n  - 3.91\ncurrent: 4\n",
         {"bms": "jk", "cells": CELLS4, "current": 4})


def test_aiobmsble_sample_json_goes_through_the_shared_mapping():
    p = parse_text('{"voltage": 15.6, "current": -2.87, "cell_voltages": [3.43, 3.425], "chrg_mosfet": true, '
                   '"dischrg_mosfet": false, "battery_level": 100, "balancer": 0}')
    assert p.fields == {"pack_voltage": 15.6, "current": -2.87, "cells": [3.43, 3.425], "soc": 100.0,
                        "charge_fet": True, "discharge_fet": False, "balancing": False}


@pytest.mark.parametrize("text", ["", "   \n ", "hello, my scooter is broken", "asdf qwer", "{}", "[1, 2]",
                                  "- a\n- b", "\x00\x01\x02"])
def test_garbage_is_a_one_line_user_error(text):
    with pytest.raises(UserError) as e:
        parse_text(text)
    assert "\n" not in str(e.value)


def test_implausible_values_fail_validation_with_one_line():
    with pytest.raises(UserError) as e:
        parse_to_reading("1) 3.9\n2) 3.9\n3) 3.9\ncurrent: 99999 A")
    assert "implausible" in str(e.value) and "\n" not in str(e.value)


def test_detection_is_confident_for_tool_outputs():
    assert detect("[sensor:094]: 'x cell voltage 1': Sending state 3.3 V")[0][0] >= 0.5
    assert detect("Fault : FAULT_CODE_DRV")[0][1] == "vesc-faults"


@pytest.mark.parametrize("text, expect", [
    # app screens lay several name/value pairs out on one line, and numbered cells in columns
    ("JK BMS app\nVoltage 67.18V  Current -6.4A  SOC 100%\nCharge: OFF   Discharge: ON   Balance: ON",
     {"bms": "jk", "pack_voltage": 67.18, "current": -6.4, "soc": 100, "charge_fet": False, "discharge_fet": True,
      "balancing": True}),
    ("xiaoxiang (JBD 13S)\nCharge MOS: ON  Discharge MOS: ON\n3.774 3.768 3.773 3.765",
     {"bms": "jbd", "series": 13, "charge_fet": True, "discharge_fet": True, "cells": [3.774, 3.768, 3.773, 3.765]}),
    ("JK app: Charge ON, Discharge OFF, Balance OFF\nVoltage 78.9V Current 0.0A SOC 88%",
     {"bms": "jk", "charge_fet": True, "discharge_fet": False, "balancing": False, "pack_voltage": 78.9,
      "current": 0.0, "soc": 88}),
    ("JBD Smart BMS\nCell 1 3.911  Cell 2 3.913  Cell 3 3.910\nCell 4 3.910  Cell 5 3.911",
     {"bms": "jbd", "cells": [3.911, 3.913, 3.91, 3.91, 3.911]}),
    ("JK BMS 16S LiFePO4\n01: 3.311  02: 3.312  03: 3.312  04: 3.311",
     {"bms": "jk", "series": 16, "chemistry": "lifepo4", "cells": [3.311, 3.312, 3.312, 3.311]}),
    ("Daly 4S\n1 3.949  2 3.948\n3 3.950  4 3.953", {"bms": "daly", "series": 4, "cells": [3.949, 3.948, 3.95, 3.953]}),
    ("ANT BMS 16S settings\nCell High Protect 4.25V   Cell High Recover 4.10V\nCell Low Protect 2.70V    Cell Low Recover 2.90V",
     {"bms": "ant", "series": 16, "cell_ovp": 4.25, "cell_ovp_recover": 4.10, "cell_uvp": 2.70,
      "cell_uvp_recover": 2.90}),
    ("Daly Smart BMS 13S\nFault: Discharge overcurrent protection\nDischarge MOS: off",
     {"bms": "daly", "series": 13, "discharge_fet": False, "prot_discharge_ocp": True}),
    ("one of those 32S smart boards, 24S li-ion\npack 96.5V resting", {"series": 24, "board_max_series": 32}),
])
def test_app_screens_in_columns(text, expect):
    fields, _notes = _fields(text)
    for k, v in expect.items():
        assert fields.get(k) == (pytest.approx(v) if isinstance(v, float) else v), (k, fields)


def _fields(text: str) -> tuple[dict, list]:
    from tui.commands.check import read_input

    data, notes = read_input(text)
    return Reading.parse(data).given(), notes


def test_a_voltage_on_one_line_is_not_the_name_of_the_pack_on_the_next():
    fields, _ = _fields("JK 20S pack, BMS won't wake\nmultimeter across the pack: 56.9 V\nscooter sat about 3 weeks")
    assert fields["pack_voltage"] == 56.9


def test_a_charger_given_with_its_amps_and_a_balancer_described_not_switched():
    fields, notes = _fields("bms: charge-only\nseries: 20\ncharger: 84.0V 5A\nbalancer: JK active balancer clipped across "
                            "the stack\nfused: no")
    assert fields["charger_voltage"] == 84.0 and fields["fused"] is False and "balancing" not in fields
    assert any("describes the hardware" in n for n in notes)
    with pytest.raises(UserError, match="'of' is not on/off"):
        _fields("bms: jk\ncharge_fet: of")  # a short wrong value is still an error, never a guess


@pytest.mark.parametrize("text, expect", [
    # keys riders write around a field name, and cells labelled by a word
    ("cells (mV): 4012 4009 3884 4011", {"cells": [4.012, 4.009, 3.884, 4.011]}),
    ("16 cells: 3.31 3.32 3.31 3.31\nstate: idle", {"cells": [3.31, 3.32, 3.31, 3.31], "series": 16}),
    ("bms: jbd\ncells after the charge: 4.19 4.20 4.19", {"bms": "jbd", "cells": [4.19, 4.2, 4.19]}),
    ("JK app > Settings\nBalance Trig. Volt 0.050V\nStart Balance Volt 3.40V\nstatus at rest: 4.118 4.101 4.095",
     {"balance_trigger": 0.05, "balance_start": 3.4, "cells": [4.118, 4.101, 4.095]}),
])
def test_keys_around_a_field_name(text, expect):
    fields, notes = _fields(text)
    for k, v in expect.items():
        assert fields.get(k) == (pytest.approx(v) if isinstance(v, float) else v), (k, fields)
    with pytest.raises(UserError, match="unknown field 'foo bar'"):
        _fields("bms: jk\nfoo bar: 3")  # a key no field has is still refused, with its suggestion


def test_a_fault_in_words_is_the_bms_alarm_and_a_controller_code_is_not():
    fields, _ = _fields("bms: daly\nseries: 13\nfault: Discharge overcurrent protection")
    assert fields.get("prot_discharge_ocp") is True
    fields, _ = _fields("bms: jk\nfault: under_voltage\nduty: 0.95")  # VESC's code: the controller's, not the BMS's
    assert not any(k.startswith("prot_") for k in fields)
