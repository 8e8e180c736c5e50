"""Fleet faults through a real Mosquitto: garbage on every topic, duplicates and out-of-order readings, a silent
pack going stale, Home Assistant restarting, the broker restarting mid-run, and a worker dying (takeover)."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fleet_support import Observer, Sender, fleet_kb, wait_for
from mosquitto_broker import Mosquitto

from drivers.mqtt import config as fleet_config
from drivers.mqtt import store
from drivers.mqtt.publisher import ReadingPublisher
from drivers.mqtt.service import FleetService
from drivers.mqtt.url import parse_url
from engine.check import check
from engine.reading import Reading

pytestmark = pytest.mark.slow  # a real Mosquitto broker, restarts and takeovers

KB, KB_DIR = fleet_kb()
# a 13S pack riding with the charge FET off and regen allowed: a critical finding in every KB
BAD = {"bms": "jk", "series": 13, "chemistry": "li-ion", "state": "riding", "regen_limit": 25, "charge_fet": False,
       "discharge_fet": True, "current": -8.0, "cells": [3.9] * 13, "pack_voltage": 50.7}
GOOD = {**BAD, "charge_fet": True}


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    b = Mosquitto(tmp_path_factory.mktemp("mosquitto")).start()
    yield b
    b.stop()


@pytest.fixture
def service(broker, tmp_path, request):
    cfg = getattr(request, "param", {})
    svc = FleetService(parse_url(broker.url), fleet_config.parse(cfg), kb=KB, store_path=str(tmp_path / "f.sqlite"),
                       group="g" + tmp_path.name[-10:].replace("_", ""), worker_id="solo")
    svc.start()
    yield svc
    svc.stop()


def rules(findings) -> set[str]:
    return {f["rule"] for f in findings or []}


BATMON_CFG = {"timing": {"debounce": 0.1, "min_interval": 0, "stale_after": 1.5},
              "packs": {"bat": {"shape": "batmon", "topic": "garbage_bat", "current_sign": "discharge",
                                "bms": "jk", "series": 4},
                        "esp": {"shape": "esphome", "topic": "garbage-esp", "bms": "jk", "series": 4},
                        "sb": {"shape": "serialbattery", "topic": "garbage/sb"}}}


@pytest.mark.parametrize("service", [BATMON_CFG], indirect=True)
def test_garbage_on_every_topic_is_counted_logged_once_and_never_fatal(broker, service, caplog):
    caplog.set_level(logging.WARNING, logger="bmsdoc.fleet")
    s = Sender(broker.port)
    obs = Observer(broker.port, "bmsdoc/+/findings")
    garbage = [
        ("bmsdoc/g1/reading", b"{not json"), ("bmsdoc/g1/reading", b"[1, 2, 3]"),
        ("bmsdoc/g2/reading", b'{"cells": [NaN, 3.9]}'), ("bmsdoc/g3/reading", b"\xff\xfe\x00binary"),
        ("bmsdoc/g4/reading", json.dumps({"cells": [93.9, 3.9]}).encode()),  # 93.9 V is no cell
        ("bmsdoc/g5/reading", json.dumps({"cellz": [3.9]}).encode()),
        ("bmsdoc/g6/reading", b"{" * 100_000), ("bmsdoc/g7/reading", b'{"reading": {"cells": [3.9]}, "seq": "x"}'),
        ("bmsdoc/g8/settings", b'{"series": "many"}'), ("bmsdoc/g9/settings", b"42"),
        ("bmsdoc/g10/state", b'{"active": 1}'), ("homeassistant/status", b"\xff"),
        ("bmsdoc/workers/" + service.group + "/intruder", b"{{{"),
        ("garbage_bat/soc/total_voltage", b"fifty"), ("garbage_bat/cell_voltages/1", b"inf"),
        ("garbage_bat/switch/charge", b"MAYBE"), ("garbage-esp/sensor/jk-bms_current/state", b"\xff\xff"),
        ("garbage/sb", b'{"voltage": "high"}'), ("garbage/sb", b"null"),
    ]
    for topic, payload in garbage * 2:  # twice: logged once per topic, counted every time
        s.send(topic, payload)
    wait_for(lambda: service.stats.malformed >= 2 * (len(garbage) - 1), 10, "every malformed message counted")
    logged = [r.getMessage() for r in caplog.records if "malformed" in r.getMessage()]
    topics = [m.split(" on ", 1)[1].split(":", 1)[0] for m in logged]
    assert len(topics) == len(set(topics)), "one log line per topic"
    assert "bmsdoc/g1/reading" in topics and "garbage_bat/soc/total_voltage" in topics
    # still up: a good reading after all that is checked and published
    s.send("bmsdoc/after/reading", BAD)
    assert wait_for(lambda: rules(obs.json("bmsdoc/after/findings")), 5, "findings after the garbage") == \
        {f.rule for f in check(Reading.parse(BAD), KB).findings}
    # a split pack with one bad value keeps its good values
    for i, v in enumerate([3.31, 3.30, 3.32, 3.31], 1):
        s.send(f"garbage_bat/cell_voltages/{i}", str(v))
    wait_for(lambda: obs.json("bmsdoc/bat/findings") is not None, 5, "the batmon pack checked")
    assert service._thread.is_alive()
    s.close()
    obs.close()


def test_duplicates_and_out_of_order_readings_change_nothing(broker, service):
    obs = Observer(broker.port, "bmsdoc/dup/findings")
    s = Sender(broker.port)
    t0 = time.time()
    s.send("bmsdoc/dup/reading", {"seq": 1, "t": 0, "time": t0, "reading": BAD})
    s.send("bmsdoc/dup/reading", {"seq": 1, "t": 0, "time": t0, "reading": BAD})  # QoS 1 redelivery
    s.send("bmsdoc/dup/reading", {"seq": 3, "t": 2, "time": t0 + 2, "reading": GOOD})
    s.send("bmsdoc/dup/reading", {"seq": 2, "t": 1, "time": t0 + 1, "reading": BAD})  # late: older than seq 3
    wait_for(lambda: service.stats.duplicates + service.stats.out_of_order >= 2, 5, "both dropped")
    assert service.stats.duplicates == 1 and service.stats.out_of_order == 1
    assert wait_for(lambda: obs.json("bmsdoc/dup/findings") is not None and
                    "fet.charge-off-with-regen" not in rules(obs.json("bmsdoc/dup/findings")), 5)
    hist = store.history("dup", service._store_path)
    charge = [f for f in hist["findings"] if f["rule"] == "fet.charge-off-with-regen"]
    assert len(charge) == 1 and charge[0]["cleared"] is not None  # raised once, cleared once: no flapping
    s.close()
    obs.close()


@pytest.mark.parametrize("service", [{"timing": {"stale_after": 1.0, "min_interval": 0}}], indirect=True)
def test_a_silent_pack_goes_stale_and_comes_back(broker, service):
    obs = Observer(broker.port, "bmsdoc/quiet/status")
    s = Sender(broker.port)
    s.send("bmsdoc/quiet/reading", GOOD)
    wait_for(lambda: obs.text("bmsdoc/quiet/status") not in (None, "stale"), 5, "a first status")
    assert wait_for(lambda: obs.text("bmsdoc/quiet/status") == "stale", 5, "stale")
    s.send("bmsdoc/quiet/reading", BAD)
    assert wait_for(lambda: obs.text("bmsdoc/quiet/status") == "critical", 5, "fresh data again")
    kinds = [e["kind"] for e in store.history("quiet", service._store_path)["events"]]
    assert kinds[:2] == ["stale", "fresh"]
    s.close()
    obs.close()


def test_home_assistant_discovery_availability_and_rediscovery(broker, service):
    obs = Observer(broker.port, "homeassistant/#", "bmsdoc/status")
    s = Sender(broker.port)
    s.send("bmsdoc/ha-pack/reading", BAD)
    sensor = "homeassistant/sensor/bmsdoc_ha_pack_" 
    cfg = wait_for(lambda: next((t for t, _p, _r in obs.messages if t.startswith(sensor)), None), 5, "discovery")
    body = obs.json(cfg)
    assert body["state_topic"] == "bmsdoc/ha-pack/status" and body["availability_topic"] == "bmsdoc/status"
    assert body["json_attributes_topic"] == "bmsdoc/ha-pack/attributes" and body["unique_id"]
    problem = cfg.replace("sensor/", "binary_sensor/").replace("/diagnosis/", "/problem/")
    assert obs.json(problem)["device_class"] == "problem"
    # available while the service is online and the pack is not stale (a silent pack is not "no problem")
    avail = obs.json(problem)["availability"]
    assert obs.json(problem)["availability_mode"] == "all" and [a["topic"] for a in avail] == \
        ["bmsdoc/status", "bmsdoc/ha-pack/status"]
    assert "stale" in avail[1]["value_template"]
    assert obs.text("bmsdoc/status") == "online"
    before = obs.count(cfg)
    s.send("homeassistant/status", "online")  # Home Assistant restarted
    assert wait_for(lambda: obs.count(cfg) > before, 5, "discovery sent again")
    s.close()
    obs.close()


@pytest.mark.slow
def test_broker_restart_mid_run_loses_no_transition(tmp_path):
    """The broker is restarted (without persistence: its retained messages are gone) while a pack keeps sending;
    the worker reconnects, subscribes again, keeps its state and publishes its findings again."""
    b = Mosquitto(tmp_path / "restart", persistence=False).start()
    svc = FleetService(parse_url(b.url), fleet_config.parse({"timing": {"min_interval": 0}}), kb=KB,
                       store_path=str(tmp_path / "f.sqlite"), worker_id="survivor")
    svc.start()
    pub = ReadingPublisher(parse_url(b.url), "ride")
    try:
        plan = [GOOD] * 6 + [BAD] * 8 + [GOOD] * 8 + [BAD] * 6  # 0.2 s apart; the broker is away 0.5 s of the BAD run
        for seq, fields in enumerate(plan, 1):
            pub.publish(seq, seq, Reading.parse(fields))
            time.sleep(0.2)
            if seq == 7:
                b.restart(down=0.5)
        assert pub.close(15) == 0
        wait_for(lambda: svc.packs["ride"].last_seq == len(plan), 20, "the last reading")
        hist = store.history("ride", tmp_path / "f.sqlite")
        charge = [f for f in hist["findings"] if f["rule"] == "fet.charge-off-with-regen"]
        assert [f["cleared"] is None for f in charge] == [False, True], charge  # raised, cleared, raised again
        assert svc.stats.connects == 2 and svc.stats.disconnects == 1
        # the new broker knew nothing retained: what HA reads now was published again after the reconnect
        obs = Observer(b.port, "bmsdoc/ride/findings", "homeassistant/#")
        assert "fet.charge-off-with-regen" in wait_for(lambda: rules(obs.json("bmsdoc/ride/findings")), 5)
        assert any(t.startswith("homeassistant/sensor/bmsdoc_ride") for t, _p, _r in obs.messages)
        obs.close()
    finally:
        svc.stop()
        b.stop()


def _worker(port: int, cfg: Path, db: Path, wid: str) -> subprocess.Popen:
    kb = ["--kb", KB_DIR] if KB_DIR else []
    return subprocess.Popen([sys.executable, "-m", "tui.cli", "fleet", "--broker", f"mqtt://127.0.0.1:{port}",
                             "--config", str(cfg), "--db", str(db), "--group", "takeover", "--worker-id", wid, *kb],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_a_dead_workers_packs_are_taken_over_within_seconds(broker, tmp_path):
    packs = {f"rent-{i}": {"shape": "batmon", "topic": f"rent_{i}", "current_sign": "discharge", "bms": "jk",
                           "series": 4, "state": "riding", "regen_limit": 20} for i in range(8)}
    cfg = tmp_path / "fleet.yaml"
    cfg.write_text(json.dumps({"timing": {"debounce": 0.1, "min_interval": 0}, "packs": packs}))  # JSON is YAML
    obs = Observer(broker.port, "bmsdoc/+/attributes", "bmsdoc/status", "bmsdoc/workers/takeover/+")
    s = Sender(broker.port)
    a = _worker(broker.port, cfg, tmp_path / "a.sqlite", "wa")
    b = _worker(broker.port, cfg, tmp_path / "b.sqlite", "wb")
    try:
        def send_all(charge: str) -> None:
            for i in range(8):
                for c in range(1, 5):
                    s.send(f"rent_{i}/cell_voltages/{c}", "3.901")
                s.send(f"rent_{i}/switch/charge", charge)

        def owners():
            got = {p: (obs.json(f"bmsdoc/{p}/attributes") or {}).get("worker") for p in packs}
            return got if all(got.values()) else None

        wait_for(lambda: all(obs.text(f"bmsdoc/workers/takeover/{w}") for w in ("wa", "wb")), 30, "both workers up")
        time.sleep(0.3)  # each has seen the other's announcement
        send_all("ON")
        first = wait_for(owners, 20, "every pack checked by a worker")
        assert set(first.values()) == {"wa", "wb"}, "the packs are shared"
        a.send_signal(signal.SIGKILL)  # no goodbye: the broker publishes its last will
        a.wait(5)
        died = time.monotonic()
        send_all("OFF")
        wait_for(lambda: all((obs.json(f"bmsdoc/{p}/attributes") or {}).get("worker") == "wb"
                             and "fet.charge-off-with-regen" in (obs.json(f"bmsdoc/{p}/attributes") or {}).get(
                                 "rules", []) for p in packs), 10, "wb publishing every pack")
        assert time.monotonic() - died < 10
        assert wait_for(lambda: obs.text("bmsdoc/status") == "online", 5, "the survivor keeps HA available")
    finally:
        for p in (a, b):
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in (a, b):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        s.close()
        obs.close()
