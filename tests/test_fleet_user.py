"""Fleet mode as a shop owner tries it, through a real Mosquitto: a stray batmon-ha topic, one pack's results from
the broker, stopping the service the way systemd and docker do (SIGTERM), and the order of `--status`."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from fleet_support import Observer, Sender, fleet_kb, wait_for
from mosquitto_broker import Mosquitto

from drivers.mqtt import config as fleet_config
from drivers.mqtt.service import FleetService
from drivers.mqtt.url import parse_url

pytestmark = pytest.mark.slow  # a real Mosquitto broker

KB, KB_DIR = fleet_kb()
BAD = {"bms": "jk", "series": 13, "chemistry": "li-ion", "state": "riding", "regen_limit": 25, "charge_fet": False,
       "discharge_fet": True, "current": -8.0, "cells": [3.9] * 13, "pack_voltage": 50.7}


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    b = Mosquitto(tmp_path_factory.mktemp("mosquitto")).start()
    yield b
    b.stop()


def _bmsdoc(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], capture_output=True, text=True, timeout=timeout)


def _one_line_error(out: subprocess.CompletedProcess, message: str) -> None:
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert message in out.stderr and len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr


def test_a_stray_batmon_cell_number_is_malformed_not_a_hung_worker(broker, tmp_path):
    # `{alias}/cell_voltages/100000000000` made the pack list "no value yet for cell 1, 2, ..." up to it: the
    # worker ran at 100 % CPU and grew by gigabytes, and no pack was checked any more
    cfg = {"timing": {"debounce": 0.1, "min_interval": 0},
           "packs": {"rack": {"shape": "batmon", "topic": "rack_bms", "current_sign": "discharge", "bms": "jk",
                              "series": 4}}}
    svc = FleetService(parse_url(broker.url), fleet_config.parse(cfg), kb=KB, store_path=str(tmp_path / "f.sqlite"),
                       group="stray", worker_id="stray")
    svc.start()
    s = Sender(broker.port)
    obs = Observer(broker.port, "bmsdoc/+/findings")
    try:
        for topic in ("rack_bms/cell_voltages/100000000000", "rack_bms/temperatures/99999", "rack_bms/cell_voltages/"
                      + "9" * 5000):
            s.send(topic, "3.3")
        s.send("rack_bms/cell_voltages/\N{SUPERSCRIPT THREE}", "3.3")  # a digit to str.isdigit, not to int()
        wait_for(lambda: svc.stats.malformed >= 3, 5, "the stray cell numbers counted as malformed")
        for i, v in enumerate([3.31, 3.30, 3.32, 3.31], 1):
            s.send(f"rack_bms/cell_voltages/{i}", str(v))
        s.send("bmsdoc/next/reading", BAD)
        assert wait_for(lambda: obs.json("bmsdoc/next/findings"), 5, "the next pack still checked")
        assert wait_for(lambda: obs.json("bmsdoc/rack/findings") is not None, 5, "the batmon pack checked")
        fields, _notes = svc.packs["rack"].measured()
        assert fields["cells"] == [3.31, 3.30, 3.32, 3.31]
        assert svc._thread.is_alive()
    finally:
        s.close()
        obs.close()
        svc.stop()


def _recorded(db, pack: str) -> bool:
    from drivers.mqtt import store
    from kb.errors import UserError

    try:
        return bool(store.history(pack, db)["findings"])
    except UserError:
        return False


def test_one_packs_results_from_the_broker(broker, tmp_path):
    # `--status --pack NAME --broker URL` read the local store only: "no fleet pack" for a pack the broker has
    db = tmp_path / "service.sqlite"
    svc = FleetService(parse_url(broker.url), fleet_config.parse({"timing": {"min_interval": 0}}), kb=KB,
                       store_path=str(db), group="detail", worker_id="detail")
    svc.start()
    s = Sender(broker.port)
    obs = Observer(broker.port, "bmsdoc/scooter-7/findings")
    try:
        s.send("bmsdoc/scooter-7/reading", BAD)
        wait_for(lambda: obs.json("bmsdoc/scooter-7/findings"), 5, "scooter-7 checked")
        elsewhere = _bmsdoc("fleet", "--status", "--pack", "scooter-7", "--broker", broker.url,
                            "--db", str(tmp_path / "not-here.sqlite"))
        assert elsewhere.returncode == 0, elsewhere.stderr
        first = elsewhere.stdout.splitlines()[0]
        assert first.startswith("scooter-7: critical (checked ") and "no history in" in first
        assert "fet.charge-off-with-regen" in elsewhere.stdout
        wait_for(lambda: _recorded(db, "scooter-7"), 5, "the transition recorded")
        here = _bmsdoc("fleet", "--status", "--pack", "scooter-7", "--broker", broker.url, "--db", str(db), "--json")
        assert here.returncode == 0, here.stderr
        got = json.loads(here.stdout)
        assert got["status"] == "critical" and got["session"] and got["history"]["findings"]
        _one_line_error(_bmsdoc("fleet", "--status", "--pack", "nope", "--broker", "mqtt://u:hunter2@127.0.0.1:"
                                f"{broker.port}"), "has no results for pack 'nope'")
        assert "hunter2" not in _bmsdoc("fleet", "--status", "--pack", "nope", "--broker",
                                        f"mqtt://u:hunter2@127.0.0.1:{broker.port}").stderr
        _one_line_error(_bmsdoc("fleet", "--status", "--pack", "a/#", "--broker", broker.url), "has no results")
    finally:
        s.close()
        obs.close()
        svc.stop()


def test_sigterm_stops_the_service_as_ctrl_c_does(broker, tmp_path):
    # `kill PID` / `systemctl stop` / `docker stop`: the service died mid-run, its worker entry stayed retained
    # "online", the store's last second was not written and every session stayed "(interrupted)"
    db = tmp_path / "term.sqlite"
    kb = ["--kb", KB_DIR] if KB_DIR else []
    p = subprocess.Popen([sys.executable, "-m", "tui.cli", "fleet", "--broker", broker.url, "--db", str(db),
                          "--group", "term", "--worker-id", "term-1", *kb],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    obs = Observer(broker.port, "bmsdoc/workers/term/+", "bmsdoc/termpack/findings")
    s = Sender(broker.port)
    try:
        wait_for(lambda: obs.text("bmsdoc/workers/term/term-1"), 30, "the worker announced")
        s.send("bmsdoc/termpack/reading", BAD)
        wait_for(lambda: obs.json("bmsdoc/termpack/findings"), 10, "termpack checked")
        running = _bmsdoc("fleet", "--status", "--broker", broker.url)
        assert "termpack" in running.stdout and "no fleet service is running" not in running.stdout
        p.send_signal(signal.SIGTERM)
        err = p.communicate(timeout=15)[1]
        assert p.returncode == 0, err
        assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("1 packs, ")
        assert wait_for(lambda: obs.text("bmsdoc/workers/term/term-1") == "", 5, "the worker entry cleared")
        hist = _bmsdoc("history", "--db", str(db))
        assert "fleet:termpack" in hist.stdout and "interrupted" not in hist.stdout, hist.stdout
        # --status said nothing about the service being gone: the results looked current
        for argv in ([], ["--pack", "termpack"]):
            left = _bmsdoc("fleet", "--status", "--broker", broker.url, *argv)
            assert "termpack" in left.stdout and "no fleet service is running on this broker" in left.stdout
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(5)
        s.close()
        obs.close()


def test_status_worst_first_puts_a_silent_critical_pack_before_a_silent_healthy_one(broker):
    s = Sender(broker.port)
    try:  # what a service leaves retained when both packs have gone quiet
        critical = {"rule": "fet.charge-off-with-regen", "severity": "critical", "title": "Charge FET off",
                    "since": "2026-12-01T10:00:00+00:00"}
        for pack, findings in (("aaa-fine", []), ("zzz-was-critical", [critical])):
            s.send(f"bmsdoc/{pack}/findings", findings, retain=True)
            s.send(f"bmsdoc/{pack}/status", "stale", retain=True)
        out = _bmsdoc("fleet", "--status", "--broker", broker.url, "--json")
        assert out.returncode == 0, out.stderr
        order = [r["pack"] for r in json.loads(out.stdout) if r["pack"] in ("aaa-fine", "zzz-was-critical")]
        assert order == ["zzz-was-critical", "aaa-fine"]
    finally:
        for pack in ("aaa-fine", "zzz-was-critical"):
            for kind in ("findings", "status"):
                s.send(f"bmsdoc/{pack}/{kind}", b"", retain=True)
        s.close()


@pytest.mark.parametrize("argv,message", [
    (["--duration", "0"], "0 is out of range (more than 0"),  # said "(0..10000000 s)"
    (["--json"], "--json goes with --status"),  # --json and --sort were ignored by the service
    (["--sort", "age"], "--sort goes with --status"),
])
def test_service_options_that_do_not_apply_say_so(argv, message):
    out = _bmsdoc("fleet", "--broker", "mqtt://127.0.0.1:1", *argv)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_wrong_credentials_are_an_error_for_status_and_watch_too(tmp_path):
    # the service refused them, but `fleet --status` printed "no packs yet" (exit 0) and `watch --mqtt` ran the whole
    # session and ended with "N readings did not reach the broker" (exit 0)
    import os

    b = Mosquitto(tmp_path / "auth", persistence=False, users={"shop": "right"}).start()
    try:
        wrong = f"mqtt://shop:hunter2@127.0.0.1:{b.port}"
        for argv in (["fleet", "--status", "--broker", wrong],
                     ["watch", "--demo", "--fast", "--duration", "1", "--mqtt", wrong, "--pack", "p1"]):
            out = _bmsdoc(*argv)
            _one_line_error(out, "refused the connection (Not authorized: check the user name and password)")
            assert "hunter2" not in out.stderr
        env = {**os.environ, "BMSDOC_MQTT_USERNAME": "shop", "BMSDOC_MQTT_PASSWORD": "right"}
        ok = subprocess.run([sys.executable, "-m", "tui.cli", "watch", "--demo", "--fast", "--duration", "1", "--mqtt",
                             b.url, "--pack", "p1"], capture_output=True, text=True, timeout=60, env=env)
        assert ok.returncode == 0 and "did not reach the broker" not in ok.stdout + ok.stderr, ok.stderr
        # and it says where the readings go (it said nothing about the broker at all)
        assert f"publishing every reading to bmsdoc/p1/reading on mqtt://shop@127.0.0.1:{b.port}" in ok.stderr
        assert "10 readings published to bmsdoc/p1/reading" in ok.stderr
    finally:
        b.stop()


def test_watch_takes_the_broker_options_of_fleet(tmp_path):
    # `watch --mqtt` had no --credentials, --ca-file or --insecure: a broker with a private CA was out of its reach
    import shutil

    from mosquitto_broker import self_signed

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    ca, crt, key = self_signed(tmp_path / "certs")
    b = Mosquitto(tmp_path / "tls", persistence=False, users={"shop": "right"}, tls=(ca, crt, key)).start()
    creds = tmp_path / "mqtt.yaml"
    creds.write_text("username: shop\npassword: right\n")
    url = f"mqtts://127.0.0.1:{b.port}"
    try:
        ride = _bmsdoc("watch", "--demo", "--fast", "--duration", "2", "--mqtt", url, "--ca-file", str(ca),
                       "--credentials", str(creds), "--pack", "tls-pack")
        assert ride.returncode == 0 and "did not reach the broker" not in ride.stderr, ride.stderr
        _one_line_error(_bmsdoc("watch", "--demo", "--fast", "--duration", "1", "--mqtt", url, "--credentials",
                                str(creds)), "CERTIFICATE_VERIFY_FAILED")
        _one_line_error(_bmsdoc("watch", "--demo", "--fast", "--duration", "1", "--ca-file", str(ca)),
                        "--ca-file is a broker option for --mqtt; give --mqtt URL too")
        got = _bmsdoc("fleet", "--status", "--broker", url, "--ca-file", str(ca), "--credentials", str(creds))
        assert got.returncode == 0, got.stderr  # the service is not running: nothing retained, but connected
    finally:
        b.stop()


@pytest.mark.parametrize("yaml_text,where,message", [
    ("# the shop\npacks:\n  scooter-7: {series: 13}\n  rental-12: {series: 13, regne_limit: 30}\n", ":4:3:",
     "pack 'rental-12': invalid reading: unknown field 'regne_limit'"),
    ("packs:\n  a: {shape: batmon}\n  b:\n    shape: batmon\n    topic: a\n", ":3:3:",
     "packs 'a' and 'b' read the same batmon topic 'a'"),
    ("timing:\n  debounce: 0.1\n  stale_after: 0\n", ":3:3:", "timing.stale_after"),
    ("defaults: {chemistry: lipo}\n", ":1:1:", "defaults: invalid reading: unknown chemistry 'lipo'"),
])
def test_a_fleet_yaml_mistake_names_its_line(tmp_path, yaml_text, where, message):
    # only YAML syntax errors had FILE:LINE:COL; a mistake in pack 40 of a fleet file said just "FILE: pack ..."
    cfg = tmp_path / "fleet.yaml"
    cfg.write_text(yaml_text)
    out = _bmsdoc("fleet", "--broker", "mqtt://127.0.0.1:1", "--config", str(cfg))
    _one_line_error(out, f"{cfg}{where} {message}")


def test_a_reading_from_the_far_future_does_not_shut_out_the_pack(broker, tmp_path):
    # readings are ordered by their `time`: one stamped years ahead (a sender with a wrong clock, or garbage like
    # 1e400) had every later reading of that pack dropped as "older", silently and for good
    svc = FleetService(parse_url(broker.url), fleet_config.parse({"timing": {"min_interval": 0}}), kb=KB,
                       store_path=str(tmp_path / "f.sqlite"), group="future", worker_id="future")
    svc.start()
    s = Sender(broker.port)
    obs = Observer(broker.port, "bmsdoc/clock/findings")
    good = {**BAD, "charge_fet": True}
    try:
        now = time.time()
        s.send("bmsdoc/clock/reading", {"seq": 1, "time": now + 10 * 365 * 86400, "reading": good})
        s.send("bmsdoc/clock/reading", b'{"seq": 2, "time": 1e400, "reading": {}}')
        wait_for(lambda: svc.stats.malformed >= 2, 5, "both counted as malformed")
        s.send("bmsdoc/clock/reading", {"seq": 3, "time": now, "reading": BAD})
        assert "fet.charge-off-with-regen" in {f["rule"] for f in wait_for(
            lambda: obs.json("bmsdoc/clock/findings"), 5, "the pack's reading of now checked")}
        assert svc.stats.out_of_order == 0
    finally:
        s.close()
        obs.close()
        svc.stop()


def test_a_garbage_seq_does_not_shut_out_a_pack_that_sends_no_time(broker, tmp_path):
    # a sender that numbers its readings but stamps no time: one garbage `seq` far ahead had every later reading
    # dropped as older, until the sender restarted at 1
    svc = FleetService(parse_url(broker.url), fleet_config.parse({"timing": {"min_interval": 0}}), kb=KB,
                       store_path=str(tmp_path / "f.sqlite"), group="seqs", worker_id="seqs")
    svc.start()
    s = Sender(broker.port)
    obs = Observer(broker.port, "bmsdoc/counter/findings")
    good = {**BAD, "charge_fet": True}
    try:
        s.send("bmsdoc/counter/reading", {"seq": 41, "reading": good})
        wait_for(lambda: obs.json("bmsdoc/counter/findings") is not None, 5, "the first reading checked")
        s.send("bmsdoc/counter/reading", {"seq": 10**15, "reading": good})
        wait_for(lambda: svc.stats.malformed >= 1, 5, "the jump counted as malformed")
        s.send("bmsdoc/counter/reading", {"seq": 42, "reading": BAD})
        assert "fet.charge-off-with-regen" in {f["rule"] for f in wait_for(
            lambda: obs.json("bmsdoc/counter/findings"), 5, "the next reading checked")}
        s.send("bmsdoc/counter/reading", {"seq": 40, "reading": good})  # an older one is still dropped
        wait_for(lambda: svc.stats.out_of_order >= 1, 5, "the older reading dropped")
    finally:
        s.close()
        obs.close()
        svc.stop()


def test_status_survives_garbage_retained_by_someone_else(broker):
    # anyone can retain on bmsdoc/+/...: a 'checked' of 1e400 (inf) was an OverflowError and citations that are no
    # list a TypeError ("internal error, not your fault") in `--status --pack`
    s = Sender(broker.port)
    junk = [("bmsdoc/junk-a/status", "x" * 300),
            ("bmsdoc/junk-a/findings", b'[1, "a", {"severity": 5, "citations": 7}]'),
            ("bmsdoc/junk-a/questions", b'{"a": 1}'), ("bmsdoc/junk-a/attributes", b'{"checked": "not a time"}'),
            ("bmsdoc/junk-b/status", b"ok"), ("bmsdoc/junk-b/attributes", b'{"checked": 1e400}'),
            ("bmsdoc/junk-b/findings", b'[{"rule": "r", "severity": "critical", "since": "+999999-01-01"}]'),
            ("bmsdoc/junk-c/status", b"\xff\xfe")]
    try:
        for topic, payload in junk:
            s.send(topic, payload, retain=True)
        for argv in ([], ["--sort", "since"], ["--sort", "age"], ["--json"], ["--pack", "junk-a"],
                     ["--pack", "junk-b"]):
            out = _bmsdoc("fleet", "--status", "--broker", broker.url, *argv)
            assert out.returncode == 0 and not out.stderr, (argv, out.stderr)
        table = _bmsdoc("fleet", "--status", "--broker", broker.url).stdout
        assert "x" * 10 not in table and "junk-b " in table  # a status too long for its column is cut
    finally:
        for topic, _payload in junk:
            s.send(topic, b"", retain=True)
        s.close()


def test_status_lists_every_pack_of_a_large_fleet(tmp_path):
    # --status --broker stopped after 1 s whatever was still coming: 9,400 of 20,000 packs here, and no word of it
    import paho.mqtt.client as mqtt

    b = Mosquitto(tmp_path / "big", persistence=False).start()
    n = 12_000
    try:
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        c.max_inflight_messages_set(1000)
        c.connect("127.0.0.1", b.port)
        c.loop_start()
        finding = json.dumps([{"rule": "balance.spread-load-warning", "severity": "warning", "title": "Large cell "
                               "spread under load", "message": "With current flowing the cells spread " * 8,
                               "since": "2026-12-01T10:00:00+00:00", "citations": ["9", "20"]}])
        for i in range(n):
            for kind, payload in (("status", "warning"), ("findings", finding), ("questions", "[]"),
                                  ("attributes", '{"checked": "2026-12-01T18:00:00+00:00"}')):
                c.publish(f"bmsdoc/rental-{i}/{kind}", payload, qos=0, retain=True)
        # the broker handles one connection's messages in order: this one acknowledged, all of them are stored
        c.publish("bmsdoc/marker", b"", qos=1).wait_for_publish(60)
        c.disconnect()
        c.loop_stop()
        out = _bmsdoc("fleet", "--status", "--broker", b.url, "--json", timeout=120)
        assert out.returncode == 0, out.stderr
        assert len(json.loads(out.stdout)) == n
    finally:
        b.stop()


def test_a_silent_pack_stays_stale_through_a_new_worker_and_a_broker_restart(tmp_path):
    # A worker marks a silent pack stale and stops; the next worker adopts the pack from its retained state; the
    # broker restarts without persistence and the worker publishes everything again. Home Assistant must still see
    # "stale" with the old check time, not the pack's last severity "checked" just now.
    b = Mosquitto(tmp_path / "restart", persistence=False).start()
    quick = fleet_config.parse({"timing": {"min_interval": 0, "stale_after": 1.0}})
    first = FleetService(parse_url(b.url), quick, kb=KB, store_path=str(tmp_path / "a.sqlite"), group="silence",
                         worker_id="first")
    first.start()
    s = Sender(b.port)
    try:
        s.send("bmsdoc/quiet/reading", BAD)
        wait_for(lambda: first.packs.get("quiet") and first.packs["quiet"].stale, 10, "the silent pack stale")
        first.stop()
        checked_by_first = first.packs["quiet"].checked_wall
        second = FleetService(parse_url(b.url), quick, kb=KB, store_path=str(tmp_path / "b.sqlite"),
                              group="silence", worker_id="second")
        second.start()
        try:
            wait_for(lambda: second.packs.get("quiet") and second.packs["quiet"].findings, 5, "the pack adopted")
            b.restart(down=0.5)
            wait_for(lambda: second.stats.connects >= 2, 15, "the worker back on the broker")
            obs = Observer(b.port, "bmsdoc/quiet/status", "bmsdoc/quiet/attributes")
            assert wait_for(lambda: obs.text("bmsdoc/quiet/status"), 5, "the status again") == "stale"
            attrs = wait_for(lambda: obs.json("bmsdoc/quiet/attributes"), 5, "the attributes again")
            from datetime import datetime

            checked = datetime.fromisoformat(attrs["checked"]).timestamp()
            assert abs(checked - checked_by_first) < 1.5, (attrs["checked"], checked_by_first)
            obs.close()
        finally:
            second.stop()
    finally:
        s.close()
        b.stop()


def test_nothing_usable_is_malformed_not_a_healthy_pack(broker, tmp_path):
    # `{}` as a reading, ESPHome garbage and a settings message that cannot be read were checked as "ok" packs
    # (Home Assistant: Diagnosis ok, Problem off), left uncounted, or left a phantom pack behind
    cfg = {"timing": {"debounce": 0.1, "min_interval": 0},
           "packs": {"garage": {"shape": "esphome", "topic": "jk-bms-garage", "series": 8, "chemistry": "lifepo4"}}}
    svc = FleetService(parse_url(broker.url), fleet_config.parse(cfg), kb=KB, store_path=str(tmp_path / "f.sqlite"),
                       group="usable", worker_id="usable")
    svc.start()
    s = Sender(broker.port)
    obs = Observer(broker.port, "bmsdoc/+/status")
    try:
        s.send("bmsdoc/empty/reading", {})
        s.send("bmsdoc/nulls/reading", {"reading": {"cells": None, "current": None}})
        s.send("jk-bms-garage/sensor/jk-bms_total_voltage/state", "xyz")
        s.send("jk-bms-garage/binary_sensor/jk-bms_charging/state", "maybe")
        s.send("bmsdoc/phantom/settings", {"series": "many"})
        wait_for(lambda: svc.stats.malformed >= 5, 5, "all five counted as malformed")
        s.send("jk-bms-garage/sensor/jk-bms_total_voltage/state", "nan")  # ESPHome before its first value: no value
        time.sleep(0.5)
        assert svc.stats.malformed == 5
        assert "phantom" not in svc.packs and not svc.packs["garage"].states
        assert obs.text("bmsdoc/empty/status") is None and obs.text("bmsdoc/garage/status") is None
        s.send("jk-bms-garage/sensor/jk-bms_total_voltage/state", "26.4")  # a real value is still taken
        wait_for(lambda: obs.text("bmsdoc/garage/status"), 5, "the garage pack checked")
    finally:
        s.close()
        obs.close()
        svc.stop()
