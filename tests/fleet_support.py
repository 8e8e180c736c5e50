"""Shared pieces of the fleet tests: one real Mosquitto per module, the knowledge base (the shipped one, or the
pinned test KB while content/ is being edited and does not load), an MQTT observer, and polling."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

PINNED_KB = str(Path(__file__).parent / "data" / "tui_kb")


def fleet_kb():
    """The shipped knowledge base (a content/ that does not validate is a failure, not a quiet fallback)."""
    from kb.load import load_kb

    return load_kb(), None


def wait_for(cond: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


class Observer:
    """A plain MQTT client that records every message on the topics it is given (what Home Assistant sees)."""

    def __init__(self, port: int, *topics: str) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self.latest: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.c.on_message = self._on
        ready = threading.Event()
        self.c.on_connect = lambda c, u, f, rc, p=None: (c.subscribe([(t, 1) for t in topics]), ready.set())
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        assert ready.wait(5)
        time.sleep(0.1)

    def _on(self, c, u, m) -> None:
        with self._lock:
            self.messages.append((m.topic, m.payload, bool(m.retain)))
            self.latest[m.topic] = m.payload

    def json(self, topic: str) -> Any:
        with self._lock:
            raw = self.latest.get(topic)
        return None if raw is None else json.loads(raw)

    def text(self, topic: str) -> str | None:
        with self._lock:
            raw = self.latest.get(topic)
        return None if raw is None else raw.decode()

    def count(self, topic: str) -> int:
        with self._lock:
            return sum(1 for t, _p, _r in self.messages if t == topic)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


class Sender:
    """Publishes raw payloads the way other tools do (batmon-ha, ESPHome, dbus-serialbattery)."""

    def __init__(self, port: int) -> None:
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def send(self, topic: str, payload: Any, retain: bool = False) -> None:
        if not isinstance(payload, (bytes, bytearray)):
            payload = payload if isinstance(payload, str) else json.dumps(payload)
            payload = payload.encode()
        self.c.publish(topic, bytes(payload), qos=1, retain=retain).wait_for_publish(5)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()
