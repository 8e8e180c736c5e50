"""Scanning and identification with aiobmsble's matchers, the messages for an unusable Bluetooth stack, the
normalisation of samples, and the scan/watch commands' error paths (no adapter here, nor in CI)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from aiobmsble import TempSensor
from aiobmsble.test_data import adv_dict_to_advdata, bms_advertisements
from bleak.backends.device import BLEDevice
from bleak.exc import BleakError

from drivers import ble, sim
from drivers.sample import sample_to_fields
from kb.errors import UserError
from tui.cli import main

PINNED_KB = str(Path(__file__).parent / "data" / "tui_kb")  # these tests are about Bluetooth, not the rules
FRAMES = json.loads((Path(__file__).parent / "data" / "frames" / "aiobmsble_frames.json").read_text())


def fake_discover(entries: dict[str, dict[str, Any]]):
    async def discover(timeout: float):
        return {addr: (BLEDevice(addr, adv.get("local_name"), {}), adv_dict_to_advdata(adv))
                for addr, adv in entries.items()}
    return discover


def failing_discover(exc: BaseException):
    async def discover(timeout: float):
        raise exc
    return discover


def test_scan_identifies_the_virtual_bms_of_every_family() -> None:
    entries = {}
    for i, fam in enumerate(sim.FAMILIES):
        dev = sim.VirtualBMS(sim.encoder_for(fam), lambda: None, address=sim.ADDRESSES[fam])  # type: ignore[arg-type]
        entries[dev.address] = dev.advertisement(rssi=-50 - 10 * i)
    entries["11:22:33:44:55:66"] = {"local_name": "Mi Band 7", "rssi": -40}  # not a BMS
    found = asyncio.run(ble.scan(1.0, discover=fake_discover(entries)))
    assert [f.family for f in found] == ["jk", "jbd", "ant", "daly"]  # strongest first, the band left out
    assert [f.bms_class for f in found] == ["jikong_bms", "jbd_bms", "ant_bms", "daly_bms"]
    assert found[0].to_json() == {"name": "JK_B2A8S20P", "address": sim.ADDRESSES["jk"], "family": "jk",
                                  "bms_class": "jikong_bms", "rssi": -50}


def test_scan_identifies_real_advertisements() -> None:
    """aiobmsble's packaged advertisements of real devices come out as the right family."""
    want = {"jikong_bms": "jk", "jbd_bms": "jbd", "ant_bms": "ant", "ant_leg_bms": "ant", "daly_bms": "daly"}
    checked = 0
    for adv, mac, bms_type, _comments in bms_advertisements():
        if bms_type not in want:
            continue
        addr = mac or "AA:BB:CC:DD:EE:FF"

        async def discover(timeout: float, adv=adv, addr=addr):
            return {addr: (BLEDevice(addr, adv.local_name, {}), adv)}

        found = asyncio.run(ble.scan(1.0, discover=discover))
        assert len(found) == 1 and found[0].family == want[bms_type], (bms_type, adv.local_name)
        checked += 1
    assert checked >= 20


@pytest.mark.parametrize("exc,words", [
    (BleakError("No Bluetooth adapters found."), "no Bluetooth adapter found"),
    (FileNotFoundError(2, "No such file or directory"), "BlueZ/D-Bus is not running"),
    (PermissionError(13, "Permission denied"), "no permission to use Bluetooth"),
])
def test_an_unusable_bluetooth_stack_is_one_clear_line(exc: BaseException, words: str) -> None:
    with pytest.raises(UserError) as e:
        asyncio.run(ble.scan(1.0, discover=failing_discover(exc)))
    assert words in str(e.value) and "\n" not in str(e.value)


def test_ordinary_connection_failures_are_not_called_a_missing_adapter() -> None:
    from bleak.exc import BleakDBusError

    assert ble.explain(BleakDBusError("org.bluez.Error.Failed", ["le-connection-abort-by-local"])) is None
    assert ble.explain(TimeoutError()) is None
    assert "switched off" in ble.explain(BleakDBusError("org.bluez.Error.NotReady", ["Resource Not Ready"]))
    assert "no Bluetooth adapter" in ble.explain(BleakError("adapter 'hci1' not found"))


def test_scan_and_watch_commands_exit_2_without_an_adapter(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(ble, "_discover", failing_discover(BleakError("No Bluetooth adapters found.")))
    assert main(["scan", "--timeout", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no Bluetooth adapter found" in err
    assert main(["watch", "C8:47:8C:10:20:30", "--series", "13", "--kb", PINNED_KB]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no Bluetooth adapter found" in err


def test_watch_of_an_address_that_is_not_advertising(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(ble, "_discover", fake_discover({}))
    assert main(["watch", "C8:47:8C:10:20:30", "--kb", PINNED_KB]) == 2
    err = capsys.readouterr().err
    assert "no BMS with address C8:47:8C:10:20:30" in err and "phone app" in err


def test_scan_command_lists_what_it_finds(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    dev = sim.VirtualBMS(sim.encoder_for("jbd"), lambda: None)  # type: ignore[arg-type]
    monkeypatch.setattr(ble, "_discover", fake_discover({dev.address: dev.advertisement(rssi=-86)}))
    assert main(["scan", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"name": "JBD-SP04S034", "address": dev.address, "family": "jbd",
                                                     "bms_class": "jbd_bms", "rssi": -86}]
    assert main(["scan"]) == 0
    out = capsys.readouterr().out
    assert "JBD-SP04S034" in out and "-86 dBm" in out and "weak" in out


@pytest.mark.parametrize("argv,words", [
    (["watch"], "give the BMS's Bluetooth ADDRESS"),
    (["watch", "AA:BB:CC:DD:EE:FF", "--demo"], "not both"),
    (["watch", "--demo", "--set", "cel_ovp=4.2"], "did you mean"),
    (["watch", "--demo", "--set", "cell_ovp=hot"], "not a number"),
])
def test_watch_bad_input_is_one_line_and_exit_2(argv: list[str], words: str, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1


def test_watch_rejects_an_unknown_scenario_listing_the_known_ones(capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["watch", "--demo", "wheelie"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "regen-charge-fet-off" in err and "sense-lead-fault" in err


# ---------------------------------------------------------------------- normalisation


def test_ant_legacy_current_keeps_aiobmsbles_sign() -> None:
    """ANT legacy frames count discharge as positive; aiobmsble's decoder negates it: the reading keeps its sign."""
    cap = FRAMES["ant_leg"]["status_discharging"]["expected"]
    sample = dict(cap, temp_values=[TempSensor(t["value"], TempSensor.T[t["type"]]) for t in cap["temp_values"]])
    fields = sample_to_fields(sample, "ant")
    assert fields["current"] == -8.0 and sample["power"] < 0  # discharging, as the capture's power says
    reading = ble.to_reading(sample, "ant", {})
    assert reading.derived()["discharge_current"] == 8.0 and reading.derived()["charge_current"] == 0.0


def test_daly_open_probe_is_left_out_with_a_note() -> None:
    sample = {"voltage": 13.0, "temp_values": [TempSensor(215.0), TempSensor(24.0), TempSensor(31, TempSensor.T.MOSFET)]}
    notes: list[str] = []
    fields = sample_to_fields(sample, "daly", notes)
    assert fields["temperatures"] == [24.0] and fields["mos_temp"] == 31
    assert notes and "215" in notes[0]


def test_riders_context_wins_over_the_bms_cell_count_and_alarms_become_the_fault() -> None:
    sample = {"voltage": 50.0, "cell_voltages": [3.85] * 13, "cell_count": 13, "problem_code": 0x2000}
    r = ble.to_reading(sample, "jk", ble.canonical_context({"series": 14, "regen": "30 A"}))
    assert r.series == 14 and r.regen_limit == 30.0 and r.fault == "discharge over-current (jk:0x2000)"
    assert r.prot_discharge_ocp is True and r.protection_active is True and r.prot_cell_ovp is False
    with pytest.raises(UserError):
        ble.to_reading({"voltage": 5000.0}, "jk", {})  # implausible: rejected, never guessed
