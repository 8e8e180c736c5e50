"""Fleet mode through a real Mosquitto: the demo scenarios published with `watch --mqtt` give the findings
`watch --demo` gives, and one reading sent in the bmsdoc, batmon-ha, ESPHome and dbus-serialbattery shapes gives
the same findings as `bmsdoc check` on it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import pytest
from fleet_support import Observer, Sender, fleet_kb, wait_for
from mosquitto_broker import Mosquitto

from drivers.live import DemoSource, stream
from drivers.mqtt import config as fleet_config
from drivers.mqtt import store
from drivers.mqtt.publisher import ReadingPublisher
from drivers.mqtt.service import FleetService
from drivers.mqtt.url import parse_url
from drivers.sim import SCENARIOS
from engine.check import check
from engine.reading import Reading

pytestmark = pytest.mark.slow  # a real Mosquitto broker and two processes

KB, KB_DIR = fleet_kb()

# riders' packs as they would be checked with `bmsdoc check`: measured values + the owner's settings
SETTINGS_A = {"bms": "jk", "series": 13, "chemistry": "li-ion", "state": "riding", "regen_limit": 25}
MEASURED_A = {"cells": [3.912, 3.905, 3.915, 3.848, 3.910, 3.908, 3.911, 3.906, 3.913, 3.909, 3.907, 3.914, 3.910],
              "pack_voltage": 50.77, "current": -12.5, "soc": 64.0, "temperatures": [31.0, 30.5], "mos_temp": 38.0,
              "charge_fet": False, "discharge_fet": True}
SETTINGS_B = {"bms": "jk", "series": 16, "chemistry": "lifepo4", "state": "charging", "cell_ovp": 3.65}
MEASURED_B = {"cells": [3.402, 3.398, 3.401, 3.405, 3.399, 3.400, 3.62, 3.403, 3.401, 3.402, 3.400, 3.399, 3.404,
                        3.401, 3.400, 3.402],
              "pack_voltage": 54.64, "current": 18.0, "soc": 97.0, "temperatures": [41.0, 43.5, 40.0],
              "mos_temp": 52.0, "charge_fet": True, "discharge_fet": True}


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    b = Mosquitto(tmp_path_factory.mktemp("mosquitto")).start()
    yield b
    b.stop()


def _service(broker, tmp_path, cfg: dict) -> FleetService:
    svc = FleetService(parse_url(broker.url), fleet_config.parse(cfg), kb=KB, store_path=str(tmp_path / "fleet.sqlite"),
                       group=f"g{tmp_path.name[-8:]}".replace("_", ""), worker_id="w1")
    svc.start()
    return svc


def _onoff(b: bool) -> str:
    return "ON" if b else "OFF"


def publish_batmon(s: Sender, alias: str, m: dict) -> None:
    """batmon-ha with its default sign: + = discharging."""
    s.send(f"{alias}/soc/total_voltage", f"{m['pack_voltage']:.2f}")
    s.send(f"{alias}/soc/current", f"{-m['current']:.2f}")
    s.send(f"{alias}/soc/soc_percent", f"{m['soc']:.0f}")
    s.send(f"{alias}/soc/power", f"{m['pack_voltage'] * -m['current']:.0f}")  # not used by the checks
    for i, v in enumerate(m["cells"], 1):
        s.send(f"{alias}/cell_voltages/{i}", f"{v:.3f}")
    s.send(f"{alias}/cell_voltages/delta", f"{max(m['cells']) - min(m['cells']):.3f}")
    for i, v in enumerate(m["temperatures"], 1):
        s.send(f"{alias}/temperatures/{i}", f"{v:.1f}")
    s.send(f"{alias}/switch/charge", _onoff(m["charge_fet"]))
    s.send(f"{alias}/switch/discharge", _onoff(m["discharge_fet"]))


def publish_esphome(s: Sender, node: str, m: dict) -> None:
    """esphome-jk-bms entities with the usual `jk-bms` name prefix (object ids as ESPHome derives them)."""
    def st(domain: str, name: str, value: str) -> None:
        s.send(f"{node}/{domain}/{name.replace(' ', '_')}/state", value)

    s.send(f"{node}/status", "online")
    for i, v in enumerate(m["cells"], 1):
        st("sensor", f"jk-bms cell voltage {i}", f"{v:.3f}")
    st("sensor", "jk-bms total voltage", f"{m['pack_voltage']:.2f}")
    st("sensor", "jk-bms current", f"{m['current']:.2f}")
    st("sensor", "jk-bms state of charge", f"{m['soc']:.0f}")
    st("sensor", "jk-bms power tube temperature", f"{m['mos_temp']:.1f}")
    for i, v in enumerate(m["temperatures"], 1):
        st("sensor", f"jk-bms temperature sensor {i}", f"{v:.1f}")
    st("sensor", "jk-bms power off voltage", "2.80")  # a setting whose name ends in "voltage": not the pack's
    st("switch", "jk-bms charging", _onoff(m["charge_fet"]))
    st("switch", "jk-bms discharging", _onoff(m["discharge_fet"]))
    st("switch", "jk-bms balancer", "ON")


def publish_serialbattery(s: Sender, topic: str, m: dict) -> None:
    body = {"cell_count": len(m["cells"]), "capacity": 20, "serial_number": "JK-B2A8S20P-123",
            "voltage": m["pack_voltage"], "current": m["current"], "soc": m["soc"],
            "temperature_mos": m["mos_temp"], "charge_fet": m["charge_fet"], "discharge_fet": m["discharge_fet"],
            "cells": [{"voltage": v} for v in m["cells"]]}
    body.update({f"temperature_{i}": v for i, v in enumerate(m["temperatures"], 1)})
    s.send(topic, body)


def test_a_batmon_poll_that_sends_every_value_again_is_checked_without_the_debounce(broker, tmp_path):
    """The debounce waits for a split reading's last value. A pack that has sent its values once is complete as soon
    as a poll has sent every one of them again: checked at once. A lone value still waits for the debounce."""
    svc = _service(broker, tmp_path, {"timing": {"debounce": 1.5, "min_interval": 0}, "packs": {
        "quick": {"shape": "batmon", "topic": "quick", "current_sign": "discharge", **SETTINGS_A}}})
    obs = Observer(broker.port, "bmsdoc/quick/findings")
    s = Sender(broker.port)

    def regen_finding() -> bool:
        return any(f["rule"] == "fet.charge-off-with-regen" for f in obs.json("bmsdoc/quick/findings") or [])

    try:
        publish_batmon(s, "quick", {**MEASURED_A, "charge_fet": True})
        wait_for(lambda: obs.json("bmsdoc/quick/findings") is not None, 10, "the first check, after the debounce")
        assert not regen_finding()
        publish_batmon(s, "quick", MEASURED_A)  # the next poll: every value again, the charge FET now off
        t0 = time.monotonic()  # the last value has reached the broker
        wait_for(regen_finding, 5, "the regen finding")
        assert time.monotonic() - t0 < 1.0  # not 1.5 s after the last value
        t1 = time.monotonic()
        s.send("quick/switch/charge", "ON")  # one value alone: the rest of the poll may still be coming
        wait_for(lambda: not regen_finding(), 10, "the finding cleared")
        assert time.monotonic() - t1 >= 1.2
    finally:
        s.close()
        obs.close()
        svc.stop()


@pytest.mark.parametrize("settings,measured", [(SETTINGS_A, MEASURED_A), (SETTINGS_B, MEASURED_B)],
                         ids=["13s-regen-charge-fet-off", "16s-lfp-charging-runaway-cell"])
def test_one_reading_in_four_shapes_gives_the_same_findings(broker, tmp_path, settings, measured):
    cfg = {"timing": {"debounce": 0.2, "min_interval": 0},
           "packs": {"own": dict(settings),
                     "bat": {"shape": "batmon", "topic": f"batmon_{tmp_path.name[-6:]}", "current_sign": "discharge",
                             **settings},
                     "esp": {"shape": "esphome", "topic": f"jkbms-{tmp_path.name[-6:]}", **settings},
                     "sb": {"shape": "serialbattery", "topic": f"serialbattery/{tmp_path.name[-6:]}/data",
                            **settings}}}
    expected = sorted((f.rule, f.severity) for f in check(Reading.parse({**measured, **settings}), KB).findings)
    if KB_DIR is None:
        assert expected, "the reading is meant to raise findings"
    svc = _service(broker, tmp_path, cfg)
    obs = Observer(broker.port, "bmsdoc/+/findings", "bmsdoc/+/status")
    s = Sender(broker.port)
    try:
        s.send("bmsdoc/own/reading", measured)  # the pack's own settings come from the fleet YAML
        publish_batmon(s, cfg["packs"]["bat"]["topic"], measured)
        publish_esphome(s, cfg["packs"]["esp"]["topic"], measured)
        publish_serialbattery(s, cfg["packs"]["sb"]["topic"], measured)

        def findings(pack):
            got = obs.json(f"bmsdoc/{pack}/findings")
            return None if got is None else sorted((f["rule"], f["severity"]) for f in got)

        worst = {"critical": 0, "warning": 1, "info": 2}
        status = min((sev for _r, sev in expected), key=worst.get) if expected else "ok"
        for pack in ("own", "bat", "esp", "sb"):
            got = wait_for(lambda p=pack: findings(p) == expected and findings(p), 10, f"{pack}'s findings") \
                if expected else wait_for(lambda p=pack: findings(p) is not None, 10, f"{pack}'s findings")
            assert got == expected or (not expected and findings(pack) == []), pack
            assert wait_for(lambda p=pack: obs.text(f"bmsdoc/{p}/status") == status, 5, f"{pack} status")
        for f in obs.json("bmsdoc/bat/findings"):
            assert f["citations"] and f["title"] and f["message"] and "since" in f and f["evidence"]
        assert svc.stats.malformed == 0
    finally:
        s.close()
        obs.close()
        svc.stop()


def _demo_readings(scenario: str) -> list:
    async def collect():
        return [ev.reading async for ev in stream(DemoSource(scenario=scenario, family="jk", rate=2, realtime=False))
                if ev.kind == "reading"]
    return asyncio.run(collect())


def _transitions(readings) -> list[tuple[str, str]]:
    """What `watch --demo` prints as raised: (rule, severity) each time a finding appears or changes severity."""
    active: dict[str, str] = {}
    out = []
    for r in readings:
        now = {f.rule: f.severity for f in check(r, KB).findings}
        out += [(rule, sev) for rule, sev in now.items() if active.get(rule) != sev]
        active = now
    return out


@pytest.fixture(scope="module")
def demo_service(broker, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("demo")
    svc = _service(broker, tmp, {"timing": {"min_interval": 0}})
    yield svc, tmp / "fleet.sqlite"
    svc.stop()


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_demo_scenario_over_mqtt_gives_the_watch_findings(broker, demo_service, scenario):
    svc, db = demo_service
    readings = _demo_readings(scenario)
    expected = _transitions(readings)
    pub = ReadingPublisher(parse_url(broker.url), f"demo-{scenario}")
    for seq, r in enumerate(readings, 1):
        pub.publish(seq, seq * 0.5, r)
    assert pub.close() == 0
    wait_for(lambda: (ps := svc.packs.get(f"demo-{scenario}")) and ps.last_seq == len(readings), 15,
             "every reading checked")

    def got():
        hist = store.history(f"demo-{scenario}", db) if expected else {"findings": []}
        return [(f["rule"], f["severity"]) for f in hist["findings"]]

    try:  # the last reading is checked just after its seq is seen
        wait_for(lambda: sorted(got()) == sorted(expected), 5)
    except AssertionError:
        pass
    got = got()
    assert sorted(got) == sorted(expected)  # every raise, the same number of times (order within one reading varies)
    assert {r for r, _s in got} == {r for r, _s in expected}


@pytest.mark.slow
def test_watch_mqtt_command_publishes_what_watch_prints(broker, tmp_path):
    """The commands as a user types them: `bmsdoc watch --demo X --mqtt URL` into the fleet service. Both sides use
    the pinned test KB (the shipped content may change while the two processes load it)."""
    from fleet_support import PINNED_KB

    from kb.load import load_kb

    svc = FleetService(parse_url(broker.url), fleet_config.parse({"timing": {"min_interval": 0}}),
                       kb=load_kb(PINNED_KB), store_path=str(tmp_path / "cli.sqlite"), group="cli", worker_id="cli")
    svc.start()
    try:
        base = [sys.executable, "-m", "tui.cli", "watch", "--demo", "sense-lead-fault", "--fast", "--rate", "2",
                "--kb", PINNED_KB]
        printed = subprocess.run(base + ["--json", "--mqtt", broker.url, "--pack", "cli-sense-lead"],
                                 capture_output=True, text=True, timeout=60)
        assert printed.returncode == 0, printed.stderr
        seen = set()
        for line in printed.stdout.splitlines():
            seen |= {f["rule"] for f in json.loads(line).get("findings", [])}
        wait_for(lambda: (ps := svc.packs.get("cli-sense-lead")) and ps.last_seq == 120, 15, "the 120 readings")
        def rules():
            return {f["rule"] for f in store.history("cli-sense-lead", tmp_path / "cli.sqlite")["findings"]}

        wait_for(lambda: rules() == seen, 5, "the last reading's transitions recorded")  # checked after seq is set
        assert rules() == seen and seen
    finally:
        svc.stop()
