"""The live stream under faults, through the real aiobmsble connect/poll code and the virtual BMS's transport:
links that drop mid-stream (reconnect with backoff, no duplicate or lost records), corrupt frames (counted, skipped),
a phone app holding the only connection, and giving up."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from drivers import sim
from drivers.ble import PHONE_APP_HINT, WatchStats
from drivers.live import DemoSource, events, stream
from drivers.record import Recorder, load


@pytest.fixture(autouse=True)
def fast_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """aiobmsble waits ~5 s for a missing reply and bleak-retry-connector backs off 0.25 s per failed attempt:
    the same code runs here, on a shorter clock."""
    import aiobmsble.basebms as basebms
    import bleak_retry_connector

    monkeypatch.setattr(basebms.BaseBMS, "_RETRY_TIMEOUT", 0.004)
    monkeypatch.setattr(bleak_retry_connector, "BLEAK_DBUS_BACKOFF_TIME", 0.001)


def collect(source: DemoSource, stats: WatchStats | None = None, limit: int = 10_000, **opts: Any) -> list[Any]:
    async def go() -> list[Any]:
        out = []
        async for ev in stream(source, stats=stats, **opts):
            out.append(ev)
            if len(out) >= limit:
                break
        return out

    return asyncio.run(go())


def test_a_drop_mid_stream_reconnects_without_duplicate_or_lost_records(tmp_path: Path) -> None:
    faults = sim.Faults(drop_after=30)  # JBD: two replies per poll, so the link drops during the 16th poll
    stats = WatchStats()
    db = tmp_path / "s.sqlite"
    yielded = []
    kinds = []

    async def go() -> None:
        with Recorder(db) as rec:
            rec.start("demo:jbd/healthy-ride", family="jbd")
            async for ev in stream(DemoSource("healthy-ride", "jbd", rate=1.0, realtime=False, faults=faults),
                                   stats=stats, backoff=(0.01, 0.05)):
                kinds.append(ev.kind)
                if ev.kind == "reading":
                    rec.add_reading(ev.seq, ev.t, ev.reading)
                    yielded.append((ev.seq, ev.t))
                else:
                    rec.add_event(ev.t, ev.kind, ev.detail)

    asyncio.run(go())
    assert stats.drops == 1 and stats.reconnects == 1
    i = kinds.index("disconnected")
    assert kinds[i:i + 3] == ["disconnected", "reconnecting", "connected"]
    # every reading yielded is recorded once, in order; seq has no gaps, t never repeats or goes back
    rec = load(1, db).readings
    assert [(r["seq"], r["t"]) for r in rec] == yielded
    assert [s for s, _t in yielded] == list(range(1, len(yielded) + 1))
    ts = [t for _s, t in yielded]
    assert all(b > a for a, b in zip(ts, ts[1:]))
    # the only scenario second without a reading is the poll the link dropped in; the stream ran to the end
    missing = sorted(set(float(k) for k in range(60)) - set(ts))
    assert missing == [15.0]
    assert ts[-1] == 59.0


def test_corrupt_frames_are_counted_and_skipped() -> None:
    faults = sim.Faults()
    scenario = sim.SCENARIOS["growing-imbalance"]
    stats = WatchStats()
    out = []

    async def go() -> None:
        async for ev in stream(DemoSource("growing-imbalance", "jbd", rate=1.0, realtime=False, faults=faults),
                               stats=stats):
            out.append(ev)
            if ev.kind == "reading" and ev.seq == 10:
                faults.corrupt = 1  # one bad frame: aiobmsble rejects it and its retry succeeds
            if ev.kind == "reading" and ev.seq == 20:
                faults.corrupt = 3  # every attempt of one request: the poll fails and is skipped

    asyncio.run(go())
    readings = [e for e in out if e.kind == "reading"]
    skipped = [e for e in out if e.kind == "error"]
    assert stats.failed_polls == 1 and len(skipped) == 1 and not skipped[0].fatal
    assert "skipped" in skipped[0].detail
    assert stats.drops == 0 and len(readings) == 59  # one scenario second lost to the bad frames, nothing else
    # nothing garbled got through: every reading is exactly the scenario's pack at its time
    for e in readings:
        assert e.reading.cells == list(scenario.state_at(e.t).cells)


def test_corrupt_frames_are_counted_by_the_device() -> None:
    faults = sim.Faults(corrupt=2)
    src = DemoSource("healthy-ride", "ant", rate=1.0, realtime=False, duration=5, faults=faults)
    evs = collect(src)
    assert [e.kind for e in evs].count("reading") == 5 and faults.corrupt == 0


def test_the_phone_app_holding_the_connection_gets_a_clear_message() -> None:
    evs = collect(DemoSource("healthy-ride", "jk", rate=1.0, realtime=False, faults=sim.Faults(occupied=True)))
    assert len(evs) == 1
    ev = evs[0]
    assert ev.kind == "error" and ev.fatal
    assert PHONE_APP_HINT in ev.detail and "\n" not in ev.detail


def test_reconnects_back_off_exponentially_and_give_up() -> None:
    faults = sim.Faults(drop_after=6)
    stats = WatchStats()
    out = []

    async def go() -> None:
        async for ev in stream(DemoSource("healthy-ride", "daly", rate=1.0, realtime=False, faults=faults),
                               stats=stats, backoff=(0.01, 0.03), max_reconnects=3):
            out.append(ev)
            if ev.kind == "disconnected":
                faults.occupied = True  # the rider opened the phone app: every reconnection fails

    asyncio.run(go())
    waits = [e for e in out if e.kind == "reconnecting"]
    assert [e.attempt for e in waits] == [1, 2, 3]
    assert [e.detail for e in waits] == ["in 0.01 s", "in 0.02 s", "in 0.03 s"]  # doubling, capped at 0.03
    assert out[-1].kind == "error" and out[-1].fatal and "gave up after 3" in out[-1].detail
    assert stats.drops == 1 and stats.readings == 2  # Daly: 1 reply to the connect probe, then 2 per poll


def test_backoff_doubles_up_to_its_cap() -> None:
    faults = sim.Faults(drop_after=2)
    out = []

    async def go() -> None:
        async for ev in stream(DemoSource("healthy-ride", "jk", rate=1.0, realtime=False, faults=faults),
                               backoff=(0.001, 0.004), max_reconnects=5):
            out.append(ev)
            if ev.kind == "disconnected":
                faults.occupied = True

    asyncio.run(go())
    delays = [float(e.detail.split()[1]) for e in out if e.kind == "reconnecting"]
    assert delays == [0.001, 0.002, 0.004, 0.004, 0.004]


def test_realtime_demo_paces_readings_at_the_rate() -> None:
    import time

    t0 = time.monotonic()
    evs = collect(DemoSource("healthy-ride", "jk", rate=20.0, speed=10.0, duration=5.0))
    wall = time.monotonic() - t0
    readings = [e for e in evs if e.kind == "reading"]
    # 5 scenario seconds at 10x = 0.5 s of wall time at 20 Hz: about 10 polls, never a burst of catch-up polls
    assert 5 <= len(readings) <= 11
    assert wall >= 0.45  # the scenario clock follows the wall clock: it cannot finish early
    assert evs[-1].kind == "ended"


def test_the_apps_dict_spec_streams_the_demo_and_reports_bad_specs() -> None:
    async def go(spec: dict, n: int) -> list[Any]:
        out = []
        async for ev in events(spec):
            out.append(ev)
            if len(out) >= n:
                break
        return out

    evs = asyncio.run(go({"kind": "demo", "family": "daly", "scenario": "overcurrent-trip", "rate": 50}, 3))
    assert [e.kind for e in evs] == ["connected", "reading", "reading"]
    assert evs[1].reading.bms == "daly" and evs[1].reading.regen_limit == 10
    bad = asyncio.run(go({"kind": "demo", "scenario": "nope"}, 5))
    assert len(bad) == 1 and bad[0].fatal and "unknown demo scenario 'nope'" in bad[0].detail
    bad = asyncio.run(go({"kind": "usb"}, 5))
    assert bad[0].fatal and "demo or ble" in bad[0].detail


def test_looping_demo_keeps_going_past_the_scenario_end() -> None:
    evs = collect(DemoSource("healthy-ride", "jbd", rate=1.0, speed=30.0, realtime=False, loop=True), limit=6)
    readings = [e for e in evs if e.kind == "reading"]
    assert [e.t for e in readings] == [0.0, 30.0, 60.0, 90.0, 120.0]
    assert readings[2].reading.cells == readings[0].reading.cells  # second 60 is second 0 again
    assert readings[3].reading.cells == readings[1].reading.cells


def test_bad_demo_sources_are_user_errors() -> None:
    from kb.errors import UserError

    for src in (DemoSource("nope"), DemoSource(family="tesla"), DemoSource(rate=0), DemoSource(duration=-1)):
        with pytest.raises(UserError):
            collect(src)
