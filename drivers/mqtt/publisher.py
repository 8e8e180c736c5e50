"""`bmsdoc watch ... --mqtt URL [--pack NAME]`: every reading goes to `bmsdoc/{pack}/reading` as
{"seq", "t", "time", "reading"} (the reading as `bmsdoc check` reads it; time: Unix seconds, which the fleet uses
to drop duplicates and out-of-order messages). QoS 1: paho queues readings while the broker is away and sends them
after it reconnects."""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

from drivers.mqtt.client import connect, make_client, reason_text
from drivers.mqtt.config import valid_pack_name
from drivers.mqtt.url import Broker
from kb.errors import UserError


def pack_name(text: str) -> str:
    """A pack name from free text (a Bluetooth address, a scenario): topic-safe."""
    import re

    name = re.sub(r"[/+#\s]+", "-", text.strip()).strip("-")
    return name or "pack"


class ReadingPublisher:
    def __init__(self, broker: Broker, pack: str, *, timeout: float = 10.0) -> None:
        if not valid_pack_name(pack):
            raise UserError(f"--pack '{pack}' cannot be an MQTT topic level (no / + # or surrounding spaces)")
        self.topic = f"bmsdoc/{pack}/reading"
        self.broker = broker
        self.client = make_client(broker, f"bmsdoc-watch-{pack[:40]}-{os.getpid()}")
        answered = threading.Event()
        refused: list[str] = []

        def on_connect(client, userdata, flags, rc, props=None):
            if getattr(rc, "is_failure", False):
                refused.append(reason_text(rc))
            answered.set()

        self.client.on_connect = on_connect
        connect(self.client, broker, keepalive=10)
        self.client.loop_start()
        # the broker's answer before the first reading: refused credentials are a one-line error at the start, not
        # "N readings did not reach the broker" at the end
        if not answered.wait(timeout) or refused:
            self.client.disconnect()
            self.client.loop_stop()
            from drivers.mqtt.status import refusal

            raise UserError(refusal(broker, refused[0]) if refused else
                            f"the broker at {broker.describe()} did not answer within {timeout:g} s")
        self._infos: list[Any] = []
        self.sent = 0
        self._last = 0.0

    def publish(self, seq: int, t: float, reading: Any, when: float | None = None) -> None:
        if when is None:  # strictly increasing: the fleet drops a reading whose time is not newer
            when = max(time.time(), self._last + 1e-6)
        self._last = when
        body = {"seq": seq, "t": round(float(t), 3), "time": when,
                "reading": reading.given() if hasattr(reading, "given") else dict(reading)}
        info = self.client.publish(self.topic, json.dumps(body, ensure_ascii=False, default=str).encode(), qos=1)
        self._infos.append(info)
        if len(self._infos) > 1000:
            self._infos = [i for i in self._infos if _delivered(i) is False]
        self.sent += 1

    def settings(self, pack_settings: dict[str, Any]) -> None:
        topic = self.topic.rsplit("/", 1)[0] + "/settings"
        self.client.publish(topic, json.dumps(pack_settings, default=str).encode(), qos=1, retain=True)

    def close(self, timeout: float = 5.0) -> int:
        """Wait (up to timeout) for queued readings to reach the broker; returns how many did not."""
        end = time.monotonic() + timeout
        pending = list(self._infos)
        while pending and time.monotonic() < end:
            pending = [i for i in pending if _delivered(i) is False]
            if pending:
                time.sleep(0.02)
        left = sum(1 for i in pending if not _delivered(i))
        self.client.disconnect()
        self.client.loop_stop()
        return left


def _delivered(info: Any) -> bool | None:
    """True once the broker acknowledged it, False while queued, None when it was never queued (queue full).
    A message published while the broker was away has rc NO_CONN but stays queued and is sent after the
    reconnect (paho 2.2 resends queued QoS 1 messages); is_published() raises for it, so the flag is read."""
    try:
        return info.is_published()
    except ValueError:
        return None
    except RuntimeError:
        return bool(getattr(info, "_published", False))
