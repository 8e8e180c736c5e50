"""BLE notification frames in hex decode through aiobmsble's own BMS classes (frames: aiobmsble's test captures,
see tests/data/paste/SOURCES.md). Expected values are the ones aiobmsble's own tests state for these frames."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from drivers.paste import detect, parse_text, parse_to_reading
from drivers.paste.frames import notifications
from kb.errors import UserError

DATA = Path(__file__).parent / "data" / "paste"


def _read(name: str) -> str:
    return (DATA / name).read_text()


def test_jbd_sniffer_log_with_20_byte_notifications():
    p = parse_text(_read("frames-jbd.txt"))
    assert p.format == "ble-frames: JBD protocol (DD 03 / DD 04)"
    base = {k: v for k, v in p.fields.items() if not k.startswith(("prot", "alarm"))}
    assert base == {"bms": "jbd", "pack_voltage": 15.6, "current": -2.87, "cells": [3.43, 3.425, 3.432, 3.417],
                    "series": 4, "soc": 100.0, "temperatures": [22.4, 22.3, 21.7], "charge_fet": True,
                    "discharge_fet": True, "balancing": False}
    assert p.fields["protection_active"] is False and p.fields["alarm_code"] == "jbd:0x0000"


def test_ant_status_frame():
    f = parse_text(_read("frames-ant.txt")).fields
    assert (f["bms"], f["pack_voltage"], f["current"], f["soc"], f["series"]) == ("ant", 50.88, 2.1, 10.0, 22)
    assert f["cells"][8:11] == [2.191, 2.19, 2.192] and len(f["cells"]) == 22
    assert f["temperatures"] == [29.0] * 4 and f["mos_temp"] == 30.0  # the balancer probe is left out
    assert f["balancing"] is False


def test_daly_frames_routed_by_register_count():
    f = parse_text(_read("frames-daly.txt")).fields
    assert f["cells"] == [4.127, 4.137, 4.147, 4.157]
    assert (f["pack_voltage"], f["current"], f["soc"]) == (14.0, 3.0, 90.0)
    assert f["mos_temp"] == 38.0 and f["temperatures"] == [20.0, 21.0, 22.0, 23.0]
    assert f["charge_fet"] is False and f["discharge_fet"] is True and f["balancing"] is True


def test_jk02_32s_with_device_info_frame():
    p = parse_text(_read("frames-jk02-32s.txt"))
    f = p.fields
    assert f["cells"] == [3.315, 3.315, 3.315, 3.312, 3.313, 3.312, 3.313, 3.313]
    assert (f["pack_voltage"], f["current"], f["soc"], f["mos_temp"]) == (26.509, -7.063, 68.0, 31.0)
    assert f["temperatures"] == [28.4, 29.2]
    assert any("firmware 11.48" in n for n in p.notes)


def test_jk_cell_frame_alone_picks_the_layout_by_the_cells_and_says_so():
    p = parse_text(_read("frames-jk02-24s-cell-only.txt"))
    f = p.fields
    assert len(f["cells"]) == 16 and abs(sum(f["cells"]) - f["pack_voltage"]) < 0.05
    assert any("JK02_24S" in n for n in p.notes)


def test_frames_decode_inside_a_running_event_loop():
    async def inside():
        return parse_text(_read("frames-jbd.txt")).fields["pack_voltage"]

    assert asyncio.run(inside()) == 15.6


def test_hex_layouts_all_give_the_same_bytes():
    frame = bytes.fromhex("dd0400080d660d610d680d59fe3c77")
    for text in ("DD 04 00 08 0D 66 0D 61 0D 68 0D 59 FE 3C 77", "dd:04:00:08:0d:66:0d:61:0d:68:0d:59:fe:3c:77",
                 "0xDD 0x04 0x00 0x08 0x0D 0x66 0x0D 0x61 0x0D 0x68 0x0D 0x59 0xFE 0x3C 0x77",
                 "value: (0x) DD-04-00-08-0D-66-0D-61-0D-68-0D-59-FE-3C-77", "dd0400080d660d610d680d59fe3c77"):
        assert notifications(text) == [frame], text


def test_a_corrupt_checksum_is_a_clear_error():
    text = _read("frames-ant.txt")
    bad = text[:-12] + "00 00 aa 55\n"  # CRC bytes zeroed
    with pytest.raises(UserError, match="no complete reply"):
        parse_text(bad)


def test_a_missing_part_is_named_and_what_is_there_is_read():
    first = _read("frames-jbd.txt").splitlines()[:2]  # the DD 03 reply only
    p = parse_text("\n".join(first))
    assert "cells" not in p.fields and p.fields["pack_voltage"] == 15.6 and p.fields["current"] == -2.87
    assert any("paste the DD 04 reply too" in a for a in p.ambiguities)
    with pytest.raises(UserError, match="DD 03"):
        parse_text(_read("frames-jbd.txt").splitlines()[2])  # the DD 04 reply alone


def test_frames_become_a_valid_reading():
    reading, _ = parse_to_reading(_read("frames-daly.txt"))
    assert reading.bms == "daly" and reading.derived()["cell_delta"] == 0.03


def test_mv_lists_are_not_taken_for_hex():
    assert detect("3471 3436 3452 3460")[0][1] == "cell-list"
