"""One async event stream for live data, from a real BMS over Bluetooth or from the virtual BMS (the demo).

    async for ev in stream(DemoSource("regen-charge-fet-off", family="jk", rate=10)):   # or BleSource("C8:47:...")
        if ev.kind == "reading":
            report = engine.check.check(ev.reading)

`stream(source)` yields drivers.ble.LiveEvent objects, the same for both kinds of source:
    kind      "connected" | "reading" | "error" | "disconnected" | "reconnecting" | "ended"
    t         seconds on the source's clock: wall seconds since the start for BLE, scenario seconds for the demo
    reading   an engine.reading.Reading (kind "reading"); seq numbers the readings 1, 2, 3... without gaps or repeats
    detail    text for the status kinds; attempt: the reconnection attempt; fatal: an "error" that ends the stream
    notes     what the normalisation left out or converted (on the first reading)
    to_json() {"t", "event", "seq", "reading", "detail", ...} for --json output and recordings

Sources:
    DemoSource(scenario, family, rate, speed, duration, loop, realtime, layout, context, faults)
        The virtual BMS (drivers.sim) plays a scripted scenario as real protocol frames of `family`, decoded by
        aiobmsble. rate: polls per wall second; speed: scenario seconds per wall second; duration: scenario seconds
        (default: the scenario's length); loop: start over at the end (the app's built-in demo); realtime=False steps
        the scenario clock by speed/rate per poll without waiting (tests and benchmarks).
    BleSource(address, family, context, interval, duration, scan_timeout)
        A real BMS: found by address (scan_timeout), identified from its advertisement unless family is given.

`events(spec)` takes the plain dict the Textual app uses ({"kind": "demo", "family", "scenario", ...} or
{"kind": "ble", "address", ...}); `scan(timeout)` lists BMS nearby (drivers.ble.scan).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from drivers.ble import Found, LiveEvent, WatchStats, watch
from drivers.ble import scan as _scan
from kb.errors import UserError

DEMO_FAMILIES = ("jk", "jbd", "ant", "daly")


@dataclass(frozen=True)
class DemoSource:
    scenario: str = "healthy-ride"
    family: str = "jk"
    rate: float = 10.0
    speed: float = 1.0
    duration: float | None = None
    loop: bool = False
    realtime: bool = True
    layout: str | None = None
    context: Mapping[str, Any] = field(default_factory=dict)
    faults: Any = None  # drivers.sim.Faults

    def describe(self) -> str:
        return f"demo:{self.family}/{self.scenario}"


@dataclass(frozen=True)
class BleSource:
    address: str
    family: str | None = None
    context: Mapping[str, Any] = field(default_factory=dict)
    interval: float = 1.0
    duration: float | None = None
    scan_timeout: float = 10.0

    def describe(self) -> str:
        return f"ble:{self.address}"


Source = DemoSource | BleSource


class _ScenarioClock:
    """Scenario time: wall time x speed, or a step per poll. `last` is the time of the poll in progress, which the
    virtual BMS encodes, so the reading's t and its content always agree."""

    def __init__(self, speed: float, step: float | None) -> None:
        self.speed, self.step = speed, step
        self.t0 = time.monotonic()
        self.polls = 0
        self.last = 0.0

    def now(self) -> float:
        if self.step is None:
            self.last = (time.monotonic() - self.t0) * self.speed
        return self.last

    def tick(self) -> None:
        if self.step is not None:
            self.last = round(self.polls * self.step, 9)  # k * step: no drift from adding steps up
            self.polls += 1


def _check_demo(src: DemoSource) -> None:
    from drivers.sim import SCENARIOS

    if src.scenario not in SCENARIOS:
        raise UserError(f"unknown demo scenario '{src.scenario}' (known: {', '.join(SCENARIOS)})")
    if src.family not in DEMO_FAMILIES:
        raise UserError(f"the virtual BMS speaks {', '.join(DEMO_FAMILIES)}, not '{src.family}'")
    if not (0 < src.rate <= 1000):
        raise UserError(f"demo rate {src.rate:g} Hz is out of range (0..1000)")
    if not (0 < src.speed <= 10000):
        raise UserError(f"demo speed-up {src.speed:g} is out of range (0..10000)")
    if src.duration is not None and src.duration <= 0:
        raise UserError("a demo duration must be positive")


def virtual_device(src: DemoSource, clock: _ScenarioClock):
    """The VirtualBMS that plays `src` (the caller keeps it to read its stats or flip its faults)."""
    from drivers import sim

    scenario = sim.SCENARIOS[src.scenario]
    length = scenario.duration

    def state():
        t = clock.last
        return scenario.state_at(t % length if src.loop else min(t, length))

    return sim.VirtualBMS(sim.encoder_for(src.family, src.layout), state, address=sim.ADDRESSES[src.family],
                          faults=src.faults)


async def stream(source: Source, *, stats: WatchStats | None = None, **watch_options: Any) -> AsyncIterator[LiveEvent]:
    """Live events from a BMS or the virtual BMS (see the module docstring). Bad sources raise UserError at once."""
    if isinstance(source, DemoSource):
        _check_demo(source)
        from drivers import sim

        sim.install()
        scenario = sim.SCENARIOS[source.scenario]
        clock = _ScenarioClock(source.speed, None if source.realtime else source.speed / source.rate)
        device = virtual_device(source, clock)
        until = None if source.loop else (source.duration or scenario.duration)
        from aiobmsble.utils import bms_cls

        cls = await bms_cls(device.encoder.module)
        options = dict(interval=1.0 / source.rate if source.realtime else 0.0, backoff=(0.2, 2.0))
        options.update(watch_options)
        async for ev in watch(device.ble_device(), family=source.family, context={**scenario.context, **source.context},
                              until=until, clock=clock.now, tick=clock.tick, stats=stats, bms_class=cls,
                              **options):
            yield ev
        return
    if isinstance(source, BleSource):
        options = dict(interval=source.interval, scan_timeout=source.scan_timeout)
        options.update(watch_options)
        async for ev in watch(source.address, family=source.family, context=source.context, until=source.duration,
                              stats=stats, **options):
            yield ev
        return
    raise UserError(f"not a live source: {source!r}")


def source_from_spec(spec: Mapping[str, Any]) -> Source:
    """The Textual app's plain-dict source spec -> a Source."""
    kind = spec.get("kind")
    if kind == "demo":
        return DemoSource(scenario=str(spec.get("scenario") or "healthy-ride"), family=str(spec.get("family") or "jk"),
                          rate=float(spec.get("rate", 10.0)), speed=float(spec.get("speed", 1.0)),
                          loop=bool(spec.get("loop", True)), context=dict(spec.get("context") or {}))
    if kind == "ble":
        if not spec.get("address"):
            raise UserError("a Bluetooth source needs an address")
        return BleSource(address=str(spec["address"]), family=spec.get("family") or None,
                         context=dict(spec.get("context") or {}), interval=float(spec.get("interval", 1.0)))
    raise UserError(f"not a live source kind: {kind!r} (demo or ble)")


async def events(spec: Mapping[str, Any]) -> AsyncIterator[LiveEvent]:
    """stream() for a plain-dict spec; a bad spec becomes one fatal "error" event instead of an exception."""
    try:
        source = source_from_spec(spec)
        async for ev in stream(source):
            yield ev
    except UserError as e:
        yield LiveEvent("error", 0.0, detail=str(e), fatal=True)


async def scan(timeout: float = 5.0) -> list[Found]:
    return await _scan(timeout)


__all__ = ["BleSource", "DemoSource", "Found", "LiveEvent", "Source", "WatchStats", "events", "scan", "source_from_spec",
           "stream"]
