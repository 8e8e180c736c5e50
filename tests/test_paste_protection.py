"""The BMS's own alarms: decoded per family from the public bit tables (drivers/protection.yaml), carried into the
reading, shown in words in `bmsdoc check` and the Live view, and met by the protection rules."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from drivers.paste import parse_text, parse_to_reading
from drivers.paste.hexlog import extract
from drivers.protection import FLAGS, decode_bits, decode_status, protection_fields
from drivers.sample import sample_to_fields
from engine.check import check
from kb.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "paste" / "corpus"


def _set(fields: dict) -> set[str]:
    return {f for f in FLAGS if fields.get(f)}


@pytest.mark.parametrize("family, code, flags, words", [
    ("jbd", 0x0001, {"prot_cell_ovp"}, "cell over-voltage"),
    ("jbd", 0x1000, {"prot_fet_lock"}, "MOSFET software lock"),
    ("jbd", 0x0400 | 0x0200, {"prot_short_circuit", "prot_discharge_ocp"}, "discharge over-current; short circuit"),
    ("jk", 0x0010, {"prot_cell_ovp"}, "cell over-voltage (battery full)"),
    ("jk", 0x2000, {"prot_discharge_ocp"}, "discharge over-current"),
    ("jk", 0x0800, {"prot_cell_uvp"}, "cell under-voltage"),
    ("ant", 0x0202, {"prot_cell_ovp", "prot_cell_uvp"}, "over-discharge"),  # aiobmsble's problem code
    ("ant", 0x0E0E, {"prot_fet_lock"}, "switch-on failed"),
    ("daly", 1 << 49, {"prot_cell_ovp"}, "cell over-voltage protection (level 2)"),
    ("daly", 1 << 35, {"prot_discharge_ocp"}, "discharge over-current protection (level 2)"),
])
def test_codes_in_words_and_flags(family, code, flags, words):
    f = protection_fields(family, code)
    assert _set(f) == flags and f["protection_active"] is True
    assert words in f["alarm_text"]
    assert f["alarm_code"].startswith(family + ":0x")


def test_no_alarm_is_a_measured_fact_not_a_gap():
    f = protection_fields("jk", 0)
    assert f["protection_active"] is False and f["alarm_text"] == "no alarm" and f["alarm_code"] == "jk:0x0000"
    assert all(f[k] is False for k in FLAGS)


def test_a_warning_level_alarm_is_not_a_trip():
    f = protection_fields("daly", 1 << 48)  # level 1: alarm only
    assert f["protection_active"] is False and not _set(f) and f["alarm_text"].startswith("warning:")


def test_unknown_bits_and_unpublished_codes_are_shown_raw_never_guessed():
    a = decode_bits("jk", 1 << 30)
    assert a.active and "unknown alarm bit 30" in a.words
    f = protection_fields("daly", 0x10, "x81")
    assert f["protection_active"] is True and "prot_cell_ovp" not in f and "not published" in f["alarm_text"]


def test_ant_raw_status_byte_beats_the_truncated_problem_code():
    # 0x11 "low temperature" survives from the frame; aiobmsble's problem_code keeps only its low nibble
    assert decode_status("ant", 0x11, 0x01).flags == {"prot_charge_utp"}


def test_live_sample_alarm_reaches_the_reading_in_words():
    from drivers import ble

    r = ble.to_reading({"voltage": 50.0, "cell_voltages": [3.85] * 13, "problem_code": 0x1000}, "jbd", {})
    assert r.prot_fet_lock is True and r.fault == "MOSFET software lock (a FET bank switched off in the app or over " \
                                                  "the bus) (jbd:0x1000)"
    assert sample_to_fields({"problem_code": 0}, "jbd")["protection_active"] is False


def test_live_view_shows_the_alarm_in_words():
    from engine.reading import Reading
    from tui.screens.dashboard import pack_markup

    r = Reading.parse({"bms": "jk", "cells": [3.9, 3.9], **protection_fields("jk", 0x10)})
    text = pack_markup(r)
    assert "cell over-voltage (battery full)" in text and "jk:0x0010" in text and "alarm code 0x10" not in text


def test_ant_in_protection_with_both_fets_off_gets_findings_with_citations():
    reading, p = parse_to_reading((CORPUS / "ant-2021-protection-low-value.nrf-connect.txt").read_text())
    report = check(reading)
    ids = {f.rule for f in report.findings}
    assert "protection.held-off" in ids and "protection.undervoltage-trip" in ids
    held = next(f for f in report.findings if f.rule == "protection.held-off")
    assert "8" in held.citations and "over-discharge" in held.message


def _check_cli(path: Path, capsys) -> str:
    from tui.cli import main

    main(["check", str(path)])
    return capsys.readouterr().out


def test_jbd_mosfet_lock_from_the_esphome_readme_is_a_critical_finding_in_check(capsys):
    out = _check_cli(CORPUS / "esphome-jbd-mosfet-software-lock.txt", capsys)
    assert "protection.fet-locked" in out and "MOSFET software lock" in out and "[^4]" in out


def test_check_names_the_protocol_generation(capsys):
    out = _check_cli(CORPUS / "ant-legacy-status.xxd.txt", capsys)
    assert "ANT legacy protocol (AA 55 AA FF)" in out
    assert "charge FET off: cell over-voltage (overcharge) protection" in out


# ------------------------------------------------------------------ misreads that must not come back


def test_nrf_connect_connection_lines_are_not_a_current():
    with pytest.raises(UserError, match="nRF Connect log holds no BMS notification frames"):
        parse_text("I\t14:22:05.123\tConnected to C8:47:8C:E1:23:45\n")


def test_jk04_is_said_in_words_and_never_read_as_jk02():
    p = parse_text((CORPUS / "jk04.one-line.txt").read_text())
    assert p.format.startswith("ble-frames: JK04")
    assert any(a.startswith("JK04 protocol (older JK-B2A16S/B1A24S/B5A24S boards): aiobmsble does not decode it")
               for a in p.ambiguities)
    assert set(p.fields) == {"bms", "cells"} and all(3.3 < c < 3.4 for c in p.fields["cells"])


def test_a_corrupt_jk04_frame_is_refused_not_misread():
    text = (CORPUS / "jk04.one-line.txt").read_text().strip()
    bad = text[:-2] + ("00" if not text.endswith("00") else "01")  # checksum byte changed
    with pytest.raises(UserError):
        parse_text(bad)


def test_hex_runs_take_linear_time_on_hostile_separators():
    t0 = time.perf_counter()
    extract("dd" + " -:" * 20000 + "zz\n" + "0x" * 20000 + "\n" + "aa " * 30000 + "g")
    assert time.perf_counter() - t0 < 2.0


def test_requests_are_dropped_and_replies_kept():
    p = parse_text((CORPUS / "jbd-v4.request-reply.txt").read_text())
    assert p.fields["cells"] == [3.43, 3.425, 3.432, 3.417]
    assert any("2 request(s) written by the app" in n for n in p.notes)


def test_advertisement_names_family_and_protocol():
    adv = json.loads((ROOT / ".venv/lib/python3.12/site-packages/aiobmsble/test_data/ant_leg_bms.json").read_text())[0] \
        if (ROOT / ".venv/lib/python3.12/site-packages/aiobmsble/test_data/ant_leg_bms.json").exists() else None
    text = json.dumps(adv) if adv else ('{"local_name": "ANT-BLE16S", "manufacturer_data": {"1623": "88a0aabbcca12345"}, '
                                         '"service_uuids": ["0000ffe0-0000-1000-8000-00805f9b34fb"]}')
    p = parse_text(text)
    assert p.fields == {"bms": "ant"} and "ANT legacy protocol" in p.format
    p = parse_text("AdvertisementData(local_name='ANT-BLE24C-001', manufacturer_data={8979: b'\\x88\\xa0\\xaa\\xbb"
                   "\\xcc\\x90\\x00\\x01'}, service_uuids=['0000ffe0-0000-1000-8000-00805f9b34fb'], rssi=-70)")
    assert p.fields == {"bms": "ant"} and "ANT 2021" in p.format


def test_an_esphome_errors_text_becomes_protection_fields():
    log = "\n".join([
        "[sensor:094]: 'jk-bms cell voltage 1': Sending state 2.71000 V with 3 decimals of accuracy",
        "[sensor:094]: 'jk-bms cell voltage 2': Sending state 3.30000 V with 3 decimals of accuracy",
        "[text_sensor:067]: 'jk-bms errors': Sending state 'Cell undervoltage;Battery pack undervoltage'",
        "[binary_sensor:036]: 'jk-bms discharging': Sending state OFF",
    ])
    reading, p = parse_to_reading(log)
    assert reading.prot_cell_uvp and reading.prot_pack_uvp and reading.protection_active
    assert reading.alarm_text == "Cell undervoltage; Battery pack undervoltage" and reading.alarm_code is None
    found = {f.rule: f for f in check(reading).findings}
    assert "protection.undervoltage-trip" in found and "?" not in found["protection.undervoltage-trip"].message


def test_a_sensing_warning_alone_is_not_a_trip():
    from drivers.protection import fields_from_words

    assert fields_from_words("Wire resistance") == {"protection_active": False, "alarm_text": "Wire resistance",
                                                    "prot_sensor_fault": True}
    assert fields_from_words("none") == {}


def test_an_ant_sniffer_log_with_the_apps_auth_and_write_commands_keeps_the_status_reply():
    from aiobmsble.bms import ant_bms

    frames = json.loads((ROOT / "tests" / "data" / "frames" / "aiobmsble_frames.json").read_text())
    status = bytes.fromhex(frames["ant"]["2021"]["frames"]["status"])
    writes = [ant_bms.BMS._cmd(0x23, 0x6A01, 6, b"123456"), ant_bms.BMS._cmd(0x51, 0x0006, 2, b"\x01\x00"),
              ant_bms.BMS._cmd(0x01, 0, 0xBE)]
    log = "\n".join(w.hex(" ") for w in writes) + "\n" + "\n".join(status[i:i + 20].hex(" ")
                                                                 for i in range(0, len(status), 20))
    p = parse_text(log)
    assert p.fields["pack_voltage"] == 50.88 and len(p.fields["cells"]) == 22
    assert any("3 request(s) written by the app" in n for n in p.notes)


def test_a_firmware_said_beside_a_jk_cell_frame_picks_its_layout():
    cell_only = (CORPUS / "jk-jk02_32s_v15-cell-only.sniffer.txt").read_text()
    p = parse_text("JK-PB2A16S20P, firmware V15.38\n" + cell_only)
    assert p.fields["firmware"] == "15.38" and p.fields["temperatures"] == [13.4, 12.8, 19.5, 19.1]  # T4/T5 kept
    assert "firmware 14 or later" in p.format
    p = parse_text("fw: 11.48\n" + cell_only)
    assert p.fields["temperatures"] == [13.4, 12.8] and "firmware 11 or later" in p.format
