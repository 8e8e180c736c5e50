"""Issue 16, the Live area as a rider uses it: `r` records for real and the Recordings tab lists and replays the
session; findings do not flicker with an intermittent sense lead; the current sparkline is the right way up."""

import asyncio

from tui_helpers import SIZE, make_app, screen_text, shipped_kb, until

from engine.reading import Reading


def ride(current: float, charge_fet: bool = True, delta: float = 0.002) -> Reading:
    cells = [3.95] * 20
    cells[4] = round(3.95 - delta, 3)
    return Reading.parse({"bms": "jk", "series": 20, "cells": cells, "current": current, "soc": 70,
                          "temperatures": [29, 30], "charge_fet": charge_fet, "discharge_fet": True,
                          "regen_limit": 30, "state": "riding"})


def test_r_records_the_session_and_the_recordings_tab_lists_and_replays_it(tmp_path):
    from drivers import record
    from tui.messages import LiveReading

    async def run():
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            app.start_source({"kind": "paste", "reading": ride(-12.0)})
            await pilot.pause()
            await pilot.press("r")
            await until(pilot, lambda: app.live.recording)
            assert "REC" in screen_text(app) and "not wired" not in screen_text(app)
            for i in range(5):  # what the stream worker posts while riding: the charge FET opens at the third
                app.post_message(LiveReading(ride(-10.0 - i, charge_fet=i < 2), n=i + 1))
                await pilot.pause(0.05)
            await until(pilot, lambda: app.live.seq >= 6)
            await pilot.press("r")
            await until(pilot, lambda: not app.live.recording)
            infos = record.sessions(tmp_path / "sessions.sqlite")
            assert len(infos) == 1 and infos[0].ended is not None
            assert infos[0].readings == 5 and infos[0].source == "paste"
            assert infos[0].worst == "critical"  # the charge FET off with regen possible was recorded as found
            # the Recordings tab of the source picker lists it, and choosing it replays the readings
            await pilot.press("s")
            await until(pilot, lambda: type(app.screen).__name__ == "SourcePicker")
            app.screen.query_one("#source-tabs").active = "tab-rec"
            await pilot.pause()
            lst = app.screen.query_one("#rec-list")
            assert lst.option_count == 1 and not lst.get_option_at_index(0).disabled
            assert "5 readings" in str(lst.get_option_at_index(0).prompt)
            lst.focus()
            await pilot.press("enter")
            await until(pilot, lambda: app.live.status == "ended", timeout=15)
            assert app.live.spec["kind"] == "recording" and app.live.received == 5  # (the UI may coalesce some)
            assert app.live.reading.charge_fet is False

    asyncio.run(run())


def test_the_recordings_tab_says_how_to_record_when_there_is_none(tmp_path):
    async def run():
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("s")
            await until(pilot, lambda: type(app.screen).__name__ == "SourcePicker")
            lst = app.screen.query_one("#rec-list")
            assert lst.option_count == 1 and lst.get_option_at_index(0).disabled
            assert "press r" in str(lst.get_option_at_index(0).prompt)

    asyncio.run(run())


def _sense_lead_readings():
    from drivers.live import DemoSource, stream

    async def collect():
        out = []
        async for ev in stream(DemoSource("sense-lead-fault", rate=2, speed=1, realtime=False, duration=40)):
            if ev.kind == "reading":
                out.append((ev.t, ev.reading))
        return out

    return asyncio.run(collect())


def test_sense_lead_fault_findings_do_not_flicker_and_clear_only_after_a_while(tmp_path):
    readings = _sense_lead_readings()
    kb = shipped_kb()

    async def run():
        app = make_app(tmp_path, kb=kb)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            app.live.reset({"kind": "demo"}, "demo", "demo")
            now = [0.0]
            app.live.clock = lambda: now[0]
            counts, raw = [], []
            for t, r in readings:  # 2 readings a second on the scenario's clock
                now[0] = t
                app._handle_reading(r)
                raw.append(len(app.live.report.root_findings()))  # one card per root cause
                counts.append(len(app.live.findings()))
            first = next(i for i, n in enumerate(raw) if n)
            assert counts[first] == raw[first] > 0  # a finding shows on the reading it first appears in
            assert 0 in raw[first:], "the scenario is intermittent: the check alone goes back to 0"
            assert min(counts[first:]) > 0, f"the findings flicker: {counts[first:]}"
            last_seen = max(h.at for h in app.live.held.values())
            # then the lead is fixed: healthy readings; the findings clear only after 5 s of absence
            cleared_at = None
            for k in range(1, 30):
                now[0] = readings[-1][0] + k * 0.5
                app._handle_reading(ride(-8.0))
                if not app.live.findings():
                    cleared_at = now[0] - last_seen
                    break
                assert now[0] - last_seen < 5.0  # held until absent for 5 s
            assert cleared_at is not None and 5.0 <= cleared_at < 5.5, cleared_at
            app.live_tick += 1
            await pilot.pause()
            assert "Findings (0)" in screen_text(app)

    asyncio.run(run())


def test_an_intermittent_finding_is_marked_while_it_is_held(tmp_path):
    async def run():
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            app.live.reset({"kind": "replay"}, "replay", "replay")
            app.live.clock = lambda: 0.0
            app._handle_reading(ride(5.0, charge_fet=False))  # regen with the charge FET off: critical
            app._handle_reading(ride(5.0, charge_fet=True))
            app.live_tick += 1
            await pilot.pause()
            assert app.live.intermittent() == {f.rule for f in app.live.findings()} != set()
            assert "intermittent: not in the last reading" in screen_text(app)

    asyncio.run(run())


def test_current_sparkline_is_the_right_way_up(tmp_path):
    from tui.widgets.magnitude import MagnitudeSpark, magnitude_bars

    assert [b for b, _ in magnitude_bars([-78.0, -39.0, 0.0, 0.0], 4)] == ["█", "▄", " ", " "]
    assert [s for _, s in magnitude_bars([-10.0, 10.0, 0.0], 3)] == [-1, 1, 0]  # discharge, regen, idle told apart

    async def run():
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            app.live.reset({"kind": "replay"}, "overcurrent trip", "trip")
            for i in [-12.0, -20.0, -78.0, -78.0] + [0.0] * 6:  # a 78 A launch, then the BMS trips: 0 A
                app._handle_reading(ride(i))
            app.live_tick += 1
            await pilot.pause()
            spark = app.screen.query_one("#trend-current-spark", MagnitudeSpark)
            row = str(spark.render())
            assert row.index("█") == 2 and row[3] == "█"  # the launch is the highest bar
            assert row[4:10] == " " * 6  # 0 A after the trip draws nothing
            assert row[0] < row[1] < row[2]  # 12 A < 20 A < 78 A

    asyncio.run(run())


def test_a_first_clean_reading_says_so_instead_of_waiting(tmp_path):
    async def run():
        app = make_app(tmp_path)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            app.live.reset({"kind": "replay"}, "replay", "replay")
            app._handle_reading(ride(-8.0))
            app.live_tick += 1
            await pilot.pause()
            text = screen_text(app)
            assert "Findings (0)" in text and "nothing in this reading breaks a rule" in text
            assert "no findings yet" not in text

    asyncio.run(run())
