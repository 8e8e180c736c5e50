"""Broker addresses and credentials as users give them: in the URL, in the environment, in a file."""

import pytest

from drivers.mqtt.url import parse_url
from kb.errors import UserError


def test_url_forms_and_defaults(monkeypatch):
    for k in ("BMSDOC_MQTT_USERNAME", "BMSDOC_MQTT_PASSWORD", "BMSDOC_MQTT_CREDENTIALS"):
        monkeypatch.delenv(k, raising=False)
    b = parse_url("homeassistant.local")
    assert (b.host, b.port, b.tls, b.username) == ("homeassistant.local", 1883, False, None)
    b = parse_url("mqtts://broker.example")
    assert (b.port, b.tls) == (8883, True)
    b = parse_url("mqtt://broker:1884", tls=True)
    assert (b.port, b.tls) == (1884, True)
    b = parse_url("mqtt://bms%40doc:p%3Ass@10.0.0.2")
    assert (b.username, b.password) == ("bms@doc", "p:ss") and "p:ss" not in b.describe()


def test_credentials_from_env_then_file(monkeypatch, tmp_path):
    monkeypatch.setenv("BMSDOC_MQTT_USERNAME", "fleet")
    monkeypatch.setenv("BMSDOC_MQTT_PASSWORD", "s3cret")
    assert (parse_url("mqtt://h").username, parse_url("mqtt://h").password) == ("fleet", "s3cret")
    monkeypatch.delenv("BMSDOC_MQTT_USERNAME")
    monkeypatch.delenv("BMSDOC_MQTT_PASSWORD")
    f = tmp_path / "mqtt.yaml"
    f.write_text("username: shop\npassword: 'x y'\n")
    b = parse_url("mqtt://h", credentials=str(f))
    assert (b.username, b.password) == ("shop", "x y")
    f.write_text("- not a mapping\n")
    with pytest.raises(UserError, match="username: NAME"):
        parse_url("mqtt://h", credentials=str(f))


@pytest.mark.parametrize("url,message", [("http://h", "scheme"), ("mqtt://", "names no host"),
                                         ("mqtt://h:notaport", "not a broker address"), ("mqtt://h/x", "no path"),
                                         ("mqtt://user:hunter2@h:70000", "not a broker address")])
def test_bad_urls_are_one_line_and_never_show_the_password(url, message):
    with pytest.raises(UserError) as e:
        parse_url(url)
    assert message in str(e.value) and "hunter2" not in str(e.value) and "\n" not in str(e.value)


def test_credentials_reach_a_real_broker_and_a_wrong_password_is_one_line(tmp_path, monkeypatch):
    import subprocess
    import sys

    from mosquitto_broker import Mosquitto

    b = Mosquitto(tmp_path / "auth", persistence=False, users={"fleet": "right horse"}).start()
    try:
        base = [sys.executable, "-m", "tui.cli", "fleet", "--broker", b.url, "--no-record", "--duration", "0.5",
                "--kb", str(__import__("fleet_support").PINNED_KB)]
        env = {**__import__("os").environ, "BMSDOC_MQTT_USERNAME": "fleet", "BMSDOC_MQTT_PASSWORD": "wrong"}
        bad = subprocess.run(base, capture_output=True, text=True, timeout=60, env=env)
        assert bad.returncode == 2 and "refused the connection" in bad.stderr and "user name and password" in bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1
        assert "wrong" not in bad.stderr and "Traceback" not in bad.stderr
        good = subprocess.run(base, capture_output=True, text=True, timeout=60,
                              env={**env, "BMSDOC_MQTT_PASSWORD": "right horse"})
        assert good.returncode == 0, good.stderr
        assert "fleet worker" in good.stderr
    finally:
        b.stop()
