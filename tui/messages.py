"""Messages that cross features: the live stream (posted by the app's stream worker) and BLE scan results.

Workers never touch widgets: they post these to the App, whose handlers own the live state; screens watch the
App's `live_tick` and read `app.live`. Readings are coalesced: a newer reading replaces one still in the queue.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message


class LiveReading(Message):
    """A new reading from the active source (BLE, demo, recording or paste)."""

    def __init__(self, reading: Any, at: float | None = None, n: int = 0, generation: int | None = None) -> None:
        super().__init__()
        self.reading = reading
        self.generation = generation  # which source posted it (None: whatever is current)
        self.at = at  # time.monotonic() when posted
        self.n = n  # how many readings the worker has posted so far (n - handled = coalesced away)

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, LiveReading) and message.generation == self.generation


class LiveStatus(Message):
    """Connection state of the active source: connecting, connected, reconnecting, disconnected, error, ended."""

    def __init__(self, status: str, detail: str = "", attempt: int = 0, generation: int | None = None) -> None:
        super().__init__()
        self.generation = generation
        self.status = status
        self.detail = detail
        self.attempt = attempt


class ScanResult(Message):
    """Devices found by a BLE scan (or the error that stopped it)."""

    def __init__(self, devices: list[Any], error: str = "") -> None:
        super().__init__()
        self.devices = devices
        self.error = error
