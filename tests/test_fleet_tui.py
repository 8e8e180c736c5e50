"""The Fleet area and `bmsdoc fleet --status` over what a real fleet service recorded from a real Mosquitto."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest
from fleet_support import PINNED_KB, Sender, wait_for
from mosquitto_broker import Mosquitto
from tui_helpers import make_app, screen_text, until

from drivers.mqtt import config as fleet_config
from drivers.mqtt import store
from drivers.mqtt.service import FleetService
from drivers.mqtt.url import parse_url

pytestmark = pytest.mark.slow  # a real Mosquitto broker behind the app

BAD = {"bms": "jk", "series": 4, "state": "riding", "regen_limit": 25, "charge_fet": False, "current": -6.0,
       "cells": [3.9, 3.9, 3.9, 3.9]}
GOOD = {**BAD, "charge_fet": True}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    from kb.load import load_kb

    tmp = tmp_path_factory.mktemp("fleet-tui")
    b = Mosquitto(tmp / "broker").start()
    svc = FleetService(parse_url(b.url), fleet_config.parse({"timing": {"min_interval": 0}}), kb=load_kb(PINNED_KB),
                       store_path=str(tmp / "sessions.sqlite"), worker_id="tui")
    svc.start()
    s = Sender(b.port)
    s.send("bmsdoc/beta/reading", GOOD)
    s.send("bmsdoc/alpha/reading", GOOD)
    s.send("bmsdoc/alpha/reading", BAD)
    s.send("bmsdoc/zulu/reading", BAD)
    wait_for(lambda: len([p for p in store.packs(tmp / "sessions.sqlite") if p["checked"]]) == 3, 10, "3 packs stored")
    s.close()
    yield tmp, b
    svc.stop()
    b.stop()


def test_fleet_area_lists_sorts_and_opens_a_pack(fleet):
    tmp, _b = fleet

    async def run():
        app = make_app(tmp)  # data dir = where the service wrote sessions.sqlite
        async with app.run_test(size=(120, 40)) as pilot:
            assert "Fleet" in [c.title for c in app.get_system_commands(app.screen)]
            app.action_fleet()
            await pilot.pause()
            scr = app.screen
            assert type(scr).__name__ == "FleetScreen"
            table = scr.query_one("#fleet-packs")
            await until(pilot, lambda: table.row_count == 3)
            first = [str(table.get_row_at(i)[0]) for i in range(3)]
            assert first[2] == "beta" and set(first[:2]) == {"alpha", "zulu"}  # worst first
            assert "regen-charge-fet-off" in screen_text(app)
            await pilot.press("s")  # by name
            await pilot.pause()
            assert [str(table.get_row_at(i)[0]) for i in range(3)] == ["alpha", "beta", "zulu"]
            await pilot.press("enter")  # open alpha
            await until(pilot, lambda: scr.detail is not None)
            text = screen_text(app)
            assert "alpha: critical" in text and "History:" in text and "still active" in text
            await pilot.press("escape")
            await pilot.pause()
            assert type(app.screen).__name__ != "FleetScreen"

    asyncio.run(run())


def _bmsdoc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True, timeout=60)


@pytest.mark.slow
def test_fleet_status_from_the_store_and_from_the_broker(fleet):
    tmp, b = fleet
    db = str(tmp / "sessions.sqlite")
    out = _bmsdoc("fleet", "--status", "--db", db)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[:2] == ["pack", "status"] and lines[-1].startswith("beta ")
    assert "critical" in lines[1] and "regen-charge-fet-off" in lines[1]
    by_name = _bmsdoc("fleet", "--status", "--db", db, "--sort", "pack", "--json")
    assert [r["pack"] for r in json.loads(by_name.stdout)] == ["alpha", "beta", "zulu"]
    live = _bmsdoc("fleet", "--status", "--broker", b.url, "--json")
    assert live.returncode == 0, live.stderr
    rows = {r["pack"]: r for r in json.loads(live.stdout)}
    assert rows["alpha"]["status"] == "critical" and rows["beta"]["status"] == "ok"
    assert rows["alpha"]["worst"]["rule"] == "regen-charge-fet-off" and rows["alpha"]["checked"]
    one = _bmsdoc("fleet", "--status", "--db", db, "--pack", "alpha")
    assert one.returncode == 0 and "regen-charge-fet-off" in one.stdout and "still active" in one.stdout
    hist = _bmsdoc("history", "--db", db)
    assert "fleet:alpha" in hist.stdout and "fleet:zulu" in hist.stdout


@pytest.mark.parametrize("argv,message", [
    (["fleet"], "give the broker"),
    (["fleet", "--broker", "http://x"], "scheme must be mqtt://"),
    (["fleet", "--broker", "mqtt://127.0.0.1:1"], "cannot reach the broker"),
    (["fleet", "--broker", "mqtt://:1883"], "names no host"),
    (["fleet", "--broker", "mqtt://h", "--config", "/nonexistent/fleet.yaml"], "cannot read"),
    (["fleet", "--status", "--db", "/nonexistent/x.sqlite"], "no fleet data"),
    (["fleet", "--status", "--pack", "nope", "--db", "{db}"], "no fleet pack 'nope'"),
    (["watch", "--demo", "--mqtt", "mqtt://127.0.0.1:1"], "cannot reach the broker"),
    (["watch", "--demo", "--pack", "x"], "give --mqtt URL too"),
])
def test_bad_input_is_one_line_and_exit_2(fleet, argv, message):
    tmp, _b = fleet
    out = _bmsdoc(*[a.replace("{db}", str(tmp / "sessions.sqlite")) for a in argv])
    assert out.returncode == 2, out.stderr
    assert message in out.stderr and len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


@pytest.mark.parametrize("yaml_text,message", [
    ("packs: [1, 2]", "packs: must be a mapping"),
    ("packs:\n  a: {shape: victron}", "unknown shape 'victron'"),
    ("packs:\n  a: {shape: batmon, current_sign: up}", "current_sign is 'charge'"),
    ("packs:\n  a: {series: lots}", "pack 'a'"),
    ("packs:\n  a: {shape: serialbattery}", "needs its topic"),
    ("timing: {debounce: -1}", "timing.debounce"),
    ("packs:\n  a/b: {}", "cannot be an MQTT topic level"),
    ("packs: {a: [", "not valid YAML"),
])
def test_bad_fleet_yaml_is_named_with_its_problem(tmp_path, yaml_text, message):
    from kb.errors import UserError

    p = tmp_path / "fleet.yaml"
    p.write_text(yaml_text)
    with pytest.raises(UserError) as e:
        fleet_config.load(p)
    assert message in str(e.value) and "\n" not in str(e.value)
